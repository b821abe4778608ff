/**
 * One node id, one file (docs/SYNC-CONTRACT.md invariant 17): push-token fencing.
 *
 * The hub's push cursor of a node id (`_dualdb_nodes`) belongs to one SQLite file. A copied
 * .db file, a restored old backup or the same NODE_ID on two installs would otherwise share
 * it: each would drop local changes the other's cursor covers (lost) or re-send its own over
 * the other's (stale). So the hub row carries a push token, and so does the file holding it;
 * every push rotates it in the push's own hub transaction. A file whose token is not the hub's
 * is not the holder: it refuses (NODE_ID_IN_USE) and never pushes.
 *
 * The crash window (hub committed the push, the node died before recording it) leaves the
 * hub one token ahead of the file. The token a push is about to set is written locally first
 * (`push_pending`), so the file knows that token as its own and adopts it (and the cursor).
 *
 * Tokens are `<epoch>.<random>`: the epoch grows only with `init --take-over`. A hub restored
 * from a backup is behind both in cursor and epoch; a file taken over from is behind only in
 * cursor: the first is re-claimed with a warning (as before fencing), the second refused.
 */
import { randomBytes } from 'node:crypto';
import { ensurePushTokenColumn } from '../capture/mysql-capture.js';
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { SyncLog } from '../log/sync-log.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { recordWriteToken } from './commit-outcome.js';
import type { LocalState } from './local-state.js';

/** What the fence needs: the node's file, the hub, and where to warn. */
export interface FenceContext {
  db: SqliteDb;
  state: LocalState;
  hub: MysqlHub;
  nodeId: string;
  log?: SyncLog;
}

export class NodeIdInUseError extends DualdbError {
  constructor(nodeId: string) {
    super(
      'NODE_ID_IN_USE',
      `another SQLite file syncs as node ${nodeId} on this hub (a copied .db file, a restored backup, or one NODE_ID on two installs): this file pushed nothing`,
      {
        hint: 'on the copy run `dualdb init --new-node-id` (its unsynced rows then sync as a new node; with NODE_ID set, give it its own NODE_ID); if this file is the one to keep (a restored machine), run `dualdb init --take-over`',
        exitCode: EXIT.CONFIG,
        context: { node: nodeId },
      },
    );
  }
}

const TOKEN = 'push_token';
const TOKEN_NODE = 'push_token_node';
const PENDING = 'push_pending';

/**
 * Meta key: the rekey-hub moves of pushes whose hub COMMIT was not known when they were recorded
 * (push-record.ts markPlacedUnsettled), by the push's token. The reconcile that learns the outcome
 * marks them `committed` (the token adopted) or forgets them (rolled back: the copies wait for the
 * next collision); hub-moves.ts `confirmPlacedMoves` then makes their records done.
 */
const PLACED = 'placed_unconfirmed';

export interface PlacedUnconfirmed {
  token: string;
  /** Re-key record ids (`_dualdb_rekeys`), each with an unsettled entry under seq -id (`_dualdb_hub_moves`). */
  ids: number[];
  /** The hub has the push (its token was adopted by a reconcile). */
  committed?: boolean;
}

export function placedUnconfirmed(state: LocalState): PlacedUnconfirmed[] {
  const text = state.getMeta(PLACED);
  return text ? (JSON.parse(text) as PlacedUnconfirmed[]) : [];
}

/** Call inside the SQLite transaction that writes the records. */
export function setPlacedUnconfirmed(state: LocalState, list: PlacedUnconfirmed[]): void {
  state.setMeta(PLACED, list.length ? JSON.stringify(list) : null);
}

/** The token of a push begun here and not recorded yet (its outcome unknown). */
export function pendingToken(state: LocalState): string | undefined {
  return state.getMeta(PENDING);
}

/** Inside alignLog's transaction: what the reconcile learnt of the pending push, for its moves. */
function notePushOutcome(state: LocalState, adopt: string | undefined, pending: string | undefined): void {
  const list = placedUnconfirmed(state);
  if (list.length === 0) return;
  const next = list.flatMap((p): PlacedUnconfirmed[] => {
    if (adopt !== undefined && p.token === adopt) return [{ ...p, committed: true }];
    // The pending token the hub does not have: that push never committed.
    if (adopt === undefined && pending !== undefined && p.token === pending) return [];
    return [p];
  });
  setPlacedUnconfirmed(state, next);
}

export function newToken(epoch: number): string {
  return `${epoch}.${randomBytes(8).toString('hex')}`;
}

export function epochOf(token: string | null | undefined): number {
  return Number.parseInt(token ?? '', 10) || 0;
}

