/**
 * The engine-neutral model of a database that introspection produces on both
 * sides. Sync, schema translation, migration and compare speak only this.
 */

export type EngineName = 'sqlite' | 'mysql';

export interface ColumnInfo {
  name: string;
  /** Declared type as the engine reports it, e.g. `INTEGER`, `varchar(255)`, `decimal(10,2)`. */
  type: string;
  /** Lower-case base type without arguments: `integer`, `varchar`, `decimal`… */
  baseType: string;
  nullable: boolean;
  /** Default as an SQL expression text, or null. */
  defaultValue: string | null;
  /** 1-based position in the primary key, 0 when not part of it. */
  pkOrdinal: number;
  autoIncrement: boolean;
  /** Character length for char/varchar, when known. */
  maxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  /** Collation of a text column (MySQL), when known: decides which keys compare equal. */
  collation?: string | null;
}

export interface IndexInfo {
  name: string;
  columns: string[];
  unique: boolean;
}

export interface ForeignKeyInfo {
  name: string | null;
  columns: string[];
  refTable: string;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  /** Primary-key column names in key order (empty when the table has none). */
  primaryKey: string[];
  indexes: IndexInfo[];
  foreignKeys: ForeignKeyInfo[];
}

export interface TableStats {
  name: string;
  rows: number;
  /** Bytes on disk when the engine can tell (MySQL data+index, SQLite dbstat). */
  bytes: number | null;
}

/** Tables that belong to dualdb itself and are never synced or shown as user data. */
export const META_PREFIX = '_dualdb_';

export function isMetaTable(name: string): boolean {
  return name.toLowerCase().startsWith(META_PREFIX);
}
