/**
 * The decision step of push and pull (src/sync/decide.ts), without a database: what moves for
 * each combination of what the two sides did (docs/SYNC-CONTRACT.md invariants 6 and 13).
 */
import { describe, expect, it } from 'vitest';
import { decidePull, decidePush, type RowFacts } from '../src/sync/decide.js';
import { decideReused } from '../src/sync/push-reused.js';

const both = (over: Partial<RowFacts> = {}): RowFacts => ({
  keyKind: 'generated',
  node: { firstOp: 'I', at: 2 },
  nodeHasRow: true,
  hub: { firstOp: 'I', at: 1 },
  hubHasRow: true,
  same: false,
  ...over,
});

describe('decide: an update a parent’s delete made (fk-implied.ts)', () => {
  const upd = both({ node: { firstOp: 'U', at: 3, implied: true }, hub: { firstOp: 'D', at: 1 }, hubHasRow: false });
  it('yields to the hub’s delete under every policy, with no conflict (push: the pull deletes it; pull: deleted now)', () => {
    for (const policy of ['node-wins', 'hub-wins', 'newest-wins', 'manual'] as const) {
      expect(decidePush(upd, policy, 'rekey-node')).toEqual({ action: 'none' });
      expect(decidePull(upd, policy)).toEqual({ action: 'to-node' });
    }
  });
  it('an application’s update, or a hub side that still has the row, is decided by the policy as before', () => {
    const app = { ...upd, node: { firstOp: 'U' as const, at: 3 } };
    expect(decidePush(app, 'node-wins', 'rekey-node')).toEqual({ action: 'to-hub', conflict: 'node' });
    expect(decidePull(app, 'node-wins')).toEqual({ action: 'none', conflict: 'node' });
    const hubUpdated = { ...upd, hub: { firstOp: 'U' as const, at: 1 }, hubHasRow: true };
    expect(decidePush(hubUpdated, 'node-wins', 'rekey-node')).toEqual({ action: 'to-hub', conflict: 'node' });
  });
});

