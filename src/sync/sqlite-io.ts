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

export class SqliteTableIO {
  private readonly q: string;
  private readonly selectList: string;
  private readonly columnNames: string[];
  private deleteStmt: Database.Statement<unknown[]> | undefined;
  private upsertOne: Database.Statement<unknown[]> | undefined;
  /** The upsert statement by rows per statement. */
  private readonly upserts = new Map<number, Database.Statement<unknown[]>>();
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
    this.upsertOne ??= this.upsertStatement(1);
    this.upsertOne.run(values);
  }

  /**
   * Insert or update many row images, as the same upsert in multi-row statements (a re-keying push
   * places thousands of hub rows: one statement each cost a fifth of its node transaction).
   */
  upsertMany(rows: Row[]): void {
    const cols = this.table.columns;
    // Under SQLite's older 999-parameter limit.
    const per = Math.max(1, Math.floor(999 / cols.length));
    for (let at = 0; at < rows.length; at += per) {
      const chunk = rows.slice(at, at + per);
      const values: unknown[] = new Array(chunk.length * cols.length);
      let i = 0;
      for (const row of chunk) for (const c of cols) values[i++] = row[c.name] ?? null;
      this.upsertStatement(chunk.length).run(values);
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
