/**
 * Invariant 16 across a column one side gains after the other (a drift fixed by `schema apply`,
 * a column dropped and re-added on the hub): the side that lacked it holds NULL in every row,
 * a NULL that is no value of the application's. Row images travel whole, so without this step
 * the next change of such a row would carry that NULL over the other side's value.
 *
 * When a synced table's plan gains columns (against the list stored in `_dualdb_meta` by the
 * last plan), each row where one side is NULL and the other is not takes the other's value:
 * locally with capture off, on the hub as a logged write of this node (other nodes need it too).
 * Where both sides hold values, the sync decides as for any change.
 */
import type { Row } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { TableInfo } from '../engines/types.js';
import { toMysqlRow, toSqliteRow } from './convert.js';
import type { LocalState } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { type SyncPlan, type SyncTable, userTables } from './plan.js';
import { SqliteTableIO } from './sqlite-io.js';

const CHUNK = 1000;

/** Paused table → the (SQLite-named) columns it has on both sides. */
export function commonColumns(plan: SyncPlan, sqlite: TableInfo[], mysql: TableInfo[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lower = (x: string) => x.toLowerCase();
  for (const p of plan.paused) {
    const s = sqlite.find((t) => lower(t.name) === lower(p.table));
    const m = mysql.find((t) => lower(t.name) === lower(p.table));
    if (!s || !m) continue;
    const there = new Set(m.columns.map((c) => lower(c.name)));
    out.set(
      s.name,
      s.columns.filter((c) => there.has(lower(c.name))).map((c) => c.name),
    );
  }
  return out;
}
const metaKey = (table: string) => `synced_columns:${table}`;

/** Columns of each synced table new since the last plan; stores the current lists once filled. */
export async function backfillNewColumns(
  db: SqliteDb,
  state: LocalState,
  hub: MysqlHub,
  nodeId: string,
  plan: SyncPlan,
  pausedCommon: Map<string, string[]>,
): Promise<{ table: string; columns: string[]; filled: number }[]> {
  const out: { table: string; columns: string[]; filled: number }[] = [];
  // A paused table syncs, once resumed, only the columns both sides had meanwhile: a column
  // dropped and re-added on one side is new there (its old values are gone on that side).
  for (const [table, common] of pausedCommon) {
    const list = JSON.stringify(common);
    if (state.getMeta(metaKey(table)) !== list) state.setMeta(metaKey(table), list);
  }
  for (const t of userTables(plan)) {
    const cols = t.columns.map((c) => c.name);
    const stored = state.getMeta(metaKey(t.name));
    // First plan of this table on this file: nothing to compare with.
    const known = stored ? (JSON.parse(stored) as string[]) : cols;
    const keyCols = new Set(t.key.map((k) => k.name));
    const added = cols.filter((c) => !known.includes(c) && !keyCols.has(c));
    if (added.length) out.push({ table: t.name, columns: added, filled: await fillTable(db, hub, nodeId, t, added) });
    if (stored !== JSON.stringify(cols)) state.setMeta(metaKey(t.name), JSON.stringify(cols));
  }
  return out;
}

async function fillTable(db: SqliteDb, hub: MysqlHub, nodeId: string, t: SyncTable, added: string[]): Promise<number> {
  const local = new SqliteTableIO(db, t);
  const remote = new MysqlTableIO(t);
  const keySql = t.key.map((k) => quoteSqliteId(k.name)).join(', ');
  const anyNull = added.map((c) => `${quoteSqliteId(c)} IS NULL`).join(' OR ');
  // Rows with a NULL here in a new column, and (read from the hub) rows with one there.
  const keys = new Set(
    (db.prepare(`SELECT ${keySql} FROM ${quoteSqliteId(t.name)} WHERE ${anyNull}`).all() as Row[]).map((r) => local.keyOf(r)),
  );
  const hubNull = await hub.query<Row>(
    `SELECT ${t.key.map((k) => quoteMysqlId(k.name)).join(', ')} FROM ${quoteMysqlId(t.name)} WHERE ${added
      .map((c) => `${quoteMysqlId(c)} IS NULL`)
      .join(' OR ')}`,
  );
  for (const r of hubNull) keys.add(remote.keyOf(r));
  const all = [...keys];
  let filled = 0;
  for (let i = 0; i < all.length; i += CHUNK) {
    const chunk = all.slice(i, i + CHUNK);
    const hubRows = await hub.withConnection((conn) => remote.fetch(conn, chunk));
    const here = local.fetch(chunk);
    const toNode: { key: string; col: string; value: unknown }[] = [];
    const toHub: { key: string; col: string; value: unknown }[] = [];
    for (const key of chunk) {
      const h = hubRows.get(key);
      const n = here.get(key);
      if (!h || !n) continue;
      const hs = toSqliteRow(t, h);
      const nm = toMysqlRow(t, n);
      for (const c of added) {
        if (n[c] === null && hs[c] !== null && hs[c] !== undefined) toNode.push({ key, col: c, value: hs[c] });
        else if (h[c] === null && nm[c] !== null && nm[c] !== undefined) toHub.push({ key, col: c, value: nm[c] });
      }
    }
    if (toHub.length)
      await hub.withConnection(async (conn) => {
        // Logged with this node as origin: other nodes pull the value, this one skips its echo.
        await conn.query('SET @dualdb_origin = ?', [nodeId]);
        await conn.beginTransaction();
        try {
          const where = t.key.map((k) => `${quoteMysqlId(k.name)} = ?`).join(' AND ');
          for (const u of toHub)
            await conn.query(
              `UPDATE ${quoteMysqlId(t.name)} SET ${quoteMysqlId(u.col)} = ? WHERE ${where} AND ${quoteMysqlId(u.col)} IS NULL`,
              [u.value, ...remote.keyValues(u.key)],
            );
          await conn.commit();
        } catch (e) {
          await conn.rollback().catch(() => {});
          throw e;
        } finally {
          await conn.query('SET @dualdb_origin = NULL').catch(() => {});
        }
      });
    if (toNode.length)
      db.transaction(() => {
        // Capture off: the value is the hub's already.
        db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
        const where = t.key.map((k) => `${quoteSqliteId(k.name)} = ?`).join(' AND ');
        for (const u of toNode)
          db.prepare(
            `UPDATE ${quoteSqliteId(t.name)} SET ${quoteSqliteId(u.col)} = ? WHERE ${where} AND ${quoteSqliteId(u.col)} IS NULL`,
          ).run(u.value, ...local.keyValues(u.key));
        db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
      })();
    filled += toNode.length + toHub.length;
  }
  return filled;
}
