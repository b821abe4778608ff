/**
 * Which text form each synced column's values take in SQLite (docs/SYNC-CONTRACT.md invariant 14),
 * decided once per sync plan from the column's declared type and a sample of the values it holds
 * (the latest SAMPLE_ROWS rows), or forced by SYNC_VALUE_FORMS. Kept beside the plan's tables
 * (a WeakMap, so each new plan samples again and old ones are forgotten): whoever builds a plan
 * with a SQLite handle at hand attaches the forms, and `toSqliteRow(table, row)` applies them.
 */
import { editDistance } from '../config/near-miss.js';
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

/** A SYNC_VALUE_FORMS entry naming a table or column the SQLite file does not have (it would be ignored). */
export interface UnknownFormEntry {
  /** As given (lower case): `table.column`. */
  entry: string;
  /** Whether the table is unknown, or only the column. */
  unknown: 'table' | 'column';
  /** The known names nearest to it (tables, or the table's columns), nearest first; at most 3. */
  nearest: string[];
  /** One line for the operator: the entry, what is wrong, the nearest names. */
  line: string;
}

const NEAREST = 3;

function nearest(name: string, known: readonly string[]): string[] {
  return known
    .map((k) => ({ k, d: editDistance(name, k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, NEAREST)
    .map((x) => x.k);
}

/**
 * The SYNC_VALUE_FORMS entries that name no table, or no column of their table, in the node's
 * SQLite file (names compared without case, as the setting is). Such an entry forces nothing:
 * the column keeps the form its values show, which the operator meant to override.
 */
export function unknownFormEntries(
  tables: readonly { name: string; columns: readonly { name: string }[] }[],
  overrides: FormOverrides,
): UnknownFormEntry[] {
  const byName = new Map(tables.filter((t) => !t.name.startsWith('_dualdb_')).map((t) => [t.name.toLowerCase(), t]));
  const out: UnknownFormEntry[] = [];
  for (const entry of Object.keys(overrides)) {
    const dot = entry.indexOf('.');
    const [tableName, columnName] = [entry.slice(0, dot), entry.slice(dot + 1)];
    const table = byName.get(tableName);
    if (!table) {
      const near = nearest(
        tableName,
        [...byName.values()].map((t) => t.name),
      );
      out.push({
        entry,
        unknown: 'table',
        nearest: near,
        line: `SYNC_VALUE_FORMS entry "${entry}" is ignored: the SQLite file has no table ${tableName}${near.length ? `; nearest tables: ${near.join(', ')}` : ''}`,
      });
      continue;
    }
    if (table.columns.some((c) => c.name.toLowerCase() === columnName)) continue;
    const near = nearest(
      columnName,
      table.columns.map((c) => c.name),
    );
    out.push({
      entry,
      unknown: 'column',
      nearest: near,
      line: `SYNC_VALUE_FORMS entry "${entry}" is ignored: table ${table.name} has no column ${columnName}${near.length ? `; nearest columns: ${near.join(', ')}` : ''}`,
    });
  }
  return out;
}
