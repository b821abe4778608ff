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
 * transaction; the node part (rekey-node.ts) is one SQLite transaction the caller runs *before* the hub
 * commits, and it logs the moved row as a new local change: if the hub commit is then lost,
 * the next push simply sends the moved row under its new key (which the hub's sequence has
 * already passed, so nobody else can take it). A crash anywhere loses and duplicates nothing.
 */

import type Database from 'better-sqlite3';
import { decodeKey, encodeKey, mysqlKeyExpr } from '../capture/keys.js';
import { MYSQL_NOW_MS } from '../capture/mysql-capture.js';
import type { KeyCollisionMode } from '../config/schema.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { isConnectionError, PRIVILEGE_REFUSED } from '../engines/mysql/diagnose.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { DualdbError } from '../util/errors.js';
import type { SyncContext } from './context.js';
import { toMysqlRow } from './convert.js';
import { firstKeyHeld } from './key-map.js';
import type { SyncPlan, SyncTable } from './plan.js';
import { insertUnderNewKeys } from './rekey-hub-bulk.js';

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
  /**
   * rekey-hub, the hub's row being that of an unsettled copy here (hub-moves.ts): its hub changes
   * this node has not seen, under any of its keys (row-history.ts); null: none. The copy's own edit
   * is weighed against them when it settles (rekey-node.ts).
   */
  hubRowUnseen?: { seq: bigint; at: number; deleted?: boolean } | null;
}

