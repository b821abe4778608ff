/**
 * The copy phase over the tables in scope, parents first, with each table's progress:
 * SQLite → MySQL on one pinned hub connection (copy-to-mysql.ts), MySQL → SQLite with
 * SQLite's foreign keys off (copy-to-sqlite.ts). Also what the copy needs decided
 * beforehand: the hub's write method and the emptying of target tables (--truncate).
 */
import type { KnownRange } from '../compare/checksum-compare.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncTable } from '../sync/plan.js';
import { copyTableToHub, HubMethodChoice } from './copy-to-mysql.js';
import { copyTableFromHub } from './copy-to-sqlite.js';
import type { TableMarker } from './markers.js';
import { Meter } from './progress.js';
import type { PreparedRun, RunContext } from './run-context.js';
import type { HubMethod, TableReport } from './types.js';

/** MySQL → SQLite holds a batch in memory: it also ends at this many bytes (rough in-memory size). */
const MAX_BATCH_BYTES = 32 * 1024 * 1024;
/** SQLite → MySQL: a batch also ends after this many bytes of encoded rows (bounds one hub transaction). */
const MAX_HUB_BATCH_BYTES = 64 * 1024 * 1024;
const MAX_STATEMENT_BYTES = 32 * 1024 * 1024;

export interface HubCapabilities {
  method: HubMethod;
  reason?: string;
  maxStatementBytes: number;
}

/** LOAD DATA when the server allows it (and it was not refused by the options), statements sized to its packet. */
export async function hubCapabilities(ctx: RunContext): Promise<HubCapabilities> {
  const [v] = await ctx.hub.query<{ li: string | number | null; map: string | number }>(
    'SELECT @@GLOBAL.local_infile AS li, @@max_allowed_packet AS map',
  );
  const packet = Number(v?.map ?? 4 * 1024 * 1024);
  const maxStatementBytes = Math.max(64 * 1024, Math.min(MAX_STATEMENT_BYTES, Math.floor(packet * 0.9) - 1024));
  if (ctx.options.method === 'insert') return { method: 'insert', reason: 'INSERT requested', maxStatementBytes };
  const on = String(v?.li ?? '0') === '1' || String(v?.li).toUpperCase() === 'ON';
  if (!on)
    return {
      method: 'insert',
      reason: 'the server has local_infile OFF: multi-row INSERTs sized to max_allowed_packet',
      maxStatementBytes,
    };
  return { method: 'load-data', maxStatementBytes };
}

/** Empties target tables, children first, without capturing the deletes. */
export async function truncateTargets(ctx: RunContext, tables: SyncTable[]): Promise<void> {
  const { db, hub } = ctx;
  const ordered = [...tables].sort((a, b) => b.rank - a.rank);
  if (ctx.toHub) {
    await hub.withConnection(async (conn) => {
      await conn.query('SET @dualdb_capture_off = 1, foreign_key_checks = 0');
      try {
        // DELETE, not TRUNCATE: it needs no DROP privilege and is transactional.
        for (const t of ordered) await conn.query(`DELETE FROM ${quoteMysqlId(t.name)}`);
      } finally {
        await conn.query('SET foreign_key_checks = 1');
      }
    });
  } else {
    db.transaction(() => {
      db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      for (const t of ordered) db.prepare(`DELETE FROM ${quoteSqliteId(t.name)}`).run();
      db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    }).immediate();
  }
}

/** Copies every table of the run into the target, filling in each table's report entry. */
export async function copyTables(ctx: RunContext, job: PreparedRun): Promise<void> {
  if (ctx.toHub) await copyToHub(ctx, job, job.caps as HubCapabilities);
  else await copyToSqlite(ctx, job);
}

/** A table's progress from its first event to its last. */
class TableMeter {
  private readonly meter: Meter;

  constructor(
    private readonly ctx: RunContext,
    readonly entry: TableReport,
    rowsTotal: number,
  ) {
    entry.rowsTotal = rowsTotal;
    this.meter = new Meter(entry.table, rowsTotal, entry.rowsResumed);
    ctx.emitProgress(this.meter.progress(entry.rowsResumed));
  }

