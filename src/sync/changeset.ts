/**
 * A change set: log entries of one direction coalesced per row (docs/SYNC-CONTRACT.md
 * invariants 3 and 7). Both sides log (table, key, op) per write; a batch sends each changed
 * row's *current* image once, so what matters per key is the latest position (for cursors and
 * lag), the times (for newest-wins), and the first operation since the other side last saw the
 * row — an insert there means the row was created on this side (a collision candidate, 13).
 */
import type { RowChange } from './row-history.js';

export type Op = 'I' | 'U' | 'D';

/**
 * An op as a log holds it: `N` (node's log) is an update SQLite made for a parent's delete (ON
 * DELETE SET NULL / SET DEFAULT, capture/sqlite-fk-actions.ts). Read as `U`, with `implied` kept.
 * `C` (either log) is an insert that restores a row the hub lost to its unlogged ON DELETE CASCADE,
 * a child of a row a node kept against the hub's delete (recreated-children.ts): read as `I`, with
 * `restored` kept — the row other nodes knew under the key, not a new one (decide.ts).
 * `P` (hub's log) is the re-pointing of a child by another node's move of its parent (rekey-hub,
 * rekey.ts `repointChildren`): no value of the row changed but its parent's key, which every node's
 * copy follows by the move itself (hub-moves.ts). Read as `U`, with `repointed` kept: never the
 * hub's change of the row in a decision, only its image to take where the node changed nothing.
 */
export type LoggedOp = Op | 'N' | 'C' | 'P';

export function asOp(op: LoggedOp): Op {
  return op === 'N' || op === 'P' ? 'U' : op === 'C' ? 'I' : op;
}

export interface KeyChange {
  maxSeq: bigint;
  firstAt: number;
  lastAt: number;
  /** The first logged operation in this change set (a parked retry: the one it was parked with). */
  firstOp: Op;
  /** A delete is among the coalesced changes (the row was deleted, and maybe created again). */
  deleted: boolean;
  /** Only from a parked entry being retried, not from the log. */
  retry: boolean;
  /** How many log entries were coalesced (a parked retry counts as one). */
  ops?: number;
  /** Every coalesced entry is an update a parent's delete made (`N`), none a parked retry (sync/fk-implied.ts). */
  implied?: boolean;
  /**
   * Pull, under a key another node moved a row to (rekey-hub): that row's unseen hub changes under
   * any of its keys, the move's own entries not counted (sync/row-history.ts); null: none.
   */
  row?: RowChange | null;
  /** The first coalesced entry restores a row the hub's unlogged cascade took (`C`, recreated-children.ts). */
  restored?: boolean;
  /** After the last delete among them came a restore (`C`), no plain insert: the row deleted, not a new one. */
  restoredLast?: boolean;
  /**
   * Every coalesced entry is a re-pointing by a parent's move (`P`), a parked retry of one included:
   * not a change of the row by anyone (decide as if the hub had none). The other fields describe
   * the other entries only, once there is one: a `P` among them adds nothing but its seq.
   */
  repointed?: boolean;
}

export class ChangeSet {
  readonly byTable = new Map<string, Map<string, KeyChange>>();

  /** Entries must be added in log order. */
  add(tbl: string, pk: string, seq: bigint, at: number, logged: LoggedOp, retry = false): void {
    const op = asOp(logged);
    const implied = logged === 'N' && !retry;
    let m = this.byTable.get(tbl);
    if (!m) {
      m = new Map();
      this.byTable.set(tbl, m);
    }
    const p = m.get(pk);
    const repointed = logged === 'P';
    // The first entry that is not a re-pointing starts the row's change (the re-pointings before it kept).
    if (!p || (p.repointed && !repointed)) {
      // One object literal of one shape (a bulk pull makes one per row): no spreads.
      const c: KeyChange = {
        maxSeq: p && p.maxSeq > seq ? p.maxSeq : seq,
        firstAt: at,
        lastAt: at,
        firstOp: op,
        deleted: op === 'D',
        ops: 1,
        implied,
        restored: logged === 'C' && !retry,
        retry: (p?.retry ?? true) && retry,
      };
      if (repointed) c.repointed = true;
      m.set(pk, c);
      return;
    }
    if (seq > p.maxSeq) p.maxSeq = seq;
    if (repointed) {
      p.retry &&= retry;
      return;
    }
    p.firstAt = Math.min(p.firstAt, at);
    p.lastAt = Math.max(p.lastAt, at);
    p.deleted ||= op === 'D';
    if (op === 'D' || op === 'I') p.restoredLast = logged === 'C';
    p.retry &&= retry;
    p.implied = p.implied === true && implied;
    p.ops = (p.ops ?? 1) + 1;
  }

  keys(tbl: string): string[] {
    return [...(this.byTable.get(tbl)?.keys() ?? [])];
  }

  get(tbl: string, pk: string): KeyChange | undefined {
    return this.byTable.get(tbl)?.get(pk);
  }

  has(tbl: string, pk: string): boolean {
    return this.byTable.get(tbl)?.has(pk) ?? false;
  }

  get size(): number {
    let n = 0;
    for (const m of this.byTable.values()) n += m.size;
    return n;
  }
}
