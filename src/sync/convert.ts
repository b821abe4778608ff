/** Whole-row conversions between the drivers' value forms, per the sync plan's column types. */
import { canonicalRow, mysqlToSqlite, type Row, sqliteToMysql } from '../engines/codec.js';
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
  const forms = formsOf(table);
  for (const c of table.columns) out[c.name] = mysqlToSqlite(row[c.name], c.type, forms?.get(c.name));
  return out;
}

/** Same datum on both sides (canonical forms), or both absent. */
export function sameImage(table: SyncTable, a: Row | null, b: Row | null): boolean {
  if (a === null || b === null) return a === b;
  return canonicalRow(a, table.columns) === canonicalRow(b, table.columns);
}
