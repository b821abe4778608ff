/**
 * Which text form each synced column's values take in SQLite (docs/SYNC-CONTRACT.md invariant 14),
 * decided once per sync plan from the column's declared type and a sample of the values it holds
 * (the latest SAMPLE_ROWS rows), or forced by SYNC_VALUE_FORMS. Kept beside the plan's tables
 * (a WeakMap, so each new plan samples again and old ones are forgotten): whoever builds a plan
 * with a SQLite handle at hand attaches the forms, and `toSqliteRow(table, row)` applies them.
 */
import type { Row, SqlValue } from '../engines/codec.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnForm, formFromName, inferForm } from '../engines/value-forms.js';
import type { SyncTable } from './plan.js';

/** Rows read per table to decide its columns' forms (the newest by rowid). */
export const SAMPLE_ROWS = 200;

/** 'table.column' (lower case) → form name, as SYNC_VALUE_FORMS gives them. */
export type FormOverrides = Record<string, string>;

const formsByTable = new WeakMap<SyncTable, Map<string, ColumnForm>>();

/** The forms attached to this table object: column name → form (columns without one are absent). */
export function formsOf(table: SyncTable): ReadonlyMap<string, ColumnForm> | undefined {
  return formsByTable.get(table);
}

/** Decides and attaches the forms of every table given. Cheap: one bounded read per table. */
export function attachValueForms(db: SqliteDb, tables: readonly SyncTable[], overrides: FormOverrides = {}): void {
  for (const t of tables) {
    if (t.meta) continue;
    formsByTable.set(t, decideForms(db, t, overrides));
  }
}

function decideForms(db: SqliteDb, table: SyncTable, overrides: FormOverrides): Map<string, ColumnForm> {
  const declared = new Map(
    (db.prepare('SELECT name, type FROM pragma_table_info(?)').all(table.name) as { name: string; type: string }[]).map((c) => [
      c.name.toLowerCase(),
      c.type,
    ]),
  );
  const forms = new Map<string, ColumnForm>();
  const toSample = table.columns.filter((c) => {
    const forced = overrides[`${table.name}.${c.name}`.toLowerCase()];
    const form = forced === undefined ? undefined : formFromName(forced);
    if (form) forms.set(c.name, form);
    return !form && ['datetime', 'time', 'double', 'float32', 'decimal'].includes(c.type);
  });
  if (toSample.length === 0) return forms;
  const rows = sampleRows(
    db,
    table.name,
    toSample.map((c) => c.name),
  );
  for (const c of toSample) {
    const values: SqlValue[] = [];
    for (const r of rows) if (r[c.name] !== null && r[c.name] !== undefined) values.push(r[c.name] as SqlValue);
    const form = inferForm(c.type, declared.get(c.name.toLowerCase()) ?? '', values);
    if (form) forms.set(c.name, form);
  }
  return forms;
}

function sampleRows(db: SqliteDb, table: string, columns: string[]): Row[] {
  const select = `SELECT ${columns.map(quoteSqliteId).join(', ')} FROM ${quoteSqliteId(table)}`;
  try {
    return db.prepare(`${select} ORDER BY rowid DESC LIMIT ${SAMPLE_ROWS}`).all() as Row[];
  } catch {
    // WITHOUT ROWID: any rows will do.
    return db.prepare(`${select} LIMIT ${SAMPLE_ROWS}`).all() as Row[];
  }
}
