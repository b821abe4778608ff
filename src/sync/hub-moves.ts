/**
 * Rows another node moved to a new key on the hub (rekey-hub, or `rekeys resolve --rekey hub`:
 * the R entries of the hub's change log, rekey.ts) reach this node *before* it decides anything
 * about those keys: a push or pull first moves the node's copy of such a row to the hub's new
 * key (children, unpushed changes and parked retries along), so that the node's keys mean what
 * the hub's mean. Decided on stale keys, a push would send an update of the moved row to the
 * different row now under its old key, or see a collision on the new key and place the hub's
 * row a second time (docs/SYNC-CONTRACT.md invariant 13).
 *
 * When the new key is taken here by the node's own new row (a collision the next push resolves,
 * or one held by `manual`), the copy cannot move yet: it stays where it is, *unsettled*
 * (`_dualdb_hub_moves.local_key`). Until the collision places the hub's row, nothing of that
 * local key moves either way (push and pull park it, waiting), nor do children that reference it.
 */

import type { Row } from '../engines/codec.js';
import { diagnoseIfConnection, type PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncContext } from './context.js';
import { sameImage, toSqliteRow } from './convert.js';
import { commitNamingForeignKeys } from './fk-commit.js';
import { renameLoggedKeys } from './key-map.js';
import { heldKey, type PullState } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { localToken, type PlacedUnconfirmed, pendingToken, placedUnconfirmed, setPlacedUnconfirmed } from './node-fence.js';
import { wakeParkedChildren } from './parent-waits.js';
import type { SyncTable } from './plan.js';
import { decodeMove, loggedHere, type RekeyEvent, referencingColumns } from './rekey.js';
import { RekeyStore } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';

/**
 * `seen`: for a copy left behind (unsettled), the hub log position up to which it holds the hub's
 * row: the pull cursor when it was left. The pull passes the row's later hub changes without applying
 * them (its hub key is this node's own row here, held or deferred), so the row's unseen changes are
 * counted from there, not from the cursor (unseenRowChanges). Kept once the copy settles into a
 * freed key with an edit nobody weighed yet (settleFree), until that edit is pushed.
 */
export const HUB_MOVES_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_hub_moves (
     seq INTEGER PRIMARY KEY,
     tbl TEXT NOT NULL,
     hub_key TEXT NOT NULL,
     local_key TEXT,
     seen INTEGER
   )`;

export function ensureHubMovesTable(db: SqliteDb): void {
  if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_hub_moves'").get() === undefined) db.exec(HUB_MOVES_DDL);
  // A file of an earlier version: its copies left behind have no `seen` (counted from their move).
  else if (!(db.pragma('table_info(_dualdb_hub_moves)') as { name: string }[]).some((c) => c.name === 'seen'))
    db.exec('ALTER TABLE _dualdb_hub_moves ADD COLUMN seen INTEGER');
}

/**
 * Keys of `table` (hub keys) whose row this node has held only up to a hub log position older than
 * its pull cursor: a copy left behind (unsettled) under them, or settled there with an edit not
 * weighed yet (see HUB_MOVES_DDL). key → that position. An entry without `seen` (written by an
 * earlier version) counts from just before its move; a push's own placement (negative seq) not at all.
 */
export function seenBefore(db: SqliteDb, table: string, keys: string[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (keys.length === 0) return out;
  const rows = db
    .prepare('SELECT seq, hub_key, seen FROM _dualdb_hub_moves WHERE tbl = ? AND (local_key IS NOT NULL OR seen IS NOT NULL)')
    .safeIntegers()
    .all(table) as { seq: bigint; hub_key: string; seen: bigint | null }[];
  const wanted = new Set(keys);
  for (const r of rows) {
    if (!wanted.has(r.hub_key)) continue;
    const from = r.seen ?? (r.seq > 0n ? r.seq - 1n : undefined);
    if (from === undefined) continue;
    const prev = out.get(r.hub_key);
    if (prev === undefined || from < prev) out.set(r.hub_key, from);
  }
  return out;
}

/** An edit the copy of a moved row brought along was weighed (rekey-node.ts), or pushed: nothing earlier to count. */
export function forgetSeen(db: SqliteDb, table: string, hubKey: string): void {
  db.prepare('UPDATE _dualdb_hub_moves SET seen = NULL WHERE tbl = ? AND hub_key = ? AND local_key IS NULL').run(table, hubKey);
}

/** Something of this node's is logged or parked to push under an entry's hub key. */
const EDIT_UNPUSHED = `EXISTS (SELECT 1 FROM _dualdb_changes c WHERE c.tbl = _dualdb_hub_moves.tbl AND c.pk = _dualdb_hub_moves.hub_key)
  OR EXISTS (SELECT 1 FROM _dualdb_parked p
              WHERE p.direction = 'push' AND p.tbl = _dualdb_hub_moves.tbl AND p.pk = _dualdb_hub_moves.hub_key)`;

/**
 * After a push: settled copies whose edits are all on the hub now need no `seen` (counted again, the
 * hub's changes that push weighed would make the next edit a conflict once more). One read when none has it.
 */
export function forgetPushedSeen(db: SqliteDb): void {
  if (db.prepare('SELECT 1 FROM _dualdb_hub_moves WHERE local_key IS NULL AND seen IS NOT NULL LIMIT 1').get() === undefined)
    return;
  db.prepare(
    `UPDATE _dualdb_hub_moves SET seen = NULL WHERE local_key IS NULL AND seen IS NOT NULL AND NOT (${EDIT_UNPUSHED})`,
  ).run();
}

/** One R entry: the hub's row of `table` under `oldKey` now lives under `newKey`. */
export interface HubMove {
  seq: bigint;
  table: SyncTable;
  oldKey: string;
  newKey: string;
  /** The node that moved it (NULL: a central `rekeys resolve`). */
  origin?: string | null;
}

/** R entries of other origins this node has not pulled yet (after its cursor, or in a hole), in log order. */
export async function readHubMoves(conn: PoolConnection, ctx: SyncContext, pull: PullState): Promise<HubMove[]> {
  const q = hubMovesQuery(ctx, pull);
  const [rows] = await conn.query(q.sql, q.params);
  return toHubMoves(ctx, rows as { seq: string | number; tbl: string; pk: string; origin: string | null }[]);
}

/** The query of readHubMoves (seq, tbl, pk, origin; unordered), for a caller that sends it along with another. */
export function hubMovesQuery(ctx: SyncContext, pull: PullState): { sql: string; params: unknown[] } {
  const holes = [...pull.holes.keys()];
  return {
    sql: `SELECT seq, tbl, pk, origin FROM _dualdb_changes
      WHERE op = 'R' AND (origin IS NULL OR origin <> ?) AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
    params: holes.length ? [ctx.nodeId, pull.upto, holes] : [ctx.nodeId, pull.upto],
  };
}