/** This file's token for the node id it has now (a token kept under another id does not count). */
export function localToken(state: LocalState, nodeId: string): string | undefined {
  return state.getMeta(TOKEN_NODE) === nodeId ? state.getMeta(TOKEN) : undefined;
}

/** Records `token` as this file's for `nodeId` (and clears the pending marker). */
export function saveToken(state: LocalState, nodeId: string, token: string): void {
  state.setMeta(TOKEN, token);
  state.setMeta(TOKEN_NODE, nodeId);
  state.setMeta(PENDING, null);
}

/** Forgets this file's token: it then holds no node id until it registers again (`init --new-node-id`). */
export function forgetToken(state: LocalState): void {
  for (const k of [TOKEN, TOKEN_NODE, PENDING]) state.setMeta(k, null);
}

interface HubRow {
  cursor: bigint;
  token: string | null;
}

async function readHubRow(hub: MysqlHub, nodeId: string): Promise<HubRow | undefined> {
  const read = () =>
    hub.query<{ push_cursor: string | number; push_token: string | null }>(
      'SELECT push_cursor, push_token FROM _dualdb_nodes WHERE node_id = ?',
      [nodeId],
    );
  const rows = await read().catch(async (e: { code?: string }) => {
    // A hub installed before fencing: the column is added in place (init does it too).
    if (e.code !== 'ER_BAD_FIELD_ERROR') throw e;
    await ensurePushTokenColumn(hub);
    return read();
  });
  const r = rows[0];
  return r ? { cursor: BigInt(r.push_cursor), token: r.push_token } : undefined;
}

/**
 * Registers this file on the hub (first contact) or claims an unfenced row (a hub from before
 * fencing). The local token is stored first: a crash in between leaves a file that claims again.
 */
async function register(ctx: FenceContext, row: HubRow | undefined): Promise<HubRow> {
  const { hub, state, nodeId } = ctx;
  const token = localToken(state, nodeId) ?? newToken(1);
  if (localToken(state, nodeId) === undefined) saveToken(state, nodeId, token);
  if (!row) {
    // A file new to this id starts at its own push position: what it logged after is pushed.
    await hub.execute(
      `INSERT IGNORE INTO _dualdb_nodes (node_id, push_cursor, pull_upto, first_seen, last_seen, push_token)
       VALUES (?, ?, 0, NOW(6), NOW(6), ?)`,
      [nodeId, state.pushedUpto(), token],
    );
  } else {
    await hub.execute('UPDATE _dualdb_nodes SET push_token = ? WHERE node_id = ? AND push_token IS NULL', [token, nodeId]);
  }
  const now = await readHubRow(hub, nodeId);
  if (!now) throw new NodeIdInUseError(nodeId); // removed meanwhile (uninstall): refuse this time
  return now;
}

/**
 * Checks that this file holds its node id on the hub and aligns the local change log with the
 * hub's push cursor (entries the hub has are dropped). Returns the hub's cursor. Throws
 * NodeIdInUseError when another file holds the id: then no change moved or was dropped (the
 * refusal is recorded for `dualdb status`).
 */
export async function reconcileWithHub(ctx: FenceContext, reclaimed = false, attempt = 0): Promise<bigint> {
  const { state, nodeId } = ctx;
  // Two processes on one file are one node (`rekeys resolve` beside `sync --watch`): the other may
  // push between the hub read and the file's, rotating the token (a push of parked retries only
  // leaves the cursor where it was). The file is read before and after the hub: if it changed
  // meanwhile, its own other process pushed, and the reconcile starts again.
  const before = localSnapshot(ctx);
  let row = await readHubRow(ctx.hub, nodeId);
  if (!row || row.token === null) row = await register(ctx, row);
  const now = localSnapshot(ctx);
  if (!sameSnapshot(before, now) && attempt < SAME_FILE_RETRIES) return reconcileWithHub(ctx, reclaimed, attempt + 1);
  const { mine, pending } = now;
  let adopt: string | undefined;
  if (row.token !== mine) {
    if (pending !== undefined && row.token === pending) {
      // The crash window: the hub committed this file's last push, the file never recorded it.
      adopt = pending;
    } else if (!reclaimed && mine !== undefined && row.cursor < now.pushed && epochOf(row.token) <= epochOf(mine)) {
      ctx.log?.warn('the hub’s push token and cursor for this node are older than this file’s (hub restored from a backup?)', {
        event: 'push.hub-restored',
      });
      await ctx.hub.execute('UPDATE _dualdb_nodes SET push_token = ? WHERE node_id = ? AND push_token = ?', [
        mine,
        nodeId,
        row.token,
      ]);
      return reconcileWithHub(ctx, true);
    } else {
      // A push begun here whose token is not the hub's: another process on this file (`rekeys
      // resolve` beside `sync --watch`) may have committed a push it has not recorded yet, its
      // pending token overwritten by this one (one slot). Its record follows within moments: the
      // reconcile starts again once the file changes (operator trial 5, N5). A copy waits in vain.
      if (pending !== undefined && attempt < SAME_FILE_RETRIES && (await fileChanges(ctx, now, SAME_FILE_WAIT_MS)))
        return reconcileWithHub(ctx, reclaimed, attempt + 1);
      throw refused(state, nodeId);
    }
  }
  alignLog(ctx, row.cursor, adopt, pending !== undefined, now);
  return row.cursor;
}

