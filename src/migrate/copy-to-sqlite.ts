/**
 * MySQL → SQLite, one table: the hub table streamed in primary-key order from a
 * consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY) on a
 * pinned connection, with backpressure; each page is written into SQLite in one
 * transaction with the `applying` flag raised (the node's triggers stay quiet:
 * a seeded row must not be pushed back) and the table's resume marker. Rows go
 * through the sync engine's SqliteTableIO upsert and the codec.
 */
import type { Row, SqlValue } from '../engines/codec.js';
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { StreamPages } from '../engines/mysql/stream.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { toSqliteRow } from '../sync/convert.js';
import type { SyncTable } from '../sync/plan.js';
import { SqliteTableIO } from '../sync/sqlite-io.js';
import { messageOf } from '../util/errors.js';
import { MigrationInterruptedError, MigrationWriteError } from './errors.js';
import { decodeMark, encodeMark, rowBytes } from './keyset.js';
import type { SqliteMarkers, TableMarker } from './markers.js';

export interface SqliteCopyContext {
  db: SqliteDb;
  hub: MysqlHub;
  markers: SqliteMarkers;
  batchSize: number;
  maxBatchBytes: number;
  signal?: AbortSignal;
  onBatch: (rowsDone: number) => void;
}

export async function copyTableFromHub(
  ctx: SqliteCopyContext,
  table: SyncTable,
  marker: TableMarker | undefined,
): Promise<{ copied: number; rowsDone: number }> {
  const { db } = ctx;
  const io = new SqliteTableIO(db, table);
  const q = quoteMysqlId(table.name);
  const cols = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
  const keys = table.key.map((k) => quoteMysqlId(k.name));
  const order = keys.join(', ');
  let last: SqlValue[] | null = marker?.lastKey ? decodeMark(marker.lastKey) : null;
  const sql = last
    ? `SELECT ${cols} FROM ${q} WHERE (${order}) > (${keys.map(() => '?').join(', ')}) ORDER BY ${order}`
    : `SELECT ${cols} FROM ${q} ORDER BY ${order}`;
  let rowsDone = marker?.rowsDone ?? 0;
  let copied = 0;
  const setFlag = db.prepare('UPDATE _dualdb_flags SET applying = ? WHERE id = 1');

  await ctx.hub.withConnection(async (conn: PoolConnection) => {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const reader = new StreamPages<Row>(
      conn,
      { sql, ...(last ? { values: last } : {}) },
      { rows: ctx.batchSize, maxBytes: ctx.maxBatchBytes, sizeOf: rowBytes },
    );
    try {
      for (;;) {
        const page = await reader.next();
        if (page.length > 0) {
          if (ctx.signal?.aborted) throw new MigrationInterruptedError('mysql-to-sqlite');
          const lastRow = page[page.length - 1] as Row;
          const nextMark = table.key.map((k) => lastRow[k.name] ?? null);
          let rows: Row[];
          try {
            rows = page.map((r) => toSqliteRow(table, r));
          } catch (e) {
            throw new MigrationWriteError(table.name, messageOf(e), e);
          }
          try {
            db.transaction(() => {
              setFlag.run(1);
              for (const r of rows) io.upsert(r);
              ctx.markers.save(table.name, { lastKey: encodeMark(nextMark), rowsDone: rowsDone + rows.length, done: false });
              setFlag.run(0);
            }).immediate();
          } catch (e) {
            throw new MigrationWriteError(table.name, messageOf(e), e);
          }
          rowsDone += rows.length;
          copied += rows.length;
          last = nextMark;
          ctx.onBatch(rowsDone);
        }
        if (reader.finished && page.length === 0) break;
      }
      await conn.commit();
    } catch (e) {
      // The server may still be sending rows: the connection cannot be reused.
      reader.destroy();
      conn.destroy();
      throw e;
    }
  });
  ctx.markers.save(table.name, { lastKey: last ? encodeMark(last) : null, rowsDone, done: true });
  return { copied, rowsDone };
}