/** R entry rows (any order) as moves of synced tables, in log order. */
export function toHubMoves(
  ctx: SyncContext,
  rows: { seq: string | number; tbl: string; pk: string; origin?: string | null }[],
): HubMove[] {
  const out: HubMove[] = [];
  for (const r of rows) {
    const table = ctx.plan.byName.get(r.tbl);
    if (table) out.push({ seq: BigInt(r.seq), table, ...decodeMove(r.pk), origin: r.origin ?? null });
  }
  return out.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
}

/** The hub's moves a push learns: one hub query, which a push starts alongside its fence read. */
export function readPushMoves(ctx: SyncContext): Promise<HubMove[]> {
  const pull = ctx.state.pullState();
  // One read with no session state: any pooled connection (no pinning, so no reset statement after it).
  return ctx.hub
    .lend((conn) => readHubMoves(conn, ctx, pull))
    .catch((e: unknown) => {
      throw diagnoseIfConnection(e, ctx.hub.config);
    });
}

/** Push: learns the hub's moves (`read`: already asked for) and applies them here before the batch is read. */
export async function learnHubMoves(ctx: SyncContext, read?: Promise<HubMove[]>): Promise<RekeyEvent[]> {
  const moves = await (read ?? readPushMoves(ctx));
  const fresh = unapplied(ctx.db, moves);
  if (fresh.length > 0) quietly(ctx.db, () => applyHubMoves(ctx, fresh));
  // A copy whose hub key was taken here by the node's own row, since pushed or deleted and pushed,
  // settles now, not only when a pull or another move comes.
  else if (settleable(ctx).length > 0) quietly(ctx.db, () => settleFree(ctx));
  if (emptyCopies(ctx).length > 0) quietly(ctx.db, () => forgetEmptyCopies(ctx));
  // A push's own moves whose COMMIT's answer was lost and the hub has after all: announced by the caller.
  return [...(await confirmPlacedMoves(ctx)), ...(await checkCopiesOnHub(ctx))];
}

