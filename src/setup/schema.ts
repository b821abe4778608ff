/**
 * The schema step of the setup: what will be created where, shown before
 * anything is written (tables, untranslatable bits, differences), then applied
 * table by table with progress. The diff, the translations and the DDL plan
 * come from src/schema/ (diff.ts); the EPI schema from the SQL files in sql/.
 *
 *  - existing tables on either side → the diff's plan: tables missing on the hub
 *    translated from SQLite, tables missing locally translated from the hub (a new
 *    site joining), missing nullable columns added; everything else it will not
 *    guess is listed as a difference;
 *  - nothing anywhere → the EPI schema from sql/ is offered, for both sides.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { isMetaTable, type TableInfo } from '../engines/types.js';
import { applySchemaPlan, type DdlStep, diffSchemas } from '../schema/diff.js';
import { runSqlFile, type SqlTarget } from '../schema/runner.js';
import { splitSql } from '../schema/splitter.js';
import { keyCollationFor, type TranslationWarning } from '../schema/translate.js';

export interface TableDifference {
  table: string;
  detail: string;
}

export type SchemaChoice = 'auto' | 'epi' | 'none';

export interface SchemaTablePlan {
  name: string;
  side: 'mysql' | 'sqlite';
  /** create: a new table; alter: columns added; exists: left as it is. */
  action: 'create' | 'alter' | 'exists';
  /** What is added (alter): column names. */
  columns?: string[];
}

export interface SchemaPlan {
  choice: SchemaChoice;
  source: 'diff' | 'epi' | 'none';
  /** One line: what applying does. */
  summary: string;
  tables: SchemaTablePlan[];
  /** The DDL of the diff plan (empty for the EPI files, which run whole). */
  steps: DdlStep[];
  /** Bits that cannot be translated faithfully, with what is done instead; shown before anything is written. */
  warnings: TranslationWarning[];
  /** Choices that lose nothing, shown with the plan (text keys get a binary collation). */
  notes: TranslationWarning[];
  /** Differences the plan does not touch (never guessed): sync pauses those tables until fixed. */
  differences: TableDifference[];
  /** Nothing anywhere yet: the EPI schema is the suggestion. */
  suggestEpi: boolean;
}

export interface SchemaApplyEvent {
  table: string;
  side: 'mysql' | 'sqlite';
  /** What is done to the table: created, or columns added (named in `columns`). */
  action?: 'create-table' | 'add-column';
  columns?: string[];
  state: 'applying' | 'done';
  index: number;
  total: number;
}

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

export const EPI_FILES = {
  mysql: [`${SQL_DIR}mysql/epi_schema.sql`, `${SQL_DIR}mysql/epi_procedures.sql`],
  sqlite: [`${SQL_DIR}sqlite/epi_schema.sql`],
};

const CREATE_TABLE = /^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"[]?([^`"\]\s(]+)/i;

