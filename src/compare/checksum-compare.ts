/**
 * Compare of one table by fingerprints computed inside each engine: the table
 * is cut into key ranges, each range is summed up on both sides at once (row
 * count and the MD5 of its rows' texts, engine-hash.ts) and no row leaves
 * either database while the sums agree. A range whose sums differ is cut again
 * (sixteen parts, on the keys of the side holding more rows) until it is small,
 * and only then are its rows read and compared by the codec, as the streaming
 * compare does; the keys found there go through the same recheck.
 *
 * Ranges are `(lo, hi]` in the shared key order, so this path is taken only
 * where both engines sort keys by value or by byte (integer keys; text and
 * binary keys in a binary collation on both sides); other tables are streamed.
 * Ranges are sized by time (about a quarter of a second each) unless the
 * caller fixed a number of rows per chunk.
 */
import { hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncTable } from '../sync/plan.js';
import type { ChunkPair } from './chunks.js';
import { registerSqliteRender, rowExpressions } from './engine-hash.js';
import { type HubColumnFacts, readHubColumnFacts } from './hub-column-facts.js';
import type { KeyShape } from './key-order.js';
import { rowKeyValues } from './key-order.js';
import { type MysqlKeyOrder, mysqlKeyBound } from './mysql-reader.js';
import { canonicalTuple } from './row-hash.js';
import { sqliteKeyInByteOrder } from './sqlite-reader.js';

/** `(lo, hi]`; null: unbounded on that side. */
export interface KeyRange {
  lo: unknown[] | null;
  hi: unknown[] | null;
}

export interface RangeSum {
  rows: number;
  /** MD5 of the rows' texts in key order (null: no rows). */
  digest: string | null;
}

/**
 * A key range of a scan given by the caller, with its SQLite sum when the caller already
 * made it from the rows it read (the migration's copy: src/migrate/copy-digest.ts). Ranges
 * are in key order, the first open below and the last open above. Such a sum counts only
 * while SQLite still holds as many rows in the range: otherwise the range is summed again.
 */
export interface KnownRange {
  range: KeyRange;
  sqlite?: RangeSum;
}

/** Rows at or below which a differing range is read and compared row by row. */
export const LEAF_ROWS = 1_000;
/** Parts a differing range is cut into. */
const FANOUT = 16;
/** Time aimed at for one chunk when the caller did not fix its size. */
export const CHUNK_TARGET_MS = 250;
const MIN_CHUNK_ROWS = 1_000;
const MAX_CHUNK_ROWS = 100_000;

/** Whether the table can be compared by in-engine fingerprints (key ranges mean the same rows on both sides). */
export function canCompareByChecksum(db: SqliteDb, table: SyncTable, order: MysqlKeyOrder): boolean {
  return (
    order.byteOrdered &&
    table.key.every((k) => k.type === 'integer' || k.type === 'text' || k.type === 'blob') &&
    sqliteKeyInByteOrder(db, table)
  );
}

/** Next chunk size: scaled toward the target time, by at most 4× either way. */
export function nextChunkRows(rows: number, elapsedMs: number): number {
  const scaled = elapsedMs > 0 ? (rows * CHUNK_TARGET_MS) / elapsedMs : rows * 4;
  const bounded = Math.min(rows * 4, Math.max(rows / 4, scaled));
  return Math.round(Math.min(MAX_CHUNK_ROWS, Math.max(MIN_CHUNK_ROWS, bounded)));
}

function integerKeys(table: SyncTable, values: readonly unknown[]): unknown[] {
  return values.map((v, i) =>
    table.key[i]?.type === 'integer' && (typeof v === 'string' || typeof v === 'number') ? BigInt(v) : v,
  );
}

function digestOf(text: string | null): string | null {
  return text === null ? null : hash('md5', text, 'hex');
}

/** The SQLite side: statements prepared once per range shape. */
export class SqliteSide {
  private readonly cache = new Map<string, Database.Statement<unknown[]>>();
  private readonly t: string;
  private readonly keys: string;
  private readonly cols: string;
  private readonly row: string;

  constructor(
    private readonly db: SqliteDb,
    private readonly table: SyncTable,
  ) {
    registerSqliteRender(db);
    this.t = quoteSqliteId(table.name);
    this.keys = table.key.map((k) => quoteSqliteId(k.name)).join(', ');
    this.cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
    this.row = rowExpressions(table.columns).sqlite;
  }

  private where(range: KeyRange): string {
    const tuple = this.table.key.length === 1 ? this.keys : `(${this.keys})`;
    const marks = this.table.key.length === 1 ? '?' : `(${this.table.key.map(() => '?').join(', ')})`;
    const parts = [range.lo ? `${tuple} > ${marks}` : '', range.hi ? `${tuple} <= ${marks}` : ''].filter(Boolean);
    return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
  }

  private params(range: KeyRange): unknown[] {
    return [...(range.lo ? integerKeys(this.table, range.lo) : []), ...(range.hi ? integerKeys(this.table, range.hi) : [])];
  }

