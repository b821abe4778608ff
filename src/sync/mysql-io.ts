/**
 * Reading row images from and writing them into the hub for one synced table:
 * key lookups (optionally locking), multi-row upserts sized to stay well under
 * max_allowed_packet, and deletes by key. Values are formatted by mysql2's own
 * escaping (bigint, Buffer and strings exact), never by string building.
 */
import mysql from 'mysql2/promise';
import { CANONICAL_INTEGER, decodeKey, encodeKey, keyPartValue } from '../capture/keys.js';
import { type LogicalType, type Row, type SqlValue, sqliteToMysql } from '../engines/codec.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { chunkBySize, integerRuns, keyChunks, MIN_KEY_RUN } from './key-chunks.js';
import type { SyncTable } from './plan.js';

/** The part of a mysql2 connection this module needs. */
export interface QueryRunner {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** Keys per lookup: a default batch (2,000 keys) in two round trips; sized by bytes too (key-chunks.ts). */
const LOOKUP_CHUNK = 1000;
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;
/** Ranges per lookup at most (each `OR`ed range is one more range the server plans). */
const MAX_RUNS_PER_LOOKUP = 1000;
/** Room left in max_allowed_packet for the protocol's own bytes. */
export const PACKET_MARGIN = 1024;
/** Rows per multi-row statement at most: small rows fill a statement by bytes (the packet budget) first. */
const MAX_ROWS_PER_STATEMENT = 10_000;

/**
 * A row image to write (MySQL form), or its VALUES tuple already formatted (`MysqlTableIO.tuple`,
 * `sqliteTuple`): a push keeps only the tuple of each row it sends.
 */
export type RowOut = { row: Row; tuple?: string } | { row?: undefined; tuple: string };

/** Why a row cannot be sent: its size against what the hub accepts per statement, and the fix. */
/**
 * Why a row cannot be sent: its data size (what the user stored) and the statement size it needs
 * (escaping can double it) against the hub's limit.
 */
export function oversizeText(table: SyncTable, key: string, statementBytes: number, limit: number, row?: Row): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const keyText = table.key.length === 1 ? `${table.key[0]?.name}=${key}` : `(${table.key.map((k) => k.name).join(', ')})=${key}`;
  const data = row ? dataBytes(row) : statementBytes;
  const size = data === statementBytes ? mb(data) : `${mb(data)} (${mb(statementBytes)} as an SQL statement)`;
  return `row ${keyText} of table ${table.name} is ${size}; the hub accepts ${mb(limit)} per statement: raise max_allowed_packet on the hub, or exclude the column`;
}

/** The bytes a row's values take (what the application stored), for messages. */
export function dataBytes(row: Row): number {
  let n = 0;
  for (const v of Object.values(row)) {
    if (v === null || v === undefined) continue;
    n += Buffer.isBuffer(v) ? v.length : Buffer.byteLength(String(v));
  }
  return n;
}

export class MysqlTableIO {
  private readonly q: string;
  /** The synced columns, quoted, in order (a SELECT or RETURNING list). */
  readonly selectList: string;
  private readonly keyList: string;
  /** DOUBLE and FLOAT columns: read as the server's text (readList), made numbers (numbersFromText). */
  private readonly floatColumns: string[];
  private readonly readLists = new Map<string, string>();
  private readonly upsertHead: string;
  private readonly upsertTail: string;

  /**
   * @param maxStatementBytes the largest statement to build: the hub's max_allowed_packet less a
   *   margin for the protocol (read at connect); a single row larger than that cannot be sent.
   */
  constructor(
    readonly table: SyncTable,
    private readonly maxStatementBytes = MAX_STATEMENT_BYTES,
  ) {
    this.q = quoteMysqlId(table.name);
    this.selectList = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
    this.keyList = table.key.map((c) => quoteMysqlId(c.name)).join(', ');
    this.floatColumns = table.columns.filter((c) => c.type === 'double' || c.type === 'float32').map((c) => c.name);
    const keyCols = new Set(table.key.map((c) => c.name));
    const nonKey = table.columns.filter((c) => !keyCols.has(c.name));
    this.upsertHead = `INSERT INTO ${this.q} (${this.selectList}) VALUES `;
    // VALUES() works on MariaDB and MySQL (deprecated there, still supported).
    this.upsertTail = nonKey.length
      ? ` ON DUPLICATE KEY UPDATE ${nonKey.map((c) => `${quoteMysqlId(c.name)} = VALUES(${quoteMysqlId(c.name)})`).join(', ')}`
      : ` ON DUPLICATE KEY UPDATE ${quoteMysqlId(table.key[0]?.name ?? '')} = ${quoteMysqlId(table.key[0]?.name ?? '')}`;
  }

  keyOf(row: Record<string, unknown>): string {
    const key = this.table.key;
    if (key.length === 1) return encodeKey([(row[(key[0] as { name: string }).name] ?? null) as SqlValue]);
    return encodeKey(key.map((k) => (row[k.name] ?? null) as SqlValue));
  }