/**
 * Before `init` changes anything: refuses (NODE_ID_IN_USE) a file that never held a token for its
 * node id while the hub's row of that id has one, the case reconcileWithHub refuses once it has
 * read the hub; read-only, so that the id's clash is named before what the file holds (the join
 * guard) and nothing is registered for a file that will not sync.
 */
export async function refuseIfHeldElsewhere(ctx: FenceContext): Promise<void> {
  const { state, nodeId } = ctx;
  if (localToken(state, nodeId) !== undefined || pendingToken(state) !== undefined) return;
  const row = await readHubRow(ctx.hub, nodeId);
  if (row && row.token !== null) throw refused(state, nodeId);
}

/** Re-reads of the file when another process on it pushed during a reconcile (each is one push of its). */
const SAME_FILE_RETRIES = 20;
/** How long a reconcile that would refuse waits for another process on the file to record its push. */
const SAME_FILE_WAIT_MS = 2000;

/** Whether the file's token, pending token or push cursor changes from `seen` within `ms`. */
async function fileChanges(ctx: FenceContext, seen: LocalSnapshot, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 25));
    if (!sameSnapshot(seen, localSnapshot(ctx))) return true;
  }
  return false;
}

interface LocalSnapshot {
  mine: string | undefined;
  pending: string | undefined;
  pushed: bigint;
}

/** The file's token, pending token and push cursor, read in one SQLite read transaction. */
function localSnapshot(ctx: FenceContext): LocalSnapshot {
  return ctx.db.transaction(() => ({
    mine: localToken(ctx.state, ctx.nodeId),
    pending: ctx.state.getMeta(PENDING),
    pushed: ctx.state.pushedUpto(),
  }))();
}

function sameSnapshot(a: LocalSnapshot, b: LocalSnapshot): boolean {
  return a.mine === b.mine && a.pending === b.pending && a.pushed === b.pushed;
}

/** The refusal, kept in the file too: `dualdb status` and the monitor show it after a one-shot sync. */
function refused(state: LocalState, nodeId: string): NodeIdInUseError {
  const e = new NodeIdInUseError(nodeId);
  state.setMeta('last_error', e.oneLine());
  state.setMeta('last_error_at', new Date().toISOString());
  return e;
}

/**
 * The local side of a reconcile: cursor, log and token, in one SQLite transaction — unless the
 * file changed since it was read (`seen`): then another process on this file pushed meanwhile and
 * recorded its own, newer alignment, which this one must not undo.
 */
function alignLog(
  ctx: FenceContext,
  hubCursor: bigint,
  adopt: string | undefined,
  clearPending: boolean,
  seen: LocalSnapshot,
): void {
  const local = seen.pushed;
  if (hubCursor === local && adopt === undefined && !clearPending) return;
  if (hubCursor < local) {
    ctx.log?.warn(
      'the hub’s push cursor for this node is behind the local one (hub restored, or node id reused); run `dualdb compare`',
      { event: 'push.cursor-behind', hub: hubCursor.toString(), local: local.toString() },
    );
  }
  ctx.db
    .transaction(() => {
      if (!sameSnapshot(seen, localSnapshot(ctx))) return;
      ctx.state.setPushedUpto(hubCursor);
      ctx.db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ?').run(hubCursor);
      notePushOutcome(ctx.state, adopt, seen.pending);
      if (adopt !== undefined) saveToken(ctx.state, ctx.nodeId, adopt);
      // A pending token the hub does not have: that push never committed.
      else ctx.state.setMeta(PENDING, null);
    })
    .immediate();
}

/** Whether a push's token is pending here (written before its hub COMMIT, not yet known to have landed). */
export function pushPending(state: LocalState): boolean {
  return state.getMeta(PENDING) !== undefined;
}

/** Before a push's hub transaction: the token it will set, known locally first (the crash window). */
export function beginPush(ctx: FenceContext): string {
  const mine = localToken(ctx.state, ctx.nodeId) ?? newToken(1);
  const next = newToken(epochOf(mine));
  markPending(ctx.state, next);
  return next;
}

