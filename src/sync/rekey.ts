/**
 * Moving one of two rows created independently under the same generated key
 * (docs/SYNC-CONTRACT.md invariant 13). Both rows are kept:
 *
 *  - rekey-node: the node's row gets a new key from the hub's own sequence (AUTO_INCREMENT, so
 *    no hub writer can be handed it again); the hub's row takes the old key on the node.
 *  - rekey-hub: the hub's row gets the new key (on the hub, where every other node follows it
 *    through the change log); the node's row goes up under the old key.
 *
 * Rows of synced tables that reference the moved row through a declared foreign key follow it,
 * on every side, in the same transactions. The hub part runs inside the caller's hub
 * transaction; the node part is one SQLite transaction the caller runs *before* the hub
 * commits, and it logs the moved row as a new local change: if the hub commit is then lost,
 * the next push simply sends the moved row under its new key (which the hub's sequence has
 * already passed, so nobody else can take it). A crash anywhere loses and duplicates nothing.
 */

import type Database from 'better-sqlite3';
import { decodeKey, encodeKey } from '../capture/keys.js';
import { MYSQL_NOW_MS } from '../capture/mysql-capture.js';
import { SQLITE_NOW_MS } from '../capture/sqlite-capture.js';
import type { KeyCollisionMode } from '../config/schema.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { DualdbError } from '../util/errors.js';
import type { SyncContext } from './context.js';
import { toMysqlRow, toSqliteRow } from './convert.js';
import { settleHubRow, unsettledKeys } from './hub-moves.js';
import { encodeImage } from './images.js';
import { parentIn, unsentParentKeys } from './parent-waits.js';
import type { SyncPlan, SyncTable } from './plan.js';
import { type DoneRecord, recordMovesDone } from './rekey-bulk.js';
import { insertUnderNewKeys } from './rekey-hub-bulk.js';
import { RekeyStore } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';

export interface Collision {
  table: SyncTable;
  oldKey: string;
  /** The node's row (SQLite form). */
  nodeRow: Row;
  /** The hub's row (mysql2 form), locked by the caller; null when it is gone again (rekey-node only). */
  hubRow: Row | null;
  hubSeq: bigint | null;
  detectedIn: 'push' | 'pull' | 'resolve';
  mode: KeyCollisionMode;
}

export interface Move extends Collision {
  newKey: string;
  moved: 'node' | 'hub';
  /** The local log entry moveOnNode wrote for the moved row under its new key. */
  loggedSeq?: bigint;
}

/** The event applications receive (`db.on('rekey', …)`) and the log line carries. */
export interface RekeyEvent {
  id: number;
  table: string;
  oldKey: string;
  newKey: string;
  moved: 'node' | 'hub';
}

/**
 * The hub's sequence handed out a key this node already holds (the node created rows offline
 * past the hub's AUTO_INCREMENT): the batch is rolled back, the sequence moved past the node's
 * keys, and the batch tried again.
 */
export class SequenceBehindError extends DualdbError {
  constructor(
    readonly table: SyncTable,
    readonly localMax: bigint,
  ) {
    super('HUB_SEQUENCE_BEHIND', `the hub's AUTO_INCREMENT of ${table.name} is behind this node's keys (up to ${localMax})`);
  }
}

const keyColumn = (t: SyncTable): string => t.key[0]?.name ?? '';

/** Synced tables with a declared single-column foreign key to `table` (column not part of their own key). */
export function referencingColumns(plan: SyncPlan, table: SyncTable): { child: SyncTable; column: string }[] {
  const out: { child: SyncTable; column: string }[] = [];
  for (const t of plan.tables) {
    const keyCols = new Set(t.key.map((k) => k.name));
    for (const fk of t.foreignKeys) {
      const col = fk.columns[0];
      if (fk.parent === table.name && fk.columns.length === 1 && col && !keyCols.has(col)) out.push({ child: t, column: col });
    }
  }
  return out;
}

