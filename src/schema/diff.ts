/**
 * Schema diff between the local SQLite file and the hub: which tables exist on
 * one side only, which columns are missing or differ, and the DDL plan that
 * makes the two sides match where that is safe:
 *
 *  - CREATE TABLE for tables missing on a side (parents first; SQLite tables go to
 *    the hub through translateToMysql, hub tables come down through translateToSqlite);
 *  - ALTER TABLE … ADD COLUMN for missing columns that are nullable or have a default.
 *
 * Anything else (type changes, NOT NULL columns without a default, primary-key
 * differences, unique indexes on new columns) is never guessed: it is listed in
 * `untouched` with the reason. `_dualdb_*` tables are never compared.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId, sqliteLiteral } from '../engines/sqlite/quote.js';
import { type ColumnInfo, type EngineName, isMetaTable, type TableInfo } from '../engines/types.js';
import { type ClockStyle, mysqlDefaultToSqlite } from './defaults.js';
import { SqlStatementError } from './errors.js';
import { type TableKeyKind, tableKeyKinds } from './key-kind.js';
import { runStatements } from './runner.js';
import { keyCollationFor, mysqlColumnFor, translateToMysql, translateToSqlite } from './translate.js';
import type { TranslationWarning } from './translation.js';
import { collationFolds, columnCompatibility, enumMembers, mysqlToSqliteType } from './type-map.js';

export type DdlAction = 'create-table' | 'add-foreign-key' | 'add-column';

/** One DDL statement of the plan, and where it runs. */
export interface DdlStep {
  target: EngineName;
  table: string;
  action: DdlAction;
  column?: string;
  sql: string;
}

export interface ColumnDifference {
  column: string;
  problem: string;
  reason: string;
}

export interface TableDiff {
  table: string;
  presence: 'both' | 'sqlite-only' | 'mysql-only';
  /** Columns SQLite has and the hub lacks. */
  missingOnMysql: string[];
  /** Columns the hub has and SQLite lacks. */
  missingOnSqlite: string[];
  different: ColumnDifference[];
  /** Set when the primary keys differ. */
  primaryKey?: { sqlite: string[]; mysql: string[] };
}

/** A difference the plan leaves alone, with the reason and what to do. */
export interface Untouched {
  table: string;
  column?: string;
  problem: string;
  reason: string;
}

export interface SchemaDiff {
  sqliteTables: string[];
  mysqlTables: string[];
  tables: TableDiff[];
  plan: DdlStep[];
  untouched: Untouched[];
  /** From the translations behind the CREATE/ADD statements. */
  warnings: TranslationWarning[];
  /** Choices that lose nothing, shown with the plan (the collation of text keys). */
  notes: TranslationWarning[];
  /** Nothing to run and nothing left different. */
  inSync: boolean;
  /** Per table with a primary key: generated or natural (src/schema/key-kind.ts). */
  keyKinds: Record<string, TableKeyKind>;
  /** Tables without a primary key (on either side): not synced. */
  noPrimaryKey: string[];
}

export type PlanDirection = 'both' | 'mysql' | 'sqlite';

export interface DiffOptions {
  /** Only these tables (case-insensitive); default all. */
  tables?: string[];
  /** Which side the plan may change: `mysql` (the hub), `sqlite`, or `both` (default). */
  direction?: PlanDirection;
  /** The SQLite handle, to size text keys of new hub tables from the data. */
  db?: SqliteDb;
  clock?: ClockStyle;
  /** Collation of text keys in new hub tables and columns (translate.ts, keyCollationFor). */
  keyCollation?: string;
}

const lower = (s: string) => s.toLowerCase();

