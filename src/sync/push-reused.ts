/**
 * A key deleted and created again on the node since the hub last saw it: SQLite hands a freed
 * max(id) to the next insert (with AUTOINCREMENT too, once the row was moved away by re-keying,
 * which does not advance `sqlite_sequence`). The change log coalesces the two into one change
 * of the key, but they are two entities (docs/SYNC-CONTRACT.md invariants 6 and 13): the
 * delete is decided as any delete (a conflict with a hub change the node has not seen), and
 * goes up first, with its ON DELETE on the hub; the row now under the key is a new row, never an
 * update of the hub's (whose children, attached by other nodes, would then belong to it): inserted
 * under the key after the delete, or, when the hub's row stays, a collision with it.
 */

import type { ConflictPolicy, KeyCollisionMode } from '../config/schema.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { KeyChange } from './changeset.js';
import type { Winner } from './conflicts.js';
import { type Decision, decidePush, type UnseenChange } from './decide.js';
import type { MysqlTableIO } from './mysql-io.js';
import type { SyncTable } from './plan.js';
import { applyIsolated } from './push-isolate.js';
import type { Collision } from './rekey.js';

/** The node's change of this key deleted the row the hub knows under it, and a new row holds the key now. */
export function isReusedKey(table: SyncTable, change: KeyChange, local: Row | null): boolean {
  return table.keyKind === 'generated' && local !== null && change.firstOp !== 'I' && (change.firstOp === 'D' || change.deleted);
}

export interface ReusedDecision {
  /** The node's delete goes up: the hub's row under the key is deleted before the new row is sent. */
  deleteHubRow: boolean;
  /** The delete met a hub change this node has not seen (a conflict, settled by the policy). */
  conflict?: Winner;
  /** What happens to the new row: sent under the key once the hub's row is gone, else a collision with it. */
  decision: Decision;
}

export function decideReused(
  f: { node: UnseenChange; hub?: UnseenChange; hubHasRow: boolean; hubMovedHere?: boolean },
  policy: ConflictPolicy,
  collisions: KeyCollisionMode,
): ReusedDecision {
  // A hub side that begins with an insert this node has not seen holds a new row, not the one the
  // delete is of (decidePush): nothing deleted there, no conflict, and the node's new row collides
  // with it. (Seed 82935148: the change waited with its held-apart parent while the hub's old row
  // went with its own parent's delete, unlogged, and another node's row took the freed key.)
  const del = decidePush(
    {
      keyKind: 'generated',
      node: f.node,
      nodeHasRow: false,
      hub: f.hub,
      hubHasRow: f.hubHasRow,
      hubMovedHere: f.hubMovedHere,
      same: !f.hubHasRow,
    },
    policy,
    collisions,
  );
  const deleteHubRow = del.action === 'to-hub' && f.hubHasRow;
  // The hub's row gone (deleted first, or already): the new row goes up as a new row under the
  // key, which the application chose (SQLite's freed id, or its own explicit one). Other nodes
  // meet the delete before it (a stale child waits for it, stale-parents.ts; a pull deletes and
  // re-creates the row, running the ON DELETE there). The hub's row kept (its change won over the
  // delete): two rows under one generated key, a collision settled by SYNC_KEY_COLLISIONS.
  const decision: Decision =
    !f.hubHasRow || deleteHubRow
      ? { action: 'to-hub' }
      : decidePush(
          {
            keyKind: 'generated',
            node: { firstOp: 'I', at: f.node.at },
            nodeHasRow: true,
            hub: { firstOp: 'I', at: f.hub?.at ?? 0 },
            hubHasRow: true,
            same: false,
          },
          policy,
          collisions,
        );
  return { deleteHubRow, ...('conflict' in del && del.conflict ? { conflict: del.conflict } : {}), decision };
}

/** Deletes the hub's rows under re-used keys, before anything goes up under them; key → error for each the hub refused. */
export function deleteHubRowsFirst(conn: PoolConnection, io: MysqlTableIO, keys: string[]): Promise<Map<string, string>> {
  return applyIsolated(
    conn,
    keys.map((key) => ({ key })),
    async (items) => {
      for (const sql of io.deleteStatements(items.map((i) => i.key))) await conn.query(sql);
    },
  );
}

/** Leaves out of this pass the keys whose hub delete failed (parked with it). */
export function dropKeys(collided: Collision[], rowsOut: { key: string }[], failed: Map<string, string>): void {
  if (failed.size === 0) return;
  collided.splice(0, collided.length, ...collided.filter((c) => !failed.has(c.oldKey)));
  rowsOut.splice(0, rowsOut.length, ...rowsOut.filter((r) => !failed.has(r.key)));
}
