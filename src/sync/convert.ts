/** Whole-row conversions between the drivers' value forms, per the sync plan's column types. */
import {
  canonical,
  canonicalRow,
  type LogicalType,
  mysqlToSqlite,
  type Row,
  type SqlValue,
  sqliteToMysql,
} from '../engines/codec.js';
import type { ColumnForm } from '../engines/value-forms.js';
import type { SyncTable } from './plan.js';
import { formsOf } from './value-forms.js';

export function toMysqlRow(table: SyncTable, row: Row): Row {
  const out: Row = {};
  for (const c of table.columns) out[c.name] = sqliteToMysql(row[c.name] ?? null, c.type, c.name);
  return out;
}

/** A hub row for SQLite, each value in the form the application writes in its column (see value-forms.ts). */
export function toSqliteRow(table: SyncTable, row: Row): Row {
  const out: Row = {};
  const { names, convert } = sqliteConverters(table);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    out[name] = (convert[i] as (v: unknown) => SqlValue)(row[name]);
  }
  return out;
}

/**
 * toSqliteRow's values in the table's column order, ready to bind (a bulk pull writes most rows
 * without reading them by name: no object per row between the hub's row and the upsert).
 */
export function toSqliteValues(table: SyncTable, row: Row): SqlValue[] {
  const { names, convert } = sqliteConverters(table);
  const out: SqlValue[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) out[i] = (convert[i] as (v: unknown) => SqlValue)(row[names[i] as string]);
  return out;
}

/** The row of values in the table's column order (toSqliteValues), by column name. */
export function rowOfValues(table: SyncTable, values: readonly SqlValue[]): Row {
  const out: Row = {};
  const { columns } = table;
  for (let i = 0; i < columns.length; i++) out[(columns[i] as { name: string }).name] = values[i] ?? null;
  return out;
}

type Converter = (v: unknown) => SqlValue;
const convertersByTable = new WeakMap<
  SyncTable,
  { forms: ReadonlyMap<string, ColumnForm> | undefined; names: string[]; convert: Converter[] }
>();

/**
 * One converter per column, decided once per table and its forms (a pull converts every cell of
 * every row): the common cases (text as text, integers, DATETIME without a form) skip the
 * per-cell type switch; everything else is `mysqlToSqlite` itself, so the values are the same.
 */
function sqliteConverters(table: SyncTable): { names: string[]; convert: Converter[] } {
  const forms = formsOf(table);
  const cached = convertersByTable.get(table);
  if (cached && cached.forms === forms) return cached;
  const names = table.columns.map((c) => c.name);
  const convert = table.columns.map((c): Converter => {
    const form = forms?.get(c.name);
    const general: Converter = (v) => mysqlToSqlite(v, c.type, form);
    if (form) return general;
    if (c.type === 'integer') return (v) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : general(v));
    if (c.type === 'datetime') return (v) => (typeof v === 'string' ? withoutZeroFraction(v) : general(v));
    return (v) => (typeof v === 'string' ? v : general(v));
  });
  const entry = { forms, names, convert };
  convertersByTable.set(table, entry);
  return entry;
}

/** `v.replace(/\.0+$/, '')` (the codec's DATETIME rule) without a regular expression's match per cell. */
function withoutZeroFraction(v: string): string {
  const dot = v.lastIndexOf('.');
  if (dot < 0 || dot === v.length - 1) return v;
  for (let i = dot + 1; i < v.length; i++) if (v.charCodeAt(i) !== 48) return v;
  return v.slice(0, dot);
}

/** Same datum on both sides (canonical forms), or both absent. */
export function sameImage(table: SyncTable, a: Row | null, b: Row | null): boolean {
  if (a === null || b === null) return a === b;
  // Column by column, the canonical forms only where the values are not the very same (a push's
  // rewrite check compares every row it wrote: no two row strings built per row). Equal to comparing
  // canonicalRow texts: those are length-prefixed, so they match exactly when every column does.
  for (const c of table.columns) {
    const x = a[c.name];
    const y = b[c.name];
    if (x === y || (typeof x === 'bigint' && typeof y === 'string' && NUMERIC.has(c.type) && String(x) === y)) continue;
    if (canonical(x as SqlValue, c.type) !== canonical(y as SqlValue, c.type)) return false;
  }
  return true;
}

/**
 * Types whose canonical form of a bigint and of a string is the number's, from the same digits: an
 * integer key read from SQLite (bigint) and from the hub (its text) are the same when the text is
 * the bigint's own, with no two canonical texts built per row (the push's rewrite check).
 */
const NUMERIC: ReadonlySet<LogicalType> = new Set(['integer', 'decimal', 'double']);

/**
 * Both rows hold the same values in one of the table's unique keys besides the primary key (none
 * NULL): one entity, whatever their keys' history. (Two rows could never both stand on the hub.)
 */
export function sameEntity(table: SyncTable, a: Row | null, b: Row | null): boolean {
  if (a === null || b === null) return false;
  return (table.uniqueKeys ?? []).some((names) => {
    const cols = names.map((n) => table.columns.find((c) => c.name === n)).filter((c) => c !== undefined);
    if (cols.length !== names.length || cols.some((c) => (a[c.name] ?? null) === null || (b[c.name] ?? null) === null))
      return false;
    return canonicalRow(a, cols) === canonicalRow(b, cols);
  });
}
