/**
 * SQLite → MySQL, one table: keyset pages read from SQLite in primary-key order
 * (iterated, bounded by rows and bytes: memory stays flat whatever the table
 * size), converted by the codec, written on the hub in one transaction per batch
 * together with the table's resume marker.
 */
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { toMysqlRow } from '../sync/convert.js';
import type { SyncTable } from '../sync/plan.js';
import { messageOf } from '../util/errors.js';
import { MigrationInterruptedError, MigrationWriteError } from './errors.js';
import { HubTableWriter, HubWriteCheckError, LoadDataRefusedError } from './hub-writer.js';
import { decodeMark, encodeMark, rowBytes } from './keyset.js';
import type { HubMarkers, TableMarker } from './markers.js';
import type { HubMethod, MigrationDirection } from './types.js';

export interface HubCopyContext {
  db: SqliteDb;
  conn: PoolConnection;
  markers: HubMarkers;
  direction: MigrationDirection;
  batchSize: number;
  maxBatchBytes: number;
  maxStatementBytes: number;
  /** Shared by the tables of a run: LOAD DATA refused once → INSERT from then on. */
  method: { current: HubMethod; reason?: string };
  signal?: AbortSignal;
  onBatch: (rowsDone: number) => void;
}

export async function copyTableToHub(
  ctx: HubCopyContext,
  table: SyncTable,
  marker: TableMarker | undefined,
): Promise<{ copied: number; rowsDone: number }> {
  const { db, conn } = ctx;
  const t = quoteSqliteId(table.name);
  const cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
  const keys = table.key.map((k) => quoteSqliteId(k.name));
  const order = keys.join(', ');
  const first = db.prepare(`SELECT ${cols} FROM ${t} ORDER BY ${order}`);
  const after = db.prepare(`SELECT ${cols} FROM ${t} WHERE (${order}) > (${keys.map(() => '?').join(', ')}) ORDER BY ${order}`);
  const writer = new HubTableWriter(table, ctx.maxStatementBytes);

  let last: SqlValue[] | null = marker?.lastKey ? decodeMark(marker.lastKey) : null;
  let rowsDone = marker?.rowsDone ?? 0;
  let copied = 0;
  for (;;) {
    if (ctx.signal?.aborted) throw new MigrationInterruptedError(ctx.direction);
    // One page, read synchronously and bounded (the iterator is closed before any await).
    const rows: Row[] = [];
    let bytes = 0;
    for (const row of (last ? after.iterate(...last) : first.iterate()) as IterableIterator<Row>) {
      rows.push(row);
      bytes += rowBytes(row);
      if (rows.length >= ctx.batchSize || bytes >= ctx.maxBatchBytes) break;
    }
    if (rows.length === 0) break;
    const lastRow = rows[rows.length - 1] as Row;
    const nextMark = table.key.map((k) => lastRow[k.name] ?? null);
    let converted: Row[];
    try {
      converted = rows.map((r) => toMysqlRow(table, r));
    } catch (e) {
      throw new MigrationWriteError(table.name, messageOf(e), e);
    }
    await conn.beginTransaction();
    try {
      try {
        await writer.write(conn, converted, ctx.method.current);
      } catch (e) {
        if (!(e instanceof LoadDataRefusedError)) throw e;
        ctx.method.current = 'insert';
        ctx.method.reason = `LOAD DATA LOCAL INFILE refused (${messageOf(e.cause)}): multi-row INSERTs used instead`;
        await writer.write(conn, converted, 'insert');
      }
      await ctx.markers.save(conn, table.name, { lastKey: encodeMark(nextMark), rowsDone: rowsDone + rows.length, done: false });
      // Interrupted while the batch was in flight: it is rolled back, the marker with it.
      if (ctx.signal?.aborted) throw new MigrationInterruptedError(ctx.direction);
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      if (e instanceof HubWriteCheckError || typeof (e as { sqlState?: unknown }).sqlState === 'string')
        throw new MigrationWriteError(table.name, messageOf(e), e);
      throw e;
    }
    rowsDone += rows.length;
    copied += rows.length;
    last = nextMark;
    ctx.onBatch(rowsDone);
  }
  await ctx.markers.save(conn, table.name, { lastKey: last ? encodeMark(last) : null, rowsDone, done: true });
  return { copied, rowsDone };
}