/**
 * rekey-hub moves of this node's pushes whose hub COMMIT was lost (push-record.ts
 * markPlacedUnsettled), once the outcome is known: the push's token adopted by a reconcile
 * (node-fence.ts), kept by the file, or the hub's token now. The hub has the move: the copy placed
 * here under the new key is the hub's row there, whatever the application wrote to it since (its
 * edits then go up as edits of that row), so its unsettled entry goes and its record is done;
 * returned, to be announced once (`db.on('rekey')`, the log). checkCopiesOnHub confirmed only a
 * copy untouched since (both keys as on the hub): an edited one stayed `unconfirmed` for good.
 * A push that did not commit: forgotten here; its copies wait for the next collision (releaseCopy).
 */
export async function confirmPlacedMoves(ctx: SyncContext): Promise<RekeyEvent[]> {
  const list = placedUnconfirmed(ctx.state);
  if (list.length === 0) return [];
  const mine = localToken(ctx.state, ctx.nodeId);
  const pending = pendingToken(ctx.state);
  const known = (p: PlacedUnconfirmed, hub?: string | null) => p.committed === true || p.token === mine || p.token === hub;
  // Not known here yet (no reconcile since, e.g. a `rekeys resolve`): the hub's token says.
  let hubToken: string | null | undefined;
  if (list.some((p) => !known(p) && p.token === pending)) {
    const rows = await ctx.hub.query<{ push_token: string | null }>('SELECT push_token FROM _dualdb_nodes WHERE node_id = ?', [
      ctx.nodeId,
    ]);
    hubToken = rows[0]?.push_token ?? null;
  }
  const store = new RekeyStore(ctx.db);
  const confirmed: RekeyEvent[] = [];
  quietly(ctx.db, () => {
    // Read again under the write lock: another process on this file may have settled them meanwhile.
    const now = placedUnconfirmed(ctx.state);
    const settled: { t: SyncTable; keys: string[] }[] = [];
    const entries = ctx.db.prepare('SELECT tbl, hub_key, local_key FROM _dualdb_hub_moves WHERE seq = ?');
    const drop = ctx.db.prepare('DELETE FROM _dualdb_hub_moves WHERE seq = ?');
    for (const p of now.filter((x) => known(x, hubToken))) {
      for (const id of p.ids) {
        const rows = entries.all(-id) as { tbl: string; hub_key: string; local_key: string | null }[];
        drop.run(-id);
        if (!store.confirm(id)) continue;
        const r = store.get(id);
        if (r?.newKey && r.moved) confirmed.push({ id: r.id, table: r.tbl, oldKey: r.oldKey, newKey: r.newKey, moved: r.moved });
        for (const e of rows) {
          const t = ctx.plan.byName.get(e.tbl);
          if (t) settled.push({ t, keys: e.local_key === null ? [e.hub_key] : [e.hub_key, e.local_key] });
        }
      }
    }
    // Kept: those whose push is still in doubt (a reconcile forgets one that did not commit), while
    // a record of theirs waits (one settled otherwise is gone: releaseCopy).
    const waiting = (id: number) => store.get(id)?.status === 'unconfirmed';
    setPlacedUnconfirmed(
      ctx.state,
      now.filter((p) => !known(p, hubToken) && p.ids.some(waiting)),
    );
    if (settled.length) {
      ctx.state.bumpMovesGeneration();
      wakeWaitingFor(ctx, settled);
    }
  });
  for (const e of confirmed)
    ctx.log.info(
      `${e.table} ${e.oldKey}: the hub has this node's move of its row to ${e.newKey} (its push's COMMIT answer was lost)`,
      {
        event: 'rekey.confirmed',
        table: e.table,
        old_key: e.oldKey,
        new_key: e.newKey,
      },
    );
  return confirmed;
}

/**
 * Unsettled records whose local key holds no row and names nothing this node logged or parked to
 * push: the hub's row never was here (its pull parked it, e.g. waiting for its parent), so there is
 * no copy to move. Kept, the record waited until its hub key was free here, and with it the pull
 * of the local key, which on the hub holds another row: after the moved row was deleted there by a
 * cascade during this node's push and the node's own row took its hub key, forever (operator trial
 * after the N4 fix, 2026-12-07: site3's alert never reached site1).
 */
function emptyCopies(ctx: SyncContext): { seq: bigint }[] {
  return unsettledRows(ctx.db).filter((r) => {
    const t = ctx.plan.byName.get(r.tbl);
    return t !== undefined && !rowExists(ctx.db, t, r.local_key) && !loggedHere(ctx.db, t, r.local_key);
  });
}

function forgetEmptyCopies(ctx: SyncContext): void {
  const empty = emptyCopies(ctx);
  if (empty.length === 0) return;
  ctx.state.bumpMovesGeneration();
  for (const r of empty) releaseCopy(ctx.db, r.seq);
}

