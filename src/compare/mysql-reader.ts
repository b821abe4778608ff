/**
 * Reading a hub table in key order for compare.
 *
 * When MySQL's index order is already the shared order — integer keys, text
 * keys in a binary (`*_bin`) collation of a UTF-8 charset, binary columns —
 * the table is read in keyset pages that follow the primary key with no sort,
 * the next page requested while the current one is hashed. Composite keys use
 * the expanded form `a > ? OR (a = ? AND b > ?)`: MariaDB turns it into an
 * index range, while a row constructor `(a, b) > (?, ?)` makes it scan the
 * index from the start on every page.
 *
 * Text keys in a collation such as utf8mb4_unicode_ci (the default) sort
 * case- and accent-insensitively, unlike SQLite: those tables are read by one
 * streamed query ordered by the keys' bytes (one filesort), since a keyset
 * page in byte order could not use the index and would sort on every page.
 */
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { StreamPages } from '../engines/mysql/stream.js';
import type { SyncTable } from '../sync/plan.js';
import type { KeyShape } from './key-order.js';
import { rowKeyValues } from './key-order.js';
import type { OrderedReader } from './ordered-reader.js';

interface KeyColumnMeta {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  CHARACTER_SET_NAME: string | null;
  COLLATION_NAME: string | null;
}

const UTF8_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);

export interface MysqlKeyOrder {
  /** The primary-key index already sorts by UTF-8 bytes (keyset pages need no sort). */
  byteOrdered: boolean;
  /** ORDER BY expressions that sort by UTF-8 bytes. */
  orderExprs: string[];
}

/**
 * How each table's key sorts on the hub, for all the given tables in one
 * information_schema query (cheaper than one per table, and MariaDB builds a
 * temporary table for every such query).
 */
