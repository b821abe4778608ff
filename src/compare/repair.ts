/**
 * `repair --from sqlite|mysql`: makes the other side equal to the chosen one
 * for the differing keys only — upsert the source's current image, delete keys
 * the source does not have — without firing capture on the side written.
 *
 * The compare runs table by table in parent-before-child order and its
 * differences are written chunk by chunk as they are found (batches, one
 * transaction each), so memory stays bounded; deletes wait until every table's
 * upserts are done and then go children first. Images are read again just
 * before writing (the compare's recheck), so a row changed meanwhile is copied
 * as it is now. A batch that fails is retried row by row: one bad row is
 * reported with the database's reason, the others are still repaired.
 *
 * From mysql, on success for every synced table, the node's pull cursor moves
 * to the hub's position read before the repair started and `resync_needed` is
 * cleared (see pull-cursor.ts for why that cannot skip a change).
 */

import type { Config } from '../config/config.js';
import type { Row } from '../engines/codec.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { toMysqlRow, toSqliteRow } from '../sync/convert.js';
import { isTransientSqlite, rowErrorText } from '../sync/errors.js';
import { explainFoldedKeys } from '../sync/folded-keys.js';
import { MysqlTableIO, type QueryRunner } from '../sync/mysql-io.js';
import type { SyncTable } from '../sync/plan.js';
import { SqliteTableIO } from '../sync/sqlite-io.js';
import { attachValueForms } from '../sync/value-forms.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import {
  type CompareOptions,
  type CompareSources,
  connectHubFor,
  DEFAULT_MAX_DIFFERENCES,
  hubRunner,
  isFatalCompareError,
  planOptionsOf,
  tableOptions,
} from './compare.js';
import { type KeyShape, keyPartsOf, keyShape } from './key-order.js';
import { mysqlKeyOrders } from './mysql-reader.js';
import {
  cursorUpdate,
  type HubPosition,
  nodeHasPullState,
  nodeHoles,
  readHubPosition,
  reportPullPosition,
  resumePullAt,
} from './pull-cursor.js';
import { type RepairWriter, repairWriter } from './repair-writers.js';
import { pausedOf, resolveScope, skippedOf } from './scope.js';
import { type ConfirmedDifference, compareTable } from './table-compare.js';
import type { PullCursorUpdate, RepairAction, RepairEvent, RepairReport, Side, TableRepair } from './types.js';

export const DEFAULT_REPAIR_BATCH = 500;
const MAX_FAILURES_LISTED = 100;

export interface RepairOptions extends Omit<CompareOptions, 'onEvent' | 'recheck' | 'maxDifferences'> {
  /** The side whose data is kept; the other one is changed. */
  from: Side;
  /** Report what would change, change nothing. */
  dryRun?: boolean;
  /** Rows per write transaction (default 500). */
  batchSize?: number;
  /** Changes listed per table (all are counted; default 1,000). */
  maxListed?: number;
  onEvent?: (e: RepairEvent) => void;
}

interface PlannedWrite {
  key: string;
  action: RepairAction;
  columns?: string[];
  /** The source image in the target's value form (upserts). */
  row?: Row;
}

function otherSide(side: Side): Side {
  return side === 'sqlite' ? 'mysql' : 'sqlite';
}

function newTableRepair(table: SyncTable): TableRepair {
  return {
    table: table.name,
    key: table.key.map((k) => k.name),
    status: 'unchanged',
    inserted: 0,
    updated: 0,
    deleted: 0,
    changes: [],
    truncated: false,
    failures: [],
    failureCount: 0,
    rows: { sqlite: 0, mysql: 0 },
  };
}

/** What to write on the target for one confirmed difference (null: a delete, decided later). */
function plannedWrite(table: SyncTable, from: Side, d: ConfirmedDifference): PlannedWrite | null {
  const source = from === 'sqlite' ? d.sqliteRow : d.mysqlRow;
  const target = from === 'sqlite' ? d.mysqlRow : d.sqliteRow;
  if (source === null) return null;
  const row = from === 'sqlite' ? toMysqlRow(table, source) : toSqliteRow(table, source);
  return target === null
    ? { key: d.key, action: 'insert', row }
    : { key: d.key, action: 'update', row, ...(d.columns ? { columns: d.columns } : {}) };
}

