/**
 * What compare and repair report: typed results per table, and the progress
 * events a terminal monitor or the CLI subscribes to. Keys are given as the
 * key text shared with the change log (`encodeKey`), plus their parts for display.
 */

export type Side = 'sqlite' | 'mysql';

export type DifferenceKind = 'missing-in-mysql' | 'missing-in-sqlite' | 'different';

export interface RowDifference {
  /** Key text, as the change log and `SqliteTableIO`/`MysqlTableIO` name the row. */
  key: string;
  /** The key's column values as text, in key order (for display). */
  keyParts: string[];
  kind: DifferenceKind;
  /** For `different`: the columns whose values differ. */
  columns?: string[];
  /**
   * The key has a change still queued for sync (unpushed locally, or on the hub beyond what
   * this node has pulled): the difference may be a change on its way, not damage.
   */
  queued?: boolean;
  /**
   * missing-in-mysql: the hub's collation folds this key onto another key the hub holds
   * (`ABC` equals `abc` under utf8mb4_unicode_ci): the cause and the fix, in one line.
   */
  folded?: string;
}

export interface DifferenceCounts {
  'missing-in-mysql': number;
  'missing-in-sqlite': number;
  different: number;
}

export interface TableComparison {
  table: string;
  /** Key column names, in key order. */
  key: string[];
  status: 'match' | 'differ' | 'error';
  rows: { sqlite: number; mysql: number };
  chunks: { total: number; differing: number };
  /** Total number of differing keys (all of them, not only the listed ones). */
  differenceCount: number;
  byKind: DifferenceCounts;
  /** The first differences in key order, at most `maxDifferences`. */
  differences: RowDifference[];
  /** How many of the listed differences are `queued` for sync. */
  queued: number;
  truncated: boolean;
  /** How each side was read: `keyset` pages in index order, or one `sorted-stream` (collated text keys). */
  readModes: { sqlite: ReadMode; mysql: ReadMode };
  durationMs: number;
  error?: string;
}

export type ReadMode = 'keyset' | 'sorted-stream';

export type TableIssueKind =
  | 'only-in-sqlite'
  | 'only-in-mysql'
  | 'schema-drift'
  | 'no-primary-key'
  | 'unsupported-key'
  | 'excluded'
  | 'not-found';

/** A table that could not be compared row by row, and why. */
export interface TableIssue {
  table: string;
  kind: TableIssueKind;
  reason: string;
  /**
   * Whether this makes the databases differ (exit code 20): only a table paused by schema drift,
   * which the sync means to sync and cannot. A table the sync never syncs (no primary key, on one
   * side only, SYNC_EXCLUDE) is skipped, not a difference: no sync or repair could clear it.
   */
  difference: boolean;
  /** For a paused table: what makes it sync again (the sync's own fix line). */
  fix?: string;
  /** Row counts where the table exists (null: absent on that side). */
  rows: { sqlite: number | null; mysql: number | null };
}

/** A table the sync leaves out, with why: the same `{table, reason}` as `sync --once --json`. */
export interface SkippedTable {
  table: string;
  reason: string;
}

/** A synced table paused by schema drift: not compared; rows cannot be repaired until the schemas match. */
export interface PausedTable {
  table: string;
  reason: string;
  fix?: string;
}

export interface CompareReport {
  /** Every synced table matches and none is paused by schema drift (skipped tables do not count). */
  match: boolean;
  tables: TableComparison[];
  /** Tables the sync leaves out (SYNC_EXCLUDE, no primary key, on one side only…): not compared. */
  skipped: SkippedTable[];
  /** Synced tables paused by schema drift: not compared, and a difference (exit 20). */
  paused: PausedTable[];
  /** Both of the above with their row counts (kind, counts, whether it is a difference). */
  issues: TableIssue[];
  totals: { tables: number; differingTables: number; differences: number; rowsScanned: number };
  startedAt: string;
  durationMs: number;
}

export type CompareEvent =
  | { type: 'start'; tables: string[]; issues: TableIssue[] }
  | { type: 'table-start'; table: string; index: number; total: number; estimatedRows: number | null }
  | {
      type: 'chunk';
      table: string;
      chunk: number;
      rowsScanned: { sqlite: number; mysql: number };
      matched: boolean;
      /** Differences found in the table so far. */
      differences: number;
    }
  | { type: 'table-done'; table: string; result: TableComparison }
  | { type: 'done'; report: CompareReport };

export type RepairAction = 'insert' | 'update' | 'delete';

export interface RepairedRow {
  key: string;
  keyParts: string[];
  action: RepairAction;
  /** For `update`: the columns that changed. */
  columns?: string[];
}

export interface TableRepair {
  table: string;
  /** Key column names, in key order. */
  key: string[];
  status: 'unchanged' | 'repaired' | 'planned' | 'partial' | 'error';
  inserted: number;
  updated: number;
  deleted: number;
  /** The first changes (at most `maxListed`), in the order they were made. */
  changes: RepairedRow[];
  truncated: boolean;
  /** Rows that could not be written, with the database's reason (first ones only). */
  failures: { key: string; error: string }[];
  failureCount: number;
  rows: { sqlite: number; mysql: number };
  error?: string;
}

export interface PullCursorUpdate {
  moved: boolean;
  /** Why it was not moved (dry run, subset of tables, failures, no capture). */
  reason?: string;
  previous?: string;
  upto?: string;
  /** Hub sequence numbers below `upto` not committed when the repair started (pulled when they commit). */
  holes?: number;
}

export interface RepairReport {
  from: Side;
  to: Side;
  dryRun: boolean;
  ok: boolean;
  tables: TableRepair[];
  /** Tables the sync leaves out: never repaired (nothing would keep them equal). */
  skipped: SkippedTable[];
  /** Synced tables paused by schema drift: not repaired until their schemas match. */
  paused: PausedTable[];
  issues: TableIssue[];
  totals: { inserted: number; updated: number; deleted: number; failures: number };
  /** Only for `--from mysql`: where the node's pull resumes. */
  pullCursor: PullCursorUpdate | null;
  /** The node was marked resync-needed and no longer is. */
  resyncCleared: boolean;
  startedAt: string;
  durationMs: number;
}

export type RepairEvent =
  | CompareEvent
  | { type: 'repair-batch'; table: string; operation: 'upsert' | 'delete'; rows: number; dryRun: boolean }
  | { type: 'repair-table-done'; table: string; result: TableRepair };
