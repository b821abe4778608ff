/**
 * The node part of key moves (rekey.ts, docs/SYNC-CONTRACT.md invariant 13), as one SQLite
 * transaction the caller runs before the hub commits: a crash anywhere loses and duplicates
 * nothing (invariant 3). Set-based per table (key-map.ts): a push may move thousands of rows,
 * and five statements per moved row were a third of a colliding push's time.
 */
import type Database from 'better-sqlite3';
import { SQLITE_NOW_MS } from '../capture/sqlite-capture.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { decideWinner } from './conflicts.js';
import type { SyncContext } from './context.js';
import { toSqliteRow } from './convert.js';
import { isTransientSqlite, rowErrorText } from './errors.js';
import { commitNamingForeignKeys } from './fk-commit.js';
import { forgetSeen, settleHubRow, unsettledKeys } from './hub-moves.js';
import { encodeImage } from './images.js';
import { clearKeyMap, firstKeyHeld, loadKeyMap, remapColumn, renameLoggedKeysByMap } from './key-map.js';
import { heldKey } from './local-state.js';
import { parentIn, unsentParentKeys, wakeParkedChildren } from './parent-waits.js';
import type { SyncTable } from './plan.js';
import { localMax, type Move, type RekeyEvent, referencingColumns, rowHere, SequenceBehindError } from './rekey.js';
import { type DoneRecord, recordMovesDone } from './rekey-bulk.js';
import { RekeyStore } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';

type Prepare = (sql: string) => Database.Statement<unknown[]>;

const keyColumn = (t: SyncTable): string => t.key[0]?.name ?? '';

/**
 * The hub's row under `key` taken here (a decision the hub's version won, or a key whose own row is
 * gone). `overwriteUpto`: written over the row here too (the edit of a copy left behind lost, and no
 * pull brings the hub's version: push.ts), unless the application wrote the key after that log seq.
 */
export interface Take {
  table: SyncTable;
  key: string;
  hubRow: Row | null;
  hubSeq?: bigint;
  overwriteUpto?: bigint;
}

/** A hub row to write here: under `key`, after the unsettled copy of the hub's row `hubKey` (if any) moved there. */
interface Placement {
  table: SyncTable;
  hubKey: string;
  key: string;
  row: Row;
  /** The hub row's changes this node has not seen, under any of its keys (Collision.hubRowUnseen). */
  unseen?: { seq: bigint; at: number; deleted?: boolean } | null;
  /** Who placed it: a conflict found weighing the copy's edit is recorded as found there. */
  detectedIn?: 'push' | 'resolve';
}

/**
 * The node part of moves, as one SQLite transaction (run before the hub commits). Returns the
 * events to emit once the hub has committed too.
 */
