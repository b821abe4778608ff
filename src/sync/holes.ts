/**
 * Late commits on the hub (docs/SYNC-CONTRACT.md, invariant 4). AUTO_INCREMENT hands out
 * sequence numbers at insert time, but transactions commit in any order: a
 * puller can see seq 11 while seq 10 is still uncommitted. Such a gap is a
 * "hole": remembered and re-queried until it fills, or until it is proven dead
 * (rolled back) — no open transaction on the server started before the hole
 * was first seen, and a fresh read still does not show it — or, where that
 * cannot be proven (no PROCESS privilege, clustered hub), until it is older
 * than SYNC_HOLE_TIMEOUT.
 */
import type { PullState } from './local-state.js';

/** More holes than this means something odd (huge auto-increment jumps): the oldest are dropped with a warning. */
export const MAX_HOLES = 100_000;

export interface HoleUpdate {
  next: PullState;
  filled: bigint[];
  provenDead: bigint[];
  expired: bigint[];
  dropped: number;
}

/**
 * @param prev the state before this read
 * @param seen every seq this read returned above `prev.upto` or among the holes (any origin)
 * @param readUpto highest seq read in order (entries are read `seq > upto ORDER BY seq LIMIT n`)
 * @param deadCandidates holes that no open transaction can still fill (checked before the read)
 * @param hubNowMs the hub's clock at the read
 */
export function advanceHoles(
  prev: PullState,
  seen: Set<bigint>,
  readUpto: bigint,
  deadCandidates: Set<bigint>,
  hubNowMs: number,
  holeTimeoutMs: number,
): HoleUpdate {
  const holes = new Map<bigint, number>();
  const filled: bigint[] = [];
  const provenDead: bigint[] = [];
  const expired: bigint[] = [];
  for (const [seq, firstSeen] of prev.holes) {
    if (seen.has(seq)) filled.push(seq);
    else if (deadCandidates.has(seq)) provenDead.push(seq);
    else if (hubNowMs - firstSeen > holeTimeoutMs) expired.push(seq);
    else holes.set(seq, firstSeen);
  }
  const upto = readUpto > prev.upto ? readUpto : prev.upto;
  // A jump larger than MAX_HOLES (auto_increment_offset games, a huge rollback) cannot all be
  // late commits worth tracking: only the newest MAX_HOLES gaps are kept.
  let dropped = 0;
  let from = prev.upto + 1n;
  const cap = BigInt(MAX_HOLES);
  if (upto - from > cap) {
    dropped += Number(upto - from - cap);
    from = upto - cap;
  }
  // Most reads leave no gap (a bulk pull's every batch): counted without a BigInt per seq of the
  // range, which the look-ups below make (5,000 a batch of a bulk pull); `seen` holds each seq once.
  // (upto - from is at most MAX_HOLES here: a number.)
  let inRange = 0;
  for (const s of seen) if (s >= from && s < upto) inRange++;
  if (inRange < Number(upto - from)) {
    for (let s = from; s < upto; s++) {
      if (!seen.has(s)) holes.set(s, hubNowMs);
    }
  }
  if (holes.size > MAX_HOLES) {
    const sorted = [...holes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const s of sorted.slice(0, holes.size - MAX_HOLES)) {
      holes.delete(s);
      dropped++;
    }
  }
  return { next: { upto, holes }, filled, provenDead, expired, dropped };
}

/** The lowest seq this node may still need: what the hub may prune below. */
export function safePruneBound(state: PullState): bigint {
  let low = state.upto;
  for (const s of state.holes.keys()) if (s - 1n < low) low = s - 1n;
  return low;
}