class TableRepairer {
  readonly result: TableRepair;
  private readonly shape: KeyShape;

  constructor(
    readonly table: SyncTable,
    private readonly writer: RepairWriter | null,
    private readonly options: { batchSize: number; maxListed: number; emit: (e: RepairEvent) => void; dryRun: boolean },
  ) {
    this.result = newTableRepair(table);
    this.shape = keyShape(table);
  }

  private record(w: PlannedWrite): void {
    if (w.action === 'insert') this.result.inserted++;
    else if (w.action === 'update') this.result.updated++;
    else this.result.deleted++;
    if (this.result.changes.length < this.options.maxListed) {
      this.result.changes.push({
        key: w.key,
        keyParts: keyPartsOf(w.key, this.shape),
        action: w.action,
        ...(w.columns ? { columns: w.columns } : {}),
      });
    }
  }

  /** Failures per action, merged into the result by finish(). */
  private readonly failed = {
    upsert: { count: 0, listed: [] as { key: string; error: string }[] },
    delete: { count: 0, listed: [] as { key: string; error: string }[] },
  };

  private fail(key: string, e: unknown, action: 'upsert' | 'delete'): void {
    const f = this.failed[action];
    f.count++;
    if (f.listed.length < MAX_FAILURES_LISTED) f.listed.push({ key, error: rowErrorText(e) });
  }

  /**
   * Before an upsert pass that compares the table again: every row that failed to upsert
   * still differs, so that pass retries it and records the outcome afresh. (In a
   * case-insensitive key, 'beta' cannot be inserted beside the hub's 'Beta' until 'Beta'
   * is deleted; after the deletes it goes in.)
   */
  forgetUpsertFailures(): void {
    this.failed.upsert = { count: 0, listed: [] };
  }

  /** Writes a batch in one transaction; when it fails, row by row so only the bad rows stay behind. */
  private async write(batch: PlannedWrite[], action: 'upsert' | 'delete'): Promise<void> {
    const w = this.writer;
    if (!w) {
      for (const p of batch) this.record(p);
      return;
    }
    const run = (items: PlannedWrite[]) =>
      action === 'upsert' ? w.upsert(items.map((p) => p.row as Row)) : w.delete(items.map((p) => p.key));
    try {
      await run(batch);
      for (const p of batch) this.record(p);
      return;
    } catch (e) {
      if (isFatalCompareError(e) || isTransientSqlite(e)) throw e;
      if (batch.length === 1) {
        this.fail(batch[0]?.key ?? '', e, action);
        return;
      }
    }
    for (const p of batch) {
      try {
        await run([p]);
        this.record(p);
      } catch (e) {
        if (isFatalCompareError(e) || isTransientSqlite(e)) throw e;
        this.fail(p.key, e, action);
      }
    }
  }

  async apply(writes: PlannedWrite[], action: 'upsert' | 'delete'): Promise<void> {
    for (let i = 0; i < writes.length; i += this.options.batchSize) {
      const batch = writes.slice(i, i + this.options.batchSize);
      await this.write(batch, action);
      this.options.emit({
        type: 'repair-batch',
        table: this.table.name,
        operation: action,
        rows: batch.length,
        dryRun: this.options.dryRun,
      });
    }
  }

  finish(): TableRepair {
    const r = this.result;
    r.failureCount = this.failed.upsert.count + this.failed.delete.count;
    r.failures = [...this.failed.upsert.listed, ...this.failed.delete.listed].slice(0, MAX_FAILURES_LISTED);
    const changed = r.inserted + r.updated + r.deleted;
    r.truncated = changed > r.changes.length;
    if (r.status !== 'error') {
      r.status = r.failureCount > 0 ? 'partial' : changed === 0 ? 'unchanged' : this.options.dryRun ? 'planned' : 'repaired';
    }
    return r;
  }
}