/** Capture quiet, one transaction; a move's deferred foreign key check that fails at COMMIT names the row (fk-commit.ts). */
function quietly(db: SqliteDb, fn: () => void): void {
  commitNamingForeignKeys(
    db,
    () => {
      db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      fn();
      db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    },
    { immediate: true },
  );
}

/**
 * An unsettled copy whose row the hub has deleted since (no row under its hub key there, or a
 * delete of that key logged after the move: `deletedSinceMove`) is
 * deleted here too, with what SQLite's ON DELETE does to its children (as MySQL's did on the
 * hub), and its unpushed changes dropped: the collision that would have placed it never comes
 * (the node's own row simply goes up), and the copy's key would otherwise wait forever.
 *
 * An unsettled entry whose two keys already hold here what the hub holds there (the hub's row under
 * its hub key, the same image; under the local key the hub's row there, or no row on either side),
 * nothing of this node logged, parked to push or held under either key, is no copy waiting: the
 * copy is in place (an entry recorded again for a move applied before, see `pulledPast`, or by an
 * earlier version). It is forgotten, and the hub rows parked for either key are retried at once.
 * Never one whose local row is not on the hub: a copy still waiting differs from the hub's row under
 * the local key (the hub's row moved away from there).
 */
async function checkCopiesOnHub(ctx: SyncContext): Promise<RekeyEvent[]> {
  const rows = unsettledRows(ctx.db);
  if (rows.length === 0) return [];
  const gone: { seq: bigint; t: SyncTable; local: string }[] = [];
  const inPlace: { seq: bigint; t: SyncTable; hub: string; local: string; hubRows: Map<string, Row> }[] = [];
  await ctx.hub.withConnection(async (conn) => {
    for (const r of rows) {
      const t = ctx.plan.byName.get(r.tbl);
      if (!t) continue;
      const hubRows = await new MysqlTableIO(t).fetch(conn, [r.hub_key, r.local_key]);
      if (!hubRows.has(r.hub_key) || (await deletedSinceMove(conn, t, r.seq, r.hub_key)))
        gone.push({ seq: r.seq, t, local: r.local_key });
      else if (copyInPlace(ctx, t, r.hub_key, r.local_key, hubRows))
        inPlace.push({ seq: r.seq, t, hub: r.hub_key, local: r.local_key, hubRows });
    }
  });
  if (gone.length === 0 && inPlace.length === 0) return [];
  const store = new RekeyStore(ctx.db);
  const confirmed: RekeyEvent[] = [];
  quietly(ctx.db, () => {
    ctx.state.bumpMovesGeneration();
    const settled: { t: SyncTable; keys: string[] }[] = [];
    for (const g of gone) {
      ctx.db.prepare(`DELETE FROM ${quoteSqliteId(g.t.name)} WHERE ${keyCol(g.t)} = ?`).run(BigInt(g.local));
      ctx.state.dropPendingKey(g.t.name, g.local);
      ctx.state.unpark('push', g.t.name, g.local);
      releaseCopy(ctx.db, g.seq);
      // The hub's row under the local key (parked: it waited for the copy to move) goes at once.
      settled.push({ t: g.t, keys: [g.local] });
    }
    for (const p of inPlace) {
      // Read again under the write lock: the application may have written either key since.
      if (!copyInPlace(ctx, p.t, p.hub, p.local, p.hubRows)) continue;
      ctx.db.prepare('UPDATE _dualdb_hub_moves SET local_key = NULL WHERE seq = ? AND local_key = ?').run(p.seq, p.local);
      settled.push({ t: p.t, keys: [p.hub, p.local] });
      // A push's own move whose COMMIT's answer was lost: the hub has it, so it happened (announced now).
      if (p.seq < 0n && store.confirm(Number(-p.seq))) {
        const r = store.get(Number(-p.seq));
        if (r?.newKey && r.moved) confirmed.push({ id: r.id, table: r.tbl, oldKey: r.oldKey, newKey: r.newKey, moved: r.moved });
      }
    }
    wakeWaitingFor(ctx, settled);
  });
  for (const p of inPlace)
    ctx.log.info(`${p.t.name} ${p.local}: the hub's row moved to ${p.hub} is in place here already; nothing waits for it`, {
      event: 'rekey.copy-in-place',
      table: p.t.name,
      hub_key: p.hub,
      local_key: p.local,
    });
  return confirmed;
}