  keyValues(key: string): SqlValue[] {
    return decodeKey(key, this.table.key.length).map((part, i) => keyPartValue(part, this.table.key[i]?.type ?? 'text'));
  }

  /** `key IN (…)` for these keys (mysql2's escaping), sized by the caller (key-chunks.ts). */
  keyCondition(keys: string[]): string {
    if (this.table.key.length === 1) {
      // What mysql.format('?', [values]) gives, item by item: a canonical integer text is its own
      // escaped form (BigInt(text) + ''), with no decode, BigInt or array per key (a push's lookups).
      const type = this.table.key[0]?.type ?? 'text';
      let list = '';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        list += (i ? ', ' : '') + (type === 'integer' && CANONICAL_INTEGER.test(k) ? k : mysql.escape(keyPartValue(k, type)));
      }
      return `${this.keyList} IN (${list})`;
    }
    return `(${this.keyList}) IN (${mysql.format('?', [keys.map((k) => this.keyValues(k))])})`;
  }

  /**
   * The synced columns as a SELECT list (of table `alias` if given) in which DOUBLE and FLOAT columns
   * are the server's text of the value, `CAST(… AS CHAR)`, the text the server sends for the column
   * itself: Number() of it (numbersFromText) is the exact value whichever way the connection decodes
   * rows (MysqlHub.withConnection's `driverDecode`: mysql2's own parser reads DOUBLE digit by digit,
   * one ulp off for some values; docs/SYNC-CONTRACT.md, invariant 10).
   */
  readList(alias?: string, columns: readonly { name: string }[] = this.table.columns): string {
    const all = columns === this.table.columns;
    const at = all ? (alias ?? '') : undefined;
    let list = at === undefined ? undefined : this.readLists.get(at);
    if (list === undefined) {
      const floats = new Set(this.floatColumns);
      const prefix = alias ? `${alias}.` : '';
      list = columns
        .map((c) => {
          const col = `${prefix}${quoteMysqlId(c.name)}`;
          return floats.has(c.name) ? `CAST(${col} AS CHAR) AS ${quoteMysqlId(c.name)}` : col;
        })
        .join(', ');
      if (at !== undefined) this.readLists.set(at, list);
    }
    return list;
  }

  /** Rows read with readList, their DOUBLE and FLOAT columns' text made numbers (in place), as the pool's typeCast makes them. */
  numbersFromText(rows: Row[]): Row[] {
    const cols = this.floatColumns;
    if (cols.length === 0) return rows;
    for (const row of rows)
      for (const c of cols) {
        const v = row[c];
        if (typeof v === 'string') row[c] = Number(v);
      }
    return rows;
  }

  /**
   * Current images of the given keys as the pool's mysql2 returns them (readList: whichever way the
   * connection decodes); `columns`: only those (the key among them), not every synced column.
   */
  async fetch(
    conn: QueryRunner,
    keys: string[],
    options: { forUpdate?: boolean; columns?: readonly { name: string }[] } = {},
  ): Promise<Map<string, Row>> {
    const out = new Map<string, Row>();
    for (const condition of this.lookupConditions(keys)) {
      const sql = `SELECT ${this.readList(undefined, options.columns)} FROM ${this.q} WHERE ${condition}${options.forUpdate ? ' FOR UPDATE' : ''}`;
      const [rows] = await conn.query(sql);
      for (const row of this.numbersFromText(rows as Row[])) out.set(this.keyOf(row), row);
    }
    return out;
  }

  /**
   * The WHERE conditions that find exactly these keys' rows, one statement each. In a table keyed by
   * one integer column, runs of consecutive keys (a backlog of new rows) are ranges, `BETWEEN lo AND
   * hi`, all in one statement when they fit: every integer of a run is one of the keys, so a range
   * matches (and, FOR UPDATE, locks: READ COMMITTED takes no gap locks) exactly the rows the IN list
   * would. A 20,000-row batch's lookup is one statement instead of 20 (docs/PERFORMANCE.md). The
   * other keys keep IN lists, cut by count and bytes (key-chunks.ts).
   */
  lookupConditions(keys: string[]): string[] {
    const column = this.table.key.length === 1 && this.table.key[0]?.type === 'integer' ? this.keyList : undefined;
    const { runs, rest } = column && keys.length >= MIN_KEY_RUN ? integerRuns(keys) : { runs: [], rest: keys };
    return [
      ...chunkBySize(runs, (r) => r.lo.length + r.hi.length + 32, this.maxStatementBytes - 4096, MAX_RUNS_PER_LOOKUP).map(
        (chunk) => chunk.map((r) => `${column} BETWEEN ${r.lo} AND ${r.hi}`).join(' OR '),
      ),
      ...keyChunks(rest, this.maxStatementBytes, LOOKUP_CHUNK).map((chunk) => this.keyCondition(chunk)),
    ];
  }

  /**
   * Multi-row upsert statements for rows whose values are already in MySQL form. Only for
   * rows whose key exists on the hub (locked): for a new key, ON DUPLICATE KEY UPDATE would
   * fire on a clash with *another* unique key and silently overwrite that other row.
   */
  upsertStatements(rows: RowOut[]): { sql: string; count: number }[] {
    return this.statements(rows, this.upsertTail);
  }

  /**
   * Multi-row plain inserts for rows the hub does not have: a clash on any unique key is an error.
   * `returning`: the inserted rows come back (RETURNING, MariaDB 10.5+), every synced column, or
   * only these (the key among them: hub-exact.ts `readBackColumns`); an empty list: none.
   */
  insertStatements(rows: RowOut[], returning: boolean | readonly { name: string }[] = false): { sql: string; count: number }[] {
    if (!returning || (returning !== true && returning.length === 0)) return this.statements(rows, '');
    const list = returning === true ? this.selectList : returning.map((c) => quoteMysqlId(c.name)).join(', ');
    return this.statements(rows, ` RETURNING ${list}`);
  }

  /**
   * Statements that write row images (MySQL form) whose keys were locked and looked up first:
   * rows the hub has are updated in place, new keys are plain inserts, so that a clash on
   * another unique key fails (and can be reported) instead of overwriting that other row and
   * leaving this key missing or stale.
   */
  writeStatements(rows: (RowOut & { exists: boolean })[]): { sql: string; count: number }[] {
    return [...this.upsertStatements(rows.filter((r) => r.exists)), ...this.insertStatements(rows.filter((r) => !r.exists))];
  }

  /**
   * Writes row images (MySQL form), inside the caller's transaction: locks their keys
   * (SELECT … FOR UPDATE) to learn which exist, then runs `writeStatements`.
   */
  async write(conn: QueryRunner, rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    const keyed = rows.map((row) => ({ key: this.keyOf(row), row }));
    const existing = await this.fetch(
      conn,
      keyed.map((r) => r.key),
      { forUpdate: true },
    );
    for (const st of this.writeStatements(keyed.map((r) => ({ row: r.row, exists: existing.has(r.key) })))) {
      await conn.query(st.sql);
    }
  }

  /** The bytes one row takes in a statement (its VALUES tuple), for sizing and oversize checks. */
  rowBytes(row: Row): number {
    return Buffer.byteLength(this.tuple(row));
  }

  /** Bytes a statement of one row may take at most (head and tail included). */
  get rowLimit(): number {
    return this.maxStatementBytes - this.upsertHead.length - this.upsertTail.length;
  }

  /** A row's VALUES tuple (mysql2's escaping); format it once and pass it along in a RowOut. */
  tuple(row: Row): string {
    // What mysql.format of a `(?, ?, …)` template gives, without building and scanning it per row.
    let out = '(';
    const cols = this.table.columns;
    for (let i = 0; i < cols.length; i++) out += (i ? ', ' : '') + mysql.escape(row[(cols[i] as { name: string }).name] ?? null);
    return `${out})`;
  }

  /**
   * The VALUES tuple of a row as read from SQLite: `tuple(toMysqlRow(table, row))` (convert.ts) without
   * the MySQL-form row object in between (a bulk push formats every row it sends). Throws the
   * codec's ValueError for a value MySQL cannot hold.
   */
  sqliteTuple(row: Row): string {
    let out = '(';
    const cols = this.table.columns;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i] as { name: string; type: LogicalType };
      out += (i ? ', ' : '') + mysql.escape(sqliteToMysql(row[c.name] ?? null, c.type, c.name));
    }
    return `${out})`;
  }

  private statements(rows: RowOut[], tail: string): { sql: string; count: number }[] {
    const statements: { sql: string; count: number }[] = [];
    let parts: string[] = [];
    let bytes = 0;
    const flush = () => {
      if (parts.length) statements.push({ sql: this.upsertHead + parts.join(', ') + tail, count: parts.length });
      parts = [];
      bytes = 0;
    };
    const budget = Math.min(MAX_STATEMENT_BYTES, this.rowLimit);
    for (const r of rows) {
      const tuple = r.tuple ?? this.tuple(r.row as Row);
      const size = Buffer.byteLength(tuple) + 2;
      if (parts.length >= MAX_ROWS_PER_STATEMENT || (parts.length > 0 && bytes + size > budget)) flush();
      parts.push(tuple);
      bytes += size;
    }
    flush();
    return statements;
  }

  deleteStatement(keys: string[]): string {
    return `DELETE FROM ${this.q} WHERE ${this.keyCondition(keys)}`;
  }

  /** Deletes of these keys, each statement within the packet budget. */
  deleteStatements(keys: string[]): string[] {
    return keyChunks(keys, this.maxStatementBytes, LOOKUP_CHUNK).map((chunk) => this.deleteStatement(chunk));
  }
}