/** The token a hub write is about to set, written before the hub commits. */
export function markPending(state: LocalState, token: string): void {
  state.setMeta(PENDING, token);
}

/**
 * First in the push's hub transaction: locks this node's row and rotates the token when this file
 * still holds it and the hub's push cursor is still `cursor.from`, moving the cursor to `cursor.to`
 * in the same statement (the batch commits with it, or nothing does). False: another file took
 * the id, or another syncer pushed, since the reconcile (treated as a race; the next reconcile
 * sorts it out or refuses).
 */
export async function fenceHubPush(
  conn: PoolConnection,
  ctx: FenceContext,
  next: string,
  cursor: { from: bigint; to: bigint },
): Promise<boolean> {
  const [res] = await conn.query(
    `UPDATE _dualdb_nodes SET push_token = ?, push_cursor = ?, last_seen = NOW(6)
      WHERE node_id = ? AND push_token = ? AND push_cursor = ?`,
    [next, cursor.to, ctx.nodeId, localToken(ctx.state, ctx.nodeId) ?? '', cursor.from],
  );
  return (res as { affectedRows?: number }).affectedRows === 1;
}

/**
 * The fence of a hub-first write, as an SQL condition that is true when another file holds this
 * node id: the hub's token is set and is neither this file's nor its pending one. The node's row
 * is read under a share lock, held to the COMMIT: a take-over or a push of another file waits
 * for the write, so the write lands before the hand-over, never after it.
 */
export function heldElsewhereCondition(state: LocalState, nodeId: string): { sql: string; params: unknown[] } {
  const mine = [localToken(state, nodeId), state.getMeta(PENDING)].filter((t): t is string => typeof t === 'string');
  const notMine = mine.length ? ' AND push_token NOT IN (?)' : '';
  return {
    sql: `EXISTS (SELECT 1 FROM _dualdb_nodes WHERE node_id = ? AND push_token IS NOT NULL${notMine} LOCK IN SHARE MODE)`,
    params: [nodeId, ...(mine.length ? [mine] : [])],
  };
}

/** The statement of `recordTokenAsHolder`: one row written when this file holds the node id, none otherwise. */
export function holderTokenStatement(
  state: LocalState,
  nodeId: string,
  token: string,
  /** The token's SQL (`?` is `token`): the one-query insert appends the key the hub assigned (hub-insert.ts). */
  tokenSql = '?',
): { sql: string; params: unknown[] } {
  const held = heldElsewhereCondition(state, nodeId);
  return {
    sql: `INSERT INTO _dualdb_write_tokens (token, node_id, at) SELECT ${tokenSql}, ?, NOW(6) FROM DUAL WHERE NOT ${held.sql}`,
    params: [token, nodeId, ...held.params],
  };
}

/**
 * Inside a hub-first write's transaction (mysql_primary), just before COMMIT: records the write's
 * commit token (commit-outcome.ts) only while this file holds the node id, check and insert in one
 * statement (one round trip on the ack path). The write carries this node id as its origin, so the
 * holder would take it for its own echo and never pull it: a file that does not hold the id
 * refuses (NodeIdInUseError, nothing recorded); a node not registered yet writes.
 */
export async function recordTokenAsHolder(conn: PoolConnection, state: LocalState, nodeId: string, token: string): Promise<void> {
  const statement = holderTokenStatement(state, nodeId, token);
  let res: unknown;
  try {
    [res] = await conn.query(statement.sql, statement.params);
  } catch (e) {
    // A hub from before fencing (no push_token column): nothing to check.
    if ((e as { code?: string }).code !== 'ER_BAD_FIELD_ERROR') throw e;
    await recordWriteToken(conn, token, nodeId);
    return;
  }
  if ((res as { affectedRows: number }).affectedRows !== 1) throw new NodeIdInUseError(nodeId);
}

const forgetPushedStatements = new WeakMap<FenceContext['db'], { run(upto: bigint): unknown }>();

/** `DELETE FROM _dualdb_changes WHERE seq <= ?`, compiled once per connection (a `both` write runs it each time). */
function forgetPushed(db: FenceContext['db']): { run(upto: bigint): unknown } {
  let st = forgetPushedStatements.get(db);
  if (!st) {
    st = db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ?');
    forgetPushedStatements.set(db, st);
  }
  return st;
}

/** After the hub committed a push: the file forgets what the hub has and keeps the new token. */
export function recordPushed(ctx: FenceContext, upto: bigint, token: string, alsoRecord?: () => void): void {
  ctx.db.transaction(() => {
    ctx.state.setPushedUpto(upto);
    forgetPushed(ctx.db).run(upto);
    saveToken(ctx.state, ctx.nodeId, token);
    alsoRecord?.();
  })();
}
