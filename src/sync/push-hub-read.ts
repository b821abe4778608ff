/**
 * Step 2 of a push, the hub's side of the facts: for the keys of one table, the hub's rows
 * (locked, SELECT … FOR UPDATE), the hub changes this node has not pulled yet, the collisions a
 * pull left open, and the hub changes a pull parked. Read again for a key whose row appeared on
 * the hub after the first read (a hub writer took the key in between: see push.ts).
 */
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { DualdbError } from '../util/errors.js';
import { asOp, type LoggedOp, type Op } from './changeset.js';
import type { SyncContext } from './context.js';
import { readHubMoves, seenBefore, unapplied } from './hub-moves.js';
import { heldKey } from './local-state.js';
import type { MysqlTableIO } from './mysql-io.js';
import type { SyncPlan, SyncTable } from './plan.js';
import { decodeMove } from './rekey.js';
import type { RekeyRecord, RekeyStore } from './rekey-store.js';
import { type HistoryEntry, type MoveLink, rowHistory } from './row-history.js';

export interface HubChange {
  seq: bigint;
  at: number;
  firstOp: Op;
  /** How many such changes (1: only the first). */
  count?: number;
  /** A delete is among them. */
  deleted?: boolean;
  /** The first of them restores a row the hub's cascade took (`C`, recreated-children.ts). */
  restored?: boolean;
  /** After the last delete among them came a restore (`C`), no plain insert. */
  restoredLast?: boolean;
}

export interface HubFacts {
  rows: Map<string, Row>;
  /** Hub changes to these keys this node has not pulled (not its own). */
  unseen: Map<string, HubChange>;
  /** Collisions a pull saw and left open for this push. */
  open: Map<string, RekeyRecord>;
  /**
   * Hub changes a pull parked (not applied on this node yet): key → first op. Not a parked
   * re-pointing by a parent's move alone (`P`): no change of the row (changeset.ts `repointed`).
   */
  parkedPull: Map<string, Op | null>;
  /**
   * For the keys asked (where another node's move put a row this node knew), the unseen hub changes
   * of that row under any of its keys, the moves' own entries not counted (row-history.ts); a key
   * with none is absent. Only keys in `byRow` are decided by it.
   */
  rowUnseen: Map<string, HubChange>;
  byRow: Set<string>;
  /**
   * Of `byRow`, the keys whose row's hub changes the pull cursor passed without applying them here (a
   * copy left behind, hub-moves.ts `seen`): no pull brings the hub's version of them any more.
   */
  passed: Set<string>;
}

/**
 * Another node moved a hub row (rekey-hub) onto or off one of the batch's keys, or off a parent
 * key a row of the batch references, after this push learned the hub's moves (push start):
 * decided on stale moves, the node's own moved row would look like another's, and a child would
 * attach to the row that took its parent's old key. The syncer sends the batch again, after
 * learning the move (an internal retry signal, never shown to a user).
 */
export class HubMovedMeanwhile extends DualdbError {
  constructor() {
    super('HUB_MOVED_MEANWHILE', 'another node moved a hub row this batch touches; the batch will be retried');
  }
}

/**
 * Keys by table (a batch's keys a hub move could touch, the parents of placed rows), kept as the
 * key texts the batch already holds: no `heldKey` text and its own set entry per row of a backlog.
 */
export class TableKeys {
  private readonly byTable = new Map<string, Set<string>>();

  add(tbl: string, pk: string): void {
    const keys = this.byTable.get(tbl);
    if (keys) keys.add(pk);
    else this.byTable.set(tbl, new Set([pk]));
  }

  has(tbl: string, pk: string): boolean {
    return this.byTable.get(tbl)?.has(pk) ?? false;
  }

  get size(): number {
    let n = 0;
    for (const keys of this.byTable.values()) n += keys.size;
    return n;
  }

  tables(): MapIterator<[string, Set<string>]> {
    return this.byTable.entries();
  }
}

/**
 * The keys of one table's part of a batch that a hub move could touch (added to `into`): its own keys when generated (only those are ever moved), and the generated parent
 * keys its rows reference through a declared foreign key.
 */