export async function mysqlKeyOrders(hub: MysqlHub, tables: SyncTable[]): Promise<Map<string, MysqlKeyOrder>> {
  const out = new Map<string, MysqlKeyOrder>();
  if (tables.length === 0) return out;
  const meta = await hub.query<KeyColumnMeta>(
    `SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [tables.map((t) => t.name)],
  );
  const byColumn = new Map(meta.map((m) => [`${m.TABLE_NAME.toLowerCase()}.${m.COLUMN_NAME.toLowerCase()}`, m]));
  for (const table of tables) {
    let byteOrdered = true;
    const orderExprs = table.key.map((k) => {
      const q = quoteMysqlId(k.name);
      const m = byColumn.get(`${table.name.toLowerCase()}.${k.name.toLowerCase()}`);
      if (!m || m.CHARACTER_SET_NAME === null) return q; // numbers, binary strings
      const charset = m.CHARACTER_SET_NAME.toLowerCase();
      if (UTF8_CHARSETS.has(charset) && /_bin$/i.test(m.COLLATION_NAME ?? '')) return q;
      byteOrdered = false;
      return UTF8_CHARSETS.has(charset) ? `CAST(${q} AS BINARY)` : `CAST(CONVERT(${q} USING utf8mb4) AS BINARY)`;
    });
    out.set(table.name, { byteOrdered, orderExprs });
  }
  return out;
}

/** Integer key parts are bound as BigInt: compared as a quoted string, MySQL would go through DOUBLE. */
function bindable(v: unknown, type: string): unknown {
  if (type === 'integer' && (typeof v === 'string' || typeof v === 'number')) return BigInt(v);
  return v;
}

/**
 * `k1 > ? …` (lower bound, exclusive) or `k1 <= ? …` (upper bound, inclusive) for a key tuple, in
 * the expanded form `k1 >= ? AND (k1 > ? OR (k1 = ? AND k2 > ?))`, and where each `?` takes its value from.
 */
export function mysqlKeyBound(keys: string[], lower: boolean): { sql: string; params: number[] } {
  const strict = lower ? '>' : '<';
  const last = lower ? '>' : '<=';
  const params: number[] = [];
  const expand = (i: number): string => {
    const k = keys[i] as string;
    if (i === keys.length - 1) {
      params.push(i);
      return `${k} ${last} ?`;
    }
    params.push(i, i);
    return `(${k} ${strict} ? OR (${k} = ? AND ${expand(i + 1)}))`;
  };
  if (keys.length === 1) return { sql: `${keys[0]} ${last} ?`, params: [0] };
  const body = expand(0);
  return { sql: `${keys[0]} ${lower ? '>=' : '<='} ? AND ${body}`, params: [0, ...params] };
}

class MysqlKeysetReader implements OrderedReader {
  readonly mode = 'keyset' as const;
  private readonly head: string;
  private readonly cond: { sql: string; params: number[] };
  private readonly order: string;
  private pending: Promise<unknown[][]> | undefined;
  private exhausted = false;
  private started = false;

  constructor(
    private readonly conn: PoolConnection,
    private readonly table: SyncTable,
    private readonly shape: KeyShape,
    private readonly pageSize: number,
  ) {
    const keys = table.key.map((k) => quoteMysqlId(k.name));
    this.head = `SELECT ${table.columns.map((c) => quoteMysqlId(c.name)).join(', ')} FROM ${quoteMysqlId(table.name)}`;
    this.cond = mysqlKeyBound(keys, true);
    this.order = ` ORDER BY ${keys.join(', ')} LIMIT ${pageSize}`;
  }

  private async page(after: unknown[] | null): Promise<unknown[][]> {
    const params = after ? this.cond.params.map((i) => bindable(after[i], this.table.key[i]?.type ?? 'text')) : [];
    const sql = after ? `${this.head} WHERE ${this.cond.sql}${this.order}` : `${this.head}${this.order}`;
    const [rows] = (await this.conn.query({ sql, rowsAsArray: true }, params)) as unknown as [unknown[][]];
    return rows;
  }

  async next(): Promise<unknown[][]> {
    if (this.exhausted) return [];
    let rows: unknown[][];
    if (this.pending) rows = await this.pending;
    else if (!this.started) rows = await this.page(null);
    else return [];
    this.started = true;
    this.pending = undefined;
    const tail = rows[rows.length - 1];
    if (rows.length < this.pageSize || !tail) this.exhausted = true;
    // Ask for the next page now: the server reads it while this one is hashed.
    else {
      const p = this.page(rowKeyValues(tail, this.shape));
      p.catch(() => {}); // surfaced by the next call
      this.pending = p;
    }
    return rows;
  }

  async close(): Promise<void> {
    await this.pending?.catch(() => {});
  }
}

class MysqlSortedReader implements OrderedReader {
  readonly mode = 'sorted-stream' as const;
  private readonly pages: StreamPages<unknown[]>;

  constructor(
    private readonly conn: PoolConnection,
    table: SyncTable,
    orderExprs: string[],
    pageSize: number,
  ) {
    const sql = `SELECT ${table.columns.map((c) => quoteMysqlId(c.name)).join(', ')} FROM ${quoteMysqlId(table.name)} ORDER BY ${orderExprs.join(', ')}`;
    this.pages = new StreamPages(conn, { sql, rowsAsArray: true }, { rows: pageSize, highWaterMark: Math.min(pageSize, 1000) });
  }

  next(): Promise<unknown[][]> {
    return this.pages.next();
  }

  async close(): Promise<void> {
    if (!this.pages.finished && !this.pages.failed) {
      // Abandoned half-way (error, cancel): the server is still sending rows, so the
      // connection cannot be reused; closing it ends the query.
      this.pages.destroy();
      this.conn.destroy();
    }
  }
}

/** A reader in the shared key order on a pinned connection. */
export function openMysqlReader(
  conn: PoolConnection,
  table: SyncTable,
  shape: KeyShape,
  pageSize: number,
  order: MysqlKeyOrder,
): OrderedReader {
  if (order.byteOrdered) return new MysqlKeysetReader(conn, table, shape, pageSize);
  return new MysqlSortedReader(conn, table, order.orderExprs, pageSize);
}
