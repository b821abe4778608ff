/**
 * Exit codes, in one place so that scripts can rely on them (README lists them).
 * 0 is always "done, nothing wrong". Codes 10+ are outcomes, not failures.
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  /** Bad flags or configuration: nothing was started. */
  CONFIG: 2,
  /** The MySQL hub is down, unreachable or refused us. */
  MYSQL_UNAVAILABLE: 3,
  /** The SQLite file is missing, corrupt or locked. */
  SQLITE_UNAVAILABLE: 4,
  /** Both sides are unusable. */
  BOTH_UNAVAILABLE: 5,
  /** A sync ran and found nothing to move. */
  NOTHING_TO_DO: 10,
  /** A sync ran and recorded conflicts (see `dualdb conflicts`). */
  CONFLICTS: 11,
  /** A sync ran but some changes were parked (see `dualdb parked`). */
  PARKED: 12,
  /** The node fell behind the hub's log retention and must be repaired. */
  RESYNC_NEEDED: 13,
  /** Compare found differences. */
  DIFFERENCES: 20,
  /** Interrupted by a signal. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
