/**
 * Set-based capture of a push's bulk writes on the hub. The capture triggers log each row with
 * its own INSERT into `_dualdb_changes` (about half of a bulk insert's time on the hub:
 * docs/PERFORMANCE.md). When a push writes many rows of one table, the triggers are switched off
 * for those statements only (`@dualdb_capture_off`, the session variable repair and migration
 * use) and the same log rows — same table name, the same key text (the triggers' expression),
 * op, origin and time expression — are written by one INSERT … SELECT per chunk of keys, in the
 * same transaction (and savepoint), so they commit or vanish with the rows.
 *
 * Only where the triggers would log nothing else: a table with any other trigger on the hub
 * (which might write to synced tables that must still capture) keeps the row triggers.
 */

import mysql from 'mysql2/promise';
import { mysqlKeyExpr } from '../capture/keys.js';
import { MYSQL_NOW_MS, mysqlTriggerNames } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { chunkBySize, integerRuns, keyChunks, MIN_KEY_RUN } from './key-chunks.js';
import type { MysqlTableIO, RowOut as RowImage } from './mysql-io.js';
import type { SyncTable } from './plan.js';

type RowOut = RowImage & { key: string; exists: boolean };

/** Below this many rows of a table in one statement group the row triggers are as cheap. */
export const BULK_CAPTURE_MIN_ROWS = 50;

type Op = 'I' | 'U';
const ROW = '_dualdb_row';

/** Whether only dualdb's own triggers are on this hub table (then set-based capture is equivalent). */
export async function bulkCaptureAllowed(conn: PoolConnection, table: SyncTable): Promise<boolean> {
  const [rows] = await conn.query(
    'SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?',
    [table.name],
  );
  const ours = new Set(mysqlTriggerNames(table.name));
  const names = (rows as { n: string }[]).map((r) => r.n);
  // All three of ours present and nothing else: the log rows written here are exactly the triggers'.
  return names.length === ours.size && names.every((n) => ours.has(n));
}

/**
 * Runs `write` with the row triggers off on this connection, then logs the keys it reports
 * (inserted: op 'I', updated in place: op 'U') with one INSERT … SELECT per chunk. Capture is
 * switched back on whatever happens; an error leaves the caller's savepoint to undo both.
 */
export async function withSetCapture(
  conn: PoolConnection,
  io: MysqlTableIO,
  maxStatementBytes: number,
  write: () => Promise<{ op: Op; keys: string[] }[]>,
): Promise<void> {
  let groups: { op: Op; keys: string[] }[];
  await conn.query('SET @dualdb_capture_off = 1');
  try {
    groups = await write();
  } finally {
    await conn.query('SET @dualdb_capture_off = NULL');
  }
  for (const g of groups) await logKeys(conn, io, maxStatementBytes, g.op, g.keys);
}

/** The change-log rows the AFTER INSERT/UPDATE triggers would have written for these keys. */
async function logKeys(conn: PoolConnection, io: MysqlTableIO, maxStatementBytes: number, op: Op, keys: string[]): Promise<void> {
  for (const sql of logStatements(io, maxStatementBytes, op, keys)) await conn.query(sql);
}

