/**
 * SQLite → MySQL, one table: batches in primary-key order (keyset queries,
 * `WHERE key > last mark`), each read a page of rows at a time while the batch
 * streams and encoded straight into the hub (see hub-writer.ts: no batch is
 * ever held in memory), written in one hub
 * transaction per batch together with the table's resume marker.
 */
import type { KnownRange } from '../compare/checksum-compare.js';
import { rowTextOf } from '../compare/engine-hash.js';
import { type SqlValue, ValueError } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncTable } from '../sync/plan.js';
import { messageOf } from '../util/errors.js';
import { RangeDigest } from './copy-digest.js';
import { MigrationInterruptedError, MigrationWriteError } from './errors.js';
import { BatchSource, HubTableWriter, HubWriteCheckError, LoadDataRefusedError, NotLoadableError } from './hub-writer.js';
import { decodeMark, encodeMark } from './keyset.js';
import type { HubMarkers, TableMarker } from './markers.js';
import type { HubMethod, MigrationDirection } from './types.js';

/** Rows per SQLite read of the copy (a page is held in memory while it is encoded). */
const READ_PAGE_ROWS = 2_000;

export interface HubCopyContext {
  /** The SQLite file: a batch's row iterator stays open (the connection busy) while it streams. */
  reader: SqliteDb;
  conn: PoolConnection;
  markers: HubMarkers;
  direction: MigrationDirection;
  batchSize: number;
  /** A batch also ends after this many bytes of encoded rows (bounds the hub transaction). */
  maxBatchBytes: number;
  maxStatementBytes: number;
  /** Shared by the tables of a run. */
  method: HubMethodChoice;
  signal?: AbortSignal;
  /** Rows done in the table so far (also called while a batch streams, before it commits). */
  onBatch: (rowsDone: number) => void;
  /**
   * Filled with the table's key ranges in order, each committed batch's with the sum of the
   * rows it read (the verification's SQLite half); a range copied by an earlier run has none.
   */
  ranges?: KnownRange[];
}

/** The hub write method of a run, shared by its tables: LOAD DATA refused once → INSERT from then on. */
export class HubMethodChoice {
  constructor(
    private method: HubMethod,
    /** Why the run does not use LOAD DATA, when it does not. */
    private why?: string,
  ) {}

  get current(): HubMethod {
    return this.method;
  }

  get reason(): string | undefined {
    return this.why;
  }

  /** The server or the client refused LOAD DATA: INSERTs from this batch on. */
  loadDataRefused(cause: unknown): void {
    this.method = 'insert';
    this.why = `LOAD DATA LOCAL INFILE refused (${messageOf(cause)}): multi-row INSERTs used instead`;
  }
}

