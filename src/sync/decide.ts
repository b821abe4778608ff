/**
 * The decision for one changed row, with no database in sight: given what each side holds and
 * what each side changed that the other has not seen, what moves (docs/SYNC-CONTRACT.md
 * invariants 6 and 13). Push and pull read the facts, call these, and apply the result.
 *
 *  - A row changed on one side only moves to the other.
 *  - Changed on both sides: a conflict, settled by CONFLICT_POLICY (the loser is kept).
 *  - Created on both sides (the first unseen operation is an insert on each) under a generated
 *    key: two different rows that happen to share an id — a collision, not a conflict. Both
 *    rows are kept: one moves to a new key (SYNC_KEY_COLLISIONS). If the node's is already gone
 *    again, the hub's simply stays (and is never deleted by the first's delete); if the hub's is,
 *    rekey-node still moves the node's (a key the hub gave one row never names another), the
 *    other modes send it as it is. Under a natural key two creations are the same entity: a conflict;
 *    so are two that agree on a unique key besides the primary key (`RowFacts.sameEntity`).
 */
import type { ConflictPolicy, KeyCollisionMode } from '../config/schema.js';
import type { Op } from './changeset.js';
import { decideWinner, type Winner } from './conflicts.js';
import { impliedUpdateYields } from './fk-implied.js';
import type { KeyKind } from './plan.js';

/** A change one side made that the other side has not seen yet. */
export interface UnseenChange {
  firstOp: Op;
  /** Time of the latest such change, on the local clock (ms). */
  at: number;
  /** Node side only: every such change is an update a parent's delete made (fk-implied.ts). */
  implied?: boolean;
}

export interface RowFacts {
  keyKind: KeyKind;
  /** The node's unpushed change to this row, if any. */
  node?: UnseenChange;
  nodeHasRow: boolean;
  /** The node's change holds a delete of the row (false: it only names the key; unknown: undefined). */
  nodeDeleted?: boolean;
  /** The hub's change (by another origin) that this node has not pulled, if any. */
  hub?: UnseenChange;
  hubHasRow: boolean;
  /**
   * The key is where the hub moved a row this node knew under another key (rekey-hub, an R entry
   * applied here, hub-moves.ts): the hub's insert under it is that row, not a new one.
   */
  hubMovedHere?: boolean;
  /** The hub's only change under the key this node has not seen is that move's insert (the row as it was). */
  hubOnlyMove?: boolean;
  /**
   * Among the hub's changes under the key this node has not seen is a delete, and the hub holds a
   * row there now: that row was created after the delete (its writer handed the freed key out
   * again, push-reused.ts), a new row, not the one this node knew — unless what followed the last
   * delete was a restore (`C`: a node kept the row against that delete), the row this node knew.
   */
  hubRecreated?: boolean;
  /**
   * The hub's first change under the key this node has not seen restores the row this node knew: a
   * node kept the row's parent against the hub's delete and sent back the children MySQL's unlogged
   * ON DELETE CASCADE had taken there (recreated-children.ts, logged `C`). The same row, not a new one.
   */
  hubRestored?: boolean;
  /** And that restore is the hub's only such change. */
  hubOnlyRestore?: boolean;
  /**
   * The node's row and the hub's hold the same values in a unique key besides the primary key: one
   * entity whatever the key's history, so a conflict, never two rows (which could never both stand
   * on the hub). A row the hub deleted and another node's update re-created is that row again
   * (`editsAnotherRow`); so is an update that won over the delete here (the pull's markRecreated
   * makes it an insert) meeting that re-creation (`isCollision`; trial 5, seed 508).
   */
  sameEntity?: boolean;
  /** Both current images are the same datum (or both absent). */
  same: boolean;
}

export type Decision =
  /** The node's version goes to the hub (push) — also the outcome of a conflict the node wins. */
  | { action: 'to-hub'; conflict?: Winner }
  /** The hub's version goes to the node (pull, or a collision whose node row is gone). */
  | { action: 'to-node'; conflict?: Winner }
  /** Nothing moves now (a conflict the other side wins or held, or a collision's gone row). */
  | { action: 'none'; conflict?: Winner }
  /** Two rows under one generated key: one of them moves (or both are held apart). */
  | { action: 'rekey'; resolve: 'rekey-node' | 'rekey-hub' | 'hold'; conflict?: Winner }
  /** Pull only: a collision for the next push to resolve (it allocates keys on the hub). */
  | { action: 'defer' };