/**
 * The largest key this node holds or has an unpushed change of (a row deleted here whose delete
 * is still to go up counts: handed to a moved row, that delete would remove it on the hub).
 */
function localMax(db: SqliteDb, table: SyncTable): bigint {
  const r = db.prepare(`SELECT max(${quoteSqliteId(keyColumn(table))}) AS m FROM ${quoteSqliteId(table.name)}`).get() as {
    m: bigint | number | null;
  };
  let max = r.m === null ? 0n : BigInt(r.m);
  for (const k of loggedKeys(db, table.name)) if (/^-?\d+$/.test(k) && BigInt(k) > max) max = BigInt(k);
  return max;
}

const existsStatements = new WeakMap<SqliteDb, Map<string, Database.Statement<unknown[]>>>();

/** A key the hub must not hand a moved row here: a row holds it, or a logged change names it. */
function existsLocally(db: SqliteDb, table: SyncTable, key: string): boolean {
  return rowHere(db, table, key) || loggedKeys(db, table.name).has(key);
}

/** Whether this node holds a row under the key (its log not consulted). */
function rowHere(db: SqliteDb, table: SyncTable, key: string): boolean {
  let byTable = existsStatements.get(db);
  if (!byTable) {
    byTable = new Map();
    existsStatements.set(db, byTable);
  }
  let st = byTable.get(table.name);
  if (!st) {
    st = db.prepare<unknown[]>(`SELECT 1 FROM ${quoteSqliteId(table.name)} WHERE ${quoteSqliteId(keyColumn(table))} = ?`);
    byTable.set(table.name, st);
  }
  return st.get(BigInt(key)) !== undefined;
}

const loggedCache = new WeakMap<SqliteDb, Map<string, { token: string; keys: Set<string> }>>();

/**
 * Keys of a table with an unpushed or parked change here (a row deleted here, its delete not sent:
 * the hub must not hand its key to a moved row). One read per table while the log is unchanged:
 * the log has no (tbl, pk) index, and a batch may move thousands of rows.
 */
function loggedKeys(db: SqliteDb, tbl: string): Set<string> {
  const t = db.prepare('SELECT (SELECT max(seq) FROM _dualdb_changes) AS c, (SELECT max(id) FROM _dualdb_parked) AS p').get() as {
    c: unknown;
    p: unknown;
  };
  const token = `${String(t.c)}/${String(t.p)}`;
  let byTable = loggedCache.get(db);
  if (!byTable) {
    byTable = new Map();
    loggedCache.set(db, byTable);
  }
  const hit = byTable.get(tbl);
  if (hit?.token === token) return hit.keys;
  const rows = db
    .prepare(
      "SELECT pk FROM _dualdb_changes WHERE tbl = ? AND pk IS NOT NULL UNION SELECT pk FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk IS NOT NULL",
    )
    .all(tbl, tbl) as { pk: string }[];
  const keys = new Set(rows.map((r) => r.pk));
  byTable.set(tbl, { token, keys });
  return keys;
}

/** Inserts a row on the hub under a new key from the hub's sequence; returns the key. */
async function insertWithNewKey(conn: PoolConnection, ctx: SyncContext, table: SyncTable, row: Row): Promise<string> {
  const kc = keyColumn(table);
  let explicit: bigint | undefined;
  if (!table.hubAssignsKey) {
    // No AUTO_INCREMENT on the hub: past both sides' largest key, under the lock of the hub's largest row.
    const [rows] = await conn.query(`SELECT MAX(${quoteMysqlId(kc)}) AS m FROM ${quoteMysqlId(table.name)} FOR UPDATE`);
    const hubMax = BigInt((rows as { m: string | number | null }[])[0]?.m ?? 0);
    const mine = localMax(ctx.db, table);
    explicit = (hubMax > mine ? hubMax : mine) + 1n;
  }
  const cols = table.columns.filter((c) => explicit !== undefined || c.name !== kc);
  const values = cols.map((c) => (c.name === kc ? explicit?.toString() : (row[c.name] ?? null)) as SqlValue);
  const [res] = await conn.query(
    `INSERT INTO ${quoteMysqlId(table.name)} (${cols.map((c) => quoteMysqlId(c.name)).join(', ')}) VALUES (?)`,
    [values],
  );
  const key = explicit?.toString() ?? String((res as { insertId: number | string }).insertId);
  if (existsLocally(ctx.db, table, key)) throw new SequenceBehindError(table, localMax(ctx.db, table));
  return key;
}