export async function copyTableToHub(
  ctx: HubCopyContext,
  table: SyncTable,
  marker: TableMarker | undefined,
): Promise<{ copied: number; rowsDone: number }> {
  const { reader, conn } = ctx;
  const t = quoteSqliteId(table.name);
  const cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
  const keys = table.key.map((k) => quoteSqliteId(k.name));
  const keyIndex = table.key.map((k) => table.columns.findIndex((c) => c.name === k.name));
  if (keyIndex.some((i) => i < 0)) throw new MigrationWriteError(table.name, 'a key column is not among the copied columns');
  const order = keys.join(', ');
  const first = reader.prepare(`SELECT ${cols} FROM ${t} ORDER BY ${order} LIMIT ?`).raw(true);
  const after = reader
    .prepare(`SELECT ${cols} FROM ${t} WHERE (${order}) > (${keys.map(() => '?').join(', ')}) ORDER BY ${order} LIMIT ?`)
    .raw(true);
  /** Rows from `lo` on, read a page at a time (all() costs less per row than stepping an iterator). */
  function* rowsAfter(lo: SqlValue[] | null): Generator<SqlValue[]> {
    let mark = lo;
    for (;;) {
      const page = (mark ? after.all(...mark, READ_PAGE_ROWS) : first.all(READ_PAGE_ROWS)) as SqlValue[][];
      yield* page;
      if (page.length < READ_PAGE_ROWS) return;
      const lastRow = page[page.length - 1] as SqlValue[];
      mark = keyIndex.map((i) => lastRow[i] ?? null);
    }
  }
  const writer = new HubTableWriter(table, ctx.maxStatementBytes);
  await reserveHubIds(conn, reader, table);

  let last: SqlValue[] | null = marker?.lastKey ? decodeMark(marker.lastKey) : null;
  const { ranges } = ctx;
  const rowText = rowTextOf(table.columns.map((c) => c.type));
  if (last) ranges?.push({ range: { lo: null, hi: last } });
  let rowsDone = marker?.rowsDone ?? 0;
  let copied = 0;
  /** The next batch goes through INSERTs (a BLOB in a text column met by LOAD DATA). */
  let insertOnce = false;
  for (;;) {
    if (ctx.signal?.aborted) throw new MigrationInterruptedError(ctx.direction);
    const it = rowsAfter(last);
    const head = it.next();
    if (head.done) break;
    const digest = ranges ? new RangeDigest(rowText) : undefined;
    const source = new BatchSource(it, head.value, ctx.batchSize, ctx.maxBatchBytes, (n) => ctx.onBatch(rowsDone + n), digest);
    const method: HubMethod = insertOnce ? 'insert' : ctx.method.current;
    insertOnce = false;
    let redo = false;
    try {
      await conn.beginTransaction();
      try {
        if (method === 'load-data') await writer.load(conn, source);
        else await writer.insert(conn, source);
      } catch (e) {
        if (e instanceof LoadDataRefusedError) {
          ctx.method.loadDataRefused(e.cause);
          redo = true;
        } else if (e instanceof NotLoadableError) {
          insertOnce = redo = true;
        } else throw e;
      }
      if (redo) {
        await conn.rollback();
        continue;
      }
      const lastRow = source.last as SqlValue[];
      const nextMark = keyIndex.map((i) => lastRow[i] ?? null);
      await ctx.markers.save(conn, table.name, { lastKey: encodeMark(nextMark), rowsDone: rowsDone + source.rows, done: false });
      // Interrupted while the batch was in flight: it is rolled back, the marker with it.
      if (ctx.signal?.aborted) throw new MigrationInterruptedError(ctx.direction);
      await conn.commit();
      if (digest) ranges?.push({ range: { lo: last, hi: nextMark }, sqlite: digest.sum() });
      rowsDone += source.rows;
      copied += source.rows;
      last = nextMark;
    } catch (e) {
      await conn.rollback().catch(() => {});
      if (e instanceof HubWriteCheckError || typeof (e as { sqlState?: unknown }).sqlState === 'string')
        throw new MigrationWriteError(table.name, messageOf(e), e);
      if (e instanceof ValueError) throw new MigrationWriteError(table.name, messageOf(e), e);
      throw e;
    } finally {
      source.close();
    }
    ctx.onBatch(rowsDone);
  }
  // The last read found no row past `last`.
  ranges?.push({ range: { lo: last, hi: null }, sqlite: { rows: 0, digest: null } });
  await ctx.markers.save(conn, table.name, { lastKey: last ? encodeMark(last) : null, rowsDone, done: true });
  return { copied, rowsDone };
}

/**
 * A central application inserting without an id while the copy runs would get the
 * hub's next AUTO_INCREMENT value: an id the copy has yet to write, which then fails
 * that batch (and every resume). Moving the counter past SQLite's highest id first
 * keeps the ranges apart. Needs ALTER; without it the copy goes on as before.
 */
async function reserveHubIds(conn: PoolConnection, reader: SqliteDb, table: SyncTable): Promise<void> {
  const [key] = table.key;
  if (!key || table.key.length !== 1) return;
  const [auto] = await conn.query(
    "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ? AND EXTRA LIKE '%auto_increment%'",
    [table.name, key.name],
  );
  if ((auto as unknown[]).length === 0) return;
  const max = reader
    .prepare(`SELECT max(${quoteSqliteId(key.name)}) FROM ${quoteSqliteId(table.name)}`)
    .pluck()
    .get();
  if (typeof max !== 'bigint' && typeof max !== 'number') return;
  try {
    // The value is an integer we computed, never user text; ALTER takes no placeholder here.
    await conn.query(`ALTER TABLE ${quoteMysqlId(table.name)} AUTO_INCREMENT = ${BigInt(max) + 1n}`);
  } catch (e) {
    if (!String((e as { code?: string }).code ?? '').includes('DENIED')) throw e;
  }
}