/** The hub pool as a QueryRunner for lookups. */
function poolRunner(sources: CompareSources): QueryRunner {
  return { query: (sql, values) => sources.hub.pool.query(sql, values as never) as unknown as Promise<[unknown, unknown]> };
}

/** Keys of `keys` the source side has no row for right now. */
async function stillAbsent(from: Side, db: SqliteDb, sources: CompareSources, table: SyncTable, keys: string[]) {
  const present =
    from === 'sqlite' ? new SqliteTableIO(db, table).fetch(keys) : await new MysqlTableIO(table).fetch(poolRunner(sources), keys);
  return keys.filter((k) => !present.has(k));
}

export async function repairOn(db: SqliteDb, sources: CompareSources, options: RepairOptions): Promise<RepairReport> {
  const { from } = options;
  if (from !== 'sqlite' && from !== 'mysql') {
    throw new DualdbError('BAD_SIDE', `repair --from must be sqlite or mysql, not ${String(from)}`, {
      hint: 'use --from sqlite to copy the node’s data to the hub, --from mysql to copy the hub’s data to the node',
      exitCode: EXIT.CONFIG,
    });
  }
  const to = otherSide(from);
  const dryRun = options.dryRun ?? false;
  const started = new Date();
  const emit = options.onEvent ?? (() => {});
  const scope = await resolveScope(db, sources.hub, sources.planOptions, options.tables);
  // Rows written into the node take the forms its application writes (before any row lands).
  attachValueForms(db, scope.tables, sources.valueForms);
  // Read before any data: every change up to here is in what the repair copies (pull-cursor.ts).
  const position: HubPosition | null =
    from === 'mysql' && !dryRun && nodeHasPullState(db) ? await readHubPosition(sources.hub, nodeHoles(db)) : null;
  emit({ type: 'start', tables: scope.tables.map((t) => t.name), issues: scope.issues });

  const settings = {
    batchSize: Math.max(1, options.batchSize ?? DEFAULT_REPAIR_BATCH),
    maxListed: options.maxListed ?? DEFAULT_MAX_DIFFERENCES,
    emit,
    dryRun,
  };
  const ctx = {
    db,
    sqlitePath: sources.sqlitePath,
    hub: sources.hub,
    keyOrders: await mysqlKeyOrders(sources.hub, scope.tables),
  };
  const repairers: TableRepairer[] = [];
  const deletes = new Map<TableRepairer, string[]>();

  /** One compare of the table whose differences are upserted as found; returns the keys to delete. */
  const upsertPass = async (repairer: TableRepairer): Promise<string[]> => {
    const { table } = repairer;
    const toDelete: string[] = [];
    const result = await compareTable(ctx, table, {
      ...tableOptions({ ...options, onEvent: emit }),
      maxDifferences: 0,
      recheck: true,
      onDifferences: async (diffs) => {
        const upserts: PlannedWrite[] = [];
        for (const d of diffs) {
          const w = plannedWrite(table, from, d);
          if (w) upserts.push(w);
          else toDelete.push(d.key);
        }
        await repairer.apply(upserts, 'upsert');
      },
    });
    repairer.result.rows = result.rows;
    emit({ type: 'table-done', table: table.name, result });
    return toDelete;
  };
  const failed = (repairer: TableRepairer, e: unknown) => {
    if (isFatalCompareError(e)) throw e;
    repairer.result.status = 'error';
    repairer.result.error = rowErrorText(e);
  };

  // Upserts, parents first, as the compare finds them.
  for (const [index, table] of scope.tables.entries()) {
    emit({ type: 'table-start', table: table.name, index, total: scope.tables.length, estimatedRows: null });
    const repairer = new TableRepairer(table, dryRun ? null : repairWriter(to, db, sources.hub, table), settings);
    repairers.push(repairer);
    try {
      deletes.set(repairer, await upsertPass(repairer));
    } catch (e) {
      failed(repairer, e);
    }
  }

  // Deletes, children first; a key the source has regained meanwhile is left alone.
  for (const repairer of [...repairers].reverse()) {
    const keys = deletes.get(repairer) ?? [];
    if (keys.length === 0 || repairer.result.status === 'error') continue;
    try {
      for (let i = 0; i < keys.length; i += settings.batchSize) {
        const batch = keys.slice(i, i + settings.batchSize);
        const gone = dryRun ? batch : await stillAbsent(from, db, sources, repairer.table, batch);
        await repairer.apply(
          gone.map((key) => ({ key, action: 'delete' as const })),
          'delete',
        );
      }
      // In a case-insensitive MySQL key, 'beta' could not be inserted while the hub still had
      // 'Beta' (a plain insert, never an update of another key's row); now that 'Beta' is
      // deleted, one more upsert pass puts such rows in.
      if (
        !dryRun &&
        to === 'mysql' &&
        repairer.result.deleted > 0 &&
        ctx.keyOrders.get(repairer.table.name)?.byteOrdered === false
      ) {
        repairer.forgetUpsertFailures();
        await upsertPass(repairer);
      }
    } catch (e) {
      failed(repairer, e);
    }
  }

  const tables = repairers.map((r) => r.finish());
  if (to === 'mysql') {
    for (const [i, t] of tables.entries()) {
      const table = repairers[i]?.table;
      if (!table || t.failures.length === 0) continue;
      const errors = new Map(t.failures.map((f) => [f.key, f.error]));
      await explainFoldedKeys(hubRunner(sources.hub), table, errors);
      t.failures = t.failures.map((f) => ({ ...f, error: errors.get(f.key) ?? f.error }));
    }
  }
  for (const t of tables) emit({ type: 'repair-table-done', table: t.table, result: t });
  const ok = tables.every((t) => t.status !== 'error' && t.status !== 'partial');

  let pullCursor: PullCursorUpdate | null = null;
  let resyncCleared = false;
  if (from === 'mysql') {
    const drift = scope.issues.filter((i) => i.kind === 'schema-drift').map((i) => i.table);
    if (dryRun) pullCursor = { moved: false, reason: 'dry run' };
    else if (!nodeHasPullState(db))
      pullCursor = { moved: false, reason: 'capture is not installed on this node (`dualdb init`)' };
    else if (!position) pullCursor = { moved: false, reason: 'the hub has no change log (`dualdb init`)' };
    else if (!scope.complete) pullCursor = { moved: false, reason: 'only some tables were repaired (--tables)' };
    else if (!ok) pullCursor = { moved: false, reason: 'some rows could not be repaired' };
    else if (drift.length)
      pullCursor = { moved: false, reason: `paused for schema drift: ${drift.join(', ')}; fix it and repair again` };
    else {
      const { previous, next, wasResyncNeeded } = resumePullAt(db, position);
      await reportPullPosition(sources.hub, db, next);
      pullCursor = cursorUpdate(previous, next);
      resyncCleared = wasResyncNeeded;
    }
  }

  return {
    from,
    to,
    dryRun,
    ok,
    tables,
    skipped: skippedOf(scope.issues),
    paused: pausedOf(scope.issues),
    issues: scope.issues,
    totals: {
      inserted: tables.reduce((n, t) => n + t.inserted, 0),
      updated: tables.reduce((n, t) => n + t.updated, 0),
      deleted: tables.reduce((n, t) => n + t.deleted, 0),
      failures: tables.reduce((n, t) => n + t.failureCount, 0),
    },
    pullCursor,
    resyncCleared,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
  };
}

/** Repairs the SQLite file at `sources.sqlitePath` against the hub. Stop the node's syncer first. */
export async function repairDatabases(sources: CompareSources, options: RepairOptions): Promise<RepairReport> {
  const db = openSqlite(sources.sqlitePath);
  try {
    return await repairOn(db, sources, options);
  } finally {
    db.close();
  }
}

/** Repair for a node's configuration: connects, repairs, disconnects. */
export async function repairNode(config: Config, options: RepairOptions): Promise<RepairReport> {
  const hub = await connectHubFor(config);
  try {
    return await repairDatabases(
      { sqlitePath: config.sqlitePath, hub, planOptions: planOptionsOf(config), valueForms: config.sync.valueForms },
      options,
    );
  } finally {
    await hub.close();
  }
}