/** Table names a SQL file creates, in order. */
export function tablesCreatedBy(file: string, dialect: 'mysql' | 'sqlite'): string[] {
  const out: string[] = [];
  for (const s of splitSql(readFileSync(file, 'utf8'), dialect)) {
    const m = CREATE_TABLE.exec(s.sql);
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

function userTables(tables: TableInfo[]): TableInfo[] {
  return tables.filter((t) => !isMetaTable(t.name));
}

const lower = (s: string) => s.toLowerCase();
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Introspects both sides (either may be absent) and decides what to create where. Writes nothing. */
export async function planSchema(options: {
  sqlitePath: string;
  hub: MysqlHub | undefined;
  choice: SchemaChoice;
}): Promise<SchemaPlan> {
  const { hub, choice } = options;
  let db: SqliteDb | undefined;
  try {
    db = existsSync(options.sqlitePath) ? openSqlite(options.sqlitePath, { readonly: true }) : undefined;
    const sqliteTables = db ? userTables(introspectSqlite(db)) : [];
    const hubTables = hub ? userTables(await introspectMysql(hub)) : [];
    const base: SchemaPlan = {
      choice,
      source: 'none',
      summary: 'nothing to create',
      tables: [],
      steps: [],
      warnings: [],
      notes: [],
      differences: [],
      suggestEpi: sqliteTables.length === 0 && hubTables.length === 0,
    };
    if (choice === 'none') return { ...base, summary: 'schema left as it is' };

    if (choice === 'epi') {
      const sqliteHas = new Set(sqliteTables.map((t) => lower(t.name)));
      const hubHas = new Set(hubTables.map((t) => lower(t.name)));
      const tables: SchemaTablePlan[] = [];
      for (const name of tablesCreatedBy(EPI_FILES.sqlite[0] as string, 'sqlite')) {
        tables.push({ name, side: 'sqlite', action: sqliteHas.has(lower(name)) ? 'exists' : 'create' });
      }
      if (hub) {
        for (const name of tablesCreatedBy(EPI_FILES.mysql[0] as string, 'mysql')) {
          tables.push({ name, side: 'mysql', action: hubHas.has(lower(name)) ? 'exists' : 'create' });
        }
      }
      const creates = tables.filter((t) => t.action === 'create').length;
      return {
        ...base,
        source: 'epi',
        tables,
        summary: `EPI schema from sql/: ${plural(creates, 'table')} to create${hub ? ', views and procedures on the hub' : ', views'}`,
      };
    }

    // auto: the diff's plan. Without a hub, SQLite is used as it is.
    if (!hub) return { ...base, summary: 'SQLite only: the local schema is used as it is' };
    const diff = diffSchemas(sqliteTables, hubTables, {
      direction: 'both',
      keyCollation: await keyCollationFor(hub),
      ...(db ? { db } : {}),
    });
    const tables: SchemaTablePlan[] = [];
    const seen = new Map<string, SchemaTablePlan>();
    for (const step of diff.plan) {
      const side = step.target === 'mysql' ? 'mysql' : 'sqlite';
      const id = `${side}:${lower(step.table)}`;
      let t = seen.get(id);
      if (!t) {
        t = { name: step.table, side, action: step.action === 'add-column' ? 'alter' : 'create' };
        seen.set(id, t);
        tables.push(t);
      }
      if (step.action === 'add-column' && step.column) t.columns = [...(t.columns ?? []), step.column];
    }
    for (const t of diff.tables) {
      if (t.presence === 'both' && !seen.has(`mysql:${lower(t.table)}`) && !seen.has(`sqlite:${lower(t.table)}`))
        tables.push({ name: t.table, side: 'mysql', action: 'exists' });
    }
    const count = (side: 'mysql' | 'sqlite', action: 'create' | 'alter') =>
      tables.filter((t) => t.side === side && t.action === action).length;
    const parts = [
      ...(count('mysql', 'create') ? [`${plural(count('mysql', 'create'), 'table')} to create on the hub`] : []),
      ...(count('sqlite', 'create') ? [`${plural(count('sqlite', 'create'), 'table')} to create in SQLite`] : []),
      ...(count('mysql', 'alter') + count('sqlite', 'alter')
        ? [`${plural(count('mysql', 'alter') + count('sqlite', 'alter'), 'table')} to extend with new columns`]
        : []),
    ];
    return {
      ...base,
      source: 'diff',
      tables,
      steps: diff.plan,
      warnings: diff.warnings,
      notes: diff.notes,
      differences: diff.untouched.map((u) => ({
        table: u.table,
        detail: `${u.column ? `column ${u.column}: ` : ''}${u.problem} — ${u.reason}`,
      })),
      summary: parts.length
        ? parts.join('; ')
        : diff.inSync
          ? 'both sides already hold the same tables'
          : 'nothing the setup can create; see the differences',
    };
  } finally {
    db?.close();
  }
}

/** True when applying the plan writes something. */
export function planWrites(plan: SchemaPlan): boolean {
  return plan.source === 'epi' || plan.steps.length > 0;
}

/**
 * Applies the plan: creates the SQLite file when missing, runs the DDL table by
 * table (the hub first, parents before children), reporting each table. A
 * refused statement stops with a SqlStatementError naming it.
 */
export async function applySchema(
  plan: SchemaPlan,
  options: { sqlitePath: string; hub: MysqlHub | undefined; onTable?: (e: SchemaApplyEvent) => void },
): Promise<{ statements: number }> {
  const { hub } = options;
  if (!planWrites(plan)) return { statements: 0 };
  const db = openSqlite(options.sqlitePath, { create: true });
  try {
    if (plan.source === 'epi') return await applyEpi(plan, db, hub, options.onTable);
    const total = new Set(plan.steps.map((s) => `${s.target}:${lower(s.table)}`)).size;
    let index = -1;
    let current:
      | { key: string; table: string; side: 'mysql' | 'sqlite'; action: 'create-table' | 'add-column'; columns: string[] }
      | undefined;
    const finish = () => {
      if (current)
        options.onTable?.({
          table: current.table,
          side: current.side,
          state: 'done',
          index,
          total,
          action: current.action,
          ...(current.columns.length ? { columns: current.columns } : {}),
        });
    };
    const report = await applySchemaPlan(
      plan.steps,
      { db, ...(hub ? { hub } : {}) },
      {
        onStep: (step) => {
          const side = step.target === 'mysql' ? 'mysql' : 'sqlite';
          const key = `${side}:${lower(step.table)}`;
          if (current?.key === key) {
            if (step.column) current.columns.push(step.column);
            return;
          }
          finish();
          index++;
          const action = step.action === 'add-column' ? 'add-column' : 'create-table';
          current = { key, table: step.table, side, action, columns: step.column ? [step.column] : [] };
          options.onTable?.({ table: step.table, side, state: 'applying', index, total });
        },
      },
    );
    if (!report.ok) throw report.error ?? new Error('the schema plan stopped');
    finish();
    return { statements: report.steps.filter((s) => s.status === 'applied').length };
  } finally {
    db.close();
  }
}

async function applyEpi(
  plan: SchemaPlan,
  db: SqliteDb,
  hub: MysqlHub | undefined,
  onTable: ((e: SchemaApplyEvent) => void) | undefined,
): Promise<{ statements: number }> {
  const total = plan.tables.length;
  let index = 0;
  let statements = 0;
  for (const side of ['sqlite', 'mysql'] as const) {
    if (side === 'mysql' && !hub) continue;
    const target: SqlTarget = side === 'sqlite' ? { engine: 'sqlite', db } : { engine: 'mysql', hub: hub as MysqlHub };
    const pending = new Set(plan.tables.filter((t) => t.side === side).map((t) => lower(t.name)));
    let current: string | undefined;
    const finish = () => {
      if (!current) return;
      onTable?.({ table: current, side, state: 'done', index, total });
      index++;
      pending.delete(lower(current));
      current = undefined;
    };
    for (const file of EPI_FILES[side]) {
      const r = await runSqlFile(file, target, {
        onStatement: (s) => {
          const m = CREATE_TABLE.exec(s.sql);
          if (m?.[1] && pending.has(lower(m[1]))) {
            finish();
            current = m[1];
            onTable?.({ table: current, side, state: 'applying', index, total });
          }
        },
      });
      finish();
      statements += r.statements;
    }
  }
  return { statements };
}