export function moveOnNode(
  ctx: SyncContext,
  moves: Move[],
  takes: Take[] = [],
  staleParents: Set<string> = new Set(),
): RekeyEvent[] {
  if (moves.length === 0 && takes.length === 0) return [];
  const db = ctx.db;
  const store = new RekeyStore(db);
  const events: RekeyEvent[] = [];
  const prepared = new Map<string, Database.Statement<unknown[]>>();
  const stmt: Prepare = (sql) => {
    let st = prepared.get(sql);
    if (!st) {
      st = db.prepare<unknown[]>(sql);
      prepared.set(sql, st);
    }
    return st;
  };
  const setApplying = stmt('UPDATE _dualdb_flags SET applying = ? WHERE id = 1');
  const work = (): void => {
    // The children move before their parent: checks wait for the commit.
    db.pragma('defer_foreign_keys = ON');
    setApplying.run(1);
    ctx.state.bumpMovesGeneration();
    const pushedUpto = ctx.state.pushedUpto();
    const apart = store.openKeys();
    // Every new key must be free here: the application may have taken one since the hub handed it out.
    for (const [t, ms] of byTable(moves)) {
      if (
        firstKeyHeld(
          db,
          t.name,
          keyColumn(t),
          ms.map((m) => m.newKey),
        ) !== undefined
      )
        throw new SequenceBehindError(t, localMax(db, t));
    }
    for (const [t, ms] of byTable(moves.filter((m) => m.moved === 'node'))) moveRowsHere(ctx, t, ms, pushedUpto, setApplying);
    const done: DoneRecord[] = [];
    // Hub rows are placed after the log is renamed: an unsettled copy that moves into place
    // (hub-moves.ts) brings its own unpushed changes, which must not take the moved row's name.
    const placements: Placement[] = [];
    for (const m of moves) {
      const t = m.table;
      const hubRow = m.hubRow ? toSqliteRow(t, m.hubRow) : null;
      if (m.moved === 'node') {
        // Settled here: the hub's children placed later in this transaction attach to its row.
        apart.delete(heldKey(t.name, m.oldKey));
        // The hub's row under the old key, unless it is gone again (the key then stays empty here too).
        // A copy of it waiting here (unsettled) settles there with its edit, weighed as below against
        // the hub's changes it has not seen: left to the next push, a parked edit went up stamped
        // with its retry's time, and newest-wins let it overwrite the hub's newer update.
        if (hubRow)
          placements.push({
            table: t,
            hubKey: m.oldKey,
            key: m.oldKey,
            row: hubRow,
            unseen: m.hubRowUnseen,
            detectedIn: m.detectedIn === 'resolve' ? 'resolve' : 'push',
          });
      } else {
        // The hub's row leaves the old key, which now holds the node's own row on the hub too: a
        // hub change of it this node parked on its pull side (a row waiting for its parent) is of
        // the row placed under the new key below, not of anything under the old one. Retried, it
        // read the node's own row there as the hub's new row, and the node's later delete of that
        // row as the delete of another row: dropped, the row written back (trial 4, R1).
        ctx.state.unpark('pull', t.name, m.oldKey);
        if (hubRow)
          placements.push({
            table: t,
            hubKey: m.oldKey,
            key: m.newKey,
            row: { ...hubRow, [keyColumn(t)]: BigInt(m.newKey) },
            unseen: m.hubRowUnseen,
            detectedIn: m.detectedIn === 'resolve' ? 'resolve' : 'push',
          });
      }
      done.push({
        tbl: t.name,
        oldKey: m.oldKey,
        newKey: m.newKey,
        moved: m.moved,
        detectedIn: m.detectedIn,
        mode: m.mode,
        nodeImage: encodeImage(m.nodeRow),
        hubImage: encodeImage(hubRow),
        hubSeq: m.hubSeq,
      });
    }
    // The records of the whole batch in a few statements (rekey-bulk.ts), not two per moved row.
    const ids = recordMovesDone(db, done);
    done.forEach((d, i) => {
      events.push({ id: ids[i] as number, table: d.tbl, oldKey: d.oldKey, newKey: d.newKey, moved: d.moved });
    });
    const takeRows = takes.flatMap((t) => (t.hubRow ? [{ table: t.table, row: toSqliteRow(t.table, t.hubRow) }] : []));
    // A parent key the hub changed unseen holds the hub's row only if this transaction places it.
    const stale = new Set(staleParents);
    for (const p of placements) stale.delete(heldKey(p.table.name, p.key));
    for (const t of takes) if (t.hubRow) stale.delete(heldKey(t.table.name, t.key));
    const placer = hubRowPlacer(ctx, apart, stmt, [...placements, ...takeRows], stale);
    // Unsettled copies (hub-moves.ts) read once: most placed rows have none.
    const unsettled = unsettledKeys(db).hub;
    for (const p of placements) {
      if (unsettled.has(heldKey(p.table.name, p.hubKey))) {
        placer.flush();
        // This node deleted its copy meanwhile (the delete follows the row, which is not written
        // back), or the copy holds this node's edit of the row, weighed here against the hub's.
        const settled = settleHubRow(ctx, p.table, p.hubKey, p.key);
        if (settled === 'deleted' && p.unseen?.deleted === true) {
          // The hub deleted the row this node's copy was of, and the row the hub moved here is
          // another one, written under the freed key (trial 802): the delete is of a row gone there.
          ctx.state.dropPendingKey(p.table.name, p.key);
          ctx.state.unpark('push', p.table.name, p.key);
          forgetSeen(db, p.table.name, p.key);
          placer.place(p.table, p.key, p.row);
          continue;
        }
        if (settled === 'edited') {
          if (hubWinsOverEdit(ctx, p)) placer.place(p.table, p.key, p.row);
          // Weighed here against the row's changes since the copy was left (p.unseen): not again by the push.
          forgetSeen(db, p.table.name, p.key);
        }
        if (settled !== undefined) continue;
      }
      placer.place(p.table, p.key, p.row);
    }
    placer.flush();
    // A row created on the node and gone again, while the hub created another under its key:
    // the hub's row is this key's row now.
    for (const t of takes) {
      // The application wrote a row under this key since the batch was read (SQLite hands a freed
      // max(id) out again): that is a new row of its own, logged, that the next push sends as one.
      // The row only: the log always names this key here (the node's own insert and delete).
      if (rowHere(db, t.table, t.key)) {
        if (t.overwriteUpto === undefined || !t.hubRow || loggedAfter(db, t.table.name, t.key, t.overwriteUpto)) continue;
        placer.place(t.table, t.key, toSqliteRow(t.table, t.hubRow));
        placer.flush();
        continue;
      }
      const settled = settleHubRow(ctx, t.table, t.key, t.key);
      if (settled === 'deleted' || (t.hubRow && settled === 'edited')) continue;
      if (t.hubRow) placer.place(t.table, t.key, toSqliteRow(t.table, t.hubRow));
      else new SqliteTableIO(db, t.table).delete(t.key);
      placer.flush();
      // The hub's changes under the key up to here are in this node now (operator trial 5, N1b).
      if (t.hubRow && t.hubSeq !== undefined) store.recordTake(t.table.name, t.key, t.hubSeq);
    }
    // Children parked for a parent missing here go again: it may be among the hub's rows placed (N6).
    const written = new Map<string, Set<string>>();
    for (const p of [...placements, ...takes.filter((t) => t.hubRow)])
      written.set(p.table.name, (written.get(p.table.name) ?? new Set()).add(p.key));
    wakeParkedChildren(ctx, written);
    setApplying.run(0);
  };
  // Committed here when not nested (else at the caller's COMMIT): a deferred check failing names the row.
  commitNamingForeignKeys(db, work, { immediate: true });
  return events;
}

