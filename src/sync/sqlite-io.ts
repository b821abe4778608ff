/**
 * Reading row images from and writing them into SQLite for one synced table:
 * batched key lookups, idempotent upserts (never INSERT OR REPLACE, which would
 * delete and fire ON DELETE CASCADE) and deletes by key. Used by pull, push,
 * migration (seeding from the hub), conflict resolution and repair.
 */
import type Database from 'better-sqlite3';
import { decodeKey, encodeKey, keyPartValue } from '../capture/keys.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncTable } from './plan.js';

const LOOKUP_CHUNK = 400;

/**
 * Upsert statements by file and table, then rows per statement: compiled once, not once per batch
 * (a pull batch builds its own SqliteTableIO; a 199-row upsert takes milliseconds to prepare). A
 * re-plan makes new SyncTable objects, so a changed table gets new statements.
 */
const upsertsByDb = new WeakMap<SqliteDb, WeakMap<SyncTable, Map<number, Database.Statement<unknown[]>>>>();

function upsertCache(db: SqliteDb, table: SyncTable): Map<number, Database.Statement<unknown[]>> {
  let byTable = upsertsByDb.get(db);
  if (!byTable) {
    byTable = new WeakMap();
    upsertsByDb.set(db, byTable);
  }
  let m = byTable.get(table);
  if (!m) {
    m = new Map();
    byTable.set(table, m);
  }
  return m;
}

export class SqliteTableIO {
  private readonly q: string;
  private readonly selectList: string;
  private readonly columnNames: string[];
  private deleteStmt: Database.Statement<unknown[]> | undefined;
  /** The upsert statement by rows per statement (shared by every SqliteTableIO of this file and table). */
  private readonly upserts: Map<number, Database.Statement<unknown[]>>;
  /** The lookup of a full chunk of keys, prepared once (a 20,000-key push batch is 50 chunks). */
  private lookup: Database.Statement<unknown[]> | undefined;
  /** The lookup of one key, prepared once: a `both` write's one-row push reads its row by it. */
  private lookupOne: Database.Statement<unknown[]> | undefined;

  constructor(
    private readonly db: SqliteDb,
    readonly table: SyncTable,
  ) {
    this.q = quoteSqliteId(table.name);
    this.selectList = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
    this.columnNames = table.columns.map((c) => c.name);
    this.upserts = upsertCache(db, table);
  }

  /** Key text of a row as read from SQLite. */
  keyOf(row: Row): string {
    return encodeKey(this.table.key.map((k) => row[k.name] ?? null));
  }

  keyValues(key: string): SqlValue[] {
    return decodeKey(key, this.table.key.length).map((part, i) => keyPartValue(part, this.table.key[i]?.type ?? 'text'));
  }

  /** Current images of the given keys; keys without a row are absent from the map. */
  fetch(keys: string[]): Map<string, Row> {
    const out = new Map<string, Row>();
    const k = this.table.key;
    for (let i = 0; i < keys.length; i += LOOKUP_CHUNK) {
      const chunk = keys.slice(i, i + LOOKUP_CHUNK);
      let sql: string;
      if (k.length === 1 && k[0]) {
        sql = `SELECT ${this.selectList} FROM ${this.q} WHERE ${quoteSqliteId(k[0].name)} IN (${chunk.map(() => '?').join(', ')})`;
      } else {
        const tuple = `(${k.map(() => '?').join(', ')})`;
        sql = `SELECT ${this.selectList} FROM ${this.q} WHERE (${k.map((c) => quoteSqliteId(c.name)).join(', ')}) IN (VALUES ${chunk
          .map(() => tuple)
          .join(', ')})`;
      }
      // One key column: its text is the one part (decodeKey), bound without two arrays per key.
      const one = k.length === 1 ? (k[0]?.type ?? 'text') : undefined;
      const params = one ? chunk.map((key) => keyPartValue(key, one)) : chunk.flatMap((key) => this.keyValues(key));
      let st: Database.Statement<unknown[]>;
      if (chunk.length === LOOKUP_CHUNK) {
        this.lookup ??= this.db.prepare<unknown[]>(sql);
        st = this.lookup;
      } else if (chunk.length === 1) {
        this.lookupOne ??= this.db.prepare<unknown[]>(sql);
        st = this.lookupOne;
      } else st = this.db.prepare<unknown[]>(sql);
      for (const row of st.all(...params) as Row[]) out.set(this.keyOf(row), row);
    }
    return out;
  }