export function isCollision(f: RowFacts): boolean {
  return f.keyKind === 'generated' && f.node?.firstOp === 'I' && f.hub?.firstOp === 'I';
}

/**
 * The node deleted a row it had under a generated key, and the hub's side of that key begins with
 * an insert the node has not seen: the hub's row is a new row, created after the one the node
 * deleted was gone there (an ON DELETE cascade, which the hub does not log, then another node's
 * row sent into the freed key, or a central write with an explicit id). The delete is not of that
 * row: nothing to delete, no conflict; the hub's row comes to the node. Likewise where the hub's
 * unseen changes delete the row and create another under the key (`hubRecreated`: its writer
 * deleted the row and SQLite handed the freed id to its next insert; operator trial 5, N2): the
 * node's delete is of the row already gone there, never of the new one. So too where the row had
 * come to the key by another node's move (rekey-hub: the node's delete followed it there, over one
 * move or several) and was deleted there before another row took the key (operator trial 6,
 * T6-R1: taken for a conflict, node-wins deleted the new row). Not so where the hub's first change
 * is the move of a row this node knew and the row is still there: a conflict. A change that began
 * with an update, holds no delete and finds no row names a row that moved away (a parked retry
 * recorded from a stale read: operator trial 4, M1), not one it deleted; one that ends with the
 * delete is the row's delete, of the row gone there where the hub deleted it and re-created the
 * key (trial 6, 702 alerts 22: taken for a conflict, node-wins deleted the new row).
 */
export function deletesAnotherRow(f: RowFacts): boolean {
  if (f.keyKind !== 'generated' || f.nodeHasRow) return false;
  const gone = f.node?.firstOp === 'D' || (f.node?.firstOp === 'U' && f.nodeDeleted === false);
  // Updated here, then deleted: against a hub insert it stays a conflict (M1 narrowed, trial 4).
  const updatedThenDeleted = f.node?.firstOp === 'U' && f.nodeDeleted === true;
  return (
    (gone && f.hub?.firstOp === 'I' && !f.hubRestored && !f.hubMovedHere) ||
    ((gone || updatedThenDeleted) && f.hubRecreated === true && f.hubHasRow)
  );
}

/**
 * The node deleted a row the hub has lost and got back since, unchanged: another node kept the
 * row's parent against the hub's delete and restored the children the hub's cascade had taken
 * (`hubRestored`). The restore is not a change of the row; the delete goes, no conflict. Taken for
 * a new row's insert, it made the delete "of another row": dropped, and the row back everywhere
 * (operator trial 6, T6-R2).
 */
export function deletesRestoredRow(f: RowFacts): boolean {
  return (
    f.keyKind === 'generated' && f.node?.firstOp === 'D' && !f.nodeHasRow && f.hubRestored === true && f.hubOnlyRestore === true
  );
}

/**
 * The node deleted a row it knew under another key, which another node moved on the hub meanwhile
 * (rekey-hub): the delete followed the row to its new key (hub-moves.ts), and the hub has done
 * nothing to it since but the move. The delete goes, no conflict: a move is not a change of the
 * row, and taken for one (the hub's insert, newer) it brought an acknowledged delete back
 * (operator trial 3, finding B).
 */
export function deletesMovedRow(f: RowFacts): boolean {
  return (
    f.keyKind === 'generated' &&
    f.node?.firstOp === 'D' &&
    !f.nodeHasRow &&
    f.hub?.firstOp === 'I' &&
    f.hubMovedHere === true &&
    f.hubOnlyMove === true
  );
}

const RESOLVE: Record<KeyCollisionMode, 'rekey-node' | 'rekey-hub' | 'hold'> = {
  'rekey-node': 'rekey-node',
  'rekey-hub': 'rekey-hub',
  manual: 'hold',
};

