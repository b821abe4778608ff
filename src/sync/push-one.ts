/**
 * The one-row push of a `both` write (issue 16, docs/PERFORMANCE.md), and of the sync loop's push
 * of a single foreign insert (the application's commit seen by the WAL watch; syncer.ts `oneRow`):
 * when the node's unpushed log is exactly one insert, the push's hub transaction is ONE
 * multi-statement query that ends in its COMMIT (one round trip), instead of the generic push's
 * reads, decision and writes (push.ts).
 *
 * The query, in order: the session (origin for the capture triggers, autocommit off, READ
 * COMMITTED); the fence (invariant 17: this node's row locked, token and cursor checked and moved
 * in one UPDATE, exactly as fenceHubPush); the guard — the fence moved, and nothing on the hub log
 * under the row's key from another origin that this node has not pulled (after its pull cursor or
 * in a hole), nor a delete of a parent row the row references: then there is nothing to decide (no
 * conflict, no collision, no child attaching to another row) and the generic push would send the
 * row as it is; the insert, made only when the guard is clear (`INSERT … SELECT … WHERE
 * @dualdb_clear`: its triggers may not read the log the guard reads), whose metadata lock holds off
 * any DDL on the table until the COMMIT; then the stop, a statement that fails (a scalar subquery
 * of two rows) unless everything left to check holds on the server: the guard was clear; no drift
 * that could matter (invariant 16: the whole schema's fingerprint equal to the plan's stamp until
 * the table's shape was seen under that stamp; from then on the same number of visible columns —
 * the insert names every planned column, so one dropped or renamed fails the insert itself); no
 * row move (R entry) of the hub this node has not applied (assertNoMovesMeanwhile), read after the
 * row and its parents are locked; and the row stored as sent (a hub trigger, a column's type or
 * scale changed nothing). Last, the COMMIT. The server stops a multi-statement query at its first
 * failing statement, so the COMMIT runs only when every check held.
 *
 * What the server does not check is a change of definitions alone (a column widened or made
 * nullable, a key added, a type whose values compare equal): the insert's column definitions
 * (`RETURNING *`, hub-shape.ts) show it after the reply, the row stands as stored — exactly what it
 * would be had the ALTER come just after the COMMIT — and the plan is made again before the next
 * batch (docs/PERFORMANCE.md, the drift table of 2026-12-07 15:00).
 *
 * Anything to decide — the guard or the fence not clear, a move, drift, a stored row that differs,
 * a statement the hub refuses (a constraint, a value too long, a missing parent, a duplicate key)
 * — fails a statement before the COMMIT: the transaction is rolled back with nothing written, and
 * the caller runs the generic push, which decides, parks, re-keys or logs the hub's version exactly
 * as it always does. So do the local facts checked first: a parked, held, open-collision or
 * unsettled key or parent, a due parked retry, an oversize row, a schema changed under the plan.
 * Whether the COMMIT ran is never inferred from which statement failed: after a failing statement
 * the same session rolls back and reads the node's push token, which is this push's exactly when it
 * committed. A lost connection (or a timeout) is looked up as the mysql_primary write token is
 * (commit-outcome.ts): the old session killed, then a locking read of the token. When the hub
 * cannot say, the write stays queued, and the token this push set is known to the file first
 * (push_pending), so the next reconcile adopts a commit whose reply was lost (invariant 3).
 */
import type Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import type { Row } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { Op } from './changeset.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { toMysqlRow } from './convert.js';
import { hubMovesQuery } from './hub-moves.js';
import { forgetShape, rememberShape, shapeOf, verifiedShape } from './hub-shape.js';
import type { PullState } from './local-state.js';
import { MysqlTableIO, PACKET_MARGIN } from './mysql-io.js';
import { beginPush, localToken, recordPushed } from './node-fence.js';
import type { SyncTable } from './plan.js';
import { keyProblem } from './push-read.js';
import { SCHEMA_FINGERPRINT_TEXT_SQL, sqliteSchemaVersion } from './schema-guard.js';
import { SqliteTableIO } from './sqlite-io.js';

