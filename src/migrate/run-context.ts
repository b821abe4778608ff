/**
 * What every phase of a migration run shares: the two open databases, the options, the
 * report being filled in, the event channel and the clock of the report's timings. The
 * phases themselves (run.ts) pass their results to each other as typed values.
 */
import type { EventEmitter } from 'node:events';
import type { KnownRange } from '../compare/checksum-compare.js';
import { compareOn, planOptionsOf } from '../compare/compare.js';
import type { HubPosition } from '../compare/pull-cursor.js';
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { TableInfo } from '../engines/types.js';
import type { DdlStep } from '../schema/diff.js';
import type { SyncPlan, SyncTable } from '../sync/plan.js';
import type { DualdbError } from '../util/errors.js';
import { MigrationInterruptedError } from './errors.js';
import type { HubMarkers, RunState, SqliteMarkers, TableMarker } from './markers.js';
import type { HubCapabilities } from './table-copy.js';
import type {
  MigrateOptions,
  MigrationDirection,
  MigrationEvents,
  MigrationPhaseEvent,
  MigrationReport,
  MigrationTimings,
  TableProgress,
  TableReport,
} from './types.js';

/**
 * Rows per batch: one target transaction with its resume marker each. SQLite → MySQL
 * streams a batch without holding it, so its size costs no memory there; the commit
 * and marker per batch do cost time, hence fairly large batches.
 */
export const DEFAULT_BATCH_SIZE = 50_000;

export const lower = (s: string) => s.toLowerCase();

/**
 * A dry run notes what the real run would refuse (it throws there): the line, and the first
 * refusal's code and exit code, the real run's (a non-empty target is 2, not 1).
 */
export function noteRefusal(report: MigrationReport, e: DualdbError, line = e.message): void {
  report.problems.push(line);
  report.refusal ??= { code: e.code, exitCode: e.exitCode };
}

export class RunContext {
  readonly toHub: boolean;
  readonly started = Date.now();
  readonly report: MigrationReport;
  private mark = this.started;

  constructor(
    readonly config: Config,
    readonly options: MigrateOptions,
    readonly direction: MigrationDirection,
    readonly batchSize: number,
    readonly db: SqliteDb,
    readonly hub: MysqlHub,
    private readonly events: EventEmitter<MigrationEvents>,
  ) {
    this.toHub = direction === 'sqlite-to-mysql';
    this.report = {
      direction,
      dryRun: options.dryRun ?? false,
      ok: true,
      resumed: false,
      method: this.toHub ? 'load-data' : 'sqlite-upsert',
      batchSize,
      tables: [],
      created: [],
      warnings: [],
      preflight: null,
      cursors: null,
      problems: [],
      rowsCopied: 0,
      startedAt: new Date(this.started).toISOString(),
      durationMs: 0,
      timings: { schemaMs: 0, preflightMs: 0, captureMs: 0, copyMs: 0, verifyMs: 0, cursorsMs: 0 },
    };
  }

  /** The side the rows are copied into. */
  get targetSide(): 'sqlite' | 'mysql' {
    return this.toHub ? 'mysql' : 'sqlite';
  }

  /** The target's name as a person reads it. */
  get targetName(): 'MySQL' | 'SQLite' {
    return this.toHub ? 'MySQL' : 'SQLite';
  }

  emitProgress(p: TableProgress): void {
    this.events.emit('progress', p);
  }

  emitPhase(e: MigrationPhaseEvent): void {
    this.events.emit('phase', e);
  }

  checkAbort(): void {
    if (this.options.signal?.aborted) throw new MigrationInterruptedError(this.direction);
  }

  /** Adds the time since the previous lap to one of the report's timings. */
  lap(phase: keyof MigrationTimings): void {
    const now = Date.now();
    this.report.timings[phase] += now - this.mark;
    this.mark = now;
  }

  /** Stamps the report's total duration. */
  finishReport(): MigrationReport {
    this.report.durationMs = Date.now() - this.started;
    return this.report;
  }

  /**
   * How many rows of the hub's table this SQLite file does not hold (compare's row comparison):
   * other sites' data, which a hint must never suggest emptying (invariant 15).
   */
  async hubOnlyRows(table: string): Promise<number> {
    const r = await compareOn(
      this.db,
      { sqlitePath: this.config.sqlitePath, hub: this.hub, planOptions: planOptionsOf(this.config) },
      { tables: [table], maxDifferences: 0 },
    ).catch(() => undefined);
    // Unknown (the table could not be compared): assume other sites' rows, the safe reading.
    const t = r?.tables.find((x) => x.table.toLowerCase() === table.toLowerCase());
    if (!t || t.status === 'error') return await this.countRows(table, 'mysql');
    return t.byKind['missing-in-sqlite'];
  }

  async countRows(table: string, side: 'sqlite' | 'mysql'): Promise<number> {
    if (side === 'sqlite') {
      const r = this.db.prepare(`SELECT count(*) AS n FROM ${quoteSqliteId(table)}`).get() as { n: bigint | number };
      return Number(r.n);
    }
    const [r] = await this.hub.query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM ${quoteMysqlId(table)}`);
    return Number(r?.n ?? 0);
  }
}

/** The schema phase's finding: both sides' tables, the requested ones, the tables to create. */
export interface SchemaPlan {
  sqliteTables: TableInfo[];
  hubTables: TableInfo[];
  requested: string[] | undefined;
  creates: DdlStep[];
}

/** The target's tables exist and capture is installed on both sides. */
export interface CapturedScope {
  plan: SyncPlan;
  scope: SyncTable[];
  /** Every synced table is copied (the pull cursor may then move). */
  complete: boolean;
  nodeId: string;
}

/** Everything the copy, the verification and the finish work on. */
export interface PreparedRun extends CapturedScope {
  caps: HubCapabilities | undefined;
  hubMarkers: HubMarkers;
  sqliteMarkers: SqliteMarkers;
  /** Resume markers of an interrupted run (empty on a first run). */
  markers: Map<string, TableMarker>;
  /** The report's entry of each table in scope. */
  entries: Map<string, TableReport>;
  run: RunState;
  /** SQLite → MySQL: the key ranges each table's copy read, with their sums (lower-case name), for the verification. */
  copied: Map<string, KnownRange[]>;
}

export const startSeqOf = (run: RunState): bigint => BigInt(run.startSeq);

/** The hub position read before the copy, as kept in the run state. */
export const positionOf = (run: RunState): HubPosition => ({
  maxSeq: BigInt(run.hub.maxSeq),
  holes: run.hub.holes.map((h) => BigInt(h)),
  hubNowMs: run.hub.hubNowMs,
});