/**
 * rekey-node for many collisions of one table in one statement: the node's rows go in with keys
 * from the hub's AUTO_INCREMENT. A multi-row INSERT takes consecutive values (step
 * auto_increment_increment) when InnoDB's lock mode is 0 or 1 (MariaDB's default); in mode 2
 * (interleaved, MySQL 8's default and Galera's) values may interleave with other writers', so
 * there each row takes its own statement. Returns the moves in the order given.
 */
export async function moveManyOnHub(conn: PoolConnection, ctx: SyncContext, collisions: Collision[]): Promise<Move[]> {
  const t = collisions[0]?.table;
  if (!t) return [];
  const [modeRows] = await conn.query('SELECT @@innodb_autoinc_lock_mode AS m, @@session.auto_increment_increment AS inc');
  const mode = Number((modeRows as { m: number | string; inc: number | string }[])[0]?.m ?? 2);
  const inc = BigInt((modeRows as { m: number | string; inc: number | string }[])[0]?.inc ?? 1);
  if (!t.hubAssignsKey || mode > 1 || collisions.length === 1) {
    const out: Move[] = [];
    for (const c of collisions) out.push(await moveOnHub(conn, ctx, c, 'rekey-node'));
    return out;
  }
  // Multi-row INSERTs sized to the packet, logged set-based (rekey-hub-bulk.ts).
  const keys = await insertUnderNewKeys(conn, ctx, t, collisions, inc);
  const out: Move[] = [];
  collisions.forEach((c, j) => {
    const newKey = keys[j] as string;
    if (existsLocally(ctx.db, t, newKey)) throw new SequenceBehindError(t, localMax(ctx.db, t));
    out.push({ ...c, newKey, moved: 'node' });
  });
  return out;
}

/** The hub part of a move, inside the caller's transaction (capture on, origin = this node). */
export async function moveOnHub(
  conn: PoolConnection,
  ctx: SyncContext,
  c: Collision,
  resolve: 'rekey-node' | 'rekey-hub',
): Promise<Move> {
  const t = c.table;
  const kc = quoteMysqlId(keyColumn(t));
  const q = quoteMysqlId(t.name);
  const nodeRow = toMysqlRow(t, c.nodeRow);
  if (resolve === 'rekey-node') {
    const newKey = await insertWithNewKey(conn, ctx, t, nodeRow);
    return { ...c, newKey, moved: 'node' };
  }
  // rekey-hub: the hub's row moves. In place, never a delete (a delete would cascade on the hub
  // and, replayed on every other node, there too): the row under the old key takes the node's
  // values, the hub's values go in under a new key, and the children of synced tables that
  // pointed at the hub's row are re-pointed to it — all captured, so every node follows.
  if (!c.hubRow) throw new Error(`rekey-hub of ${t.name} ${c.oldKey} without the hub's row`);
  const cols = t.columns.filter((col) => col.name !== keyColumn(t));
  if (cols.length) {
    await conn.query(`UPDATE ${q} SET ${cols.map((col) => `${quoteMysqlId(col.name)} = ?`).join(', ')} WHERE ${kc} = ?`, [
      ...cols.map((col) => nodeRow[col.name] ?? null),
      c.oldKey,
    ]);
  }
  const newKey = await insertWithNewKey(conn, ctx, t, c.hubRow);
  for (const { child, column } of referencingColumns(ctx.plan, t)) {
    // Only the hub's own children: the node's (sent in this batch or later) point at the old key by design.
    await conn.query(`UPDATE ${quoteMysqlId(child.name)} SET ${quoteMysqlId(column)} = ? WHERE ${quoteMysqlId(column)} = ?`, [
      newKey,
      c.oldKey,
    ]);
  }
  // Other nodes may hold the hub's row already, with children of their own not pushed yet: this
  // entry tells their pulls to re-point those children too (it is not a row change).
  await conn.query(`INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (?, ?, 'R', ?, ${MYSQL_NOW_MS})`, [
    t.name,
    encodeKey([c.oldKey, newKey]),
    ctx.nodeId,
  ]);
  return { ...c, newKey, moved: 'hub' };
}