/** A connection that runs multi-statement queries (values escaped here by mysql2). */
export interface MultiStatementConnection {
  readonly threadId: number | null;
  query(options: { sql: string; timeout?: number }): Promise<[unknown, unknown]>;
}

/** A connection lent for one push; `done(false)` destroys it (its session state is unknown). */
export interface MultiStatementLease {
  conn: MultiStatementConnection;
  done(healthy: boolean): void;
}

/** The row the one-row push sends, read from SQLite. */
interface OneRow {
  table: SyncTable;
  key: string;
  seq: bigint;
  at: number;
  image: Row;
}

const statements = new WeakMap<SqliteDb, Map<string, Database.Statement<unknown[]>>>();

function stmt(db: SqliteDb, sql: string): Database.Statement<unknown[]> {
  const m = statements.get(db) ?? new Map<string, Database.Statement<unknown[]>>();
  statements.set(db, m);
  const s = m.get(sql) ?? db.prepare<unknown[]>(sql);
  m.set(sql, s);
  return s;
}

const sqliteIO = new WeakMap<SyncTable, SqliteTableIO>();
const mysqlIO = new WeakMap<SyncTable, MysqlTableIO>();

/** The single-column references of `table`'s row to synced parents (table, key text), non-null only. */
function parentKeys(ctx: SyncContext, table: SyncTable, image: Row): { parent: string; key: string }[] | undefined {
  const out: { parent: string; key: string }[] = [];
  for (const fk of table.unsyncedRefs ?? []) {
    const col = fk.columns[0];
    // A reference to a table not synced now (paused): the generic push decides whether it waits.
    if (col && image[col] !== null && image[col] !== undefined) return undefined;
  }
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    if (fk.columns.length !== 1 || !col || !ctx.plan.byName.has(fk.parent)) continue;
    const v = image[col];
    if (v !== null && v !== undefined) out.push({ parent: fk.parent, key: String(v) });
  }
  return out;
}

/**
 * The one row to push when the local facts leave nothing to decide, read in one SQLite snapshot;
 * undefined when the generic push must run.
 */
function readOneRow(
  ctx: SyncContext,
): { row: OneRow; parents: { parent: string; key: string }[]; appliedMoves: bigint[] } | undefined {
  const { db, state } = ctx;
  return db.transaction(() => {
    if (!ctx.schemaStamp || sqliteSchemaVersion(db) !== ctx.schemaStamp.sqliteVersion) return undefined;
    const entries = stmt(db, 'SELECT seq, tbl, pk, op, at FROM _dualdb_changes WHERE seq > ? ORDER BY seq LIMIT 2').all(
      state.pushedUpto(),
    ) as { seq: bigint; tbl: string; pk: string | null; op: Op; at: number }[];
    const [e] = entries;
    if (entries.length !== 1 || !e || e.op !== 'I' || e.pk === null) return undefined;
    const table = ctx.plan.byName.get(e.tbl);
    if (!table || table.meta || keyProblem(table, e.pk)) return undefined;
    const io = sqliteIO.get(table) ?? new SqliteTableIO(db, table);
    sqliteIO.set(table, io);
    const image = io.fetch([e.pk]).get(e.pk);
    if (!image) return undefined;
    const parents = parentKeys(ctx, table, image);
    if (!parents) return undefined;
    // Parked changes: a retry due now rides with the generic push; a parked key (either way) or
    // parked parent has its own rules there (parent-waits.ts). Held (a manual conflict or collision),
    // a collision a pull left open, or an unsettled copy of a hub move: the same. Each look-up on
    // its own index, so that the check costs the same however many are parked or recorded.
    const keyed = [{ tbl: e.tbl, pk: e.pk }, ...parents.map((p) => ({ tbl: p.parent, pk: p.key }))];
    const checks = [
      "SELECT 1 FROM _dualdb_parked WHERE direction = 'push' AND next_retry_ms <= ?",
      ...keyed.map(() => "SELECT 1 FROM _dualdb_parked WHERE direction IN ('push', 'pull') AND tbl = ? AND pk = ?"),
      ...keyed.map(() => "SELECT 1 FROM _dualdb_rekeys WHERE tbl = ? AND old_key = ? AND status IN ('held', 'pending')"),
      "SELECT 1 FROM _dualdb_conflicts WHERE status = 'open' AND tbl = ? AND pk = ?",
      'SELECT 1 FROM _dualdb_hub_moves WHERE local_key IS NOT NULL',
    ];
    const pairs = keyed.flatMap((k) => [k.tbl, k.pk]);
    const busy = stmt(db, `${checks.join(' UNION ALL ')} LIMIT 1`).get(Date.now(), ...pairs, ...pairs, e.tbl, e.pk);
    if (busy) return undefined;
    // The hub moves applied here already (kept until the pull passes them): the query leaves them out.
    const appliedMoves = (stmt(db, 'SELECT seq FROM _dualdb_hub_moves').all() as { seq: bigint }[]).map((m) => BigInt(m.seq));
    return { row: { table, key: e.pk, seq: BigInt(e.seq), at: Number(e.at), image }, parents, appliedMoves };
  })();
}