  /** Rows done so far (called per batch, and while a batch streams). */
  onBatch = (done: number): void => {
    this.entry.rowsCopied = done - this.entry.rowsResumed;
    if (this.meter.due()) this.ctx.emitProgress(this.meter.progress(done));
  };

  finish(rowsDone: number, copied: number): void {
    const { entry } = this;
    entry.rowsCopied = copied;
    entry.seconds = Math.round(this.meter.seconds * 1000) / 1000;
    entry.state = 'done';
    entry.rowsTotal = Math.max(entry.rowsTotal, rowsDone);
    this.ctx.emitProgress(this.meter.progress(rowsDone, this.ctx.options.skipVerify ? 'done' : 'verifying'));
  }
}

type CopyOne = (
  table: SyncTable,
  marker: TableMarker | undefined,
  meter: TableMeter,
) => Promise<{ copied: number; rowsDone: number }>;

/** Each table in scope, parents first: a table an interrupted run finished is only reported. */
async function eachTable(ctx: RunContext, job: PreparedRun, source: 'sqlite' | 'mysql', copyOne: CopyOne): Promise<void> {
  for (const t of job.scope) {
    const marker = job.markers.get(t.name);
    const meter = new TableMeter(ctx, job.entries.get(t.name) as TableReport, await ctx.countRows(t.name, source));
    if (marker?.done) {
      meter.finish(marker.rowsDone, 0);
      continue;
    }
    const { copied, rowsDone } = await copyOne(t, marker, meter);
    meter.finish(rowsDone, copied);
  }
}

async function copyToHub(ctx: RunContext, job: PreparedRun, caps: HubCapabilities): Promise<void> {
  const { db, hub, report } = ctx;
  const method = new HubMethodChoice(caps.method, caps.reason);
  // A batch's row iterator stays open while the batch streams to the hub: nothing else may
  // run a statement on `db` meanwhile (better-sqlite3 refuses: "connection is busy"). One
  // connection is enough; a second one once saw SQLITE_CORRUPT while the `sqlite3` shell wrote,
  // caused by openSqlite peeking at the file header with fs (see engines/sqlite/open.ts).
  await hub.withConnection(async (conn) => {
    // Capture off for this session only (reset before the connection goes back to the pool);
    // tables come parents first, and foreign keys are checked by the pre-flight.
    await conn.query('SET @dualdb_capture_off = 1, foreign_key_checks = 0');
    await eachTable(ctx, job, 'sqlite', async (t, marker, meter) => {
      const ranges: KnownRange[] = [];
      job.copied.set(t.name.toLowerCase(), ranges);
      const copied = await copyTableToHub(
        {
          reader: db,
          conn,
          markers: job.hubMarkers,
          direction: ctx.direction,
          batchSize: ctx.batchSize,
          maxBatchBytes: MAX_HUB_BATCH_BYTES,
          maxStatementBytes: caps.maxStatementBytes,
          method,
          ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
          onBatch: meter.onBatch,
          ranges,
        },
        t,
        marker,
      );
      meter.entry.method = method.current;
      return copied;
    });
    await conn.query('SET foreign_key_checks = 1');
  });
  report.method = method.current;
  if (method.reason) report.methodReason = method.reason;
}

async function copyToSqlite(ctx: RunContext, job: PreparedRun): Promise<void> {
  const { db, hub } = ctx;
  // Parents come first; a self-referencing table may hold a child before its parent.
  db.pragma('foreign_keys = OFF');
  try {
    await eachTable(ctx, job, 'mysql', (t, marker, meter) =>
      copyTableFromHub(
        {
          db,
          hub,
          markers: job.sqliteMarkers,
          batchSize: ctx.batchSize,
          maxBatchBytes: MAX_BATCH_BYTES,
          ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
          onBatch: meter.onBatch,
        },
        t,
        marker,
      ),
    );
  } finally {
    db.pragma('foreign_keys = ON');
  }
}
