/**
 * Conflict policy (docs/SYNC-CONTRACT.md, invariant 6). A conflict is the same row changed on
 * both sides since the node last synced; whichever side wins, the other
 * version is kept in `_dualdb_conflicts`.
 */
import type { ConflictPolicy } from '../config/schema.js';

export type Winner = 'node' | 'hub' | 'hold';

/**
 * @param nodeAt time of the node's latest change to the row (local clock, ms)
 * @param hubAt time of the hub's latest unseen change (converted to the local clock, ms)
 */
export function decideWinner(policy: ConflictPolicy, nodeAt: number, hubAt: number): Winner {
  switch (policy) {
    case 'node-wins':
      return 'node';
    case 'hub-wins':
      return 'hub';
    case 'newest-wins':
      // The hub breaks ties.
      return nodeAt > hubAt ? 'node' : 'hub';
    case 'manual':
      return 'hold';
  }
}