/**
 * Whether the hub deleted the row under `hubKey` after the move that put it there (the unsettled
 * entry's seq), before any move of it away from that key: the copy's row is gone, even though
 * another row holds the key there now. The node's own row takes such a key with no collision when
 * the delete comes between this check and its push's locked read; the hub's row under the key is
 * then the node's own, and the copy waited for good, the hub's row under its local key parked
 * behind it (operator trial seed 1103: site1's detection never reached site3).
 */
async function deletedSinceMove(conn: PoolConnection, t: SyncTable, moveSeq: bigint, hubKey: string): Promise<boolean> {
  // A push's own placement awaiting its COMMIT (push-record.ts markPlacedUnsettled): no move in the log.
  if (moveSeq < 0n) return false;
  const [dels] = await conn.query(
    `SELECT MIN(seq) AS seq FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key) WHERE tbl = ? AND pk = ? AND op = 'D' AND seq > ?`,
    [t.name, hubKey, moveSeq.toString()],
  );
  const del = (dels as { seq: string | number | null }[])[0]?.seq;
  if (del === null || del === undefined) return false;
  // A move of the row away from the key first (not learnt here yet): the delete was of another row.
  const [away] = await conn.query(
    `SELECT 1 FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
      WHERE tbl = ? AND pk LIKE ? AND op = 'R' AND seq > ? AND seq < ? LIMIT 1`,
    // An R entry's pk is the two keys' text, each `length:key` (capture/keys.ts encodeKey).
    [t.name, `${[...hubKey].length}:${hubKey}%`, moveSeq.toString(), String(del)],
  );
  return (away as unknown[]).length === 0;
}

/** See checkCopiesOnHub: both keys hold here what the hub holds there, nothing of this node's under them. */
function copyInPlace(ctx: SyncContext, t: SyncTable, hubKey: string, localKey: string, hubRows: Map<string, Row>): boolean {
  const hubRow = hubRows.get(hubKey);
  if (!hubRow) return false;
  const here = new SqliteTableIO(ctx.db, t).fetch([hubKey, localKey]);
  const hubLocal = hubRows.get(localKey);
  if (!sameImage(t, here.get(hubKey) ?? null, toSqliteRow(t, hubRow))) return false;
  if (!sameImage(t, here.get(localKey) ?? null, hubLocal ? toSqliteRow(t, hubLocal) : null)) return false;
  if (loggedHere(ctx.db, t, hubKey) || loggedHere(ctx.db, t, localKey)) return false;
  if (new RekeyStore(ctx.db).open(t.name, [hubKey, localKey]).size > 0) return false;
  // Another unsettled entry names either key: left to that one.
  const others = ctx.db
    .prepare(
      'SELECT count(*) FROM _dualdb_hub_moves WHERE tbl = ? AND local_key IS NOT NULL AND (hub_key IN (?, ?) OR local_key IN (?, ?))',
    )
    .pluck()
    .get(t.name, hubKey, localKey, hubKey, localKey) as bigint | number;
  return Number(others) === 1;
}

/**
 * Hub rows parked on the pull side for keys no longer apart: the keys' own changes (waiting for the
 * copy to move) and the rows referencing them (waiting for their parent, one of two rows under one
 * key) go at once (as after a `rekeys resolve`).
 */
function wakeWaitingFor(ctx: SyncContext, settled: { t: SyncTable; keys: string[] }[]): void {
  if (settled.length === 0) return;
  const own = ctx.db.prepare(
    "UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE direction = 'pull' AND tbl = ? AND pk = ? AND error LIKE 'waits for %'",
  );
  const children = ctx.db.prepare(
    "UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE direction = 'pull' AND tbl = ? AND error LIKE '%one of two rows%'",
  );
  const written = new Map<string, Set<string>>();
  for (const { t, keys } of settled) {
    for (const k of keys) own.run(t.name, k);
    written.set(t.name, new Set([...(written.get(t.name) ?? []), ...keys]));
    for (const { child } of referencingColumns(ctx.plan, t)) children.run(child.name);
  }
  wakeParkedChildren(ctx, written);
}

/**
 * The copy is no longer unsettled here: settled, moved along, or gone. `keepSeen`: it settled into
 * the entry's hub key with what it was, its edit not weighed yet (settleFree).
 */
function releaseCopy(db: SqliteDb, seq: bigint, keepSeen = false): void {
  db.prepare(`UPDATE _dualdb_hub_moves SET local_key = NULL${keepSeen ? '' : ', seen = NULL'} WHERE seq = ?`).run(seq);
  dropUnconfirmedMove(db, seq);
}

