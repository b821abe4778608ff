/**
 * The one-row push of a `both` write (issue 16, docs/PERFORMANCE.md), and of the sync loop's push
 * of a single foreign insert (the application's commit seen by the WAL watch; syncer.ts `oneRow`):
 * when the node's unpushed log is exactly one insert, the push's hub transaction is one
 * multi-statement query and a COMMIT, instead of the generic push's reads, decision and writes (push.ts).
 *
 * The query, in order: the session (origin for the capture triggers, autocommit off, READ
 * COMMITTED); the fence (invariant 17: this node's
 * row locked, token and cursor checked and moved in one UPDATE, exactly as fenceHubPush); the
 * guard — the fence moved, and nothing on the hub log under the row's key from another origin that
 * this node has not pulled (after its pull cursor or in a hole), nor a delete of a parent row the
 * row references: then there is nothing to decide (no conflict, no collision, no child attaching
 * to another row) and the generic push would send the row as it is; the insert, made only when
 * the guard is clear (`INSERT … SELECT … WHERE @dualdb_clear`: its triggers may not read the log
 * the guard reads), returning the row the hub stored with its column definitions; the hub's schema
 * fingerprint (invariant 16), read after the insert, whose metadata lock on the table holds off any
 * DDL on it until the COMMIT — or, once the table's shape was seen under the plan's stamp, nothing:
 * the insert's column definitions are compared with that shape instead (hub-shape.ts); last, the
 * hub's row moves (R entries) this node has not applied, read after the row and its parents are
 * locked (assertNoMovesMeanwhile).
 * The server stops a multi-statement query at its first failing statement.
 *
 * Anything to decide — the guard or the fence not clear, a move, drift, a statement the hub
 * refuses (a constraint, a value too long, a missing parent, a duplicate key) — rolls the
 * transaction back, with nothing written, and the caller runs the generic push, which decides,
 * parks or re-keys exactly as it always does. So do the local facts checked first: a parked,
 * held, open-collision or unsettled key or parent, a due parked retry, an oversize row, a schema
 * changed under the plan. Only a lost connection is thrown: the write stays queued, and the token
 * this push set is known to the file first (push_pending), so the next reconcile adopts a commit
 * whose reply was lost (invariant 3). A lost COMMIT reply is looked up at once, as the
 * mysql_primary write token is (commit-outcome.ts): the push token is on the hub exactly when the
 * push committed.
 */