  private stmt(kind: string, range: KeyRange, build: (where: string) => string): Database.Statement<unknown[]> {
    const id = `${kind}:${range.lo ? 1 : 0}${range.hi ? 1 : 0}`;
    let s = this.cache.get(id);
    if (!s) {
      s = this.db.prepare<unknown[]>(build(this.where(range))).raw(true);
      this.cache.set(id, s);
    }
    return s;
  }

  sum(range: KeyRange): RangeSum {
    const s = this.stmt(
      'sum',
      range,
      (w) => `SELECT count(*), group_concat(r, '') FROM (SELECT ${this.row} AS r FROM ${this.t}${w} ORDER BY ${this.keys})`,
    );
    const [n, text] = s.get(...this.params(range)) as [bigint | number, string | null];
    return { rows: Number(n), digest: digestOf(text) };
  }

  /** The key `offset` rows past `lo` (0: the first after it), or null when there are not that many. */
  keyAfter(lo: unknown[] | null, offset: number): unknown[] | null {
    const range = { lo, hi: null };
    const s = this.stmt('key', range, (w) => `SELECT ${this.keys} FROM ${this.t}${w} ORDER BY ${this.keys} LIMIT 1 OFFSET ?`);
    return (s.get(...this.params(range), offset) as unknown[] | undefined) ?? null;
  }

  /** Every `step`-th key in the range. */
  splitKeys(range: KeyRange, step: number): unknown[][] {
    const s = this.stmt(
      'split',
      range,
      (w) =>
        `SELECT ${this.keys} FROM (SELECT ${this.keys}, row_number() OVER (ORDER BY ${this.keys}) AS _dualdb_rn FROM ${this.t}${w}) WHERE _dualdb_rn % ? = 0`,
    );
    return s.all(...this.params(range), step) as unknown[][];
  }

  rows(range: KeyRange): unknown[][] {
    const s = this.stmt('rows', range, (w) => `SELECT ${this.cols} FROM ${this.t}${w} ORDER BY ${this.keys}`);
    return s.all(...this.params(range)) as unknown[][];
  }

  count(range: KeyRange): number {
    const s = this.stmt('count', range, (w) => `SELECT count(*) FROM ${this.t}${w}`);
    return Number((s.get(...this.params(range)) as [bigint | number])[0]);
  }
}

/** The MySQL side, on the compare's pinned connection. */
export class MysqlSide {
  private readonly t: string;
  private readonly keys: string[];
  private readonly cols: string;
  private readonly row: string;

  /** `hubFacts`: the hub's column definitions (readHubColumnFacts), for a cheaper row text; without them, the generic one. */
  constructor(
    private readonly conn: PoolConnection,
    private readonly table: SyncTable,
    hubFacts?: HubColumnFacts,
  ) {
    this.t = quoteMysqlId(table.name);
    this.keys = table.key.map((k) => quoteMysqlId(k.name));
    this.cols = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
    this.row = rowExpressions(table.columns, hubFacts).mysql;
  }

  private where(range: KeyRange): { sql: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    for (const [values, lower] of [
      [range.lo, true],
      [range.hi, false],
    ] as const) {
      if (!values) continue;
      const b = mysqlKeyBound(this.keys, lower);
      const bound = integerKeys(this.table, values);
      parts.push(`(${b.sql})`);
      params.push(...b.params.map((i) => bound[i]));
    }
    return { sql: parts.length ? ` WHERE ${parts.join(' AND ')}` : '', params };
  }

  private async all(sql: string, params: unknown[]): Promise<unknown[][]> {
    const [rows] = (await this.conn.query({ sql, rowsAsArray: true }, params)) as unknown as [unknown[][]];
    return rows;
  }

  async sum(range: KeyRange): Promise<RangeSum> {
    const w = this.where(range);
    // FORCE INDEX (PRIMARY): rows are concatenated in the order they are read, which is then key order.
    const [row] = await this.all(
      `SELECT COUNT(*), MD5(GROUP_CONCAT(${this.row} SEPARATOR '')) FROM ${this.t} FORCE INDEX (PRIMARY)${w.sql}`,
      w.params,
    );
    return { rows: Number(row?.[0] ?? 0), digest: (row?.[1] as string | null) ?? null };
  }

  async splitKeys(range: KeyRange, step: number): Promise<unknown[][]> {
    const w = this.where(range);
    const keys = this.keys.join(', ');
    return this.all(
      `SELECT ${keys} FROM (SELECT ${keys}, ROW_NUMBER() OVER (ORDER BY ${keys}) AS _dualdb_rn FROM ${this.t}${w.sql}) AS s WHERE _dualdb_rn % ? = 0`,
      [...w.params, step],
    );
  }

  async rows(range: KeyRange): Promise<unknown[][]> {
    const w = this.where(range);
    return this.all(`SELECT ${this.cols} FROM ${this.t}${w.sql} ORDER BY ${this.keys.join(', ')}`, w.params);
  }
}