/** The SQL condition "a hub log entry of `tbl`/`pk` from another origin this node has not pulled". */
function unseenCondition(ctx: SyncContext, pull: PullState, tbl: string, pk: string, onlyDeletes: boolean): string {
  const holes = [...pull.holes.keys()];
  return mysql.format(
    `EXISTS (SELECT 1 FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key) WHERE tbl = ? AND pk = ?${onlyDeletes ? " AND op = 'D'" : ''}
      AND (origin IS NULL OR origin <> ?) AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''}))`,
    holes.length ? [tbl, pk, ctx.nodeId, pull.upto, holes] : [tbl, pk, ctx.nodeId, pull.upto],
  );
}

/**
 * The SQL condition "the row stored under the key is, column by column, what was sent": numbers and
 * times compared as values (`1.50` is `1.5`, as sameImage compares them; a DECIMAL rounded, a
 * DATETIME cut to fewer digits, a FLOAT column are not), everything else as bytes (a hub trigger that
 * changed the case or the spaces of a text is seen). Not the same, the generic push sends the row and
 * logs the hub's version for this node to pull back (push.ts logHubRewrites).
 */
function storedAsSent(table: SyncTable, sent: Row): string {
  const same = table.columns.map((c) => {
    const v = sent[c.name] ?? null;
    const col = `${quoteMysqlId(table.name)}.${quoteMysqlId(c.name)}`;
    const byValue = NUMBERS.has(c.type)
      ? typeof v === 'number' || typeof v === 'bigint'
      : TIMES.has(c.type) && typeof v === 'string';
    return byValue ? `${col} <=> ${mysql.escape(v)}` : `CAST(${col} AS BINARY) <=> CAST(${mysql.escape(v)} AS BINARY)`;
  });
  const key = table.key.map((k) => `${quoteMysqlId(k.name)} = ${mysql.escape(sent[k.name] ?? null)}`);
  return `EXISTS (SELECT 1 FROM ${quoteMysqlId(table.name)} WHERE ${[...key, ...same].join(' AND ')})`;
}

/**
 * The SQL condition "the hub table has as many visible columns as the plan's": a UNION of its
 * columns (none of its rows) with one row of as many NULLs fails (ER_WRONG_NUMBER_OF_COLUMNS_IN_SELECT)
 * when they differ, which stops the query as the stop does. A column added on the hub is seen here.
 */
function sameColumnCount(table: SyncTable): string {
  const nulls = table.columns.map(() => 'NULL').join(', ');
  return `(SELECT COUNT(*) FROM (SELECT * FROM ${quoteMysqlId(table.name)} WHERE 0 UNION ALL SELECT ${nulls}) AS dualdb_n) = 1`;
}

/** Room for the fence statement, filled in once the push's token is known (below). */
const FENCE_BYTES = 512;

/** Whether the hub's node table has its fence column (a hub from before fencing has not, yet). */
async function hasPushToken(conn: MultiStatementLease['conn'], timeout: number): Promise<boolean> {
  const [rows] = (await conn.query({
    sql: "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_nodes' AND COLUMN_NAME = 'push_token'",
    timeout,
  })) as unknown as [unknown[]];
  return rows.length > 0;
}