/** Compares two introspected schemas; pure (the SQLite handle is only read). */
export function diffSchemas(sqlite: TableInfo[], mysql: TableInfo[], options: DiffOptions = {}): SchemaDiff {
  const filter = options.tables && options.tables.length > 0 ? new Set(options.tables.map(lower)) : undefined;
  const wanted = (name: string) => !isMetaTable(name) && (!filter || filter.has(lower(name)));
  const allS = sqlite.filter((t) => !isMetaTable(t.name));
  const allM = mysql.filter((t) => !isMetaTable(t.name));
  const sTables = allS.filter((t) => wanted(t.name));
  const mTables = allM.filter((t) => wanted(t.name));
  const sByName = new Map(sTables.map((t) => [lower(t.name), t]));
  const mByName = new Map(mTables.map((t) => [lower(t.name), t]));
  const toMysql = options.direction !== 'sqlite';
  const toSqlite = options.direction !== 'mysql';

  const tables: TableDiff[] = [];
  const plan: DdlStep[] = [];
  const untouched: Untouched[] = [];
  const warnings: TranslationWarning[] = [];
  const notes: TranslationWarning[] = [];
  const keyCollation = options.keyCollation ? { keyCollation: options.keyCollation } : {};

  // Tables on one side only.
  const onlyS = sTables.filter((t) => !mByName.has(lower(t.name)));
  const onlyM = mTables.filter((t) => !sByName.has(lower(t.name)));
  for (const t of onlyS) tables.push(emptyDiff(t.name, 'sqlite-only'));
  for (const t of onlyM) tables.push(emptyDiff(t.name, 'mysql-only'));
  if (toMysql && onlyS.length > 0) {
    const tr = translateToMysql(onlyS, {
      ...(options.db ? { db: options.db } : {}),
      existing: allM,
      clock: options.clock ?? 'utc',
      ...keyCollation,
    });
    warnings.push(...tr.warnings);
    notes.push(...(tr.notes ?? []));
    for (const t of tr.tables)
      for (const sql of t.statements) plan.push({ target: 'mysql', table: t.name, action: 'create-table', sql });
    for (const d of tr.deferred) plan.push({ target: 'mysql', table: d.table, action: 'add-foreign-key', sql: d.sql });
  }
  if (toSqlite && onlyM.length > 0) {
    const tr = translateToSqlite(onlyM, { existing: allS });
    warnings.push(...tr.warnings);
    for (const t of tr.tables)
      for (const sql of t.statements) plan.push({ target: 'sqlite', table: t.name, action: 'create-table', sql });
  }

  // Tables on both sides: columns and keys.
  for (const s of sTables) {
    const m = mByName.get(lower(s.name));
    if (!m) continue;
    const d = emptyDiff(s.name, 'both');
    const mCols = new Map(m.columns.map((c) => [lower(c.name), c]));
    const sCols = new Map(s.columns.map((c) => [lower(c.name), c]));
    const hubKeyColumns = keyColumnsOf(m);
    const sPk = s.primaryKey.map(lower).join(',');
    const mPk = m.primaryKey.map(lower).join(',');
    if (sPk !== mPk) {
      d.primaryKey = { sqlite: s.primaryKey, mysql: m.primaryKey };
      untouched.push({
        table: s.name,
        problem: `primary key (${s.primaryKey.join(', ') || 'none'}) in SQLite vs (${m.primaryKey.join(', ') || 'none'}) on the hub`,
        reason: 'changing a primary key rebuilds the table and may fail on existing rows: make them match by hand',
      });
    }
    for (const c of s.columns) {
      const hub = mCols.get(lower(c.name));
      if (!hub) {
        d.missingOnMysql.push(c.name);
        if (toMysql) addColumnToMysql(s, m, c);
        continue;
      }
      const problem = columnCompatibility(c, hub);
      if (problem) d.different.push({ column: c.name, ...problem });
      // Case and accents: a declaration that merges keys. Trailing spaces alone (utf8mb4_bin):
      // rare in keys, so `schema check` counts the rows that collide instead.
      const folds =
        hubKeyColumns.has(lower(hub.name)) && !/_bin$/i.test(hub.collation ?? '') ? collationFolds(hub.collation) : null;
      if (folds)
        d.different.push({
          column: c.name,
          problem: `key column with collation ${hub.collation}`,
          reason: `the hub's key ignores ${folds}, which SQLite keeps apart: rows distinct locally would collide (\`dualdb schema fit\` sets a binary collation)`,
        });
      if (c.pkOrdinal === 0 && hub.pkOrdinal === 0 && c.nullable !== hub.nullable) {
        d.different.push({
          column: c.name,
          problem: hub.nullable ? 'NOT NULL in SQLite only' : 'NOT NULL on the hub only',
          reason: hub.nullable
            ? 'a NULL written on the hub would be refused locally'
            : 'a NULL written locally would be refused by the hub',
        });
      }
    }
    for (const c of m.columns) {
      if (sCols.has(lower(c.name))) continue;
      d.missingOnSqlite.push(c.name);
      if (toSqlite) addColumnToSqlite(s, c);
    }
    for (const x of d.different)
      untouched.push({ table: s.name, column: x.column, problem: x.problem, reason: `${x.reason}; change one side by hand` });
    if (d.missingOnMysql.length || d.missingOnSqlite.length || d.different.length || d.primaryKey) tables.push(d);
  }
  tables.sort((a, b) => a.table.localeCompare(b.table));
  return {
    sqliteTables: sTables.map((t) => t.name).sort(),
    mysqlTables: mTables.map((t) => t.name).sort(),
    tables,
    plan,
    untouched,
    warnings,
    notes,
    inSync: plan.length === 0 && untouched.length === 0 && tables.length === 0,
    keyKinds: tableKeyKinds(sTables, mTables),
    noPrimaryKey: [...new Set([...sTables, ...mTables].filter((t) => t.primaryKey.length === 0).map((t) => t.name))].sort(),
  };

  function addColumnToMysql(s: TableInfo, m: TableInfo, c: ColumnInfo): void {
    const leave = (reason: string): void => {
      untouched.push({ table: s.name, column: c.name, problem: 'only in SQLite', reason });
    };
    if (c.pkOrdinal > 0) return; // reported with the primary-key difference
    const col = mysqlColumnFor(s, c.name, {
      ...(options.db ? { db: options.db } : {}),
      clock: options.clock ?? 'utc',
      ...keyCollation,
    });
    if (!col) return;
    if (!col.model.nullable && col.model.defaultValue === null) {
      leave('NOT NULL without a default: the hub has rows that would need a value; add it by hand');
      return;
    }
    warnings.push(...col.warnings);
    plan.push({
      target: 'mysql',
      table: m.name,
      action: 'add-column',
      column: c.name,
      sql: `ALTER TABLE ${quoteMysqlId(m.name)} ADD COLUMN ${col.definition}`,
    });
    noteKeysOn(s, c.name, 'the hub');
  }

  function addColumnToSqlite(s: TableInfo, c: ColumnInfo): void {
    const leave = (reason: string): void => {
      untouched.push({ table: s.name, column: c.name, problem: 'only on the hub', reason });
    };
    if (c.pkOrdinal > 0) return;
    if (c.autoIncrement) {
      leave('AUTO_INCREMENT outside the primary key has no SQLite equivalent');
      return;
    }
    const type = mysqlToSqliteType(c);
    if (type.note) warnings.push({ table: s.name, column: c.name, ...type.note });
    const d = mysqlDefaultToSqlite(c.defaultValue, c.baseType.toLowerCase());
    if (d.warning) warnings.push({ table: s.name, column: c.name, ...d.warning });
    let dflt = d.sql;
    // SQLite's ADD COLUMN takes only constant defaults (no clock, no expression).
    if (dflt !== null && (/^current_/i.test(dflt) || dflt.startsWith('('))) {
      if (!c.nullable) {
        leave(`NOT NULL with a non-constant default (${dflt}), which SQLite's ADD COLUMN refuses; add it by hand`);
        return;
      }
      warnings.push({
        table: s.name,
        column: c.name,
        problem: `default ${dflt}`,
        reason: "SQLite's ADD COLUMN refuses non-constant defaults: the column is added without it",
      });
      dflt = null;
    }
    if (!c.nullable && dflt === null) {
      leave('NOT NULL without a default: existing local rows would need a value; add it by hand');
      return;
    }
    let def = `${quoteSqliteId(c.name)} ${type.sql}${c.nullable ? '' : ' NOT NULL'}${dflt === null ? '' : ` DEFAULT ${dflt}`}`;
    if (c.baseType.toLowerCase() === 'enum') {
      const members = enumMembers(c.type);
      if (members.length) def += ` CHECK (${quoteSqliteId(c.name)} IN (${members.map(sqliteLiteral).join(', ')}))`;
    }
    plan.push({
      target: 'sqlite',
      table: s.name,
      action: 'add-column',
      column: c.name,
      sql: `ALTER TABLE ${quoteSqliteId(s.name)} ADD COLUMN ${def}`,
    });
    const m = mByName.get(lower(s.name));
    if (m) noteKeysOn(m, c.name, 'SQLite');
  }

  /** Indexes and foreign keys on a new column are not added: say so. */
  function noteKeysOn(source: TableInfo, column: string, where: string): void {
    for (const ix of source.indexes) {
      if (!ix.columns.some((x) => lower(x) === lower(column))) continue;
      untouched.push({
        table: source.name,
        column,
        problem: `${ix.unique ? 'unique index' : 'index'} ${ix.name}`,
        reason: ix.unique
          ? `not created on ${where}: existing rows may break it; create it by hand once the values are unique`
          : `not created on ${where} by apply; create it if queries need it`,
      });
    }
    for (const fk of source.foreignKeys) {
      if (!fk.columns.some((x) => lower(x) === lower(column))) continue;
      untouched.push({
        table: source.name,
        column,
        problem: `foreign key (${fk.columns.join(', ')}) → ${fk.refTable}`,
        reason: `not created on ${where} by apply; add it by hand`,
      });
    }
  }
}