describe('decide: push', () => {
  it('a delete that followed a row another node moved (rekey-hub) deletes it, unless the hub changed it since the move', () => {
    const del = both({ node: { firstOp: 'D', at: 1 }, nodeHasRow: false, hub: { firstOp: 'I', at: 2 }, hubMovedHere: true });
    expect(decidePush({ ...del, hubOnlyMove: true }, 'hub-wins', 'rekey-hub')).toEqual({ action: 'to-hub' });
    expect(decidePull({ ...del, hubOnlyMove: true }, 'hub-wins')).toEqual({ action: 'none' });
    // Updated on the hub after the move: a conflict, as before.
    expect(decidePush({ ...del, hubOnlyMove: false }, 'hub-wins', 'rekey-hub')).toEqual({ action: 'none', conflict: 'hub' });
    expect(decidePull({ ...del, hubOnlyMove: false }, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
  });
  it('an edit of a copy of a row another node moved, the hub having done nothing to it but the move: it stands, no conflict', () => {
    // The move's own entries are not counted (row-history.ts): no hub change is left.
    const edit = both({ node: { firstOp: 'U', at: 1 }, hub: undefined, hubMovedHere: true });
    for (const policy of ['node-wins', 'hub-wins', 'newest-wins', 'manual'] as const) {
      expect(decidePush(edit, policy, 'rekey-hub')).toEqual({ action: 'to-hub' });
      expect(decidePull(edit, policy)).toEqual({ action: 'none' });
    }
  });
  it('a delete of a row another node restored on the hub (a child of a row kept against the hub’s delete) deletes it (trial 6, T6-R2)', () => {
    const del = both({ node: { firstOp: 'D', at: 1 }, nodeHasRow: false, hub: { firstOp: 'I', at: 2 }, hubRestored: true });
    for (const policy of ['node-wins', 'hub-wins', 'newest-wins'] as const) {
      expect(decidePush({ ...del, hubOnlyRestore: true }, policy, 'rekey-node')).toEqual({ action: 'to-hub' });
      expect(decidePull({ ...del, hubOnlyRestore: true }, policy)).toEqual({ action: 'none' });
    }
    // Changed on the hub after the restore: a conflict, no longer a delete of another row.
    expect(decidePush({ ...del, hubOnlyRestore: false }, 'hub-wins', 'rekey-node')).toEqual({ action: 'none', conflict: 'hub' });
    expect(decidePull({ ...del, hubOnlyRestore: false }, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
    // Without the mark, the hub's insert is a new row's: the delete is of another row (unchanged).
    expect(decidePush({ ...del, hubRestored: false }, 'hub-wins', 'rekey-node')).toEqual({ action: 'none' });
    // The node's own new row under the key is still a collision with the restored row.
    expect(decidePush(both({ hubRestored: true, hubOnlyRestore: true }), 'hub-wins', 'rekey-node')).toEqual({
      action: 'rekey',
      resolve: 'rekey-node',
    });
  });
  it('a row changed on the node only goes up; the same image on both sides goes up harmlessly', () => {
    expect(decidePush(both({ hub: undefined }), 'hub-wins', 'rekey-node')).toEqual({ action: 'to-hub' });
    expect(decidePush(both({ same: true }), 'hub-wins', 'rekey-node')).toEqual({ action: 'to-hub' });
  });
  it('two inserts under a generated key are a collision, resolved by SYNC_KEY_COLLISIONS', () => {
    expect(decidePush(both(), 'hub-wins', 'rekey-node')).toEqual({ action: 'rekey', resolve: 'rekey-node' });
    expect(decidePush(both(), 'node-wins', 'rekey-hub')).toEqual({ action: 'rekey', resolve: 'rekey-hub' });
    expect(decidePush(both(), 'newest-wins', 'manual')).toEqual({ action: 'rekey', resolve: 'hold' });
  });
  it('a collision whose node row is gone takes the hub row (never deletes it); whose hub row is gone moves the node row (rekey-node) or sends it', () => {
    expect(decidePush(both({ nodeHasRow: false }), 'node-wins', 'rekey-node')).toEqual({ action: 'to-node' });
    // The hub's key once named another row (other nodes may still refer to it): under rekey-node it is never reused.
    expect(decidePush(both({ hubHasRow: false }), 'hub-wins', 'rekey-node')).toEqual({ action: 'rekey', resolve: 'rekey-node' });
    expect(decidePush(both({ hubHasRow: false }), 'hub-wins', 'rekey-hub')).toEqual({ action: 'to-hub' });
    expect(decidePush(both({ hubHasRow: false }), 'hub-wins', 'manual')).toEqual({ action: 'to-hub' });
  });
  it('two inserts under a natural key, or an update on both sides, are a conflict settled by the policy', () => {
    const natural = both({ keyKind: 'natural' });
    expect(decidePush(natural, 'node-wins', 'rekey-node')).toEqual({ action: 'to-hub', conflict: 'node' });
    expect(decidePush(natural, 'hub-wins', 'rekey-node')).toEqual({ action: 'none', conflict: 'hub' });
    expect(decidePush(natural, 'manual', 'rekey-node')).toEqual({ action: 'none', conflict: 'hold' });
    const updated = both({ node: { firstOp: 'U', at: 1 }, hub: { firstOp: 'I', at: 2 } });
    expect(decidePush(updated, 'newest-wins', 'rekey-node')).toEqual({ action: 'none', conflict: 'hub' });
    expect(decidePush(both({ node: { firstOp: 'U', at: 3 } }), 'newest-wins', 'rekey-node')).toEqual({
      action: 'to-hub',
      conflict: 'node',
    });
  });
});

describe("decide: the node's delete against a new hub row it has not seen (generated key)", () => {
  // The hub's side begins with an insert: the row the node deleted was gone there (an unlogged ON
  // DELETE cascade) and another row took the key. Deleting it would lose that row.
  const facts = both({ node: { firstOp: 'D', at: 9 }, nodeHasRow: false });
  it('push: nothing is deleted and there is no conflict, whatever the policy and mode', () => {
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins', 'manual'] as const)
      for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const)
        expect(decidePush(facts, policy, mode)).toEqual({ action: 'none' });
  });
  it('pull: the hub row comes down, no conflict', () => {
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins', 'manual'] as const)
      expect(decidePull(facts, policy)).toEqual({ action: 'to-node' });
  });
  it('a change that began with an update, holds no delete and finds no row (a parked retry whose row moved away) is such a delete too', () => {
    const gone = { ...facts, node: { firstOp: 'U' as const, at: 9 }, nodeDeleted: false };
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins', 'manual'] as const) {
      for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const)
        expect(decidePush(gone, policy, mode)).toEqual({ action: 'none' });
      expect(decidePull(gone, policy)).toEqual({ action: 'to-node' });
    }
    // With its row still here, or updated and then deleted by the application (or not known), an
    // update against the hub's unseen insert stays a conflict.
    expect(decidePush({ ...gone, nodeHasRow: true }, 'node-wins', 'manual')).toEqual({ action: 'to-hub', conflict: 'node' });
    for (const nodeDeleted of [true, undefined])
      expect(decidePush({ ...gone, nodeDeleted }, 'node-wins', 'rekey-hub')).toEqual({ action: 'to-hub', conflict: 'node' });
  });
  it("where the hub's insert is the move of a row the node knew (rekey-hub), the delete is of that row: a conflict", () => {
    const moved = { ...facts, hubMovedHere: true };
    expect(decidePush(moved, 'node-wins', 'rekey-hub')).toEqual({ action: 'to-hub', conflict: 'node' });
    expect(decidePull(moved, 'node-wins')).toEqual({ action: 'none', conflict: 'node' });
    expect(decidePull(moved, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
  });
  it('the hub deleted the row and a new one took the key (its writer re-used the freed id): never deleted (trial 5, N2)', () => {
    const recreated = { ...facts, hub: { firstOp: 'D' as const, at: 1 }, hubRecreated: true };
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins'] as const) {
      expect(decidePush(recreated, policy, 'rekey-node')).toEqual({ action: 'none' });
      expect(decidePull(recreated, policy)).toEqual({ action: 'to-node' });
    }
    // Deleted on the hub and not created again: both sides deleted it, nothing to keep.
    expect(decidePush({ ...recreated, hubHasRow: false }, 'node-wins', 'rekey-node')).not.toEqual({ action: 'none' });
  });
  it('the row another node moved here was deleted and a new one took the key (rekey-hub, one move or more): never deleted (trial 6, T6-R1)', () => {
    // By key, the hub's side begins with the move's insert; followed by row, with the delete.
    for (const firstOp of ['I', 'D'] as const) {
      const moved = { ...facts, hub: { firstOp, at: 1 }, hubMovedHere: true, hubRecreated: true };
      for (const policy of ['node-wins', 'newest-wins', 'hub-wins'] as const) {
        expect(decidePush(moved, policy, 'rekey-hub')).toEqual({ action: 'none' });
        expect(decidePull(moved, policy)).toEqual({ action: 'to-node' });
      }
      // Deleted there and not created again: nothing to keep.
      expect(decidePush({ ...moved, hubHasRow: false }, 'node-wins', 'rekey-hub')).not.toEqual({ action: 'none' });
    }
  });
  it('updated here, then deleted, against a row the hub deleted and re-created: never deleted (trial 6, 702 alerts 22)', () => {
    const updatedThenDeleted = {
      ...facts,
      node: { firstOp: 'U' as const, at: 9 },
      nodeDeleted: true,
      hub: { firstOp: 'D' as const, at: 1 },
      hubRecreated: true,
    };
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins'] as const) {
      expect(decidePush(updatedThenDeleted, policy, 'rekey-hub')).toEqual({ action: 'none' });
      expect(decidePull(updatedThenDeleted, policy)).toEqual({ action: 'to-node' });
    }
    // Its delete unknown (not said), it stays a conflict.
    expect(decidePush({ ...updatedThenDeleted, nodeDeleted: undefined }, 'node-wins', 'rekey-hub')).toEqual({
      action: 'to-hub',
      conflict: 'node',
    });
  });
  it('a natural key, or a hub update, is still a conflict settled by the policy', () => {
    expect(decidePush({ ...facts, keyKind: 'natural' }, 'node-wins', 'rekey-node')).toEqual({
      action: 'to-hub',
      conflict: 'node',
    });
    expect(decidePush({ ...facts, hub: { firstOp: 'U', at: 1 } }, 'node-wins', 'manual')).toEqual({
      action: 'to-hub',
      conflict: 'node',
    });
    expect(decidePull({ ...facts, hub: { firstOp: 'U', at: 1 } }, 'node-wins')).toEqual({ action: 'none', conflict: 'node' });
  });
});

describe('decide: push of a key deleted and handed out again on the node', () => {
  const deleted = { firstOp: 'D' as const, at: 3 };
  it('the hub row unchanged: deleted first, then the new row goes up under the key (any mode)', () => {
    for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const)
      expect(decideReused({ node: deleted, hubHasRow: true }, 'hub-wins', mode)).toEqual({
        deleteHubRow: true,
        decision: { action: 'to-hub' },
      });
    expect(decideReused({ node: deleted, hubHasRow: false }, 'hub-wins', 'rekey-node')).toEqual({
      deleteHubRow: false,
      decision: { action: 'to-hub' },
    });
  });
  it('the hub changed the row meanwhile: the delete is a conflict; if the hub keeps its row, the new row collides with it', () => {
    const hub = { firstOp: 'U' as const, at: 5 };
    expect(decideReused({ node: deleted, hub, hubHasRow: true }, 'node-wins', 'rekey-node')).toEqual({
      deleteHubRow: true,
      conflict: 'node',
      decision: { action: 'to-hub' },
    });
    expect(decideReused({ node: deleted, hub, hubHasRow: true }, 'newest-wins', 'rekey-node')).toEqual({
      deleteHubRow: false,
      conflict: 'hub',
      decision: { action: 'rekey', resolve: 'rekey-node' },
    });
    expect(decideReused({ node: deleted, hub, hubHasRow: true }, 'manual', 'manual')).toEqual({
      deleteHubRow: false,
      conflict: 'hold',
      decision: { action: 'rekey', resolve: 'hold' },
    });
  });
  it("the hub's row is a new row the node has not seen (its old row cascaded away there): not deleted, a collision", () => {
    const inserted = { firstOp: 'I' as const, at: 1 };
    for (const policy of ['node-wins', 'newest-wins', 'hub-wins', 'manual'] as const) {
      expect(decideReused({ node: deleted, hub: inserted, hubHasRow: true }, policy, 'manual')).toEqual({
        deleteHubRow: false,
        decision: { action: 'rekey', resolve: 'hold' },
      });
      expect(decideReused({ node: deleted, hub: inserted, hubHasRow: true }, policy, 'rekey-node')).toEqual({
        deleteHubRow: false,
        decision: { action: 'rekey', resolve: 'rekey-node' },
      });
      expect(decideReused({ node: deleted, hub: inserted, hubHasRow: false }, policy, 'rekey-hub')).toEqual({
        deleteHubRow: false,
        decision: { action: 'to-hub' },
      });
    }
  });
});

