/**
 * A row's hub history follows it across moves (rekey-hub, docs/SYNC-CONTRACT.md invariants 6 and
 * 13). Another node's move of a hub row K → K' (rekey.ts `moveOnHub`) logs, in one transaction, an
 * insert under K (the mover's own row takes K in place), an update under K, the row's insert under
 * K' and the R entry K → K', all with the mover's origin. For a node that knew the row under K (its
 * copy follows the move, hub-moves.ts) the hub's changes to that row since it last saw it are:
 * those under K before the move began, and those under K' after the move's insert — never the
 * move's own entries, which change no value of the row. Weighed by key only, the move's insert
 * under K' was taken for the hub's change (hub-wins lost a node's acknowledged edit of its own row)
 * and another node's update under K before the move was never weighed (operator trial 5, N4).
 */
import type { Op } from './changeset.js';

/** One hub log entry of a table (the keys' entries after this node's cursor or in its holes). */
export interface HistoryEntry {
  seq: bigint;
  pk: string;
  op: string;
  origin: string | null;
  at: number;
}

/** An R entry of another origin: the hub's row under `oldKey` now lives under `newKey`. */
export interface MoveLink {
  seq: bigint;
  oldKey: string;
  newKey: string;
  origin?: string | null;
}

/** The hub's changes to one row this node has not seen (as push-hub-read.ts `HubChange`). */
export interface RowChange {
  seq: bigint;
  at: number;
  firstOp: Op;
  count: number;
  deleted: boolean;
}

const latest = (list: HistoryEntry[] | undefined, test: (e: HistoryEntry) => boolean): HistoryEntry | undefined => {
  if (!list) return undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i] as HistoryEntry;
    if (test(e)) return e;
  }
  return undefined;
};

/**
 * The unseen hub changes of the row now under `key`, following the moves of other nodes back
 * through its earlier keys. `byKey`: the entries under every key involved, in log order, of every
 * origin; `moves`: other nodes' moves of this table; `counts`: whether an entry of another origin
 * is unseen here (not placed here already). This node's own insert under a key restarts the row's
 * history there, as it does for the key (push-hub-read.ts). Undefined: nothing unseen.
 */
export function rowHistory(
  key: string,
  byKey: Map<string, HistoryEntry[]>,
  moves: MoveLink[],
  nodeId: string,
  counts: (key: string, e: HistoryEntry) => boolean,
): RowChange | undefined {
  // `mover`: under the key a row was moved off, the mover's own entries are not the row's changes:
  // the mover took the row for another's (its own new row collided with it), so its only writes of
  // it there are the re-pointing of the row's parent key by the same push (its move of the parent,
  // rekey.ts `moveOnHub`), which the moves here follow too (operator trial after the N4 fix). Its
  // updates only: its delete there, before the move began, deleted the row this node knew, and the
  // row it then moved is another one (trial 802: site3 deleted W under 10, site2's X took 10, site3's
  // push moved X off it; site1's delete of W, carried to X's key, deleted X). A mover of this version
  // logs such a re-pointing `P` (skipped below wherever it is); the `U` rule stays for logs written
  // by earlier versions.
  const segments: { key: string; from?: bigint; until?: bigint; mover?: string }[] = [];
  let k = key;
  let until: bigint | undefined;
  let mover: string | undefined;
  for (let depth = 0; depth < 32; depth++) {
    const here = k;
    const bound = until;
    let move: MoveLink | undefined;
    for (const m of moves)
      if (m.newKey === here && (bound === undefined || m.seq < bound) && (!move || m.seq > move.seq)) move = m;
    if (!move) {
      segments.push({ key: here, until: bound, mover });
      break;
    }
    const mv = move;
    const mine = (e: HistoryEntry) => e.origin === (mv.origin ?? null) && e.seq < mv.seq;
    // The row arrived here with the move's insert: what came before under this key was another row's.
    const inserted = latest(byKey.get(here), (e) => e.op === 'I' && mine(e));
    segments.push({ key: here, from: inserted?.seq ?? mv.seq, until: bound, mover });
    // Under the old key the move began with the mover's own row taking it (its insert, then update).
    const old = byKey.get(mv.oldKey) ?? [];
    const began = latest(old, (e) => e.op === 'I' && mine(e)) ?? old.find((e) => mine(e));
    k = mv.oldKey;
    until = began?.seq ?? mv.seq;
    mover = mv.origin ?? undefined;
  }
  let out: RowChange | undefined;
  for (const seg of segments.reverse()) {
    for (const e of byKey.get(seg.key) ?? []) {
      if ((seg.from !== undefined && e.seq <= seg.from) || (seg.until !== undefined && e.seq >= seg.until)) continue;
      // `P`: a re-pointing by a parent's move (rekey.ts `repointChildren`), no change of the row either.
      if (e.op === 'R' || e.op === 'P' || (seg.mover !== undefined && e.origin === seg.mover && e.op === 'U')) continue;
      if (e.origin === nodeId) {
        if (e.op === 'I') out = undefined;
        continue;
      }
      if (!counts(seg.key, e)) continue;
      out = {
        seq: out && out.seq > e.seq ? out.seq : e.seq,
        at: Math.max(out?.at ?? 0, e.at),
        firstOp: out?.firstOp ?? (e.op as Op),
        count: (out?.count ?? 0) + 1,
        deleted: out?.deleted === true || e.op === 'D',
      };
    }
  }
  return out;
}