/** Columns in the primary key or a unique index (lower-case names). */
export function keyColumnsOf(t: TableInfo): Set<string> {
  return new Set([...t.primaryKey, ...t.indexes.filter((i) => i.unique).flatMap((i) => i.columns)].map(lower));
}

function emptyDiff(table: string, presence: TableDiff['presence']): TableDiff {
  return { table, presence, missingOnMysql: [], missingOnSqlite: [], different: [] };
}

/** Introspects both sides and diffs them. */
export async function diffDatabases(db: SqliteDb, hub: MysqlHub, options: Omit<DiffOptions, 'db'> = {}): Promise<SchemaDiff> {
  return diffSchemas(introspectSqlite(db), await introspectMysql(hub), {
    keyCollation: await keyCollationFor(hub),
    ...options,
    db,
  });
}

export interface StepResult extends DdlStep {
  status: 'applied' | 'failed' | 'not-run';
  error?: string;
}

export interface ApplyReport {
  ok: boolean;
  steps: StepResult[];
  /** The failure, with the statement and the server's message. */
  error?: SqlStatementError;
}

/**
 * Runs a plan: the hub's statements first (each commits on its own: MySQL DDL is
 * not transactional), then SQLite's in one transaction (all or nothing). Stops at
 * the first failure and reports which steps ran.
 */
