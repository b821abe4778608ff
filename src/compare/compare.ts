/**
 * `compare`: are the node's SQLite file and the hub identical, table by table,
 * row by row? Counts and chunked fingerprints of canonical rows computed the
 * same way for both engines, drilled down to the exact differing keys
 * (docs/SYNC-CONTRACT.md, invariant 5). Progress is reported as events, so the CLI and the
 * terminal monitor show the same thing.
 */

import { EventEmitter } from 'node:events';
import type { Config } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { type HubQuery, markFoldedKeys } from '../sync/folded-keys.js';
import type { PlanOptions, SyncTable } from '../sync/plan.js';
import type { FormOverrides } from '../sync/value-forms.js';
import { DualdbError, MysqlError, messageOf, SqliteError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { KnownRange } from './checksum-compare.js';
import { mysqlKeyOrders } from './mysql-reader.js';
import { queuedKeys } from './queued.js';
import { type CompareScope, pausedOf, resolveScope, skippedOf } from './scope.js';
import {
  CompareCancelledError,
  compareTable,
  emptyComparison,
  type TableCompareContext,
  type TableCompareOptions,
} from './table-compare.js';
import type { CompareEvent, CompareReport, TableComparison } from './types.js';

export const DEFAULT_CHUNK_SIZE = 10_000;
export const DEFAULT_MAX_DIFFERENCES = 1_000;

export interface CompareSources {
  /** The node's SQLite file: compare opens connections of its own. */
  sqlitePath: string;
  hub: MysqlHub;
  /** SYNC_TABLES / SYNC_EXCLUDE: the sync plan decides which tables are synced. */
  planOptions?: PlanOptions;
  /** SYNC_VALUE_FORMS: the forms repair writes values in on the node (src/sync/value-forms.ts). */
  valueForms?: FormOverrides;
}

export interface CompareOptions {
  /** Only these tables (names as in either database; case-insensitive). */
  tables?: string[];
  /**
   * Rows per chunk. Default: chunks sized by time (starting at 10,000 rows) where both
   * engines fingerprint key ranges themselves, 10,000 rows where rows are streamed.
   */
  chunkSize?: number;
  /** Differences listed per table (all are counted; default 1,000). */
  maxDifferences?: number;
  /** Look differing keys up again before reporting them (default true). */
  recheck?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: CompareEvent) => void;
  /**
   * Per table (lower-case name): the key ranges to sum, some already summed on the SQLite side
   * by the caller (the migration, from the rows its copy read). Used where both engines sum.
   */
  knownRanges?: ReadonlyMap<string, readonly KnownRange[]>;
}

/** Errors that stop the whole run (a side is away, the user cancelled); others fail one table. */
export function isFatalCompareError(e: unknown): boolean {
  return e instanceof CompareCancelledError || e instanceof MysqlError || e instanceof SqliteError || isConnectionError(e);
}