export interface ChecksumScanOptions {
  /** Rows per chunk; undefined: sized by time. */
  chunkRows: number | undefined;
  /** Rows per chunk to start with when sized by time. */
  initialRows: number;
  signal?: AbortSignal;
  cancelled: () => Error;
  /** A top-level chunk was summed on both sides. */
  onChunk: (sums: { sqlite: RangeSum; mysql: RangeSum }, matched: boolean) => void;
  /** The rows of a small differing range, as a chunk pair of canonical forms. */
  onDiffering: (pair: ChunkPair) => Promise<void>;
  /** The ranges to scan, some already summed on the SQLite side; undefined: cut by the scan. */
  known?: readonly KnownRange[];
}

/** Sums of one range on both sides at once: the hub works on its query while SQLite computes. */
async function sumBoth(s: SqliteSide, m: MysqlSide, range: KeyRange): Promise<{ sqlite: RangeSum; mysql: RangeSum }> {
  const pending = m.sum(range);
  let sqlite: RangeSum;
  try {
    sqlite = s.sum(range);
  } catch (e) {
    await pending.catch(() => {});
    throw e;
  }
  return { sqlite, mysql: await pending };
}

/**
 * The hub's sum of a range the caller already summed on the SQLite side: SQLite only counts
 * its rows meanwhile, and sums them itself when that count is not the caller's (rows written
 * since, or rows the caller never read).
 */
async function sumKnown(s: SqliteSide, m: MysqlSide, known: KnownRange): Promise<{ sqlite: RangeSum; mysql: RangeSum }> {
  if (!known.sqlite) return sumBoth(s, m, known.range);
  const pending = m.sum(known.range);
  let sqlite: RangeSum;
  try {
    sqlite = s.count(known.range) === known.sqlite.rows ? known.sqlite : s.sum(known.range);
  } catch (e) {
    await pending.catch(() => {});
    throw e;
  }
  return { sqlite, mysql: await pending };
}

const same = (a: RangeSum, b: RangeSum) => a.rows === b.rows && a.digest === b.digest;

/** Scans a table by in-engine sums; the caller turns differing ranges' rows into differences. */
export async function scanByChecksums(
  db: SqliteDb,
  conn: PoolConnection,
  table: SyncTable,
  shape: KeyShape,
  options: ChecksumScanOptions,
): Promise<void> {
  const s = new SqliteSide(db, table);
  const m = new MysqlSide(conn, table, await readHubColumnFacts(conn, table.name));
  const types = table.columns.map((c) => c.type);
  const side = (rows: unknown[][]) => ({
    keys: rows.map((r) => rowKeyValues(r, shape)),
    canon: rows.map((r) => canonicalTuple(r, types)),
  });

  const drill = async (range: KeyRange, sums: { sqlite: RangeSum; mysql: RangeSum }): Promise<void> => {
    if (options.signal?.aborted) throw options.cancelled();
    const larger = Math.max(sums.sqlite.rows, sums.mysql.rows);
    if (larger <= LEAF_ROWS) {
      const [mysqlRows, sqliteRows] = [m.rows(range), s.rows(range)];
      await options.onDiffering({ index: 0, sqlite: side(sqliteRows), mysql: side(await mysqlRows) });
      return;
    }
    const step = Math.ceil(larger / FANOUT);
    const splits = sums.sqlite.rows >= sums.mysql.rows ? s.splitKeys(range, step) : await m.splitKeys(range, step);
    let lo = range.lo;
    for (const hi of [...splits, range.hi]) {
      const part = { lo, hi };
      const partSums = await sumBoth(s, m, part);
      if (!same(partSums.sqlite, partSums.mysql)) await drill(part, partSums);
      lo = hi;
      if (hi === null) break;
    }
  };

  const check = async (range: KeyRange, sums: { sqlite: RangeSum; mysql: RangeSum }): Promise<void> => {
    const matched = same(sums.sqlite, sums.mysql);
    if (!matched) await drill(range, sums);
    options.onChunk(sums, matched);
  };

  if (options.known) {
    for (const k of options.known) {
      if (options.signal?.aborted) throw options.cancelled();
      await check(k.range, await sumKnown(s, m, k));
    }
    return;
  }

  let rows = options.chunkRows ?? options.initialRows;
  let lo: unknown[] | null = null;
  for (;;) {
    if (options.signal?.aborted) throw options.cancelled();
    const started = performance.now();
    const hi = s.keyAfter(lo, Math.max(0, Math.floor(rows) - 1));
    const range = { lo, hi };
    const sums = await sumBoth(s, m, range);
    const elapsed = performance.now() - started;
    // The open range after the last full chunk is only a chunk if it holds rows.
    if (hi !== null || sums.sqlite.rows > 0 || sums.mysql.rows > 0) await check(range, sums);
    if (hi === null) break;
    lo = hi;
    if (options.chunkRows === undefined) rows = nextChunkRows(rows, elapsed);
  }
}