export function addMovableKeys(
  into: TableKeys,
  plan: SyncPlan,
  table: SyncTable,
  keys: string[],
  images: Map<string, Row>,
): void {
  if (table.keyKind === 'generated') for (const k of keys) into.add(table.name, k);
  addParentKeys(
    into,
    plan,
    table,
    keys.map((k) => images.get(k)),
  );
}

/**
 * The generated parent keys the rows reference through a declared foreign key (added
 * to `into`). Also of the hub's rows a push places here (a collision's hub row, a row taken): read
 * under the push's lock, such an image names its parent by the hub's key as it is then, and a move
 * of that parent this node has not learned makes the same key another row here (trial 4, R2).
 */
export function addParentKeys(into: TableKeys, plan: SyncPlan, table: SyncTable, rows: (Row | null | undefined)[]): void {
  for (const fk of table.foreignKeys) {
    const column = fk.columns[0];
    if (fk.columns.length !== 1 || column === undefined || plan.byName.get(fk.parent)?.keyKind !== 'generated') continue;
    for (const row of rows) {
      const v = row?.[column];
      if (v !== null && v !== undefined) into.add(fk.parent, String(v));
    }
  }
}

/**
 * Last step before the node's records and the commit: one read of the hub's moves for the whole
 * batch (not one per table). Every key of the batch is locked by now (FOR UPDATE, its insert, or
 * the foreign-key check's lock on a referenced parent), so a move committed after this read
 * waits for this commit and then moves what this batch wrote along (children re-pointed on the
 * hub); one committed before it is seen here (READ COMMITTED) and gives the batch back.
 */
export async function assertNoMovesMeanwhile(conn: PoolConnection, ctx: SyncContext, movable: TableKeys): Promise<void> {
  if (movable.size === 0) return;
  const moves = unapplied(ctx.db, await readHubMoves(conn, ctx, ctx.state.pullState()));
  if (moves.some((m) => movable.has(m.table.name, m.oldKey) || movable.has(m.table.name, m.newKey)))
    throw new HubMovedMeanwhile();
}

/**
 * Of the parent keys the hub's rows placed here reference (by table), those under which the
 * hub holds an insert or a delete by another origin that this node has not pulled: the row under
 * such a key here may be another row than the one the placed row names (its writer deleted it and
 * SQLite handed the freed id to a new one). Placed before that pull, the row would point at the old
 * parent here, and the pull's delete of it would null or cascade the placed row, whose own hub
 * insert counts as seen (operator trial 5 on merged main, a notification's alert_id left NULL).
 * Such rows wait, parked, for the pull (rekey-node.ts hubRowPlacer). Changes a collision's push
 * placed here already (`placedHubSeqs`) are not unseen.
 */