export function decodeMove(pk: string): { oldKey: string; newKey: string } {
  const [oldKey = '', newKey = ''] = decodeKey(pk, 2);
  return { oldKey, newKey };
}

/**
 * The node part of moves, as one SQLite transaction (run before the hub commits). Returns the
 * events to emit once the hub has committed too.
 */
export function moveOnNode(
  ctx: SyncContext,
  moves: Move[],
  takes: { table: SyncTable; key: string; hubRow: Row | null }[] = [],
): RekeyEvent[] {
  if (moves.length === 0 && takes.length === 0) return [];
  const db = ctx.db;
  const store = new RekeyStore(db);
  const events: RekeyEvent[] = [];
  // Statements are prepared once per call, not per moved row (thousands may move in one batch).
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
  const logInsert = stmt(`INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (?, ?, 'I', ${SQLITE_NOW_MS})`);
  db.transaction(() => {
    // The children move before their parent: checks wait for the commit.
    db.pragma('defer_foreign_keys = ON');
    setApplying.run(1);
    const pushedUpto = ctx.state.pushedUpto();
    const apart = store.openKeys();
    const placer = hubRowPlacer(ctx, apart, stmt);
    const renamed = new Map<string, Map<string, string>>();
    const done: DoneRecord[] = [];
    // Hub rows are placed after the log is renamed: an unsettled copy that moves into place
    // (hub-moves.ts) brings its own unpushed changes, which must not take the moved row's name.
    const placements: (() => void)[] = [];
    for (const m of moves) {
      const t = m.table;
      const kc = quoteSqliteId(keyColumn(t));
      const q = quoteSqliteId(t.name);
      if (stmt(`SELECT 1 FROM ${q} WHERE ${kc} = ?`).get(BigInt(m.newKey)) !== undefined)
        throw new SequenceBehindError(t, localMax(db, t));
      if (m.moved === 'node') {
        // Children are re-pointed with capture on: they reach the hub with their new parent.
        setApplying.run(0);
        for (const { child, column } of referencingColumns(ctx.plan, t)) {
          stmt(`UPDATE ${quoteSqliteId(child.name)} SET ${quoteSqliteId(column)} = ? WHERE ${quoteSqliteId(column)} = ?`).run(
            BigInt(m.newKey),
            BigInt(m.oldKey),
          );
        }
        setApplying.run(1);
        stmt(`UPDATE ${q} SET ${kc} = ? WHERE ${kc} = ?`).run(BigInt(m.newKey), BigInt(m.oldKey));
        let r = renamed.get(t.name);
        if (!r) {
          r = new Map();
          renamed.set(t.name, r);
        }
        r.set(m.oldKey, m.newKey);
        // Settled here: the hub's children placed later in this transaction attach to its row.
        apart.delete(`${t.name}\u0000${m.oldKey}`);
        // The hub's row under the old key, unless it is gone again (the key then stays empty here too).
        const hubRow = m.hubRow;
        if (hubRow) {
          placements.push(() => {
            settleHubRow(ctx, t, m.oldKey, m.oldKey);
            placer(t, m.oldKey, toSqliteRow(t, hubRow));
          });
        }
        // The moved row is a local change under its new key until the hub is known to have it
        // (a push drops this entry once the hub committed: rekey-bulk.ts).
        m.loggedSeq = BigInt(logInsert.run(t.name, m.newKey).lastInsertRowid);
      } else if (m.hubRow) {
        const moved = toSqliteRow(t, m.hubRow);
        moved[keyColumn(t)] = BigInt(m.newKey);
        placements.push(() => {
          settleHubRow(ctx, t, m.oldKey, m.newKey);
          placer(t, m.newKey, moved);
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
        hubImage: encodeImage(m.hubRow ? toSqliteRow(t, m.hubRow) : null),
        hubSeq: m.hubSeq,
      });
    }
    // The records of the whole batch in a few statements (rekey-bulk.ts), not two per moved row.
    const ids = recordMovesDone(db, done);
    done.forEach((d, i) => {
      events.push({ id: ids[i] as number, table: d.tbl, oldKey: d.oldKey, newKey: d.newKey, moved: d.moved });
    });
    // Unpushed changes and parked retries of the moved rows follow them: left under the old keys they
    // would later send the hub row's key a delete or these rows' values. One pass per table.
    for (const [tbl, map] of renamed) renameLoggedKeys(stmt, tbl, map, pushedUpto);
    for (const place of placements) place();
    // A row created on the node and gone again, while the hub created another under its key:
    // the hub's row is this key's row now.
    for (const t of takes) {
      // The application wrote a row under this key since the batch was read (SQLite hands a freed
      // max(id) out again): that is a new row of its own, logged, that the next push sends as one.
      // The row only: the log always names this key here (the node's own insert and delete).
      if (rowHere(db, t.table, t.key)) continue;
      const io = new SqliteTableIO(db, t.table);
      settleHubRow(ctx, t.table, t.key, t.key);
      if (t.hubRow) placer(t.table, t.key, toSqliteRow(t.table, t.hubRow));
      else io.delete(t.key);
    }
    setApplying.run(0);
  }).immediate();
  return events;
}

export type Prepare = (sql: string) => Database.Statement<unknown[]>;

/** Renames keys in the unpushed log and the parked pushes of one table (old → new), a chunk at a time. */
export function renameLoggedKeys(stmt: Prepare, tbl: string, map: Map<string, string>, pushedUpto: bigint): void {
  // The unpushed tail is read once (the log has no key index, by design), entries renamed by seq.
  const tail = stmt('SELECT seq, pk FROM _dualdb_changes WHERE seq > ? AND tbl = ?').all(pushedUpto, tbl) as {
    seq: bigint | number;
    pk: string | null;
  }[];
  const rename = stmt('UPDATE _dualdb_changes SET pk = ? WHERE seq = ?');
  for (const e of tail) {
    const to = e.pk === null ? undefined : map.get(e.pk);
    if (to !== undefined) rename.run(to, e.seq);
  }
  const pairs = [...map];
  for (let i = 0; i < pairs.length; i += 200) {
    const chunk = pairs.slice(i, i + 200);
    const cases = chunk.map(() => 'WHEN ? THEN ?').join(' ');
    const list = chunk.map(() => '?').join(', ');
    const flat = chunk.flat();
    const olds = chunk.map(([o]) => o);
    stmt(
      `UPDATE OR IGNORE _dualdb_parked SET pk = CASE pk ${cases} END WHERE direction = 'push' AND tbl = ? AND pk IN (${list})`,
    ).run(...flat, tbl, ...olds);
    stmt(`DELETE FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk IN (${list})`).run(tbl, ...olds);
  }
}

/**
 * Moves the hub's AUTO_INCREMENT past this node's keys (outside any transaction: DDL commits).
 * Bounded lock wait: the statement needs the table's metadata lock for an instant.
 */
export async function bumpHubSequence(ctx: SyncContext, e: SequenceBehindError): Promise<void> {
  await ctx.hub.withConnection(async (conn) => {
    await conn.query('SET SESSION lock_wait_timeout = 5');
    try {
      await conn.query(`ALTER TABLE ${quoteMysqlId(e.table.name)} AUTO_INCREMENT = ${(e.localMax + 1n).toString()}`);
    } catch (err) {
      throw new DualdbError(
        'HUB_SEQUENCE_BEHIND',
        `cannot move the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys (${(err as Error).message})`,
        {
          hint: `run on the hub: ALTER TABLE ${e.table.name} AUTO_INCREMENT = ${e.localMax + 1n}; or grant ALTER on the table to the sync user`,
          cause: err,
        },
      );
    }
  });
  ctx.log.info(`moved the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys (${e.localMax})`, {
    event: 'rekey.sequence-bumped',
    table: e.table.name,
  });
}

/**
 * Writes hub rows into the node, unless a parent one references is missing here or is one of
 * two rows still held apart under one key (it would attach to the wrong row): then it waits,
 * parked, for the pull that brings it with its parents.
 */
function hubRowPlacer(ctx: SyncContext, apart: Set<string>, stmt: Prepare): (table: SyncTable, key: string, row: Row) => void {
  // Keys of rows a hub move left unsettled here (hub-moves.ts): children of them wait too.
  const unsettled = unsettledKeys(ctx.db);
  const waits = (k: string) => apart.has(k) || unsettled.local.has(k) || unsettled.hub.has(k);
  const ios = new Map<string, SqliteTableIO>();
  const parkWaiting = (table: SyncTable, key: string) =>
    ctx.state.park('pull', table.name, key, 'waits for its parent row, one of two rows created under the same key', {
      waiting: true,
      // The hub's row began with an insert this node has not taken: a node row written under its
      // key meanwhile is a collision for the push, not a conflict.
      firstOp: 'I',
    });
  return (table, key, row) => {
    // Its parent key holds the node's own new row the hub has not received (parked, paused): not the hub's.
    if (parentIn(table, row, unsentParentKeys(ctx, table, [row])) !== undefined) return parkWaiting(table, key);
    for (const fk of table.foreignKeys) {
      const parent = ctx.plan.byName.get(fk.parent);
      const col = fk.columns[0];
      if (!parent || fk.columns.length !== 1 || !col) continue;
      const v = row[col];
      if (v === null || v === undefined) continue;
      const pk = parent.key[0]?.name ?? '';
      const present =
        stmt(`SELECT 1 FROM ${quoteSqliteId(parent.name)} WHERE ${quoteSqliteId(pk)} = ?`).get(v as SqlValue) !== undefined;
      if (!present || waits(`${parent.name}\u0000${String(v)}`)) return parkWaiting(table, key);
    }
    let io = ios.get(table.name);
    if (!io) {
      io = new SqliteTableIO(ctx.db, table);
      ios.set(table.name, io);
    }
    io.upsert(row);
  };
}

/** Rewrites references to moved rows in images still to be written (children later in the same batch). */
export function repointImages(plan: SyncPlan, moves: Move[], imagesOf: (table: string) => Iterable<Row>): void {
  const byTable = new Map<SyncTable, Map<string, bigint>>();
  for (const m of moves) {
    if (m.moved !== 'node') continue;
    let map = byTable.get(m.table);
    if (!map) {
      map = new Map();
      byTable.set(m.table, map);
    }
    map.set(m.oldKey, BigInt(m.newKey));
  }
  for (const [table, map] of byTable) {
    for (const { child, column } of referencingColumns(plan, table)) {
      for (const row of imagesOf(child.name)) {
        const v = row[column];
        const to = v === null || v === undefined ? undefined : map.get(String(v));
        if (to !== undefined) row[column] = to;
      }
    }
  }
}