/**
 * An unsettled copy settled with this node's edit (hub-moves.ts `settleHubRow`): the edit is weighed
 * here, where the push still knows the hub row's changes this node has not seen under any of its
 * keys. Left to a later push, it went up under the row's newest key, whose hub history held only
 * this node's own move, and overwrote another node's newer update made under the key before,
 * no conflict recorded (operator trial 5, N4). A conflict is recorded whoever wins; true: the hub's
 * version wins (the edit is dropped; the caller writes the hub's row here).
 */
function hubWinsOverEdit(ctx: SyncContext, p: Placement): boolean {
  if (!p.unseen) return false; // nothing the hub did to the row since: the edit goes up as it is
  const t = p.table;
  const mine = ctx.state.pendingKeys(t.name, [p.key]).get(p.key);
  if (!mine) return false;
  const policy = ctx.config.sync.conflictPolicy;
  const hubAt = p.unseen.at - ctx.hubClockOffsetMs;
  const winner = t.meta ? 'node' : decideWinner(policy, mine.at, hubAt);
  if (!t.meta) {
    const local = new SqliteTableIO(ctx.db, t).fetch([p.key]).get(p.key) ?? null;
    ctx.state.recordConflict({
      tbl: t.name,
      pk: p.key,
      // `rekeys resolve` settling the copy found it, not a push (conflicts --json, the docs).
      detectedIn: p.detectedIn ?? 'push',
      policy,
      winner: winner === 'hold' ? null : winner,
      status: winner === 'hold' ? 'open' : 'resolved',
      nodeImage: encodeImage(local),
      hubImage: encodeImage(p.row),
      nodeAt: mine.at,
      hubAt,
      nodeSeq: mine.seq,
      hubSeq: p.unseen.seq,
    });
  }
  if (winner === 'node') return false;
  // The hub's version stands (or both wait for a manual decision): the edit is not sent.
  ctx.state.dropPendingKey(t.name, p.key);
  ctx.state.unpark('push', t.name, p.key);
  return winner === 'hub';
}

