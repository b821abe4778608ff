/**
 * Reading a SQLite table in key order for compare.
 *
 * Normally keyset pages (`WHERE key > last ORDER BY key LIMIT n`, row values
 * for composite keys), which SQLite answers from the primary-key index (or the
 * rowid) without sorting. When a text key column has another collation than
 * BINARY (NOCASE, RTRIM), the index order is not byte order: the table is then
 * read by one `ORDER BY key COLLATE BINARY` statement (one sort) on a
 * connection of its own, so the compare's connection stays free for lookups.
 */
import type Database from 'better-sqlite3';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncTable } from '../sync/plan.js';
import type { KeyShape } from './key-order.js';
import { rowKeyValues } from './key-order.js';
import type { OrderedReader } from './ordered-reader.js';

/** Collation of each primary-key column in SQLite's primary-key index (BINARY for a rowid key). */
export function sqliteKeyCollations(db: SqliteDb, table: SyncTable): Map<string, string> {
  const out = new Map<string, string>();
  const indexes = db.prepare(`PRAGMA index_list(${quoteSqliteId(table.name)})`).all() as { name: string; origin: string }[];
  const pk = indexes.find((i) => i.origin === 'pk');
  if (!pk) return out;
  const cols = db.prepare(`PRAGMA index_xinfo(${quoteSqliteId(pk.name)})`).all() as {
    name: string | null;
    coll: string | null;
    key: number | bigint;
  }[];
  for (const c of cols) if (c.name && Number(c.key) === 1) out.set(c.name.toLowerCase(), (c.coll ?? 'BINARY').toUpperCase());
  return out;
}

/** True when SQLite's key index is already in byte order for every text key column. */
export function sqliteKeyInByteOrder(db: SqliteDb, table: SyncTable): boolean {
  const colls = sqliteKeyCollations(db, table);
  return table.key.every((k) => k.type === 'integer' || (colls.get(k.name.toLowerCase()) ?? 'BINARY') === 'BINARY');
}

class SqliteKeysetReader implements OrderedReader {
  readonly mode = 'keyset' as const;
  private readonly first: Database.Statement<unknown[]>;
  private readonly after: Database.Statement<unknown[]>;
  private last: unknown[] | null = null;
  private exhausted = false;

  constructor(
    db: SqliteDb,
    table: SyncTable,
    private readonly shape: KeyShape,
    private readonly pageSize: number,
  ) {
    const cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
    const keys = table.key.map((k) => quoteSqliteId(k.name));
    const t = quoteSqliteId(table.name);
    const order = keys.join(', ');
    const cond = keys.length === 1 ? `${keys[0]} > ?` : `(${keys.join(', ')}) > (${keys.map(() => '?').join(', ')})`;
    this.first = db.prepare<unknown[]>(`SELECT ${cols} FROM ${t} ORDER BY ${order} LIMIT ?`).raw(true);
    this.after = db.prepare<unknown[]>(`SELECT ${cols} FROM ${t} WHERE ${cond} ORDER BY ${order} LIMIT ?`).raw(true);
  }

  async next(): Promise<unknown[][]> {
    if (this.exhausted) return [];
    const rows = (this.last ? this.after.all(...this.last, this.pageSize) : this.first.all(this.pageSize)) as unknown[][];
    if (rows.length < this.pageSize) this.exhausted = true;
    const tail = rows[rows.length - 1];
    if (tail) this.last = rowKeyValues(tail, this.shape);
    return rows;
  }

  async close(): Promise<void> {}
}

class SqliteSortedReader implements OrderedReader {
  readonly mode = 'sorted-stream' as const;
  private readonly db: SqliteDb;
  private readonly iterator: IterableIterator<unknown[]>;
  private exhausted = false;

  constructor(
    path: string,
    table: SyncTable,
    private readonly pageSize: number,
  ) {
    this.db = openSqlite(path);
    const cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
    const order = table.key
      .map((k) => (k.type === 'integer' ? quoteSqliteId(k.name) : `${quoteSqliteId(k.name)} COLLATE BINARY`))
      .join(', ');
    this.iterator = this.db
      .prepare<unknown[]>(`SELECT ${cols} FROM ${quoteSqliteId(table.name)} ORDER BY ${order}`)
      .raw(true)
      .iterate() as IterableIterator<unknown[]>;
  }

  async next(): Promise<unknown[][]> {
    const rows: unknown[][] = [];
    while (!this.exhausted && rows.length < this.pageSize) {
      const r = this.iterator.next();
      if (r.done) this.exhausted = true;
      else rows.push(r.value);
    }
    return rows;
  }

  async close(): Promise<void> {
    this.iterator.return?.();
    if (this.db.open) this.db.close();
  }
}

/** A reader in byte/numeric key order: keyset pages on `db`, or one sorted statement on a new connection to `path`. */
export function openSqliteReader(db: SqliteDb, path: string, table: SyncTable, shape: KeyShape, pageSize: number): OrderedReader {
  if (sqliteKeyInByteOrder(db, table)) return new SqliteKeysetReader(db, table, shape, pageSize);
  return new SqliteSortedReader(path, table, pageSize);
}
