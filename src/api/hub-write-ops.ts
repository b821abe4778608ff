/**
 * The general path of a hub-first write (`mysql_primary`, and `both` when it writes the hub
 * first): each operation as one statement on the write's connection, inside its transaction, with
 * the keys it touched and, for plain inserts where the hub has RETURNING, the row images it stored.
 * The caller records the write token and commits.
 */
import mysql from 'mysql2/promise';
import { encodeKey } from '../capture/keys.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { toMysqlRow } from '../sync/convert.js';
import { MysqlTableIO } from '../sync/mysql-io.js';
import type { SyncTable } from '../sync/plan.js';
import type { WriteOp } from './dual-database.js';
import { normaliseRow } from './values.js';

/** Runs `ops`; fills `keysByTable` (and `images` when returning); the last AUTO_INCREMENT id, if any. */
export async function writeOpsOnHub(
  conn: PoolConnection,
  ops: WriteOp[],
  tables: Map<string, SyncTable>,
  opts: { returning: boolean; timeout: number },
  keysByTable: Map<string, Set<string>>,
  images: Map<string, Map<string, Row>>,
): Promise<bigint | null> {
  const { returning, timeout } = opts;
  let lastInsertId: bigint | null = null;
  for (const op of ops) {
    const t = tables.get(op.table) as SyncTable;
    const keys = keysByTable.get(t.name) ?? new Set<string>();
    keysByTable.set(t.name, keys);
    const q = quoteMysqlId(t.name);
    if (op.kind === 'insert' || op.kind === 'upsert') {
      const row = toMysqlRow({ ...t, columns: t.columns.filter((c) => c.name in op.row) }, normaliseRow(op.row) as Row);
      const cols = Object.keys(row);
      const nonKey = cols.filter((c) => !t.key.some((k) => k.name === c));
      const base = `INSERT INTO ${q} (${cols.map(quoteMysqlId).join(', ')}) VALUES (?)`;
      const sql =
        op.kind === 'upsert' && nonKey.length
          ? `${base} ON DUPLICATE KEY UPDATE ${nonKey.map((c) => `${quoteMysqlId(c)} = VALUES(${quoteMysqlId(c)})`).join(', ')}`
          : base;
      if (returning) {
        const io = new MysqlTableIO(t);
        const [ret] = await conn.query({
          sql: `${mysql.format(sql, [cols.map((c) => row[c])])} RETURNING ${io.selectList}`,
          timeout,
        });
        const img = (ret as Row[])[0] as Row;
        const key = io.keyOf(img);
        keys.add(key);
        const tableImages = images.get(t.name) ?? new Map<string, Row>();
        images.set(t.name, tableImages.set(key, img));
        // What the OK packet's insert id would be: the AUTO_INCREMENT key's value.
        const auto = t.hubAssignsKey && t.key.length === 1 ? img[t.key[0]?.name ?? ''] : undefined;
        if (auto !== undefined && auto !== null) lastInsertId = BigInt(auto as string);
        continue;
      }
      const [res] = await conn.query({ sql: mysql.format(sql, [cols.map((c) => row[c])]), timeout });
      const insertId = (res as mysql.ResultSetHeader).insertId;
      if (insertId) lastInsertId = BigInt(insertId);
      const keyValues = t.key.map((k) =>
        k.name in row ? (row[k.name] as SqlValue) : k.type === 'integer' && insertId ? BigInt(insertId) : null,
      );
      if (keyValues.every((v) => v !== null)) keys.add(encodeKey(keyValues));
    } else {
      const key = normaliseRow(op.key);
      const where = Object.keys(key)
        .map((c) => `${quoteMysqlId(c)} = ?`)
        .join(' AND ');
      const whereParams = Object.keys(key).map((c) => key[c]);
      // The keys this statement touches, read under lock so the mirror matches.
      const [sel] = await conn.query(
        mysql.format(
          `SELECT ${t.key.map((k) => quoteMysqlId(k.name)).join(', ')} FROM ${q} WHERE ${where} FOR UPDATE`,
          whereParams,
        ),
      );
      for (const r of sel as Row[]) keys.add(new MysqlTableIO(t).keyOf(r));
      if (op.kind === 'update') {
        const set = toMysqlRow({ ...t, columns: t.columns.filter((c) => c.name in op.changes) }, normaliseRow(op.changes) as Row);
        await conn.query({ sql: mysql.format(`UPDATE ${q} SET ? WHERE ${where}`, [set, ...whereParams]), timeout });
      } else {
        await conn.query({ sql: mysql.format(`DELETE FROM ${q} WHERE ${where}`, whereParams), timeout });
      }
    }
  }
  return lastInsertId;
}