export function tableOptions(options: CompareOptions): TableCompareOptions {
  return {
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    sizeByTime: options.chunkSize === undefined,
    maxDifferences: options.maxDifferences ?? DEFAULT_MAX_DIFFERENCES,
    recheck: options.recheck ?? true,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
}

export function failedTable(table: SyncTable, e: unknown): TableComparison {
  const key = table.key.map((k) => k.name);
  return { ...emptyComparison(table.name, key), status: 'error', error: messageOf(e) };
}

/** InnoDB's row estimates, for a progress bar (never used as counts). */
export async function estimatedRows(hub: MysqlHub, tables: SyncTable[]): Promise<Map<string, number>> {
  if (tables.length === 0) return new Map();
  const rows = await hub
    .query<{ TABLE_NAME: string; n: string | number | null }>(
      'SELECT TABLE_NAME, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
      [tables.map((t) => t.name)],
    )
    .catch(() => []);
  return new Map(rows.filter((r) => r.n !== null).map((r) => [r.TABLE_NAME.toLowerCase(), Number(r.n)]));
}

function summarise(scope: CompareScope, tables: TableComparison[], started: Date): CompareReport {
  const differing = tables.filter((t) => t.status !== 'match');
  return {
    match: differing.length === 0 && !scope.issues.some((i) => i.difference),
    tables,
    skipped: skippedOf(scope.issues),
    paused: pausedOf(scope.issues),
    issues: scope.issues,
    totals: {
      tables: tables.length,
      differingTables: differing.length + scope.issues.filter((i) => i.difference).length,
      differences: tables.reduce((n, t) => n + t.differenceCount, 0),
      rowsScanned: tables.reduce((n, t) => n + t.rows.sqlite + t.rows.mysql, 0),
    },
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
  };
}

/** The hub pool as the folded-key lookups' query runner. */
export function hubRunner(hub: MysqlHub): HubQuery {
  return { query: (sql, params) => hub.pool.query(sql, params as never) };
}

/** Flags the listed differences whose keys are changes still queued for sync (src/compare/queued.ts). */
async function markQueued(db: SqliteDb, hub: MysqlHub, result: TableComparison): Promise<void> {
  if (result.differences.length === 0) return;
  const queued = await queuedKeys(
    db,
    hub,
    result.table,
    result.differences.map((d) => d.key),
  );
  for (const d of result.differences) if (queued.has(d.key)) d.queued = true;
  result.queued = queued.size;
}

/** Compares on an open SQLite handle (no transaction may be open on it meanwhile). */
export async function compareOn(db: SqliteDb, sources: CompareSources, options: CompareOptions = {}): Promise<CompareReport> {
  const started = new Date();
  const scope = await resolveScope(db, sources.hub, sources.planOptions, options.tables);
  const emit = options.onEvent ?? (() => {});
  emit({ type: 'start', tables: scope.tables.map((t) => t.name), issues: scope.issues });
  const ctx: TableCompareContext = {
    db,
    sqlitePath: sources.sqlitePath,
    hub: sources.hub,
    keyOrders: await mysqlKeyOrders(sources.hub, scope.tables),
  };
  const perTable = tableOptions(options);
  const estimates = await estimatedRows(sources.hub, scope.tables);
  const results: TableComparison[] = [];
  for (const [index, table] of scope.tables.entries()) {
    emit({
      type: 'table-start',
      table: table.name,
      index,
      total: scope.tables.length,
      estimatedRows: estimates.get(table.name.toLowerCase()) ?? null,
    });
    let result: TableComparison;
    try {
      const known = options.knownRanges?.get(table.name.toLowerCase());
      result = await compareTable(ctx, table, known ? { ...perTable, known } : perTable);
      await markQueued(db, sources.hub, result);
      await markFoldedKeys(hubRunner(sources.hub), table, result.differences);
    } catch (e) {
      if (isFatalCompareError(e)) throw e;
      result = failedTable(table, e);
    }
    results.push(result);
    emit({ type: 'table-done', table: table.name, result });
  }
  const report = summarise(scope, results, started);
  emit({ type: 'done', report });
  return report;
}

/** Compares the SQLite file at `sources.sqlitePath` with the hub. */
export async function compareDatabases(sources: CompareSources, options: CompareOptions = {}): Promise<CompareReport> {
  const db = openSqlite(sources.sqlitePath);
  try {
    return await compareOn(db, sources, options);
  } finally {
    db.close();
  }
}

/** Hub connection for a node's configuration, or a clear error when the hub is disabled. */
export async function connectHubFor(config: Config): Promise<MysqlHub> {
  if (!config.dualDatabase) {
    throw new DualdbError('HUB_DISABLED', 'the hub is disabled (DUAL_DATABASE=false): there is nothing to compare with', {
      hint: 'set DUAL_DATABASE=true and the DB_* settings',
      exitCode: EXIT.CONFIG,
    });
  }
  return MysqlHub.connect(config.mysql);
}

export function planOptionsOf(config: Config): PlanOptions {
  return { include: config.sync.tables, exclude: config.sync.exclude };
}

/** Compare for a node's configuration: connects, compares, disconnects. */
export async function compareNode(config: Config, options: CompareOptions = {}): Promise<CompareReport> {
  const hub = await connectHubFor(config);
  try {
    return await compareDatabases({ sqlitePath: config.sqlitePath, hub, planOptions: planOptionsOf(config) }, options);
  } finally {
    await hub.close();
  }
}

/**
 * A compare as an event source, for UIs: `run.on('event', …)`, `await run.start()`,
 * `run.cancel()` (the run stops at the next chunk with CompareCancelledError).
 */
export class CompareRun extends EventEmitter<{ event: [CompareEvent] }> {
  private readonly abort = new AbortController();

  constructor(
    private readonly sources: CompareSources,
    private readonly options: Omit<CompareOptions, 'signal' | 'onEvent'> = {},
  ) {
    super();
  }

  start(): Promise<CompareReport> {
    return compareDatabases(this.sources, {
      ...this.options,
      signal: this.abort.signal,
      onEvent: (e) => this.emit('event', e),
    });
  }

  cancel(): void {
    this.abort.abort();
  }
}
