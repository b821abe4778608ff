/**
 * What the passes of the SQLite → MySQL translation share (translate.ts runs them
 * in order: plan tables → unify foreign-key types → drop refused foreign keys →
 * fit keys and rows → choose key collations → render): the options, the data
 * probe, the per-table plans and the warnings and notes they collect.
 */
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnInfo, type ForeignKeyInfo, type IndexInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import type { ToMysqlOptions } from './translate.js';

export const MYSQL_TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
/** The table default that text columns outside keys keep. */
export const DEFAULT_TEXT_COLLATION = 'utf8mb4_unicode_ci';
/** The environment variable that overrides the collation of text keys (`server` or a collation name). */
export const KEY_COLLATION_ENV = 'DUALDB_KEY_COLLATION';

import type { TranslationWarning } from './translation.js';
import { type MysqlType, mysqlType, type SqliteType } from './type-map.js';

/** Largest VARBINARY that fits the row limit comfortably. */
export const MAX_VARBINARY = 65_000;
export const MAX_ROW_BYTES = 65_535;
export const PREFIX_CHARS = 255;

export interface ColumnPlan {
  src: ColumnInfo;
  cls: SqliteType;
  type: MysqlType;
  /** In the primary key, a unique index or a foreign key (either end): needs a bounded type. */
  keyed: boolean;
  autoIncrement: boolean;
  nullable: boolean;
  defaultSql: string | null;
  /** A foreign key to an existing hub column: its collation (MySQL requires the same). */
  collationOf?: string | null;
}

export interface TablePlan {
  src: TableInfo;
  columns: Map<string, ColumnPlan>;
  indexes: { info: IndexInfo; name: string; prefixes: (number | null)[] }[];
  foreignKeys: { info: ForeignKeyInfo; name: string; onDelete: string; onUpdate: string }[];
}

export const lower = (s: string) => s.toLowerCase();
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Data facts needed for choices, read with cheap aggregate queries. */
export class DataProbe {
  constructor(private readonly db: SqliteDb | undefined) {}

  get available(): boolean {
    return this.db !== undefined;
  }

  /** Longest value in characters (text) or bytes (blob), or null without data. */
  maxLength(table: string, column: string): number | null {
    if (!this.db) return null;
    const row = this.db.prepare(`SELECT max(length(${quoteSqliteId(column)})) AS m FROM ${quoteSqliteId(table)}`).get() as
      | { m: bigint | number | null }
      | undefined;
    return num(row?.m);
  }

  /** How many values of each storage class (integer, real, text, blob) a column holds. */
  census(table: string, column: string): Map<string, number> | null {
    if (!this.db) return null;
    const rows = this.db
      .prepare(`SELECT typeof(${quoteSqliteId(column)}) AS t, count(*) AS n FROM ${quoteSqliteId(table)} GROUP BY 1`)
      .all() as { t: string; n: bigint | number }[];
    return new Map(rows.filter((r) => r.t !== 'null').map((r) => [r.t, Number(r.n)]));
  }

  partialIndexes(table: string): Set<string> {
    if (!this.db) return new Set();
    const rows = this.db.prepare(`PRAGMA index_list(${quoteSqliteId(table)})`).all() as {
      name: string;
      partial: bigint | number;
    }[];
    return new Set(rows.filter((r) => Number(r.partial) === 1).map((r) => r.name));
  }

  generatedColumns(table: string): string[] {
    if (!this.db) return [];
    const rows = this.db.prepare(`PRAGMA table_xinfo(${quoteSqliteId(table)})`).all() as {
      name: string;
      hidden: bigint | number;
    }[];
    return rows.filter((r) => Number(r.hidden) === 2 || Number(r.hidden) === 3).map((r) => r.name);
  }
}

/** The MySQL type that carries the given existing hub column (for FK children of hub tables). */
export function typeOfHubColumn(col: ColumnInfo): MysqlType {
  const sql = col.type.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/i, (m, b: string) =>
    b.toLowerCase() === 'tinyint' && /\(1\)/.test(m) ? m : b,
  );
  return mysqlType(sql.toUpperCase(), col.baseType.toLowerCase(), {
    length: col.maxLength,
    precision: col.numericPrecision,
    scale: col.numericScale,
  });
}

export const varchar = (n: number) => mysqlType(`VARCHAR(${n})`, 'varchar', { length: n });
export const varbinary = (n: number) => mysqlType(`VARBINARY(${n})`, 'varbinary', { length: n });
export const LONGTEXT = mysqlType('LONGTEXT', 'longtext');
export const LONGBLOB = mysqlType('LONGBLOB', 'longblob');
export const BIGINT = mysqlType('BIGINT', 'bigint', { precision: 19, scale: 0 });
export const DOUBLE = mysqlType('DOUBLE', 'double');

export function sameFamily(a: MysqlType, b: MysqlType): boolean {
  const fam = (t: MysqlType) =>
    /int/.test(t.base)
      ? 'int'
      : /char|text/.test(t.base)
        ? 'text'
        : /binary|blob/.test(t.base)
          ? 'bin'
          : t.base === 'decimal'
            ? 'decimal'
            : t.base;
  return fam(a) === fam(b);
}

export interface TranslateContext {
  options: ToMysqlOptions;
  probe: DataProbe;
  warnings: TranslationWarning[];
  notes: TranslationWarning[];
  warn: (table: string, column: string | undefined, problem: string, reason: string) => void;
  /** Hub tables that exist already, by lower-case name. */
  existing: Map<string, TableInfo>;
  /** One plan per table being translated, by lower-case name. */
  plans: Map<string, TablePlan>;
}

export function newContext(options: ToMysqlOptions): TranslateContext {
  const warnings: TranslationWarning[] = [];
  return {
    options,
    probe: new DataProbe(options.db),
    warnings,
    notes: [],
    warn: (table, column, problem, reason) =>
      warnings.push({ table, ...(column === undefined ? {} : { column }), problem, reason }),
    existing: new Map((options.existing ?? []).filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t])),
    plans: new Map(),
  };
}
