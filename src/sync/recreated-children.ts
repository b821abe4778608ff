/**
 * A row this node keeps against the hub's delete (the node's later change wins the conflict) is
 * re-created on the hub by a push. The hub's delete ran its ON DELETE CASCADE / SET NULL there
 * without logging it (MySQL fires no triggers for cascades): the node's children of the row are
 * gone (or nulled) on the hub, and nothing would ever send them again — they stayed on the node
 * only. They are logged here as new rows, down the tree, so that the next push re-creates them
 * with their parent (and, should another node's new row hold a child's key on the hub by then,
 * that is a collision: both kept). A child the hub deleted itself (its own logged delete) is
 * left to that delete. Logged `C` (an insert that restores the row, changeset.ts), here and on
 * the hub (push.ts `markRestores`): another node that deleted the row meanwhile deletes it there,
 * where an insert would be a new row's and its delete dropped (decide.ts `deletesRestoredRow`).
 */
import { SQLITE_NOW_MS } from '../capture/sqlite-capture.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncContext } from './context.js';
import { heldKey } from './local-state.js';
import type { SyncTable } from './plan.js';
import { referencingColumns } from './rekey.js';
import { SqliteTableIO } from './sqlite-io.js';

export interface Recreated {
  table: SyncTable;
  key: string;
}

/** Tables whose rows a hub delete of `roots`' rows may have cascaded to (children, theirs, ...). */
function descendantTables(ctx: SyncContext, roots: SyncTable[]): SyncTable[] {
  const out = new Map<string, SyncTable>();
  const work = roots.filter((t) => t.hubCascades);
  for (let t = work.pop(); t; t = work.pop()) {
    for (const { child } of referencingColumns(ctx.plan, t)) {
      if (out.has(child.name)) continue;
      out.set(child.name, child);
      if (child.hubCascades) work.push(child);
    }
  }
  return [...out.values()];
}

/** Push: keys of the descendant tables the hub deleted itself since this node's last pull. */
export async function hubDeletedChildren(conn: PoolConnection, ctx: SyncContext, recreated: Recreated[]): Promise<Set<string>> {
  const out = new Set<string>();
  const tables = descendantTables(
    ctx,
    recreated.map((r) => r.table),
  );
  if (tables.length === 0) return out;
  const [rows] = await conn.query(
    `SELECT DISTINCT tbl, pk FROM _dualdb_changes
      WHERE seq > ? AND op = 'D' AND tbl IN (?) AND (origin IS NULL OR origin <> ?)`,
    [ctx.state.pullState().upto, tables.map((t) => t.name), ctx.nodeId],
  );
  for (const r of rows as { tbl: string; pk: string }[]) out.add(heldKey(r.tbl, r.pk));
  return out;
}

/**
 * Logs the node's current children of the re-created rows (and theirs, through cascading keys)
 * as new rows, unless `skip` says the hub has its own word on one: inside a SQLite transaction.
 * `after`: the log position after which an entry is still unpushed (its first one becomes the insert).
 */
export function logChildrenOfRecreated(
  ctx: SyncContext,
  recreated: Recreated[],
  after: bigint,
  skip: (tbl: string, pk: string) => boolean,
): number {
  const db = ctx.db;
  const markFirst = db.prepare(
    `UPDATE _dualdb_changes SET op = 'C' WHERE seq = (SELECT min(seq) FROM _dualdb_changes WHERE tbl = ? AND pk = ? AND seq > ?)`,
  );
  const logInsert = db.prepare(`INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (?, ?, 'C', ${SQLITE_NOW_MS})`);
  let logged = 0;
  const work = recreated.filter((r) => r.table.hubCascades);
  const done = new Set<string>();
  for (let r = work.pop(); r; r = work.pop()) {
    const parentValue = new SqliteTableIO(db, r.table).keyValues(r.key)[0];
    for (const { child, column } of referencingColumns(ctx.plan, r.table)) {
      const io = new SqliteTableIO(db, child);
      const keyList = child.key.map((k) => quoteSqliteId(k.name)).join(', ');
      const rows = db
        .prepare(`SELECT ${keyList} FROM ${quoteSqliteId(child.name)} WHERE ${quoteSqliteId(column)} = ?`)
        .all(parentValue) as Record<string, unknown>[];
      for (const row of rows) {
        const pk = io.keyOf(row as never);
        const id = heldKey(child.name, pk);
        if (done.has(id) || skip(child.name, pk)) continue;
        done.add(id);
        if (markFirst.run(child.name, pk, after).changes === 0) logInsert.run(child.name, pk);
        logged++;
        if (child.hubCascades) work.push({ table: child, key: pk });
      }
    }
  }
  return logged;
}