/** The application wrote the key after log seq `upto` (a change the push did not read). */
function loggedAfter(db: SqliteDb, tbl: string, key: string, upto: bigint): boolean {
  return (
    db.prepare('SELECT 1 FROM _dualdb_changes WHERE tbl = ? AND pk = ? AND seq > ? LIMIT 1').get(tbl, key, upto) !== undefined
  );
}

function byTable(moves: Move[]): Map<SyncTable, Move[]> {
  const out = new Map<SyncTable, Move[]>();
  for (const m of moves) {
    const list = out.get(m.table);
    if (list) list.push(m);
    else out.set(m.table, [m]);
  }
  return out;
}

/**
 * rekey-node for the moves of one table, set-based: the children re-pointed (capture on: they
 * reach the hub with their new parent), the rows renamed (capture off), their unpushed changes
 * and parked retries renamed along (left under the old keys they would later send the hub row's
 * key a delete or these rows' values), and each moved row logged as a new local change under its
 * new key until the hub is known to have it (a push drops that entry once the hub committed:
 * rekey-bulk.ts).
 */
function moveRowsHere(
  ctx: SyncContext,
  t: SyncTable,
  moves: Move[],
  pushedUpto: bigint,
  setApplying: Database.Statement<unknown[]>,
): void {
  const db = ctx.db;
  loadKeyMap(
    db,
    moves.map((m) => [m.oldKey, m.newKey]),
  );
  setApplying.run(0);
  for (const { child, column } of referencingColumns(ctx.plan, t)) remapColumn(db, child.name, column);
  setApplying.run(1);
  remapColumn(db, t.name, keyColumn(t));
  renameLoggedKeysByMap(db, t.name, pushedUpto);
  const logged = logMovedRows(db, t.name);
  for (const m of moves) m.loggedSeq = logged.get(m.newKey);
  clearKeyMap(db);
}

/** One 'I' log entry per new key in the map; their seqs by key. */
function logMovedRows(db: SqliteDb, tbl: string): Map<string, bigint> {
  const rows = db
    .prepare(
      `INSERT INTO _dualdb_changes (tbl, pk, op, at)
       SELECT ?, CAST(new AS TEXT), 'I', ${SQLITE_NOW_MS} FROM temp._dualdb_key_map ORDER BY old
       RETURNING seq, pk`,
    )
    .safeIntegers()
    .all(tbl) as { seq: bigint; pk: string }[];
  return new Map(rows.map((r) => [r.pk, r.seq]));
}

/**
 * Writes hub rows into the node, unless a parent one references is missing here or is one of
 * two rows still held apart under one key (it would attach to the wrong row): then it waits,
 * parked, for the pull that brings it with its parents. `expected`: the rows it will be given,
 * so that references to the node's unsent rows are looked up once per table (parent-waits.ts).
 */