export interface Move extends Collision {
  newKey: string;
  moved: 'node' | 'hub';
  /** The local log entry moveOnNode wrote for the moved row under its new key. */
  loggedSeq?: bigint;
  /** rekey-node: what the hub stored under the new key, as its INSERT … RETURNING gave it (MariaDB 10.5+). */
  hubStored?: Row;
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
export function localMax(db: SqliteDb, table: SyncTable): bigint {
  const r = db.prepare(`SELECT max(${quoteSqliteId(keyColumn(table))}) AS m FROM ${quoteSqliteId(table.name)}`).get() as {
    m: bigint | number | null;
  };
  let max = r.m === null ? 0n : BigInt(r.m);
  for (const k of loggedKeys(db, table.name)) if (/^-?\d+$/.test(k) && BigInt(k) > max) max = BigInt(k);
  return max;
}

const existsStatements = new WeakMap<SqliteDb, Map<string, Database.Statement<unknown[]>>>();

/** Whether an unpushed or parked change of this node names the key (its own row's insert, its delete…). */
export function loggedHere(db: SqliteDb, table: SyncTable, key: string): boolean {
  // Read now, not from loggedKeys' cache: a rename in the caller's transaction (a row moved with
  // its log) does not change that cache's token.
  return (
    db
      .prepare(
        "SELECT 1 FROM _dualdb_changes WHERE tbl = ? AND pk = ? UNION ALL SELECT 1 FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk = ? LIMIT 1",
      )
      .get(table.name, key, table.name, key) !== undefined
  );
}

/** A key the hub must not hand a moved row here: a row holds it, or a logged change names it. */
function existsLocally(db: SqliteDb, table: SyncTable, key: string): boolean {
  return rowHere(db, table, key) || loggedKeys(db, table.name).has(key);
}

/** Whether this node holds a row under the key (its log not consulted). */
export function rowHere(db: SqliteDb, table: SyncTable, key: string): boolean {
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
  const stored = ctx.hubReturning ? new Map<string, Row>() : undefined;
  const keys = await insertUnderNewKeys(conn, ctx, t, collisions, inc, stored);
  // The new keys checked against this node's rows and log in one go (not a lookup per key).
  const logged = loggedKeys(ctx.db, t.name);
  if (keys.some((k) => logged.has(k)) || firstKeyHeld(ctx.db, t.name, keyColumn(t), keys) !== undefined)
    throw new SequenceBehindError(t, localMax(ctx.db, t));
  return collisions.map((c, j) => ({
    ...c,
    newKey: keys[j] as string,
    moved: 'node',
    hubStored: stored?.get(keys[j] as string),
  }));
}

/** The hub part of a move, inside the caller's transaction (capture on, origin = this node). */
export async function moveOnHub(
  conn: PoolConnection,
  ctx: SyncContext,
  c: Collision,
  resolve: 'rekey-node' | 'rekey-hub',
  opts: { childrenForThisNodeToo?: boolean } = {},
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
  // The capture logs the in-place UPDATE as 'U', yet for every node that has not pulled it the row
  // under the old key is now a different, new row: this 'I' first makes it so (a node's own new
  // row under that key is then a collision, not a conflict that overwrites this one).
  await conn.query(`INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (?, ?, 'I', ?, ${MYSQL_NOW_MS})`, [
    t.name,
    encodeKey([c.oldKey]),
    ctx.nodeId,
  ]);
  if (cols.length) {
    await conn.query(`UPDATE ${q} SET ${cols.map((col) => `${quoteMysqlId(col.name)} = ?`).join(', ')} WHERE ${kc} = ?`, [
      ...cols.map((col) => nodeRow[col.name] ?? null),
      c.oldKey,
    ]);
  }
  const newKey = await insertWithNewKey(conn, ctx, t, c.hubRow);
  // A resolve run beside this node's own syncer (`rekeys resolve` next to `sync --watch`, two
  // processes on one file): the other may pull one of these children from the hub before this
  // commits and attach it, on this node, to the node's own row under the old key. Logged without
  // this node's origin, the re-pointing reaches this node's pull too (not an echo) and fixes that.
  const central = opts.childrenForThisNodeToo === true && referencingColumns(ctx.plan, t).length > 0;
  if (central) await conn.query('SET @dualdb_origin = NULL');
  for (const { child, column } of referencingColumns(ctx.plan, t)) {
    // Only the hub's own children: the node's (sent in this batch or later) point at the old key by design.
    await repointChildren(conn, child, column, c.oldKey, newKey);
  }
  if (central) await conn.query('SET @dualdb_origin = ?', [ctx.nodeId]);
  // Other nodes may hold the hub's row already, with children of their own not pushed yet: this
  // entry tells their pulls to re-point those children too (it is not a row change).
  await conn.query(`INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (?, ?, 'R', ?, ${MYSQL_NOW_MS})`, [
    t.name,
    encodeKey([c.oldKey, newKey]),
    ctx.nodeId,
  ]);
  return { ...c, newKey, moved: 'hub' };
}

/**
 * Re-points the hub's children of a moved row (`UPDATE child SET fk = new`), logged `P`, not `U`:
 * no value of a child changes but its parent's key, which every node's copy of it follows by the
 * move itself (the R entry, hub-moves.ts). Logged `U`, other nodes weighed it as a change of the
 * child: a conflict against its owner's own edit or delete, and under hub-wins an acknowledged
 * delete undone (operator trials of 2026-12-07, seeds 611 and 802). The capture triggers log the
 * update as usual (so a trigger of the application's own on the child still captures what it
 * writes); then this transaction's entries of those children are marked: with this session's
 * origin, after the log's end as it was once the children were locked (so never an earlier
 * update of the same push). An older node reads `P` as the update it was (docs/SYNC-CONTRACT.md 13).
 */
async function repointChildren(
  conn: PoolConnection,
  child: SyncTable,
  column: string,
  oldKey: string,
  newKey: string,
): Promise<void> {
  const q = quoteMysqlId(child.name);
  const col = quoteMysqlId(column);
  const [locked] = await conn.query(
    `SELECT ${mysqlKeyExpr(child.key, '_dualdb_row')} AS pk FROM ${q} AS _dualdb_row WHERE ${col} = ? FOR UPDATE`,
    [oldKey],
  );
  const keys = new Set((locked as { pk: string }[]).map((r) => String(r.pk)));
  if (keys.size === 0) return;
  // Read once the children are locked: an update of them committed by another transaction is below it.
  const [[top]] = (await conn.query('SELECT COALESCE(MAX(seq), 0) AS s FROM _dualdb_changes')) as unknown as [
    [{ s: string | number }],
  ];
  await conn.query(`UPDATE ${q} SET ${col} = ? WHERE ${col} = ?`, [newKey, oldKey]);
  // The log's tail since then (a plain read on the primary key; this transaction's own entries
  // included), then the matching entries by seq: no range of the shared log is locked.
  const [tail] = await conn.query(
    "SELECT seq, pk FROM _dualdb_changes WHERE seq > ? AND tbl = ? AND op = 'U' AND origin <=> @dualdb_origin",
    [top.s, child.name],
  );
  const seqs = (tail as { seq: string | number; pk: string }[]).filter((r) => keys.has(String(r.pk))).map((r) => r.seq);
  for (let i = 0; i < seqs.length; i += 1000)
    await conn.query("UPDATE _dualdb_changes SET op = 'P' WHERE seq IN (?)", [seqs.slice(i, i + 1000)]);
}

export function decodeMove(pk: string): { oldKey: string; newKey: string } {
  const [oldKey = '', newKey = ''] = decodeKey(pk, 2);
  return { oldKey, newKey };
}

/**
 * How many times a sync cycle or a resolve moves the hub's AUTO_INCREMENT past this node's keys and
 * tries again before it gives up (each time with more room, sequenceHeadroom).
 */
export const SEQUENCE_ATTEMPTS = 4;

/**
 * Keys of room a move of the hub's sequence leaves the application, by attempt (0-based): 100,
 * 400, 1600, 6400. Never 0: SQLite hands the application max + 1, exactly the key a move to max + 1
 * gives the hub next, so under load a move without room was overtaken before the retry could use it
 * (operator tryout of 2026-12-08: 13 failed cycles with a 25 s backoff, `rekeys resolve --all` exit 1).
 * The room is only a gap in the hub's ids; the node's own inserts fill it without colliding.
 */
export function sequenceHeadroom(attempt: number): bigint {
  return BigInt(100 * 4 ** Math.max(0, Math.min(attempt, 8)));
}

/** The hub's sequence could not be moved (busy, refused), or the application kept overtaking it. */
export class SequenceBumpError extends DualdbError {
  constructor(
    message: string,
    readonly table: string,
    /** The statement that does it by hand on the hub. */
    readonly statement: string,
    /** Whether the next cycle fixes it by itself (a busy table, keys overtaken): no backoff earned. */
    readonly fixesItself: boolean,
    options: { hint: string; cause?: unknown },
  ) {
    super('HUB_SEQUENCE_BEHIND', message, options);
  }
}

/**
 * A condition the sync fixes by itself at its next cycle (docs/SYNC-CONTRACT.md 13): the hub's
 * sequence behind this node's keys, or its move met a busy table. Not a failure of the hub: it
 * earns no backoff.
 */
export function fixesItself(e: unknown): boolean {
  return e instanceof SequenceBehindError || (e instanceof SequenceBumpError && e.fixesItself);
}

/** The hub's AUTO_INCREMENT of a table (MariaDB reads it from the engine), or undefined. */
async function hubAutoIncrement(conn: PoolConnection, table: string): Promise<bigint | undefined> {
  const [rows] = await conn.query(
    'SELECT AUTO_INCREMENT AS a FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [table],
  );
  const a = (rows as { a: string | number | null }[])[0]?.a;
  return a === null || a === undefined ? undefined : BigInt(a);
}

/** Seconds an AUTO_INCREMENT move waits for the table's metadata lock (writers queue behind it meanwhile). */
const BUMP_LOCK_WAIT_S = 3;

/**
 * Moves the hub's AUTO_INCREMENT past this node's keys (outside any transaction: DDL commits),
 * `headroom` keys further: past the keys the application takes meanwhile (SQLite hands out max + 1,
 * exactly the key a bump to max + 1 gives the hub). The node's largest key is read again here (the
 * application wrote since the error); a sequence already past it (another process moved it, or the
 * hub's writers did) is left alone: no DDL, no metadata lock. Returns the value it is at least now.
 * Bounded lock wait: the statement needs the table's metadata lock for an instant.
 */
export async function bumpHubSequence(ctx: SyncContext, e: SequenceBehindError, headroom = 0n): Promise<bigint> {
  // bigints: no Math.max
  let top = localMax(ctx.db, e.table);
  if (e.localMax > top) top = e.localMax;
  const past = top + 1n + headroom;
  const done = await ctx.hub.withConnection(async (conn) => {
    try {
      const at = await hubAutoIncrement(conn, e.table.name);
      if (at !== undefined && at >= past) return false;
      await conn.query(`SET SESSION lock_wait_timeout = ${BUMP_LOCK_WAIT_S}`);
      await conn.query(`ALTER TABLE ${quoteMysqlId(e.table.name)} AUTO_INCREMENT = ${past.toString()}`);
      return true;
    } catch (err) {
      throw sequenceBumpFailure(err, e, past);
    }
  });
  if (done)
    ctx.log.info(`moved the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys (${top}) to ${past}`, {
      event: 'rekey.sequence-bumped',
      table: e.table.name,
    });
  return past;
}

/**
 * bumpHubSequence, tried once more when the table was busy on the hub (another session's open
 * transaction on it holds the metadata lock), said in the log meanwhile: a wait is never silent.
 */
export async function moveHubSequencePast(ctx: SyncContext, e: SequenceBehindError, attempt: number): Promise<bigint> {
  try {
    return await bumpHubSequence(ctx, e, sequenceHeadroom(attempt));
  } catch (err) {
    if (!(err instanceof SequenceBumpError) || !err.fixesItself) throw err;
    ctx.log.warn(`${err.message}; trying once more`, { event: 'rekey.sequence-busy', table: e.table.name });
    return bumpHubSequence(ctx, e, sequenceHeadroom(attempt));
  }
}

/**
 * The application took every key the hub handed out, `SEQUENCE_ATTEMPTS` times, each time with more
 * room: the cause and the statement that gives the hub room by hand, in one line.
 */
export function sequenceStillBehind(e: SequenceBehindError, what: string): SequenceBumpError {
  const past = e.localMax + 10_000n;
  const statement = `ALTER TABLE ${e.table.name} AUTO_INCREMENT = ${past}`;
  return new SequenceBumpError(
    `${what}: the application took each new key the hub handed out for ${e.table.name} (the hub's AUTO_INCREMENT was moved past this node's keys ${SEQUENCE_ATTEMPTS} times and stays behind them, up to ${e.localMax})`,
    e.table.name,
    statement,
    true,
    { hint: `it is tried again; if it keeps failing, give the hub room, on the hub: ${statement};`, cause: e },
  );
}

/** Driver codes of an ALTER that waited too long or was cut off: nothing is wrong with the account. */
const BUMP_TRANSIENT = new Set(['ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_QUERY_INTERRUPTED', 'ER_QUERY_TIMEOUT']);

/**
 * What a failed AUTO_INCREMENT move is, said as what it is (operator trial 3, finding C: a killed hub
 * and a lock wait timeout were both reported as a missing ALTER privilege, with a GRANT to run):
 *  - a lost connection: returned as it is, so that the hub connection diagnoses it (hub away: the
 *    node degrades and retries);
 *  - a lock wait (another session held the table) or an interrupted statement: transient, retried;
 *  - a refused privilege: the statement to run on the hub, or the grant;
 *  - anything else: the server's words, with the statement that does it by hand.
 * `past`: the value the move was to set (the node's largest key + 1 without room).
 */
export function sequenceBumpFailure(err: unknown, e: SequenceBehindError, past = e.localMax + 1n): unknown {
  if (isConnectionError(err)) return err;
  const code = (err as { code?: string })?.code ?? '';
  const by = `ALTER TABLE ${e.table.name} AUTO_INCREMENT = ${past}`;
  const why = (err as Error)?.message ?? String(err);
  if (BUMP_TRANSIENT.has(code))
    return new SequenceBumpError(
      `could not move the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys yet: the table was busy on the hub (${why}); retried`,
      e.table.name,
      by,
      true,
      {
        hint: `nothing to do unless it persists: then look for a long transaction on ${e.table.name} on the hub, or run there: ${by}`,
        cause: err,
      },
    );
  if (PRIVILEGE_REFUSED.has(code) || code === 'ER_DBACCESS_DENIED_ERROR')
    return new SequenceBumpError(
      `cannot move the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys: the sync user may not alter the table (${why})`,
      e.table.name,
      by,
      false,
      { hint: `run on the hub: ${by}; or grant ALTER on the table to the sync user`, cause: err },
    );
  return new SequenceBumpError(
    `cannot move the hub's AUTO_INCREMENT of ${e.table.name} past this node's keys (${why})`,
    e.table.name,
    by,
    false,
    { hint: `retried; if it persists, run on the hub: ${by}`, cause: err },
  );
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