/**
 * A push's own placement (negative seq, push-record.ts markPlacedUnsettled) released other than by
 * its COMMIT known: the copy was of the hub's row under the old key, which that push did not move
 * (its COMMIT was lost). Its re-key record told of a move that did not happen: it goes; the move
 * that settles the copy, if any, has a record (and an event) of its own.
 */
function dropUnconfirmedMove(db: SqliteDb, seq: bigint): void {
  if (seq < 0n) new RekeyStore(db).dropUnconfirmed(Number(-seq));
}

function unsettledRows(db: SqliteDb): { seq: bigint; tbl: string; hub_key: string; local_key: string }[] {
  return db.prepare('SELECT seq, tbl, hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all() as {
    seq: bigint;
    tbl: string;
    hub_key: string;
    local_key: string;
  }[];
}

/** Whether this node holds any unsettled copy of a row the hub moved (what a push's learnHubMoves settles or checks). */
export function anyUnsettled(db: SqliteDb): boolean {
  return db.prepare('SELECT 1 FROM _dualdb_hub_moves WHERE local_key IS NOT NULL LIMIT 1').get() !== undefined;
}

/** The moves not applied here yet. */
export function unapplied(db: SqliteDb, moves: HubMove[]): HubMove[] {
  return moves.filter((m) => !applied(db, m.seq));
}

function applied(db: SqliteDb, seq: bigint): boolean {
  return db.prepare('SELECT 1 FROM _dualdb_hub_moves WHERE seq = ?').get(seq) !== undefined;
}

const keyCol = (t: SyncTable): string => quoteSqliteId(t.key[0]?.name ?? '');

function rowExists(db: SqliteDb, t: SyncTable, key: string): boolean {
  return db.prepare(`SELECT 1 FROM ${quoteSqliteId(t.name)} WHERE ${keyCol(t)} = ?`).get(BigInt(key)) !== undefined;
}

/**
 * Moves this node's row `from` → `to` with its children, unpushed changes and parked pushes
 * (capture quiet: the caller raised `applying`; the hub already has the row under `to`, free here).
 */
function moveLocal(ctx: SyncContext, t: SyncTable, from: string, to: string): void {
  if (from === to) return;
  ctx.state.bumpMovesGeneration();
  ctx.db.pragma('defer_foreign_keys = ON');
  const moved = collecting.get(ctx.db);
  if (moved) moved.set(t.name, [...(moved.get(t.name) ?? []), BigInt(from), BigInt(to)]);
  for (const { child, column } of referencingColumns(ctx.plan, t)) {
    ctx.db
      .prepare(`UPDATE ${quoteSqliteId(child.name)} SET ${quoteSqliteId(column)} = ? WHERE ${quoteSqliteId(column)} = ?`)
      .run(BigInt(to), BigInt(from));
  }
  ctx.db.prepare(`UPDATE ${quoteSqliteId(t.name)} SET ${keyCol(t)} = ? WHERE ${keyCol(t)} = ?`).run(BigInt(to), BigInt(from));
  // `to` was free here: what the log and the parked pushes still name under it is of a row of this
  // node that is gone (its own new row, deleted before a push). Joined to the moved row's changes,
  // they would read as this node's new row (an insert first) against the hub's insert of the move:
  // the node's own row taken for another's, kept twice (invariant 13).
  ctx.state.dropPendingKey(t.name, to);
  ctx.state.unpark('push', t.name, to);
  renameLoggedKeys(ctx.db, t.name, new Map([[from, to]]), ctx.state.pushedUpto());
}

/**
 * In the caller's SQLite transaction (applying raised): each move not applied yet, in log order.
 * Returns the keys moved here (old and new, by table); their foreign key checks are deferred to the
 * COMMIT (a move repoints children before their parent), see fk-commit.ts restoreImmediateForeignKeys.
 * The row under the old key here is the hub's row (pulled, possibly edited) unless it is this
 * node's own new row, or one of two rows of an open collision: then it stays, with its children.
 */
export function applyHubMoves(ctx: SyncContext, moves: HubMove[]): Map<string, bigint[]> {
  const moved = new Map<string, bigint[]>();
  collecting.set(ctx.db, moved);
  try {
    applyEach(ctx, moves);
  } finally {
    collecting.delete(ctx.db);
  }
  return moved;
}

/**
 * The keys moveLocal moved (old and new, by table) while applyHubMoves runs on that database: what
 * the caller checks before turning checks back to per statement (fk-commit.ts restoreImmediateForeignKeys).
 */