import type Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { MYSQL_NOW_MS } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { Op } from './changeset.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { sameImage, toMysqlRow } from './convert.js';
import { hubMovesQuery } from './hub-moves.js';
import { forgetShape, rememberShape, shapeOf, verifiedShape } from './hub-shape.js';
import type { PullState } from './local-state.js';
import { MysqlTableIO, PACKET_MARGIN } from './mysql-io.js';
import { beginPush, localToken, recordPushed } from './node-fence.js';
import type { SyncTable } from './plan.js';
import { keyProblem } from './push-read.js';
import { SCHEMA_FINGERPRINT_SQL, sqliteSchemaVersion } from './schema-guard.js';
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
function readOneRow(ctx: SyncContext): { row: OneRow; parents: { parent: string; key: string }[] } | undefined {
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
    return { row: { table, key: e.pk, seq: BigInt(e.seq), at: Number(e.at), image }, parents };
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
 * The one-row push (see the top of this file): the result of the batch, or 'generic' when the
 * generic push must run (nothing was written on the hub). Throws when the hub cannot be reached.
 */
export async function pushOneRow(
  ctx: SyncContext,
  lease: () => Promise<MultiStatementLease>,
  timeout: number,
): Promise<BatchResult | 'generic'> {
  if (!ctx.hubReturning) return 'generic';
  const mine = localToken(ctx.state, ctx.nodeId);
  if (mine === undefined) return 'generic';
  const read = readOneRow(ctx);
  if (!read) return 'generic';
  const { row, parents } = read;
  const { table, key } = row;
  const io = mysqlIO.get(table) ?? new MysqlTableIO(table, ctx.hubMaxPacket - PACKET_MARGIN);
  mysqlIO.set(table, io);
  let tuple: string;
  try {
    tuple = io.tuple(toMysqlRow(table, row.image));
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
  const columns = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
  const stamp = ctx.schemaStamp?.hubFingerprint;
  const shape = verifiedShape(table, stamp);
  const sql = [
    mysql.format("SET @dualdb_origin = ?, autocommit = 0, tx_isolation = 'READ-COMMITTED'", [ctx.nodeId]),
    '', // the fence, below (its token is known once the push begins)
    `SET @dualdb_clear = (${guard})`,
    // Every column (*): one added on the hub shows in the column definitions too.
    `INSERT INTO ${quoteMysqlId(table.name)} (${columns}) SELECT ${tuple.slice(1, -1)} FROM DUAL WHERE @dualdb_clear RETURNING *`,
    shape === undefined ? SCHEMA_FINGERPRINT_SQL : 'DO 0',
    mysql.format(moves.sql, moves.params as never),
  ];
  // The token this push sets, known to the file before the hub can commit it (node-fence.ts).
  const next = beginPush(ctx);
  sql[1] = mysql.format(
    `UPDATE _dualdb_nodes SET push_token = ?, push_cursor = ?, last_seen = NOW(6)
      WHERE node_id = ? AND push_token = ? AND push_cursor = ?`,
    [next, row.seq, ctx.nodeId, mine, from],
  );

  const { conn, done } = await lease();
  let committing = false;
  let healthy = false;
  try {
    let results: unknown[];
    let fields: unknown[];
    try {
      [results, fields] = (await conn.query({ sql: sql.join(';\n'), timeout })) as unknown as [unknown[], unknown[]];
    } catch (e) {
      if (isConnectionError(e) || !(e as { code?: string }).code?.startsWith('ER_')) throw e;
      // Refused by the hub (a constraint, a missing parent, a duplicate key…): the generic push decides.
      await conn.query({ sql: 'ROLLBACK', timeout });
      healthy = true;
      return 'generic';
    }
    const stored = (results[3] as Row[])[0];
    const seen = shapeOf(fields[3]);
    let schemaSame: boolean;
    if (shape !== undefined) {
      schemaSame = seen === shape;
      if (!schemaSame) forgetShape(table);
    } else {
      const fingerprint = (results[4] as { n: string | number; h: string | number | null }[])[0];
      schemaSame = stamp !== undefined && `${fingerprint?.n ?? 0}:${fingerprint?.h ?? 0}` === stamp;
      if (schemaSame && seen !== undefined && stamp !== undefined) rememberShape(table, stamp, seen);
    }
    const unappliedMoves = (results[5] as { seq: string | number; tbl: string }[]).filter(
      (m) => ctx.plan.byName.has(m.tbl) && !stmt(ctx.db, 'SELECT 1 FROM _dualdb_hub_moves WHERE seq = ?').get(BigInt(m.seq)),
    );
    const fenced = (results[1] as { affectedRows?: number }).affectedRows === 1;
    if (!fenced || !schemaSame || stored === undefined || unappliedMoves.length > 0) {
      await conn.query({ sql: 'ROLLBACK', timeout });
      healthy = true;
      return 'generic';
    }
    // The hub kept something else (a DECIMAL's scale, its own BEFORE trigger): a central log entry,
    // so that this node pulls the hub's version back (push.ts logHubRewrites).
    const rewrite = sameImage(table, row.image, stored)
      ? ''
      : `${mysql.format(`INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (?, ?, 'U', NULL, ${MYSQL_NOW_MS})`, [table.name, key])};\n`;
    committing = true;
    await conn.query({ sql: `${rewrite}COMMIT`, timeout });
    healthy = true;
  } catch (e) {
    if (!committing || !(await committedAfterAll(ctx.hub, ctx.nodeId, next, conn.threadId))) throw e;
    // The hub committed; only its reply was lost.
  } finally {
    done(healthy);
  }
  const lastPushAt = new Date().toISOString();
  recordPushed(ctx, row.seq, next, () => ctx.state.setMeta('last_push_at', lastPushAt));
  const result = emptyBatch('push');
  result.changes = 1;
  result.applied = 1;
  moved(result, table.name).upserts = 1;
  result.lagsMs.push(Date.now() - row.at);
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