/** The statements of logKeys, in order. */
function logStatements(io: MysqlTableIO, maxStatementBytes: number, op: Op, keys: string[]): string[] {
  if (keys.length === 0) return [];
  const t = io.table;
  // The triggers' own key expression, over the table's row instead of the trigger's NEW.
  const keyExpr = mysqlKeyExpr(t.key, ROW);
  const column = t.key.length === 1 && t.key[0]?.type === 'integer' ? quoteMysqlId(t.key[0].name) : undefined;
  const { runs, rest } = column ? integerRuns(keys) : { runs: [], rest: keys };
  const conditions = [
    // Runs of consecutive integer keys (a backlog of new rows): a range each, read along the primary
    // key, instead of a point lookup per key (about 40 % less of the log's cost: docs/PERFORMANCE.md).
    ...chunkBySize(runs, (r) => r.lo.length + r.hi.length + 100, maxStatementBytes - 4096, 10_000).map((chunk) =>
      chunk.map((r) => `${ROW}.${column} BETWEEN ${r.lo} AND ${r.hi}`).join(' OR '),
    ),
    ...keyChunks(rest, maxStatementBytes).map((chunk) => io.keyCondition(chunk)),
  ];
  // The optimizer may pick the whole table for a long IN list: the primary key is the way in.
  // No parameters: mysql2 would scan the whole statement (thousands of keys) for placeholders.
  return conditions.map(
    (condition) => `INSERT INTO _dualdb_changes (tbl, pk, op, origin, at)
       SELECT ${mysql.escape(t.name)}, ${keyExpr}, '${op}', @dualdb_origin, ${MYSQL_NOW_MS} FROM ${quoteMysqlId(t.name)} AS ${ROW} FORCE INDEX (PRIMARY)
        WHERE ${condition}`,
  );
}

// integerRuns moved to key-chunks.ts (the push's locked lookups use it too): re-exported for its tests.
export { integerRuns, MIN_KEY_RUN };

/**
 * Writes row images that were locked and looked up (exists: the hub has the key), as
 * MysqlTableIO.writeStatements does, logging them set-based when there are enough of them and
 * `allowed` (bulkCaptureAllowed) — through the row triggers otherwise.
 *
 * `whileHubLogs` runs (synchronously) once the first set-based log statement is on its way: a few
 * hundred bytes the hub then works on for a while (~9 µs a row here) with nothing to send back, so
 * the node is free meanwhile (the push reads its next batch from SQLite then: push.ts
 * `PushReadAhead`). mysql2 sends a connection's next statement only after the answer to the one
 * before, so this is the one place in the batch where node work and hub work overlap: during a
 * row INSERT the statement's own megabytes may still be on their way, and its RETURNING rows
 * come back while it runs.
 */
export async function writeRowsCaptured(
  conn: PoolConnection,
  io: MysqlTableIO,
  maxStatementBytes: number,
  rows: RowOut[],
  allowed: boolean,
  stored?: Map<string, Row>,
  whileHubLogs?: () => void,
  /** The columns to return (hub-exact.ts `readBackColumns`: the key and those the hub may rewrite); all by default. */
  readBack?: readonly { name: string }[],
): Promise<void> {
  // With `stored`, inserts return what the hub stored (RETURNING, MariaDB 10.5+), keyed into it.
  const statements = stored
    ? [
        ...io.upsertStatements(rows.filter((r) => r.exists)),
        ...io.insertStatements(
          rows.filter((r) => !r.exists),
          readBack ?? true,
        ),
      ]
    : io.writeStatements(rows);
  const run = async (sql: string) => {
    const [res] = await conn.query(sql);
    if (stored && Array.isArray(res)) for (const row of res as Row[]) stored.set(io.keyOf(row), row);
  };
  if (!allowed || rows.length < BULK_CAPTURE_MIN_ROWS) {
    for (const st of statements) await run(st.sql);
    return;
  }
  await conn.query('SET @dualdb_capture_off = 1');
  try {
    for (const st of statements) await run(st.sql);
  } finally {
    await conn.query('SET @dualdb_capture_off = NULL');
  }
  const log = [
    ...logStatements(
      io,
      maxStatementBytes,
      'U',
      rows.filter((r) => r.exists).map((r) => r.key),
    ),
    ...logStatements(
      io,
      maxStatementBytes,
      'I',
      rows.filter((r) => !r.exists).map((r) => r.key),
    ),
  ];
  for (const [i, sql] of log.entries()) {
    const sent = conn.query(sql);
    if (i === 0 && whileHubLogs) {
      try {
        whileHubLogs();
      } catch {
        // The hook's own failure is its own (the read-ahead reads again in its turn); the log goes on.
      }
    }
    await sent;
  }
}