/**
 * The node changed (not deleted) a row under a generated key the hub's unseen changes deleted and
 * gave to another row (`hubRecreated`): two rows under one key. The node's change never lands on
 * the other row (operator trial 5, N2u: an update of the old row overwrote the new one). Not so
 * where the hub's row is the node's row again (`sameEntity`: re-created by another node's update
 * that won over the delete; taken for two rows, both held under manual could never stand on the
 * hub together, operator trial 5 seed 507): a conflict, as any change met by the other side's.
 */
export function editsAnotherRow(f: RowFacts): boolean {
  return (
    f.keyKind === 'generated' &&
    f.node?.firstOp === 'U' &&
    f.nodeHasRow &&
    f.hubHasRow &&
    f.hubRecreated === true &&
    f.sameEntity !== true &&
    !f.hubMovedHere
  );
}

/** A row with an unpushed node change, as push sees it. */
export function decidePush(f: RowFacts, policy: ConflictPolicy, collisions: KeyCollisionMode): Decision {
  if (!f.hub || f.same) return { action: 'to-hub' };
  // Kept by the policy against the hub's delete, the node's row is a row of its own: a collision.
  if (editsAnotherRow(f))
    return decideWinner(policy, f.node?.at ?? 0, f.hub.at) === 'node'
      ? { action: 'rekey', resolve: RESOLVE[collisions], conflict: 'node' } // the hub's delete undone: recorded
      : { action: 'to-node', conflict: 'hub' };
  // The hub's delete stands against an update a parent's delete made here; the pull deletes the row.
  if (impliedUpdateYields(f)) return { action: 'none' };
  if (deletesAnotherRow(f)) return { action: 'none' };
  if (deletesMovedRow(f) || deletesRestoredRow(f)) return { action: 'to-hub' };
  if (isCollision(f) && f.sameEntity !== true) {
    // The node's new row is gone again: it must not delete the hub's different row.
    if (!f.nodeHasRow) return { action: 'to-node' };
    // The hub's new row is gone again: under rekey-node the node's row still moves to a fresh key,
    // so that the key never names two rows on the hub (another node may hold a reference to the
    // hub's deleted row under it, which would attach to the node's). Otherwise it goes up as it is.
    if (!f.hubHasRow) return collisions === 'rekey-node' ? { action: 'rekey', resolve: 'rekey-node' } : { action: 'to-hub' };
    return { action: 'rekey', resolve: RESOLVE[collisions] };
  }
  const winner = decideWinner(policy, f.node?.at ?? 0, f.hub.at);
  return winner === 'node' ? { action: 'to-hub', conflict: winner } : { action: 'none', conflict: winner };
}

/** A row with an unpulled hub change, as pull sees it. */
export function decidePull(f: RowFacts, policy: ConflictPolicy): Decision {
  if (!f.node || f.same || deletesAnotherRow(f)) return { action: 'to-node' };
  // Nothing the hub did to the row but move it (rekey-hub, row-history.ts): the node's change stands.
  if (!f.hub) return { action: 'none' };
  // The hub's delete stands against an update a parent's delete made here.
  if (impliedUpdateYields(f)) return { action: 'to-node' };
  // The node's delete stands; its push deletes the row on the hub.
  if (deletesMovedRow(f) || deletesRestoredRow(f)) return { action: 'none' };
  // Two rows under one key (editsAnotherRow): kept by the policy, the node's is left to the push,
  // which hands out keys; the hub winning, its new row replaces the node's old one here.
  if (editsAnotherRow(f))
    return decideWinner(policy, f.node.at, f.hub?.at ?? 0) === 'node'
      ? { action: 'defer' }
      : { action: 'to-node', conflict: 'hub' };
  if (isCollision(f) && f.sameEntity !== true) {
    if (!f.nodeHasRow) return { action: 'to-node' };
    // The hub's row is gone again: still left to the push (it decides whether the node's row moves).
    return { action: 'defer' };
  }
  const winner = decideWinner(policy, f.node.at, f.hub?.at ?? 0);
  return winner === 'hub' ? { action: 'to-node', conflict: winner } : { action: 'none', conflict: winner };
}