const collecting = new WeakMap<SqliteDb, Map<string, bigint[]>>();

function applyEach(ctx: SyncContext, moves: HubMove[]): void {
  const db = ctx.db;
  const open = new RekeyStore(db).openKeys();
  const record = db.prepare(
    'INSERT OR REPLACE INTO _dualdb_hub_moves (seq, tbl, hub_key, local_key, seen) VALUES (?, ?, ?, ?, ?)',
  );
  const pull = ctx.state.pullState();
  for (const m of moves) {
    if (applied(db, m.seq) || pulledPast(pull, m.seq)) continue;
    const t = m.table;
    // The hub's row may already be unsettled here (an earlier move could not be applied).
    const prior = db
      .prepare('SELECT seq, local_key, seen FROM _dualdb_hub_moves WHERE tbl = ? AND hub_key = ? AND local_key IS NOT NULL')
      .safeIntegers()
      .get(t.name, m.oldKey) as { seq: bigint; local_key: string; seen: bigint | null } | undefined;
    let from: string | undefined = prior?.local_key;
    if (!prior) {
      const own = ctx.state.pendingKeys(t.name, [m.oldKey]).get(m.oldKey)?.firstOp === 'I' || open.has(heldKey(t.name, m.oldKey));
      // The row under the old key here may be the unsettled copy of an earlier row of that hub key
      // (moved to a key this node's own row holds): not this row, it stays (with its children).
      if (!own && !holdsCopy(db, t, m.oldKey)) from = m.oldKey;
    }
    if (prior) releaseCopy(db, prior.seq);
    if (from === undefined) {
      record.run(m.seq, t.name, m.newKey, null, null);
      continue;
    }
    if (from !== m.newKey && taken(ctx, t, m.newKey)) {
      // The new key is the node's own row here (or was: its insert or delete not pushed yet): the
      // copy waits where it is (unsettled), holding the hub's row as this node last pulled it (or as
      // when it was first left behind, moved again since).
      const seen = prior ? (prior.seen ?? (prior.seq > 0n ? prior.seq - 1n : pull.upto)) : pull.upto;
      record.run(m.seq, t.name, m.newKey, from, seen < pull.upto ? seen : pull.upto);
      continue;
    }
    moveLocal(ctx, t, from, m.newKey);
    record.run(m.seq, t.name, m.newKey, null, null);
  }
  settleFree(ctx);
  forgetEmptyCopies(ctx);
}

/**
 * The pull applied this move and passed it (its entry then forgotten, forgetHubMoves): the moves a
 * push or a `rekeys resolve` read with the cursor it had before (another process on this file may
 * have pulled meanwhile, learnHubMoves reads outside the write lock) are not applied again. Applied
 * a second time, on rows already in place, the other node's row now under the old key was taken for
 * the copy and the new key, holding the copy itself, for a key taken here: an unsettled entry that
 * nothing settles, and every hub row referencing either key parked on the pull side for good
 * (operator trial 6 on the merged code, seed 901).
 */
function pulledPast(pull: PullState, seq: bigint): boolean {
  return seq <= pull.upto && !pull.holes.has(seq);
}

function holdsCopy(db: SqliteDb, t: SyncTable, localKey: string): boolean {
  return db.prepare('SELECT 1 FROM _dualdb_hub_moves WHERE tbl = ? AND local_key = ?').get(t.name, localKey) !== undefined;
}

/**
 * The key holds the node's own row here, or an unpushed or parked change of the node names it (its
 * own row created and deleted again, not pushed: the trial's stalled site). A copy moved in there
 * would inherit that log: the push took it for the node's new row under the key, and the next hub
 * move of the key for the node's own row, which stays (the copy was then left behind for good).
 * Or the key is one of two rows of an open collision (held by `manual`): the push skips such a key
 * and trims its log, so once the application deleted its row there nothing else names it; a copy
 * settled in then stood as the node's side of the collision, the same row as the hub's, and either
 * resolution inserted it a second time (operator trial 4, M3). The resolution places it.
 */
function taken(ctx: SyncContext, t: SyncTable, key: string): boolean {
  return rowExists(ctx.db, t, key) || loggedHere(ctx.db, t, key) || new RekeyStore(ctx.db).open(t.name, [key]).size > 0;
}

/** Unsettled copies whose hub key is free here (no row, nothing of the node's logged under it). */
function settleable(ctx: SyncContext): { seq: bigint; t: SyncTable; local: string; hub: string }[] {
  const out: { seq: bigint; t: SyncTable; local: string; hub: string }[] = [];
  for (const r of unsettledRows(ctx.db)) {
    const t = ctx.plan.byName.get(r.tbl);
    if (t && !taken(ctx, t, r.hub_key)) out.push({ seq: r.seq, t, local: r.local_key, hub: r.hub_key });
  }
  return out;
}

