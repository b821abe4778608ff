/**
 * A node's new child row that references its copy of a hub row the hub has deleted since (the
 * delete not pulled yet) must not go up: the hub's key may already hold another row (re-created
 * by another node), and the child would attach to it. It waits (parked) for the pull, which runs
 * the delete's ON DELETE here (cascade or set null); what is left of the child then goes up.
 */
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SyncContext } from './context.js';
import type { PullState } from './local-state.js';
import type { SyncTable } from './plan.js';

/** Keys of `table`'s rows in `images` whose referenced parent row was deleted on the hub since this node's last pull. */
export async function childrenOfDeletedParents(
  conn: PoolConnection,
  ctx: SyncContext,
  table: SyncTable,
  images: Map<string, Row>,
  pull: PullState,
): Promise<Set<string>> {
  const out = new Set<string>();
  const holes = [...pull.holes.keys()];
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    if (fk.columns.length !== 1 || !col || !ctx.plan.byName.has(fk.parent)) continue;
    const byParent = new Map<string, string[]>();
    for (const [key, row] of images) {
      const v = row[col];
      if (v === null || v === undefined) continue;
      const list = byParent.get(String(v));
      if (list) list.push(key);
      else byParent.set(String(v), [key]);
    }
    if (byParent.size === 0) continue;
    // The node's own new parent rows are not copies: their children go up with them.
    const own = ctx.state.pendingKeys(fk.parent, [...byParent.keys()]);
    const copies = [...byParent.keys()].filter((k) => own.get(k)?.firstOp !== 'I');
    for (let i = 0; i < copies.length; i += 500) {
      const [rows] = await conn.query(
        `SELECT DISTINCT pk FROM _dualdb_changes
          WHERE tbl = ? AND pk IN (?) AND op = 'D' AND (origin IS NULL OR origin <> ?) AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
        holes.length
          ? [fk.parent, copies.slice(i, i + 500), ctx.nodeId, pull.upto, holes]
          : [fk.parent, copies.slice(i, i + 500), ctx.nodeId, pull.upto],
      );
      for (const r of rows as { pk: string }[]) for (const k of byParent.get(r.pk) ?? []) out.add(k);
    }
  }
  return out;
}
