/**
 * The hub half of rekey-node for many collisions of one table: the node's rows go in without
 * their key, taking consecutive values of the hub's AUTO_INCREMENT (the caller checked the lock
 * mode), in multi-row INSERTs sized to the hub's max_allowed_packet, and are logged set-based
 * (hub-capture-bulk.ts) when there are enough of them.
 */
import mysql from 'mysql2/promise';
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SyncContext } from './context.js';
import { toMysqlRow } from './convert.js';
import { BULK_CAPTURE_MIN_ROWS, bulkCaptureAllowed, withSetCapture } from './hub-capture-bulk.js';
import { chunkBySize } from './key-chunks.js';
import { MysqlTableIO, PACKET_MARGIN } from './mysql-io.js';
import type { SyncTable } from './plan.js';
import type { Collision } from './rekey.js';

const MAX_ROWS_PER_INSERT = 1000;

/**
 * Inserts the node rows of `collisions` under new hub keys; returns the new keys, in order. With
 * `stored` (MariaDB 10.5+), the INSERTs return what the hub stored, keyed into it: the push's
 * check for values the hub rewrote then reads nothing back.
 */
export async function insertUnderNewKeys(
  conn: PoolConnection,
  ctx: SyncContext,
  t: SyncTable,
  collisions: Collision[],
  increment: bigint,
  stored?: Map<string, Row>,
): Promise<string[]> {
  const maxBytes = ctx.hubMaxPacket - PACKET_MARGIN;
  const io = new MysqlTableIO(t, maxBytes);
  const kc = t.key[0]?.name ?? '';
  const cols = t.columns.filter((c) => c.name !== kc);
  const head = `INSERT INTO ${quoteMysqlId(t.name)} (${cols.map((c) => quoteMysqlId(c.name)).join(', ')}) VALUES `;
  const tuples = collisions.map((c) => {
    const r = toMysqlRow(t, c.nodeRow);
    return mysql.format(
      `(${cols.map(() => '?').join(', ')})`,
      cols.map((col) => (r[col.name] ?? null) as SqlValue),
    );
  });
  const setCapture = collisions.length >= BULK_CAPTURE_MIN_ROWS && (await bulkCaptureAllowed(conn, t));
  const keys: string[] = [];
  const insert = async (chunk: string[]): Promise<string[]> => {
    if (stored) {
      const [rows] = await conn.query(`${head}${chunk.join(', ')} RETURNING ${io.selectList}`);
      // One row back per row inserted (a plain INSERT inserts all or fails). The statement's keys
      // are consecutive in the order of its rows (the caller checked the lock mode): ascending,
      // they are the rows' keys in order, whatever order RETURNING gives them in.
      const keyed = (rows as Row[]).map((row) => ({ key: io.keyOf(row), row }));
      keyed.sort((a, b) => (BigInt(a.key) < BigInt(b.key) ? -1 : 1));
      for (const k of keyed) stored.set(k.key, k.row);
      return keyed.map((k) => k.key);
    }
    const [res] = await conn.query(head + chunk.join(', '));
    const first = BigInt((res as { insertId: number | string }).insertId);
    return chunk.map((_, j) => (first + BigInt(j) * increment).toString());
  };
  for (const chunk of chunkBySize(tuples, (x) => Buffer.byteLength(x) + 2, maxBytes - head.length, MAX_ROWS_PER_INSERT)) {
    if (!setCapture || chunk.length < BULK_CAPTURE_MIN_ROWS) {
      keys.push(...(await insert(chunk)));
      continue;
    }
    await withSetCapture(conn, io, maxBytes, async () => {
      const fresh = await insert(chunk);
      keys.push(...fresh);
      return [{ op: 'I', keys: fresh }];
    });
  }
  return keys;
}
