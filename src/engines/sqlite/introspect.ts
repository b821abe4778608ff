/** Introspection of a SQLite database into the engine-neutral model. */
import { type ColumnInfo, type ForeignKeyInfo, type IndexInfo, isMetaTable, type TableInfo, type TableStats } from '../types.js';
import type { SqliteDb } from './open.js';
import { quoteSqliteId } from './quote.js';

interface PragmaColumn {
  cid: bigint | number;
  name: string;
  type: string;
  notnull: bigint | number;
  dflt_value: string | null;
  pk: bigint | number;
  hidden?: bigint | number;
}

const n = (v: bigint | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

/** User tables (not sqlite_* nor _dualdb_*), sorted by name. */
export function listSqliteTables(db: SqliteDb, options: { includeMeta?: boolean } = {}): string[] {
  const rows = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
    .all() as { name: string }[];
  return rows.map((r) => r.name).filter((name) => options.includeMeta || !isMetaTable(name));
}

export function listSqliteViews(db: SqliteDb): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name").all() as { name: string }[];
  return rows.map((r) => r.name);
}

export function baseTypeOf(declared: string): string {
  const m = /^\s*([A-Za-z_ ]*?)\s*(\(|$)/.exec(declared);
  return (m?.[1] ?? declared).trim().toLowerCase();
}

/** The numbers in a declared type's parentheses: VARCHAR(20) → [20], DECIMAL(10, 2) → [10, 2]. */
export function typeArgs(declared: string): number[] {
  const m = /\(([^)]*)\)/.exec(declared);
  if (!m?.[1]) return [];
  return m[1]
    .split(',')
    .map((s) => Number.parseInt(s.trim(), 10))
    .filter((x) => Number.isFinite(x));
}

export function introspectSqliteTable(db: SqliteDb, table: string): TableInfo {
  const q = quoteSqliteId(table);
  const cols = db.prepare(`PRAGMA table_xinfo(${q})`).all() as PragmaColumn[];
  if (cols.length === 0) throw new Error(`table ${table} does not exist in SQLite`);
  const pkCols = cols.filter((c) => n(c.pk) > 0).sort((a, b) => n(a.pk) - n(b.pk));
  const rowidAlias = pkCols.length === 1 && pkCols[0]?.type.toUpperCase() === 'INTEGER';
  const columns: ColumnInfo[] = cols
    .filter((c) => n(c.hidden) === 0)
    .map((c) => {
      const args = typeArgs(c.type);
      const base = baseTypeOf(c.type);
      const isChar = /char|text|clob/.test(base);
      return {
        name: c.name,
        type: c.type,
        baseType: base,
        // SQLite lets non-INTEGER primary key columns hold NULL unless declared NOT NULL.
        nullable: n(c.notnull) === 0 && !(n(c.pk) > 0 && rowidAlias),
        defaultValue: c.dflt_value,
        pkOrdinal: n(c.pk),
        // An INTEGER PRIMARY KEY is the rowid: it auto-assigns with or without AUTOINCREMENT.
        autoIncrement: n(c.pk) > 0 && rowidAlias,
        maxLength: isChar && args.length > 0 ? (args[0] ?? null) : null,
        numericPrecision: !isChar && args.length > 0 ? (args[0] ?? null) : null,
        numericScale: !isChar && args.length > 1 ? (args[1] ?? null) : null,
      };
    });
  const indexes: IndexInfo[] = [];
  const indexList = db.prepare(`PRAGMA index_list(${q})`).all() as {
    name: string;
    unique: bigint | number;
    origin: string;
  }[];
  for (const ix of indexList) {
    if (ix.origin === 'pk') continue;
    const info = db.prepare(`PRAGMA index_info(${quoteSqliteId(ix.name)})`).all() as {
      seqno: bigint | number;
      name: string | null;
    }[];
    const columnsOfIndex = info.sort((a, b) => n(a.seqno) - n(b.seqno)).map((i) => i.name ?? '<expr>');
    indexes.push({
      name: ix.name,
      columns: columnsOfIndex,
      unique: n(ix.unique) === 1,
    });
  }
  const fkRows = db.prepare(`PRAGMA foreign_key_list(${q})`).all() as {
    id: bigint | number;
    seq: bigint | number;
    table: string;
    from: string;
    to: string | null;
    on_update: string;
    on_delete: string;
  }[];
  const fkById = new Map<number, ForeignKeyInfo>();
  for (const r of fkRows.sort((a, b) => n(a.id) - n(b.id) || n(a.seq) - n(b.seq))) {
    let fk = fkById.get(n(r.id));
    if (!fk) {
      fk = {
        name: null,
        columns: [],
        refTable: r.table,
        refColumns: [],
        onDelete: r.on_delete,
        onUpdate: r.on_update,
      };
      fkById.set(n(r.id), fk);
    }
    fk.columns.push(r.from);
    if (r.to) fk.refColumns.push(r.to);
  }
  // An FK without explicit target columns references the parent's primary key.
  for (const fk of fkById.values()) {
    if (fk.refColumns.length === 0) {
      const parent = db.prepare(`PRAGMA table_info(${quoteSqliteId(fk.refTable)})`).all() as PragmaColumn[];
      fk.refColumns = parent
        .filter((c) => n(c.pk) > 0)
        .sort((a, b) => n(a.pk) - n(b.pk))
        .map((c) => c.name);
    }
  }
  return {
    name: table,
    columns,
    primaryKey: pkCols.map((c) => c.name),
    indexes,
    foreignKeys: [...fkById.values()],
  };
}

export function introspectSqlite(db: SqliteDb, tables?: string[]): TableInfo[] {
  return (tables ?? listSqliteTables(db)).map((t) => introspectSqliteTable(db, t));
}

export function sqliteRowCount(db: SqliteDb, table: string): number {
  const r = db.prepare(`SELECT count(*) AS c FROM ${quoteSqliteId(table)}`).get() as { c: bigint | number };
  return Number(r.c);
}

let dbstatAvailable: boolean | undefined;

/** Row counts and, where the dbstat table exists, bytes per table (with its indexes). */
export function sqliteTableStats(db: SqliteDb, tables?: string[]): TableStats[] {
  const names = tables ?? listSqliteTables(db);
  let sizes = new Map<string, number>();
  if (dbstatAvailable !== false) {
    try {
      const rows = db
        .prepare(
          `SELECT s.tbl_name AS t, sum(d.pgsize) AS bytes FROM dbstat d JOIN sqlite_schema s ON s.name = d.name GROUP BY s.tbl_name`,
        )
        .all() as { t: string; bytes: bigint | number }[];
      sizes = new Map(rows.map((r) => [r.t, Number(r.bytes)]));
      dbstatAvailable = true;
    } catch {
      dbstatAvailable = false;
    }
  }
  return names.map((name) => ({
    name,
    rows: sqliteRowCount(db, name),
    bytes: sizes.get(name) ?? null,
  }));
}