describe('decide: pull', () => {
  it('a row changed on the hub only comes down', () => {
    expect(decidePull(both({ node: undefined }), 'node-wins')).toEqual({ action: 'to-node' });
    expect(decidePull(both({ same: true }), 'node-wins')).toEqual({ action: 'to-node' });
  });
  it('a collision is left to the next push (it allocates keys); nothing is overwritten meanwhile', () => {
    expect(decidePull(both(), 'hub-wins')).toEqual({ action: 'defer' });
    expect(decidePull(both({ nodeHasRow: false }), 'node-wins')).toEqual({ action: 'to-node' });
    expect(decidePull(both({ hubHasRow: false }), 'hub-wins')).toEqual({ action: 'defer' });
  });
  it('a conflict follows the policy; the hub breaks newest-wins ties', () => {
    const natural = both({ keyKind: 'natural', node: { firstOp: 'U', at: 5 }, hub: { firstOp: 'U', at: 5 } });
    expect(decidePull(natural, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
    expect(decidePull(natural, 'node-wins')).toEqual({ action: 'none', conflict: 'node' });
    expect(decidePull(natural, 'newest-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
  });
});

describe('decide: an update of a row the hub deleted, with a row under its key again (N2u)', () => {
  const upd = both({ node: { firstOp: 'U', at: 3 }, hub: { firstOp: 'D', at: 2 }, hubRecreated: true });
  it('another row: the node winning keeps both (a collision), the hub winning takes the new row, the update its recorded loser', () => {
    expect(decidePush(upd, 'node-wins', 'manual')).toEqual({ action: 'rekey', resolve: 'hold', conflict: 'node' });
    expect(decidePush(upd, 'newest-wins', 'rekey-hub')).toEqual({ action: 'rekey', resolve: 'rekey-hub', conflict: 'node' });
    expect(decidePush(upd, 'hub-wins', 'rekey-node')).toEqual({ action: 'to-node', conflict: 'hub' });
    expect(decidePull(upd, 'node-wins')).toEqual({ action: 'defer' });
    expect(decidePull(upd, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
  });
  it('the same entity (a unique key agrees: re-created by another node’s update): a conflict, never a collision', () => {
    const same = { ...upd, sameEntity: true };
    expect(decidePush(same, 'node-wins', 'manual')).toEqual({ action: 'to-hub', conflict: 'node' });
    expect(decidePull(same, 'node-wins')).toEqual({ action: 'none', conflict: 'node' });
    expect(decidePush(same, 'hub-wins', 'manual')).toEqual({ action: 'none', conflict: 'hub' });
  });
});

describe('decide: two inserts of one entity (a unique key agrees)', () => {
  it('are a conflict by the policy, not a collision (an update the pull re-created meets another re-creation)', () => {
    const same = both({ sameEntity: true });
    expect(decidePush(same, 'node-wins', 'manual')).toEqual({ action: 'to-hub', conflict: 'node' });
    expect(decidePull(same, 'hub-wins')).toEqual({ action: 'to-node', conflict: 'hub' });
    expect(decidePush(both(), 'node-wins', 'manual')).toEqual({ action: 'rekey', resolve: 'hold' });
  });
});
