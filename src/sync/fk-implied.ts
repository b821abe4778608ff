/**
 * An update a parent's delete made never undoes another side's delete of the row
 * (docs/SYNC-CONTRACT.md invariant 6, "an update a parent's delete made").
 *
 * Site B deletes worker W; its foreign key `ON DELETE SET NULL` makes SQLite update W's
 * attendance row C (worker_id → NULL), and the capture logs that as `N` (capture/sqlite-fk-actions.ts).
 * Site A deletes C. Nobody asked for B's update: it follows from W's delete, which the hub runs
 * itself (its own ON DELETE, unlogged, as MySQL fires no trigger for it). So:
 *
 *  - B meets the hub's delete of C (push or pull): when every unpushed change B holds of C is
 *    such an update, the delete stands — no conflict, whatever CONFLICT_POLICY says
 *    (`impliedUpdateYields`, called from decide.ts).
 *  - B's push, the hub's C untouched: B's update is not written to the hub when, after the batch's
 *    deletes (W's among them), the hub's C is already B's (`HubNulledRows`): written, it would be a
 *    logged update for A's delete to meet on the hub, where nothing tells it apart from an
 *    application's. When the hub's row differs (its foreign key is not SET NULL, W's delete waits
 *    in another batch or was refused) it is written as before.
 *
 * An application's update of C (another column, or the reference nulled while W exists) is a `U`
 * and conflicts by the policy as before.
 */
import type { Row } from '../engines/codec.js';
import { sameImage, toSqliteRow } from './convert.js';
import type { RowFacts } from './decide.js';
import type { MysqlTableIO, QueryRunner } from './mysql-io.js';
import type { SyncTable } from './plan.js';

/** The node's row changed only by its parents' deletes; the hub's side deleted it: the delete stands. */
export function impliedUpdateYields(f: RowFacts): boolean {
  return f.node?.implied === true && f.nodeHasRow && !f.hubHasRow && f.hub !== undefined && f.hub.firstOp !== 'I';
}

/** A row of the push, converted for the hub: its key, the node's image and the statement tuple. */
export interface HeldRow {
  key: string;
  local: Row;
  tuple: string;
}

/** The push's rows whose only change is a parent's delete, kept back until the batch's deletes ran on the hub. */
export class HubNulledRows {
  private readonly byTable = new Map<SyncTable, { io: MysqlTableIO; rows: HeldRow[] }>();

  hold(table: SyncTable, io: MysqlTableIO, row: HeldRow): void {
    const t = this.byTable.get(table);
    if (t) t.rows.push(row);
    else this.byTable.set(table, { io, rows: [row] });
  }

  /**
   * After the deletes: the rows the hub's own ON DELETE made equal to the node's need no write
   * (`same`); the others are written as any update (`write`, per table).
   */
  async settle(
    conn: QueryRunner,
    write: (table: SyncTable, io: MysqlTableIO, rows: (HeldRow & { exists: boolean })[]) => Promise<void>,
    same: (table: SyncTable, keys: string[]) => void,
  ): Promise<void> {
    for (const [table, { io, rows }] of this.byTable) {
      const now = await io.fetch(
        conn,
        rows.map((r) => r.key),
        { forUpdate: true },
      );
      const equal = new Set(
        rows
          .filter((r) => {
            const hub = now.get(r.key);
            return hub !== undefined && sameImage(table, r.local, toSqliteRow(table, hub));
          })
          .map((r) => r.key),
      );
      if (equal.size) same(table, [...equal]);
      const differ = rows.filter((r) => !equal.has(r.key));
      // A row the hub's delete removed (its foreign key CASCADE where the node's is SET NULL) is inserted again.
      if (differ.length)
        await write(
          table,
          io,
          differ.map((r) => ({ ...r, exists: now.has(r.key) })),
        );
    }
  }
}