function hubRowPlacer(
  ctx: SyncContext,
  apart: Set<string>,
  stmt: Prepare,
  expected: { table: SyncTable; row: Row }[],
  staleParents: Set<string> = new Set(),
): { place: (table: SyncTable, key: string, row: Row) => void; flush: () => void } {
  // Keys of rows a hub move left unsettled here (hub-moves.ts): children of them wait too.
  const unsettled = unsettledKeys(ctx.db);
  // And parents the hub deleted or created again since this node's pull (push-hub-read.ts
  // parentKeysChangedUnseen): the row under that key here may be another one.
  const waits = (k: string) => apart.has(k) || unsettled.local.has(k) || unsettled.hub.has(k) || staleParents.has(k);
  const ios = new Map<string, SqliteTableIO>();
  // Parent keys under which the node holds its own unsent new row, looked up once per table for
  // the rows it will be given; a row it was not told of is looked up on its own.
  const expectedRows = new Set(expected.map((e) => e.row));
  const unsent = new Map<string, Set<string>>();
  const unsentOf = (table: SyncTable, row: Row): Set<string> => {
    if (!expectedRows.has(row)) return unsentParentKeys(ctx, table, [row]);
    let u = unsent.get(table.name);
    if (!u) {
      u = unsentParentKeys(
        ctx,
        table,
        expected.filter((e) => e.table.name === table.name).map((e) => e.row),
      );
      unsent.set(table.name, u);
    }
    return u;
  };
  const parkWaiting = (table: SyncTable, key: string) =>
    ctx.state.park('pull', table.name, key, 'waits for its parent row, one of two rows created under the same key', {
      waiting: true,
      // The hub's row began with an insert this node has not taken: a node row written under its
      // key meanwhile is a collision for the push, not a conflict.
      firstOp: 'I',
    });
  // Rows to write, in order, written in multi-row upserts (flush): before anything reads the
  // table (a parent's presence), settles a row or takes a key, and at the end.
  let queued: { io: SqliteTableIO; table: SyncTable; rows: Row[]; keys: string[] } | undefined;
  const flush = () => {
    const q = queued;
    queued = undefined;
    if (q) writeOrPark(ctx, q.io, q.table, q.rows, q.keys);
  };
  const place = (table: SyncTable, key: string, row: Row) => {
    let io = ios.get(table.name);
    if (!io) {
      io = new SqliteTableIO(ctx.db, table);
      ios.set(table.name, io);
    }
    // Queued rows go in before a row checks its parents: they may be among them.
    const refsItself = [...table.foreignKeys, ...(table.unsyncedRefs ?? [])].some((fk) => fk.parent === table.name);
    if (queued?.io !== io || refsItself) flush();
    if (parentIn(table, row, unsentOf(table, row)) !== undefined) return parkWaiting(table, key);
    for (const fk of table.foreignKeys) {
      const parent = ctx.plan.byName.get(fk.parent);
      const col = fk.columns[0];
      if (!parent || fk.columns.length !== 1 || !col) continue;
      const v = row[col];
      if (v === null || v === undefined) continue;
      const pk = parent.key[0]?.name ?? '';
      const present =
        stmt(`SELECT 1 FROM ${quoteSqliteId(parent.name)} WHERE ${quoteSqliteId(pk)} = ?`).get(v as SqlValue) !== undefined;
      if (!present || waits(heldKey(parent.name, String(v)))) return parkWaiting(table, key);
    }
    if (!queued) queued = { io, table, rows: [], keys: [] };
    queued.rows.push(row);
    queued.keys.push(key);
  };
  return { place, flush };
}

/**
 * Writes hub rows here; a row SQLite refuses (a UNIQUE column, a CHECK) is parked on the pull side
 * with its error, as any hub change the node refuses (docs/SYNC-CONTRACT.md invariant 11), instead
 * of failing the push for good: the push, and every push after it, went on failing on that one row
 * (operator trial 3, finding A). Transient failures (busy, I/O) still fail the whole push.
 */
function writeOrPark(ctx: SyncContext, io: SqliteTableIO, table: SyncTable, rows: Row[], keys: string[]): void {
  try {
    ctx.db.transaction(() => io.upsertMany(rows))();
    return;
  } catch (e) {
    if (isTransientSqlite(e)) throw e;
  }
  rows.forEach((row, i) => {
    const key = keys[i] as string;
    try {
      ctx.db.transaction(() => io.upsertMany([row]))();
    } catch (e) {
      if (isTransientSqlite(e)) throw e;
      const error = rowErrorText(e);
      ctx.state.park('pull', table.name, key, error, { firstOp: 'I' });
      ctx.log.warn(`parked a hub change to ${table.name} ${key}: ${error}`, { event: 'pull.parked', table: table.name, pk: key });
    }
  });
}
