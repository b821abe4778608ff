/**
 * Translation of an existing SQLite schema (introspected TableInfo) to MySQL DDL,
 * and (translate-to-sqlite.ts) of hub tables to SQLite DDL for seeding a site.
 * Nothing is written here: the caller shows the statements and the warnings
 * first, then runs them (diff.ts, the wizard, the migration).
 *
 * Choices, so that values round-trip exactly (docs/SYNC-CONTRACT.md, invariant 10):
 *  - INTEGER → BIGINT, REAL/FLOAT/DOUBLE → DOUBLE (never 32-bit FLOAT), BOOLEAN → TINYINT(1),
 *    DECIMAL(p,s) → DECIMAL(p,s), DATETIME/TIMESTAMP → DATETIME(6) (never TIMESTAMP, which
 *    moves with the session time zone), DATE → DATE, TIME → TIME(6), BLOB → LONGBLOB,
 *    TEXT → LONGTEXT, VARCHAR(n) → VARCHAR(n), CHAR(n) → VARCHAR(n) (CHAR strips trailing spaces);
 *  - text in a primary/unique key or a foreign key becomes VARCHAR(n), n from the longest
 *    value when a SQLite handle is given (at least 255), never above 768 characters
 *    (utf8mb4 keys are limited to 3072 bytes); text only in ordinary indexes keeps its
 *    type and gets a prefix index;
 *  - untyped columns take their type from the data (or LONGTEXT, with a warning);
 *  - text in a primary key, a unique index or a foreign key gets a binary NO PAD collation
 *    (keyCollation: utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on MySQL 8), so that keys
 *    distinct in SQLite ('a', 'A', 'a ') stay distinct on the hub; other text keeps the
 *    table's utf8mb4_unicode_ci. DUALDB_KEY_COLLATION overrides it (`server`: no COLLATE);
 *  - INTEGER PRIMARY KEY / AUTOINCREMENT → AUTO_INCREMENT; utf8mb4 tables, InnoDB.
 * `_dualdb_*` tables are dualdb's own and never translated.
 */
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { type ColumnInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import type { ClockStyle } from './defaults.js';
import { DEFAULT_TEXT_COLLATION, KEY_COLLATION_ENV, lower, newContext } from './translate-context.js';

export { DEFAULT_TEXT_COLLATION, KEY_COLLATION_ENV, MYSQL_TABLE_OPTIONS } from './translate-context.js';

import { chooseKeyCollations, dropRefusedForeignKeys, fitKeys, unifyForeignKeyTypes } from './translate-keys.js';
import { planTables } from './translate-plan.js';
import { renderTable } from './translate-render.js';
import { foreignKeyOrder, forwardKey, type TranslatedTable, type Translation, type TranslationWarning } from './translation.js';

export { translateToSqlite } from './translate-to-sqlite.js';
export type { TranslatedTable, Translation, TranslationWarning } from './translation.js';

export interface ToMysqlOptions {
  /**
   * The SQLite database the tables come from. With it, text key lengths and the
   * types of untyped columns come from the data, and partial indexes and
   * generated columns are detected.
   */
  db?: SqliteDb;
  /** Hub tables that already exist and may be referenced by foreign keys. */
  existing?: TableInfo[];
  /** SQLite's clock defaults are UTC: `utc` (default) keeps that on MySQL; `session` uses CURRENT_TIMESTAMP(6). */
  clock?: ClockStyle;
  /** CREATE TABLE IF NOT EXISTS instead of CREATE TABLE. */
  ifNotExists?: boolean;
  /**
   * Collation of text key columns: a collation name, or `server` for the table's default.
   * Default: DUALDB_KEY_COLLATION, else utf8mb4_nopad_bin (see keyCollationFor for a given hub).
   */
  keyCollation?: string;
}

const NOPAD_BINARY = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin'];

/** The key collation without a hub to ask: the override, else MariaDB's binary NO PAD collation. */
export function defaultKeyCollation(env: NodeJS.ProcessEnv = process.env): string {
  const v = env[KEY_COLLATION_ENV]?.trim();
  return v ? v : 'utf8mb4_nopad_bin';
}

/**
 * The key collation for this hub: the override, else the first binary NO PAD
 * collation the server has (MariaDB 10.2+: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin),
 * else utf8mb4_bin (which still ignores trailing spaces).
 */
export async function keyCollationFor(
  hub: { query<T>(sql: string, params?: unknown[]): Promise<T[]> },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const v = env[KEY_COLLATION_ENV]?.trim();
  if (v) return v;
  const rows = await hub.query<{ COLLATION_NAME: string }>(
    'SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?)',
    [NOPAD_BINARY],
  );
  const have = new Set(rows.map((r) => r.COLLATION_NAME.toLowerCase()));
  return NOPAD_BINARY.find((c) => have.has(c)) ?? 'utf8mb4_bin';
}

/**
 * Translates SQLite tables to MySQL DDL. Returns the statements in the order to
 * run them and every unfaithful choice as a warning; writes nothing. Named passes
 * over one shared context (translate-context.ts): plan tables → unify foreign-key
 * types → drop refused foreign keys → fit keys → choose key collations → render.
 */
export function translateToMysql(tables: TableInfo[], options: ToMysqlOptions = {}): Translation {
  const ctx = newContext(options);
  const userTables = tables.filter((t) => !isMetaTable(t.name));
  planTables(ctx, userTables);
  unifyForeignKeyTypes(ctx);
  dropRefusedForeignKeys(ctx);
  fitKeys(ctx);
  const collationOf = chooseKeyCollations(ctx, options.keyCollation ?? defaultKeyCollation());

  const { ordered, forward } = foreignKeyOrder(userTables);
  const out: TranslatedTable[] = [];
  const deferred: { table: string; sql: string }[] = [];
  for (const t of ordered) {
    const plan = ctx.plans.get(t.name.toLowerCase());
    if (!plan) continue;
    const { create, alters, model } = renderTable(
      plan,
      (fkIndex) => forward.has(forwardKey(t.name, fkIndex)),
      options,
      collationOf,
    );
    out.push({ name: t.name, model, statements: [create] });
    for (const sql of alters) deferred.push({ table: t.name, sql });
  }
  return {
    target: 'mysql',
    tables: out,
    deferred,
    statements: [...out.flatMap((t) => t.statements), ...deferred.map((d) => d.sql)],
    warnings: ctx.warnings,
    notes: ctx.notes,
  };
}

/** The column definition `ALTER TABLE … ADD COLUMN` needs for one SQLite column (diff.ts). */
export function mysqlColumnFor(
  table: TableInfo,
  column: string,
  options: ToMysqlOptions = {},
): { definition: string; model: ColumnInfo; warnings: TranslationWarning[] } | undefined {
  const one = translateToMysql([{ ...table, foreignKeys: [] }], { ...options, existing: [] });
  const model = one.tables[0]?.model.columns.find((c) => lower(c.name) === lower(column));
  if (!model) return undefined;
  const collate = model.collation && model.collation !== DEFAULT_TEXT_COLLATION ? ` COLLATE ${model.collation}` : '';
  let definition = `${quoteMysqlId(model.name)} ${model.type.toUpperCase()}${collate}${model.nullable ? ' NULL' : ' NOT NULL'}`;
  if (model.autoIncrement) definition += ' AUTO_INCREMENT';
  if (model.defaultValue !== null) definition += ` DEFAULT ${model.defaultValue}`;
  return { definition, model, warnings: one.warnings.filter((w) => w.column !== undefined && lower(w.column) === lower(column)) };
}