  /** Insert or update one row image (values already in SQLite form): one statement, compiled once per table. */
  upsert(row: Row): void {
    const names = this.columnNames;
    const values: unknown[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) values[i] = row[names[i] as string] ?? null;
    this.upsertStatement(1).run(values);
  }

  /** upsert of one row given as its values in the table's column order. */
  upsertValues(values: readonly SqlValue[]): void {
    this.upsertStatement(1).run(values as unknown[]);
  }

  /**
   * Insert or update many row images, as the same upsert in multi-row statements (a re-keying push
   * places thousands of hub rows: one statement each cost a fifth of its node transaction).
   */
  upsertMany(rows: Row[]): void {
    const names = this.columnNames;
    this.upsertManyValues(rows.length, (r, out, at) => {
      const row = rows[r] as Row;
      for (let c = 0; c < names.length; c++) out[at + c] = row[names[c] as string] ?? null;
    });
  }

  /** upsertMany of rows given as their values in the table's column order. */
  upsertManyOfValues(rows: readonly (readonly SqlValue[])[]): void {
    const width = this.columnNames.length;
    this.upsertManyValues(rows.length, (r, out, at) => {
      const values = rows[r] as readonly SqlValue[];
      for (let c = 0; c < width; c++) out[at + c] = values[c] ?? null;
    });
  }

  /** `count` rows in statements of up to ~999 parameters, `fill` writing row r's values at `at`. */
  private upsertManyValues(count: number, fill: (r: number, out: unknown[], at: number) => void): void {
    const width = this.columnNames.length;
    // Under SQLite's older 999-parameter limit.
    const per = Math.max(1, Math.floor(999 / width));
    // One parameter array for every full statement: SQLite copies the values at each run.
    const full: unknown[] = new Array(Math.min(per, count) * width);
    for (let at = 0; at < count; at += per) {
      const n = Math.min(per, count - at);
      const values = n * width === full.length ? full : new Array(n * width);
      for (let r = 0; r < n; r++) fill(at + r, values, r * width);
      this.upsertStatement(n).run(values);
    }
  }

  private upsertStatement(rows: number): Database.Statement<unknown[]> {
    let st = this.upserts.get(rows);
    if (!st) {
      const cols = this.table.columns.map((c) => quoteSqliteId(c.name));
      const keyCols = new Set(this.table.key.map((c) => c.name));
      const updates = this.table.columns
        .filter((c) => !keyCols.has(c.name))
        .map((c) => `${quoteSqliteId(c.name)} = excluded.${quoteSqliteId(c.name)}`);
      const tuple = `(${cols.map(() => '?').join(', ')})`;
      st = this.db.prepare<unknown[]>(
        `INSERT INTO ${this.q} (${cols.join(', ')}) VALUES ${Array(rows).fill(tuple).join(', ')}
         ON CONFLICT (${this.table.key.map((c) => quoteSqliteId(c.name)).join(', ')}) ${updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
      );
      this.upserts.set(rows, st);
    }
    return st;
  }

  delete(key: string): void {
    if (!this.deleteStmt) {
      this.deleteStmt = this.db.prepare<unknown[]>(
        `DELETE FROM ${this.q} WHERE ${this.table.key.map((c) => `${quoteSqliteId(c.name)} = ?`).join(' AND ')}`,
      );
    }
    this.deleteStmt.run(...this.keyValues(key));
  }
}