export async function parentKeysChangedUnseen(
  conn: PoolConnection,
  ctx: SyncContext,
  keys: TableKeys,
  rekeys: RekeyStore,
): Promise<Set<string>> {
  const out = new Set<string>();
  if (keys.size === 0) return out;
  const pull = ctx.state.pullState();
  const holes = [...pull.holes.keys()];
  for (const [tbl, set] of keys.tables()) {
    const pks = [...set];
    const placed = rekeys.placedHubSeqs(tbl, pks, pull.upto);
    for (let i = 0; i < pks.length; i += 500) {
      const chunk = pks.slice(i, i + 500);
      const [rows] = await conn.query(
        `SELECT pk, seq FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
          WHERE tbl = ? AND pk IN (?) AND op IN ('I', 'C', 'D') AND (origin IS NULL OR origin <> ?)
            AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
        [tbl, chunk, ctx.nodeId, pull.upto, ...(holes.length ? [holes] : [])],
      );
      for (const r of rows as { pk: string; seq: string | number }[]) {
        const upto = placed.get(r.pk);
        if (upto === undefined || BigInt(r.seq) > upto) out.add(heldKey(tbl, r.pk));
      }
    }
  }
  return out;
}

export async function readHubFacts(
  conn: PoolConnection,
  ctx: SyncContext,
  io: MysqlTableIO,
  table: SyncTable,
  keys: string[],
  rekeys: RekeyStore,
  movedHere: (key: string) => boolean = () => false,
): Promise<HubFacts> {
  const pull = ctx.state.pullState();
  const byRow = new Set(table.keyKind === 'generated' ? keys.filter(movedHere) : []);
  // A move another node committed since push start is checked once, at the end (assertNoMovesMeanwhile).
  const rows = await io.fetch(conn, keys, { forUpdate: true });
  return {
    rows,
    unseen: await unseenHubChanges(
      conn,
      ctx,
      table.name,
      keys,
      pull.upto,
      [...pull.holes.keys()],
      rekeys.placedHubSeqs(table.name, keys, pull.upto),
    ),
    open: table.keyKind === 'generated' ? rekeys.open(table.name, keys) : new Map(),
    parkedPull: parkedChanges(ctx.state.parkedOps('pull', table.name, keys)),
    rowUnseen: byRow.size ? await unseenRowChanges(conn, ctx, table.name, [...byRow], rekeys) : new Map(),
    byRow,
    passed: new Set(
      [...(byRow.size ? seenBefore(ctx.db, table.name, [...byRow]) : [])].filter(([, s]) => s < pull.upto).map(([k]) => k),
    ),
  };
}

/** Parked pull changes of the row's values: without re-pointings by a parent's move (`P`). */
function parkedChanges(ops: Map<string, Op | 'P' | null>): Map<string, Op | null> {
  const out = new Map<string, Op | null>();
  for (const [k, op] of ops) if (op !== 'P') out.set(k, op);
  return out;
}

/**
 * The unseen hub changes of the rows now under these keys, by the rows' identity: other nodes'
 * moves of them this node has not pulled past are followed back to their earlier keys
 * (row-history.ts). Rare (keys the hub moved rows to), so read by key, every origin.
 *
 * Unseen from the pull cursor on, except for a row whose copy was left behind here (its hub key
 * this node's own row, hub-moves.ts `seen`): the pull passed the row's changes under that key
 * without applying them (the key held or deferred), so they count from where the copy stopped.
 * Counted from the cursor, another node's update of the row made there while the copy waited was
 * overwritten by the copy's edit, no conflict (operator trial 2026-12-07 18:15, manual seed 1102).
 */
export async function unseenRowChanges(
  conn: PoolConnection,
  ctx: SyncContext,
  table: string,
  keys: string[],
  rekeys: RekeyStore,
): Promise<Map<string, HubChange>> {
  const pull = ctx.state.pullState();
  const since = seenBefore(ctx.db, table, keys);
  let lower = pull.upto;
  for (const s of since.values()) if (s < lower) lower = s;
  const holes = [...pull.holes.keys()];
  const window = `(seq > ?${holes.length ? ' OR seq IN (?)' : ''})`;
  const windowParams: unknown[] = holes.length ? [lower, holes] : [lower];
  const [moveRows] = await conn.query(
    `SELECT seq, pk, origin FROM _dualdb_changes WHERE tbl = ? AND op = 'R' AND (origin IS NULL OR origin <> ?) AND ${window}`,
    [table, ctx.nodeId, ...windowParams],
  );
  const allMoves: MoveLink[] = (moveRows as { seq: string | number; pk: string; origin: string | null }[]).map((r) => ({
    seq: BigInt(r.seq),
    origin: r.origin,
    ...decodeMove(r.pk),
  }));
  // Every key the rows held since: the keys, and the old keys of the moves into them, transitively.
  const chain = new Set(keys);
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of allMoves)
      if (chain.has(m.newKey) && !chain.has(m.oldKey)) {
        chain.add(m.oldKey);
        grew = true;
      }
  }
  const all = [...chain];
  const byKey = new Map<string, HistoryEntry[]>();
  for (let i = 0; i < all.length; i += 500) {
    const [rows] = await conn.query(
      `SELECT pk, seq, op, origin, at FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
        WHERE tbl = ? AND pk IN (?) AND ${window} ORDER BY seq`,
      [table, all.slice(i, i + 500), ...windowParams],
    );
    for (const r of rows as { pk: string; seq: string | number; op: string; origin: string | null; at: number }[]) {
      const e = { pk: r.pk, seq: BigInt(r.seq), op: r.op, origin: r.origin, at: Number(r.at) };
      const list = byKey.get(r.pk);
      if (list) list.push(e);
      else byKey.set(r.pk, [e]);
    }
  }
  const placed = rekeys.placedHubSeqs(table, all, lower);
  const out = new Map<string, HubChange>();
  for (const k of keys) {
    // This row's window: after the cursor (or in a hole), or after where its copy stopped.
    const from = since.get(k) ?? pull.upto;
    const inWindow = (seq: bigint) => seq > from || pull.holes.has(seq);
    const counts = (key: string, e: HistoryEntry) => {
      const upto = placed.get(key);
      return inWindow(e.seq) && (upto === undefined || e.seq > upto);
    };
    const h = rowHistory(
      k,
      byKey,
      allMoves.filter((m) => inWindow(m.seq)),
      ctx.nodeId,
      counts,
    );
    if (h) out.set(k, h);
  }
  return out;
}

/**
 * Keys sent as new rows (absent on the hub when looked up) whose insert failed and that the hub
 * has now: a hub writer inserted them after the lookup (a FOR UPDATE read of an absent key locks
 * nothing under READ COMMITTED). They are decided again, never overwritten.
 */
export async function keysTakenMeanwhile(
  conn: PoolConnection,
  io: MysqlTableIO,
  sent: { key: string; exists: boolean }[],
  failed: Map<string, string>,
): Promise<string[]> {
  const candidates = sent.filter((r) => !r.exists && failed.has(r.key)).map((r) => r.key);
  if (candidates.length === 0) return [];
  const now = await io.fetch(conn, candidates, { forUpdate: true });
  return candidates.filter((k) => now.has(k));
}

/**
 * Hub changes to these keys that this node has not pulled yet (not its own): key → first op, latest
 * seq and hub time. This node's own insert (or restore) under a key restarts its history: what the hub did there
 * before was decided by the push that sent the insert (under the row's lock), and was done to rows
 * that are no longer under the key (deleted, or moved away by that push's rekey-hub). Counted, the
 * other node's insert there made this node's later delete of its own row the delete of "another
 * row" (decide.ts `deletesAnotherRow`): dropped, and the row kept everywhere (operator trial 4, R1).
 * Not counted either: those a collision's push placed here with the hub's row (`placed`: key → the
 * latest seq its image held; RekeyStore.placedHubSeqs).
 */
async function unseenHubChanges(
  conn: PoolConnection,
  ctx: SyncContext,
  table: string,
  keys: string[],
  upto: bigint,
  holes: bigint[],
  placed: Map<string, bigint>,
): Promise<Map<string, HubChange>> {
  const out = new Map<string, HubChange>();
  const holeClause = holes.length ? ' OR seq IN (?)' : '';
  const windowParams: unknown[] = holes.length ? [upto, holes] : [upto];
  const window = `(seq > ?${holeClause})`;
  type Entry = { pk: string | null; seq: string | number; op: LoggedOp; at: number; own: number | string };
  const batches: Entry[][] = [];
  // Many keys and a short log past the cursor (a node pushing a backlog it wrote while the hub was
  // quiet): one primary-key range read of that tail, kept for these keys, instead of a key probe
  // per key (a range row costs the hub a fraction of a probe: docs/PERFORMANCE.md, "unseen changes").
  // The same rows as the probes: the log's pk is utf8mb4_bin, so the kept keys match as the IN list would.
  const wanted = keys.length > UNSEEN_PROBE_CHUNK ? await tailWithin(conn, upto, holes.length, keys.length) : false;
  if (wanted) {
    // The other origins' entries by the range; this node's own inserts only under the keys those
    // touch (an own insert only restarts a key's history, so elsewhere it changes nothing): in a
    // push-only backlog the tail is mostly this node's earlier batches, read back to be dropped.
    const [others] = await conn.query(
      `SELECT pk, seq, op, at, 0 AS own FROM _dualdb_changes FORCE INDEX (PRIMARY)
        WHERE tbl = ? AND (origin IS NULL OR origin <> ?) AND ${window} ORDER BY seq`,
      [table, ctx.nodeId, ...windowParams],
    );
    const listed = others as Entry[];
    const inBatch = listed.length ? new Set(keys) : undefined;
    const rows = inBatch ? listed.filter((r) => r.pk !== null && inBatch.has(r.pk)) : [];
    const touched = [...new Set(rows.map((r) => r.pk as string))];
    for (let i = 0; i < touched.length; i += UNSEEN_PROBE_CHUNK) {
      const [own] = await conn.query(
        `SELECT pk, seq, op, at, 1 AS own FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
          WHERE tbl = ? AND pk IN (?) AND origin = ? AND op IN ('I', 'C') AND ${window}`,
        [table, touched.slice(i, i + UNSEEN_PROBE_CHUNK), ctx.nodeId, ...windowParams],
      );
      rows.push(...(own as Entry[]));
    }
    // Each key's entries in log order again, own inserts among the others'.
    if (touched.length)
      rows.sort((a, b) => {
        const x = BigInt(a.seq);
        const y = BigInt(b.seq);
        return x < y ? -1 : x > y ? 1 : 0;
      });
    batches.push(rows);
  } else
    for (let i = 0; i < keys.length; i += UNSEEN_PROBE_CHUNK) {
      const [rows] = await conn.query(
        // By key, on the key index: left to itself the optimizer may walk the log from the cursor on.
        `SELECT pk, seq, op, at, origin <=> ? AS own FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
          WHERE tbl = ? AND pk IN (?) AND (origin IS NULL OR origin <> ? OR op IN ('I', 'C')) AND ${window} ORDER BY seq`,
        [ctx.nodeId, table, keys.slice(i, i + UNSEEN_PROBE_CHUNK), ctx.nodeId, ...windowParams],
      );
      batches.push(rows as Entry[]);
    }
  for (const rows of batches)
    for (const r of rows) {
      if (r.pk === null) continue;
      if (Number(r.own) === 1) {
        out.delete(r.pk);
        continue;
      }
      // Another node's move of the row's parent re-pointed it (rekey.ts `repointChildren`): no change of the row.
      if (r.op === 'P') continue;
      const placedUpto = placed.get(r.pk);
      if (placedUpto !== undefined && BigInt(r.seq) <= placedUpto) continue;
      const prev = out.get(r.pk);
      out.set(r.pk, {
        seq: BigInt(r.seq),
        at: Math.max(prev?.at ?? 0, Number(r.at)),
        firstOp: prev?.firstOp ?? asOp(r.op),
        count: (prev?.count ?? 0) + 1,
        deleted: prev?.deleted === true || r.op === 'D',
        restored: prev ? prev.restored : r.op === 'C',
        restoredLast: r.op === 'D' || r.op === 'I' || r.op === 'C' ? r.op === 'C' : prev?.restoredLast,
      });
    }
  return out;
}

/** Keys per probe statement of the unseen-changes read. */
const UNSEEN_PROBE_CHUNK = 500;

/**
 * Log entries past the pull cursor per key of the batch under which unseenHubChanges reads the
 * tail by range rather than probing each key (as pull-read.ts OWN_INSERTS_SCAN_PER_KEY weighs it).
 */
export const UNSEEN_SCAN_PER_KEY = 10n;

/**
 * Whether the log past `upto` (and its open holes) is short enough, against `keyCount` keys, to be
 * read by range. One index dive (the log's last seq); rows logged after it are read by the range
 * anyway (it has no upper bound): this only chooses the way, never what is read.
 */
async function tailWithin(conn: PoolConnection, upto: bigint, holes: number, keyCount: number): Promise<boolean> {
  const [rows] = await conn.query('SELECT MAX(seq) AS m FROM _dualdb_changes');
  const max = BigInt((rows as { m: string | number | null }[])[0]?.m ?? 0);
  const tail = (max > upto ? max - upto : 0n) + BigInt(holes);
  return tail <= BigInt(keyCount) * UNSEEN_SCAN_PER_KEY;
}