/** Unsettled copies whose hub key has become free here move to it. */
function settleFree(ctx: SyncContext): void {
  for (const r of settleable(ctx)) {
    if (taken(ctx, r.t, r.hub)) continue; // settled into by one before it
    moveLocal(ctx, r.t, r.local, r.hub);
    // Its edit (if any) goes up with the next push, weighed against the row's hub changes since `seen`.
    releaseCopy(ctx.db, r.seq, true);
  }
}

/**
 * A collision placed the hub's row formerly under `hubKey` at `finalKey` on this node (rekey.ts,
 * in its SQLite transaction): an unsettled copy of that row moves there first, so that the row
 * is placed once (its children along). `finalKey` is free here.
 *
 * 'deleted': this node deleted its copy while it waited (its delete logged or parked, not
 * pushed): the delete follows the row to `finalKey` and the caller must not write the hub's row
 * here — the next push deletes it on the hub. Written back, the delete went up as the delete of a
 * re-used key followed by the row again, and an acknowledged delete was undone everywhere
 * (operator trial 3, finding B).
 * 'edited': the copy brought unpushed changes of its own (logged or parked): this node's edit of
 * that row, which the hub's image must not overwrite (the next push sends it, a conflict decided
 * by the policy).
 */
export function settleHubRow(ctx: SyncContext, t: SyncTable, hubKey: string, finalKey: string): 'deleted' | 'edited' | undefined {
  const r = ctx.db
    .prepare('SELECT seq, local_key FROM _dualdb_hub_moves WHERE tbl = ? AND hub_key = ? AND local_key IS NOT NULL')
    .get(t.name, hubKey) as { seq: bigint; local_key: string } | undefined;
  if (!r) return undefined;
  const deleted = !rowExists(ctx.db, t, r.local_key) && loggedHere(ctx.db, t, r.local_key);
  moveLocal(ctx, t, r.local_key, finalKey);
  const edited = !deleted && ctx.state.pendingKeys(t.name, [finalKey]).has(finalKey);
  // Nothing of the node's own to weigh: the caller writes the hub's current row there, and later
  // edits count the hub's changes from there (its pull cursor). Else `seen` stays for the weighing.
  const seen = deleted || edited ? 'seen' : 'NULL';
  ctx.db.prepare(`UPDATE _dualdb_hub_moves SET local_key = NULL, hub_key = ?, seen = ${seen} WHERE seq = ?`).run(finalKey, r.seq);
  dropUnconfirmedMove(ctx.db, r.seq);
  if (deleted) return 'deleted';
  return edited ? 'edited' : undefined;
}

/**
 * heldKey texts of unsettled rows: `local`, the keys here that hold a copy (nothing moves them, nor
 * the node's children of them, until settled); `hub`, the keys the hub gave those rows (here the
 * node's own rows: a hub row referencing one waits, it would attach to the wrong row).
 */
export function unsettledKeys(db: SqliteDb): { local: Set<string>; hub: Set<string> } {
  const rows = unsettledRows(db);
  return {
    local: new Set(rows.map((r) => heldKey(r.tbl, r.local_key))),
    hub: new Set(rows.map((r) => heldKey(r.tbl, r.hub_key))),
  };
}

/**
 * heldKey texts of the keys the hub moved rows to, by the moves this node learned and its pull has
 * not passed yet: the hub's insert under such a key (not pulled yet either) is the moved row, which
 * this node knew under the old key, not a new row (decide.ts `deletesAnotherRow`).
 */
export function hubMoveTargets(db: SqliteDb): Set<string> {
  const rows = db.prepare('SELECT tbl, hub_key FROM _dualdb_hub_moves').all() as { tbl: string; hub_key: string }[];
  return new Set(rows.map((r) => heldKey(r.tbl, r.hub_key)));
}

/**
 * Once the pull cursor passed them, applied moves are forgotten (unsettled ones are kept, and settled
 * ones whose `seen` still waits for their edit's push: forgotten, the push counted from the cursor).
 */
export function forgetHubMoves(db: SqliteDb, upto: bigint): void {
  db.prepare(
    `DELETE FROM _dualdb_hub_moves WHERE seq <= ? AND local_key IS NULL
      AND (seen IS NULL OR NOT (${EDIT_UNPUSHED}))`,
  ).run(upto);
}