const NUMBERS = new Set(['integer', 'decimal', 'double']);
const TIMES = new Set(['datetime', 'date', 'time']);

/**
 * A statement that fails (ER_SUBQUERY_NO_1_ROW: the subquery returns two rows) unless `condition`
 * is true: the server stops the multi-statement query there, before its COMMIT. NULL stops it too.
 */
function stopUnless(condition: string): string {
  return `SET @dualdb_go = (SELECT 1 UNION ALL SELECT 2 FROM DUAL WHERE (${condition}) IS NOT TRUE)`;
}

/**
 * The one-row push (see the top of this file): the result of the batch, or 'generic' when the
 * generic push must run (nothing was written on the hub). Throws when the hub cannot be reached
 * and cannot say whether the push committed.
 */
export async function pushOneRow(
  ctx: SyncContext,
  lease: () => Promise<MultiStatementLease>,
  timeout: number,
): Promise<BatchResult | 'generic'> {
  if (!ctx.hubReturning) return 'generic';
  const mine = localToken(ctx.state, ctx.nodeId);
  if (mine === undefined) return 'generic';
  const stamp = ctx.schemaStamp?.hubFingerprint;
  if (stamp === undefined) return 'generic';
  const read = readOneRow(ctx);
  if (!read) return 'generic';
  const { row, parents, appliedMoves } = read;
  const { table, key } = row;
  const io = mysqlIO.get(table) ?? new MysqlTableIO(table, ctx.hubMaxPacket - PACKET_MARGIN);
  mysqlIO.set(table, io);
  let tuple: string;
  let sent: Row;
  try {
    sent = toMysqlRow(table, row.image);
    tuple = io.tuple(sent);
  } catch {
    return 'generic'; // a value MySQL cannot take: parked by the generic push
  }
  if (Buffer.byteLength(tuple) > io.rowLimit) return 'generic'; // oversize: parked with its size there
  const from = ctx.state.pushedUpto();
  const pull = ctx.state.pullState();
  const guard = [
    'ROW_COUNT() = 1',
    `NOT ${unseenCondition(ctx, pull, table.name, key, false)}`,
    ...parents.map((p) => `NOT ${unseenCondition(ctx, pull, p.parent, p.key, true)}`),
  ].join(' AND ');
  const moves = hubMovesQuery(ctx, pull);
  const unappliedMoves = mysql.format(`EXISTS (${moves.sql} AND tbl IN (?)${appliedMoves.length ? ' AND seq NOT IN (?)' : ''})`, [
    ...moves.params,
    [...ctx.plan.byName.keys()],
    ...(appliedMoves.length ? [appliedMoves] : []),
  ] as never);
  const columns = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
  const shape = verifiedShape(table, stamp);
  const decided = [
    '@dualdb_clear',
    // Drift (invariant 16): the whole schema as planned, until this table's shape was seen under the
    // stamp; from then on the column count here (the insert names every planned column, so one
    // dropped or renamed fails it), the stored row below, and the insert's column definitions after
    // the reply (hub-shape.ts).
    shape === undefined ? `(${SCHEMA_FINGERPRINT_TEXT_SQL}) = ${mysql.escape(stamp)}` : sameColumnCount(table),
    `NOT ${unappliedMoves}`,
    storedAsSent(table, sent),
  ].join(' AND ');
  const sql = [
    mysql.format("SET @dualdb_origin = ?, autocommit = 0, tx_isolation = 'READ-COMMITTED'", [ctx.nodeId]),
    '', // the fence, below (its token is known once the push begins)
    `SET @dualdb_clear = (${guard})`,
    // Every column (*): the column definitions show every visible column of the table.
    `INSERT INTO ${quoteMysqlId(table.name)} (${columns}) SELECT ${tuple.slice(1, -1)} FROM DUAL WHERE @dualdb_clear RETURNING *`,
    stopUnless(decided),
    'COMMIT',
  ];
  // The query carries the row twice (the insert and the stored-as-sent check): a row the packet
  // cannot hold so goes to the generic push, which sends it once or parks it with its size there
  // (invariant 16; the server drops the connection on a query over max_allowed_packet).
  if (Buffer.byteLength(sql.join(';\n')) + FENCE_BYTES > io.rowLimit) return 'generic';
  // The token this push sets, known to the file before the hub can commit it (node-fence.ts).
  const next = beginPush(ctx);
  sql[1] = mysql.format(
    `UPDATE _dualdb_nodes SET push_token = ?, push_cursor = ?, last_seen = NOW(6)
      WHERE node_id = ? AND push_token = ? AND push_cursor = ?`,
    [next, row.seq, ctx.nodeId, mine, from],
  );

  const { conn, done } = await lease();
  let healthy = false;
  let fields: unknown[] | undefined;
  try {
    [, fields] = (await conn.query({ sql: sql.join(';\n'), timeout })) as unknown as [unknown[], unknown[]];
    healthy = true;
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('ER_') && !isConnectionError(e)) {
      // A statement failed and the server ran none after it — the stop when anything is to be
      // decided, or a row the hub refuses. Whether the COMMIT ran is not inferred from which one
      // failed: the transaction is rolled back and the node's row read on the same session.
      await conn.query({ sql: 'ROLLBACK', timeout });
      // A hub from before fencing has no token column yet: the fence, before the COMMIT, failed on
      // it, so nothing committed; the generic push adds the column (node-fence.ts).
      if (code === 'ER_BAD_FIELD_ERROR' && !(await hasPushToken(conn, timeout))) {
        healthy = true;
        return 'generic';
      }
      const [after] = (await conn.query({
        sql: mysql.format('SELECT push_token FROM _dualdb_nodes WHERE node_id = ?', [ctx.nodeId]),
        timeout,
      })) as unknown as [unknown[]];
      healthy = true;
      const token = (after as { push_token: string | null }[])[0]?.push_token;
      if (token !== next) return 'generic';
    } else if (!(await committedAfterAll(ctx.hub, ctx.nodeId, next, conn.threadId))) throw e;
    // The hub committed; only its reply was lost.
  } finally {
    done(healthy);
  }
  // The shape the committed insert saw. Under the first push of a stamp the fingerprint in the stop
  // held: remembered. After that, a difference is a hub ALTER that the checks in the query showed
  // to have changed no value sent (a column widened or made nullable, a key added): the row stands,
  // as it would have had the ALTER come a moment later, and the plan is made again before the next
  // batch. A reply lost after the COMMIT shows no definitions: the plan is made again too.
  const seen = shapeOf(fields?.[3]);
  let hubShapeChanged = false;
  if (shape === undefined) {
    if (seen !== undefined) rememberShape(table, stamp, seen);
  } else if (seen !== shape) {
    forgetShape(table);
    hubShapeChanged = true;
  }
  const lastPushAt = new Date().toISOString();
  recordPushed(ctx, row.seq, next, () => ctx.state.setMeta('last_push_at', lastPushAt));
  const result = emptyBatch('push');
  result.changes = 1;
  result.applied = 1;
  moved(result, table.name).upserts = 1;
  result.lagsMs.push(Date.now() - row.at);
  if (hubShapeChanged) result.hubShapeChanged = true;
  return result;
}

/**
 * After a COMMIT whose reply was lost: whether the push committed. The old session is ended (it
 * may still run), then the node's row is read with a locking read, which waits for that session's
 * transaction to finish: the push's token is there exactly when it committed. False when it did
 * not, or when the hub cannot say now (the next reconcile adopts the token if it is there).
 */
async function committedAfterAll(hub: MysqlHub, nodeId: string, token: string, threadId: number | null): Promise<boolean> {
  try {
    return await hub.withConnection(async (c) => {
      if (threadId !== null) await c.query('KILL CONNECTION ?', [threadId]).catch(() => {});
      const [rows] = await c.query('SELECT push_token FROM _dualdb_nodes WHERE node_id = ? LOCK IN SHARE MODE', [nodeId]);
      await c.query('COMMIT');
      return (rows as { push_token: string | null }[])[0]?.push_token === token;
    });
  } catch {
    return false;
  }
}
