/**
 * Where a node's pulls resume after `repair --from mysql`.
 *
 * The hub's position is read before the repair reads any data: every change
 * committed by then is in the data the repair copies, so the cursor may move to
 * the highest sequence number seen. But AUTO_INCREMENT numbers are not
 * committed in order (docs/SYNC-CONTRACT.md, invariant 4): a transaction holding a lower number
 * may still be open and commit after the repair read its table. Such numbers —
 * gaps below the maximum that are not pruned — become holes of the pull state,
 * exactly like the puller's own, so they are pulled when they commit (or
 * proven dead). Changes after the position are pulled again: applying them
 * twice is harmless (upserts of current images), skipping one would not be.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { MAX_HOLES, safePruneBound } from '../sync/holes.js';
import { LocalState, type PullState } from '../sync/local-state.js';
import type { PullCursorUpdate } from './types.js';

export interface HubPosition {
  /** MAX(seq) of the hub's change log when the repair started. */
  maxSeq: bigint;
  /** Sequence numbers <= maxSeq not committed (visible) then, above the pruned range. */
  holes: bigint[];
  /** The hub's clock then (holes are first seen at this time). */
  hubNowMs: number;
}

function hasTable(db: SqliteDb, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** Whether the node has its pull state (capture installed by `dualdb init`). */
export function nodeHasPullState(db: SqliteDb): boolean {
  return hasTable(db, '_dualdb_pull_state') && hasTable(db, '_dualdb_meta');
}

/** The hub's change-log position, or null when the hub has no change log (capture not installed). */
export async function readHubPosition(hub: MysqlHub, knownHoles: Iterable<bigint> = []): Promise<HubPosition | null> {
  return hub.withConnection(async (conn) => {
    const [t] = (await conn.query(
      "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('_dualdb_changes', '_dualdb_hub_meta')",
    )) as unknown as [{ n: string | number }[]];
    if (Number(t[0]?.n ?? 0) < 2) return null;
    const [[head]] = (await conn.query(
      'SELECT COALESCE(MAX(seq), 0) AS s, UNIX_TIMESTAMP(NOW(6)) * 1000 AS now_ms FROM _dualdb_changes',
    )) as unknown as [[{ s: string | number; now_ms: string | number }]];
    const maxSeq = BigInt(head.s);
    const [meta] = (await conn.query("SELECT v FROM _dualdb_hub_meta WHERE k = 'pruned_upto'")) as unknown as [{ v: string }[]];
    const pruned = BigInt(meta[0]?.v ?? 0);
    // Numbers above the pruned range and below the maximum that are not in the log:
    // rolled back, or still in flight. The recent window is checked by range…
    const low = maxSeq - BigInt(MAX_HOLES) > pruned ? maxSeq - BigInt(MAX_HOLES) : pruned;
    const [present] = (await conn.query('SELECT seq FROM _dualdb_changes WHERE seq > ? AND seq <= ? ORDER BY seq', [
      low,
      maxSeq,
    ])) as unknown as [{ seq: string | number }[]];
    const seen = new Set(present.map((r) => BigInt(r.seq)));
    const holes: bigint[] = [];
    for (let s = low + 1n; s < maxSeq; s++) if (!seen.has(s)) holes.push(s);
    // …and holes the node already tracked below that window keep being tracked until they fill.
    const older = [...knownHoles].filter((s) => s > pruned && s <= low);
    if (older.length) {
      const [filled] = (await conn.query('SELECT seq FROM _dualdb_changes WHERE seq IN (?)', [older])) as unknown as [
        { seq: string | number }[],
      ];
      const done = new Set(filled.map((r) => BigInt(r.seq)));
      for (const s of older) if (!done.has(s)) holes.push(s);
    }
    holes.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { maxSeq, holes, hubNowMs: Number(head.now_ms) };
  });
}

/** The node's currently tracked holes (to carry over the ones the hub still lacks). */
export function nodeHoles(db: SqliteDb): bigint[] {
  if (!nodeHasPullState(db)) return [];
  return [...new LocalState(db).pullState().holes.keys()];
}

/**
 * Moves the node's pull cursor to the hub position and clears `resync_needed`,
 * in one SQLite transaction. Idempotent.
 */
export interface PullResumed {
  previous: PullState;
  next: PullState;
  /** Whether the node was marked resync-needed (now cleared). */
  wasResyncNeeded: boolean;
}

export function resumePullAt(db: SqliteDb, position: HubPosition): PullResumed {
  const state = new LocalState(db);
  let out: PullResumed | undefined;
  db.transaction(() => {
    const previous = state.pullState();
    const wasResyncNeeded = state.getMeta('resync_needed') !== undefined;
    const holes = new Map<bigint, number>();
    for (const s of position.holes) holes.set(s, previous.holes.get(s) ?? position.hubNowMs);
    const next: PullState = { upto: position.maxSeq, holes };
    state.savePullState(next, previous);
    state.setMeta('resync_needed', null);
    out = { previous, next, wasResyncNeeded };
  }).immediate();
  return out as PullResumed;
}

/** Tells the hub how far this node got, as a pull does (for log pruning); best effort. */
export async function reportPullPosition(hub: MysqlHub, db: SqliteDb, next: PullState): Promise<void> {
  const nodeId = new LocalState(db).getMeta('node_id');
  if (!nodeId) return;
  await hub
    .execute('UPDATE _dualdb_nodes SET pull_upto = ?, last_seen = NOW(6) WHERE node_id = ?', [safePruneBound(next), nodeId])
    .catch(() => {});
}

export function cursorUpdate(previous: PullState, next: PullState): PullCursorUpdate {
  return { moved: true, previous: previous.upto.toString(), upto: next.upto.toString(), holes: next.holes.size };
}
