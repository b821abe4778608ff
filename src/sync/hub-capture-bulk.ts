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
import { CANONICAL_INTEGER, mysqlKeyExpr } from '../capture/keys.js';
import { MYSQL_NOW_MS, mysqlTriggerNames } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { chunkBySize, keyChunks } from './key-chunks.js';
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
  for (const condition of conditions) {
    // The optimizer may pick the whole table for a long IN list: the primary key is the way in.
    // No parameters: mysql2 would scan the whole statement (thousands of keys) for placeholders.
    await conn.query(
      `INSERT INTO _dualdb_changes (tbl, pk, op, origin, at)
       SELECT ${mysql.escape(t.name)}, ${keyExpr}, '${op}', @dualdb_origin, ${MYSQL_NOW_MS} FROM ${quoteMysqlId(t.name)} AS ${ROW} FORCE INDEX (PRIMARY)
        WHERE ${condition}`,
    );
  }
}

/** Runs shorter than this stay in the IN list: a range per two or three keys gains nothing. */
export const MIN_KEY_RUN = 16;

/**
 * The keys of an integer-keyed table as runs of consecutive values (each integer from `lo` to `hi`
 * is one of the keys, so the range matches exactly those keys' rows) and the keys left over (short
 * runs, and any key text that is not an integer in its canonical form: those keep the IN list,
 * which compares them as the hub does). Duplicates are counted once.
 */
export function integerRuns(keys: string[]): { runs: { lo: string; hi: string }[]; rest: string[] } {
  const rest: string[] = [];
  const values: bigint[] = [];
  let sorted = true;
  for (const k of keys) {
    // An integer in its canonical form (what BigInt prints back): one BigInt per key, no text.
    if (CANONICAL_INTEGER.test(k)) {
      const v = BigInt(k);
      if (sorted && values.length > 0 && v < (values[values.length - 1] as bigint)) sorted = false;
      values.push(v);
    } else rest.push(k);
  }
  // A backlog's keys come in log order, mostly ascending already.
  if (!sorted) values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: { lo: string; hi: string }[] = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    const prev = values[i - 1] as bigint;
    const cur = values[i];
    if (cur !== undefined && (cur === prev || cur === prev + 1n)) continue;
    // values[start..i-1] is consecutive (duplicates included).
    const lo = values[start] as bigint;
    if (prev - lo + 1n >= BigInt(MIN_KEY_RUN)) runs.push({ lo: lo.toString(), hi: prev.toString() });
    else for (const v of new Set(values.slice(start, i))) rest.push(v.toString());
    start = i;
  }
  return { runs, rest };
}

/**
 * Writes row images that were locked and looked up (exists: the hub has the key), as
 * MysqlTableIO.writeStatements does, logging them set-based when there are enough of them and
 * `allowed` (bulkCaptureAllowed) — through the row triggers otherwise.
 */
export async function writeRowsCaptured(
  conn: PoolConnection,
  io: MysqlTableIO,
  maxStatementBytes: number,
  rows: RowOut[],
  allowed: boolean,
  stored?: Map<string, Row>,
): Promise<void> {
  // With `stored`, inserts return what the hub stored (RETURNING, MariaDB 10.5+), keyed into it.
  const statements = stored
    ? [
        ...io.upsertStatements(rows.filter((r) => r.exists)),
        ...io.insertStatements(
          rows.filter((r) => !r.exists),
          true,
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
  await withSetCapture(conn, io, maxStatementBytes, async () => {
    for (const st of statements) await run(st.sql);
    return [
      { op: 'U', keys: rows.filter((r) => r.exists).map((r) => r.key) },
      { op: 'I', keys: rows.filter((r) => !r.exists).map((r) => r.key) },
    ];
  });
}
