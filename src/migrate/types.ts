/**
 * What a migration takes and reports. The options and the progress event are
 * the contract the setup wizard already uses (src/setup/migration.ts); the
 * report is typed here, one entry per table.
 */
import type { PreflightReport } from '../schema/preflight.js';

/** `sqlite-to-mysql` copies an existing site up; `mysql-to-sqlite` seeds a new site from the hub. */
export type MigrationDirection = 'sqlite-to-mysql' | 'mysql-to-sqlite';

export interface MigrateOptions {
  /** Default `sqlite-to-mysql` (an existing site); `mysql-to-sqlite` seeds a new site from the hub. */
  direction?: MigrationDirection;
  /** Only these tables (case-insensitive); default every synced table. */
  tables?: string[];
  /** Rows per batch: one target transaction each, and the resume granularity. */
  batchSize?: number;
  /** Empty the target tables first (never the default). */
  truncate?: boolean;
  /** Report the plan, write nothing. */
  dryRun?: boolean;
  /** Continue an interrupted migration where its last committed batch ended. */
  resume?: boolean;
  signal?: AbortSignal;
  /** Force the hub write method (tests and benchmarks); default: LOAD DATA when the server allows it. */
  method?: HubMethod;
  /** Skip the checksum verification at the end (benchmarks only). */
  skipVerify?: boolean;
}

export interface TableProgress {
  table: string;
  rowsDone: number;
  rowsTotal: number;
  rowsPerSec: number;
  etaSec: number | null;
  state: 'waiting' | 'copying' | 'verifying' | 'done' | 'failed';
  error?: string;
}

/**
 * The phases of a run, in order (a dry run stops after the pre-flight and plans instead).
 * Each emits a `phase` event when it starts and when it is done.
 */
export type MigrationPhase =
  | 'schema'
  | 'preflight'
  | 'dry-run'
  | 'create-tables'
  | 'prepare-target'
  | 'copy'
  | 'verify'
  | 'finish';

export interface MigrationPhaseEvent {
  phase: MigrationPhase;
  state: 'started' | 'done';
  /** With `done`: how long the phase took. */
  ms?: number;
}

/** What a Migration emits: per-table progress (the setup's contract) and the run's phases. */
export interface MigrationEvents {
  progress: [TableProgress];
  phase: [MigrationPhaseEvent];
}

/** How rows reach the hub: LOAD DATA LOCAL INFILE from a stream, or multi-row INSERTs. */
export type HubMethod = 'load-data' | 'insert';
/** How rows are written on the target side. */
export type CopyMethod = HubMethod | 'sqlite-upsert';

export type VerifyStatus = 'match' | 'explained' | 'differ' | 'error' | 'skipped';

export interface TableVerification {
  status: VerifyStatus;
  rows: { sqlite: number; mysql: number };
  /** Differing keys found by the compare. */
  differences: number;
  /** Of those, keys changed on either side after the copy started: the sync replays them. */
  explained: number;
  /** A few unexplained keys (key text), for the report. */
  unexplainedKeys: string[];
  error?: string;
}

export interface TableReport {
  table: string;
  /** Rows in the source when the table was planned or started. */
  rowsTotal: number;
  /** Rows already in the target from an interrupted run (resume). */
  rowsResumed: number;
  /** Rows copied by this run. */
  rowsCopied: number;
  seconds: number;
  method: CopyMethod;
  state: 'planned' | 'done' | 'skipped' | 'failed';
  /** Created on the target by this migration (it did not exist). */
  created: boolean;
  /** Rows the target held before (dry run: why the real run would refuse or truncate). */
  targetRows: number;
  verification: TableVerification | null;
  error?: string;
}

export interface CursorReport {
  /** Local change-log position when the copy started (first run, also on resume). */
  startSeq: string;
  /** Hub change-log position read before the copy. */
  hubSeq: string;
  /** Hub sequence numbers below hubSeq not committed then: pulled when they commit. */
  hubHoles: number;
  push: { moved: boolean; cursor?: string; dropped: number; reason?: string };
  pull: { moved: boolean; upto?: string; reason?: string };
}

export interface MigrationReport {
  direction: MigrationDirection;
  dryRun: boolean;
  ok: boolean;
  resumed: boolean;
  /** Hub write method (sqlite-to-mysql) or `sqlite-upsert`. */
  method: CopyMethod;
  /** Why LOAD DATA was not used, when it was not. */
  methodReason?: string;
  batchSize: number;
  tables: TableReport[];
  /** DDL the migration ran (or would run) to create missing target tables. */
  created: { table: string; side: 'sqlite' | 'mysql'; sql: string }[];
  /** What the schema translation could not keep exactly, and what it does instead. */
  warnings: string[];
  preflight: Pick<PreflightReport, 'ok' | 'findings' | 'counts' | 'truncated'> | null;
  cursors: CursorReport | null;
  /** Dry run: the reasons the real run would refuse (one line each). */
  problems: string[];
  /** Dry run: the first refusal's code and exit code, those the real run would end with (README "Exit codes"). */
  refusal?: { code: string; exitCode: number };
  rowsCopied: number;
  startedAt: string;
  durationMs: number;
  /** Where the time went (ms): the verification is reported apart from the copy. */
  timings: MigrationTimings;
}

export interface MigrationTimings {
  /** Schema introspection, diff and creation of missing tables. */
  schemaMs: number;
  /** Pre-flight value checks (SQLite → MySQL). */
  preflightMs: number;
  /** Capture installation, resume state, emptiness checks, positions. */
  captureMs: number;
  copyMs: number;
  /** Counts and checksums of the copied tables (compare). */
  verifyMs: number;
  /** Log trimming and cursor moves. */
  cursorsMs: number;
}
