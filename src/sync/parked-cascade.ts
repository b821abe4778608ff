/**
 * A pull that deleted rows ran their ON DELETE cascades on the node too (quietly, as the hub
 * did). A child this node had parked on its way up — typically because its parent was already
 * deleted on the hub, so the hub refused it — may be gone with them: its parked push is due now,
 * so that the next push settles it (it sends the child's delete, which the hub has already) instead
 * of waiting out its retry delay, or for ever once those run out.
 */
import type { SyncContext } from './context.js';
import type { SyncTable } from './plan.js';
import { referencingColumns } from './rekey.js';
import { SqliteTableIO } from './sqlite-io.js';

/** In the pull's transaction, after its deletes of rows of `parents`. */
export function wakeParkedOrphans(ctx: SyncContext, parents: SyncTable[]): void {
  const children = new Set(parents.flatMap((p) => referencingColumns(ctx.plan, p).map((r) => r.child)));
  for (const child of children) {
    const parked = ctx.db
      .prepare("SELECT id, pk FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk IS NOT NULL")
      .all(child.name) as { id: number | bigint; pk: string }[];
    if (parked.length === 0) continue;
    const present = new SqliteTableIO(ctx.db, child).fetch(parked.map((p) => p.pk));
    const due = ctx.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE id = ?');
    for (const p of parked) if (!present.has(p.pk)) due.run(p.id);
  }
}