export async function applySchemaPlan(
  plan: DdlStep[],
  sides: { db?: SqliteDb; hub?: MysqlHub },
  options: { onStep?: (step: DdlStep, index: number) => void } = {},
): Promise<ApplyReport> {
  const steps: StepResult[] = plan.map((s) => ({ ...s, status: 'not-run' }));
  /** Runs one step; a refused statement marks it failed and ends the run (other errors propagate). */
  const runStep = async (step: StepResult): Promise<SqlStatementError | undefined> => {
    const index = steps.indexOf(step);
    options.onStep?.(step, index);
    const target =
      step.target === 'mysql'
        ? { engine: 'mysql' as const, hub: sides.hub as MysqlHub }
        : { engine: 'sqlite' as const, db: sides.db as SqliteDb };
    try {
      await runStatements([{ sql: step.sql, line: 0, endLine: 0 }], target, {
        source: `schema apply step ${index + 1} (${step.table})`,
      });
      step.status = 'applied';
      return undefined;
    } catch (e) {
      if (!(e instanceof SqlStatementError)) throw e;
      step.status = 'failed';
      step.error = e.serverMessage;
      return e;
    }
  };
  const mysqlSteps = steps.filter((s) => s.target === 'mysql');
  const sqliteSteps = steps.filter((s) => s.target === 'sqlite');
  if (mysqlSteps.length > 0 && !sides.hub) throw new Error('applySchemaPlan: the plan has hub steps but no hub connection');
  if (sqliteSteps.length > 0 && !sides.db) throw new Error('applySchemaPlan: the plan has SQLite steps but no SQLite handle');
  for (const step of mysqlSteps) {
    const error = await runStep(step);
    if (error) return { ok: false, steps, error };
  }
  if (sqliteSteps.length > 0 && sides.db) {
    const db = sides.db;
    db.exec('BEGIN IMMEDIATE');
    let error: SqlStatementError | undefined;
    try {
      for (const step of sqliteSteps) {
        error = await runStep(step);
        if (error) break;
      }
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
    if (error) {
      db.exec('ROLLBACK');
      // All or nothing: what ran before the failure was rolled back.
      for (const s of sqliteSteps) if (s.status === 'applied') s.status = 'not-run';
      return { ok: false, steps, error };
    }
    db.exec('COMMIT');
  }
  return { ok: true, steps };
}
