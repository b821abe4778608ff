/**
 * Translation of an existing SQLite schema (introspected TableInfo) to MySQL DDL,
 * and (translate-to-sqlite.ts) of hub tables to SQLite DDL for seeding a site.
 * Nothing is written here: the caller shows the statements and the warnings
 * first, then runs them (diff.ts, the wizard, the migration).
 *
 * Choices, so that values round-trip exactly (DESIGN invariant 10):
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
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnInfo, type ForeignKeyInfo, type IndexInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import { type ClockStyle, sqliteDefaultToMysql } from './defaults.js';
import {
  foreignKeyOrder,
  forwardKey,
  normaliseRule,
  type TranslatedTable,
  type Translation,
  type TranslationWarning,
  uniqueName,
} from './translation.js';
import {
  classifySqliteType,
  DEFAULT_KEY_CHARS,
  keyBytes,
  MAX_DECIMAL_PRECISION,
  MAX_DECIMAL_SCALE,
  MAX_KEY_BYTES,
  MAX_KEY_CHARS,
  MAX_VARCHAR_CHARS,
  type MysqlType,
  mysqlType,
  rowBytes,
  type SqliteType,
  UTF8MB4_BYTES,
} from './type-map.js';

export { translateToSqlite } from './translate-to-sqlite.js';
export type { TranslatedTable, Translation, TranslationWarning } from './translation.js';

export const MYSQL_TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
/** Largest VARBINARY that fits the row limit comfortably. */
const MAX_VARBINARY = 65_000;
const MAX_ROW_BYTES = 65_535;
const PREFIX_CHARS = 255;

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

/** The table default that text columns outside keys keep. */
export const DEFAULT_TEXT_COLLATION = 'utf8mb4_unicode_ci';
/** The environment variable that overrides the collation of text keys (`server` or a collation name). */
export const KEY_COLLATION_ENV = 'DUALDB_KEY_COLLATION';
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

interface ColumnPlan {
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

interface TablePlan {
  src: TableInfo;
  columns: Map<string, ColumnPlan>;
  indexes: { info: IndexInfo; name: string; prefixes: (number | null)[] }[];
  foreignKeys: { info: ForeignKeyInfo; name: string; onDelete: string; onUpdate: string }[];
}

const lower = (s: string) => s.toLowerCase();
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Data facts needed for choices, read with cheap aggregate queries. */
class DataProbe {
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
function typeOfHubColumn(col: ColumnInfo): MysqlType {
  const sql = col.type.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/i, (m, b: string) =>
    b.toLowerCase() === 'tinyint' && /\(1\)/.test(m) ? m : b,
  );
  return mysqlType(sql.toUpperCase(), col.baseType.toLowerCase(), {
    length: col.maxLength,
    precision: col.numericPrecision,
    scale: col.numericScale,
  });
}

const varchar = (n: number) => mysqlType(`VARCHAR(${n})`, 'varchar', { length: n });
const varbinary = (n: number) => mysqlType(`VARBINARY(${n})`, 'varbinary', { length: n });
const LONGTEXT = mysqlType('LONGTEXT', 'longtext');
const LONGBLOB = mysqlType('LONGBLOB', 'longblob');
const BIGINT = mysqlType('BIGINT', 'bigint', { precision: 19, scale: 0 });
const DOUBLE = mysqlType('DOUBLE', 'double');

/**
 * Translates SQLite tables to MySQL DDL. Returns the statements in the order to
 * run them and every unfaithful choice as a warning; writes nothing.
 */
export function translateToMysql(tables: TableInfo[], options: ToMysqlOptions = {}): Translation {
  const probe = new DataProbe(options.db);
  const warnings: TranslationWarning[] = [];
  const warn = (table: string, column: string | undefined, problem: string, reason: string) =>
    warnings.push({ table, ...(column === undefined ? {} : { column }), problem, reason });
  const userTables = tables.filter((t) => !isMetaTable(t.name));
  const existing = new Map((options.existing ?? []).filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t]));

  // Which columns are referenced by foreign keys of other tables (the parent end).
  const referenced = new Set<string>();
  for (const t of userTables)
    for (const fk of t.foreignKeys) for (const c of fk.refColumns) referenced.add(`${lower(fk.refTable)}.${lower(c)}`);

  const plans = new Map<string, TablePlan>();
  for (const t of userTables) plans.set(lower(t.name), planTable(t));

  // Foreign keys: child columns take the parent's type; unify text lengths across both ends.
  for (let round = 0; round < 4; round++) {
    let changed = false;
    for (const plan of plans.values()) {
      for (const fk of plan.foreignKeys) {
        fk.info.columns.forEach((childName, i) => {
          const child = plan.columns.get(lower(childName));
          const parentName = fk.info.refColumns[i];
          if (!child || parentName === undefined) return;
          const parentPlan = plans.get(lower(fk.info.refTable));
          const parentCol = parentPlan?.columns.get(lower(parentName));
          const hubParent = existing.get(lower(fk.info.refTable))?.columns.find((c) => lower(c.name) === lower(parentName));
          const parentType = parentCol?.type ?? (hubParent ? typeOfHubColumn(hubParent) : undefined);
          if (!parentType) return;
          const cText = child.type.base === 'varchar';
          const pText = parentType.base === 'varchar';
          if (cText && pText && parentCol) {
            const n = Math.max(child.type.length ?? 0, parentType.length ?? 0);
            if (child.type.length !== n) {
              child.type = varchar(n);
              changed = true;
            }
            if (parentCol.type.length !== n) {
              parentCol.type = varchar(n);
              changed = true;
            }
          } else if (child.type.sql !== parentType.sql && sameFamily(child.type, parentType)) {
            child.type = { ...parentType };
            changed = true;
          }
          if (!parentCol && hubParent && /char|text/.test(child.type.base)) child.collationOf = hubParent.collation ?? null;
        });
      }
    }
    if (!changed) break;
  }

  // Drop foreign keys MySQL would refuse, with the reason.
  for (const plan of plans.values()) {
    const table = plan.src.name;
    plan.foreignKeys = plan.foreignKeys.filter((fk) => {
      const parentKey = lower(fk.info.refTable);
      const parentPlan = plans.get(parentKey);
      const hubParent = existing.get(parentKey);
      const what = `foreign key (${fk.info.columns.join(', ')}) → ${fk.info.refTable}`;
      if (!parentPlan && !hubParent) {
        warn(
          table,
          fk.info.columns.join(', '),
          what,
          `${fk.info.refTable} is not part of this translation and does not exist on the hub; the key is left out`,
        );
        return false;
      }
      // InnoDB needs the referenced columns to lead an index (SQLite only checks when writing).
      const parentKeys = parentPlan
        ? [parentPlan.src.primaryKey, ...parentPlan.indexes.map((ix) => ix.info.columns)]
        : [hubParent?.primaryKey ?? [], ...(hubParent?.indexes.map((ix) => ix.columns) ?? [])];
      if (!parentKeys.some((k) => fk.info.refColumns.every((c, i) => lower(k[i] ?? '') === lower(c)))) {
        warn(
          table,
          fk.info.columns.join(', '),
          what,
          `${fk.info.refTable} (${fk.info.refColumns.join(', ')}) is not a key or an index there, which MySQL requires; the key is left out`,
        );
        return false;
      }
      for (const [i, childName] of fk.info.columns.entries()) {
        const child = plan.columns.get(lower(childName));
        const parentName = fk.info.refColumns[i] ?? '';
        const pType =
          parentPlan?.columns.get(lower(parentName))?.type ??
          (() => {
            const c = hubParent?.columns.find((x) => lower(x.name) === lower(parentName));
            return c ? typeOfHubColumn(c) : undefined;
          })();
        if (!child || !pType) {
          warn(table, childName, what, `column ${fk.info.refTable}.${parentName} does not exist; the key is left out`);
          return false;
        }
        if (!sameFamily(child.type, pType)) {
          warn(
            table,
            childName,
            what,
            `${child.type.sql} cannot reference ${pType.sql} on MySQL (SQLite allows it); the key is left out`,
          );
          return false;
        }
        if (fk.onDelete === 'SET NULL' && !child.nullable) {
          warn(
            table,
            childName,
            `${what} ON DELETE SET NULL`,
            'the column is NOT NULL, which MySQL refuses with SET NULL; NO ACTION is used (SQLite would fail such a delete anyway)',
          );
          fk.onDelete = 'NO ACTION';
        }
        if (fk.onUpdate === 'SET NULL' && !child.nullable) {
          warn(
            table,
            childName,
            `${what} ON UPDATE SET NULL`,
            'the column is NOT NULL, which MySQL refuses with SET NULL; NO ACTION is used',
          );
          fk.onUpdate = 'NO ACTION';
        }
      }
      for (const rule of ['onDelete', 'onUpdate'] as const) {
        if (fk[rule] === 'SET DEFAULT') {
          warn(
            table,
            undefined,
            `${what} ${rule === 'onDelete' ? 'ON DELETE' : 'ON UPDATE'} SET DEFAULT`,
            'InnoDB does not support SET DEFAULT; NO ACTION is used',
          );
          fk[rule] = 'NO ACTION';
        }
      }
      return true;
    });
  }

  for (const plan of plans.values()) fitKeysAndRow(plan);

  const keyCollation = options.keyCollation ?? defaultKeyCollation();
  const notes: TranslationWarning[] = [];
  const collationOf = (c: ColumnPlan): string | null => {
    if (c.collationOf !== undefined) return c.collationOf;
    if (!c.keyed || !/char|text/.test(c.type.base) || keyCollation.toLowerCase() === 'server') return null;
    return keyCollation;
  };
  for (const plan of plans.values()) {
    const keys = [...plan.columns.values()].filter((c) => collationOf(c) === keyCollation).map((c) => c.src.name);
    if (keys.length)
      notes.push({
        table: plan.src.name,
        column: keys.join(', '),
        problem: `text key${keys.length === 1 ? '' : 's'} COLLATE ${keyCollation}`,
        reason: `compared byte for byte as in SQLite, so 'a', 'A' and 'a ' stay distinct rows; ${KEY_COLLATION_ENV}=server keeps the server's case-insensitive default`,
      });
  }

  const { ordered, forward } = foreignKeyOrder(userTables);
  const out: TranslatedTable[] = [];
  const deferred: { table: string; sql: string }[] = [];
  for (const t of ordered) {
    const plan = plans.get(lower(t.name));
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
    warnings,
    notes,
  };

  function planTable(t: TableInfo): TablePlan {
    const table = t.name;
    const pk = new Set(t.primaryKey.map(lower));
    const colNames = new Set(t.columns.map((c) => lower(c.name)));
    // Indexes MySQL cannot have are dropped first, so that they do not shape column types.
    const partial = probe.partialIndexes(table);
    const keptIndexes = t.indexes.filter((ix) => {
      if (ix.columns.some((c) => c === '<expr>' || !colNames.has(lower(c)))) {
        warn(table, undefined, `index ${ix.name}`, 'an index on an expression has no portable MySQL form; it is left out');
        return false;
      }
      if (partial.has(ix.name)) {
        if (ix.unique) {
          warn(
            table,
            undefined,
            `index ${ix.name}`,
            'a partial UNIQUE index has no MySQL equivalent (it would reject rows SQLite accepts); it is left out',
          );
          return false;
        }
        warn(table, undefined, `index ${ix.name}`, 'partial index: MySQL indexes every row instead');
      }
      return true;
    });
    const keyedCols = new Set<string>(pk);
    for (const ix of keptIndexes) if (ix.unique) for (const c of ix.columns) keyedCols.add(lower(c));
    for (const fk of t.foreignKeys) for (const c of fk.columns) keyedCols.add(lower(c));
    for (const c of t.columns) if (referenced.has(`${lower(table)}.${lower(c.name)}`)) keyedCols.add(lower(c.name));

    if (t.primaryKey.length === 0)
      warn(
        table,
        undefined,
        'no primary key',
        'MySQL accepts the table, but rows cannot be matched between the sides: it will not be synced',
      );
    for (const g of probe.generatedColumns(table))
      warn(table, g, 'generated column', 'not translated: define the expression on MySQL by hand if it is needed there');

    const columns = new Map<string, ColumnPlan>();
    for (const c of t.columns) {
      const cls = classifySqliteType(c.type);
      const keyed = keyedCols.has(lower(c.name));
      const autoIncrement = c.autoIncrement && t.primaryKey.length === 1;
      const type = chooseType(table, c, cls, keyed);
      const nullable = c.nullable && !pk.has(lower(c.name));
      let defaultSql: string | null = null;
      if (!autoIncrement && c.defaultValue !== null) {
        const d = sqliteDefaultToMysql(c.defaultValue, type, options.clock ?? 'utc');
        defaultSql = d.sql;
        if (d.warning) warn(table, c.name, d.warning.problem, d.warning.reason);
      }
      columns.set(lower(c.name), { src: c, cls, type, keyed, autoIncrement, nullable, defaultSql });
    }

    const takenIndexNames = new Set<string>(['primary']);
    const indexes: TablePlan['indexes'] = [];
    // By name: SQLite lists indexes newest first, which says nothing useful.
    for (const ix of [...keptIndexes].sort((a, b) => a.name.localeCompare(b.name))) {
      const base = ix.name.startsWith('sqlite_autoindex_') ? `uq_${table}_${ix.columns.join('_')}` : ix.name;
      indexes.push({ info: ix, name: uniqueName(base, takenIndexNames), prefixes: ix.columns.map(() => null) });
    }

    const foreignKeys: TablePlan['foreignKeys'] = t.foreignKeys.map((fk) => ({
      info: fk,
      name: '',
      onDelete: normaliseRule(fk.onDelete),
      onUpdate: normaliseRule(fk.onUpdate),
    }));
    return { src: t, columns, indexes, foreignKeys };
  }

  function chooseType(table: string, c: ColumnInfo, cls: SqliteType, keyed: boolean): MysqlType {
    const w = (problem: string, reason: string) => warn(table, c.name, problem, reason);
    switch (cls.cls) {
      case 'boolean':
        return mysqlType('TINYINT(1)', 'tinyint', { precision: 3, scale: 0 });
      case 'integer':
        return BIGINT;
      case 'double':
        return DOUBLE;
      case 'decimal': {
        if (cls.precision === null) {
          w(
            `${c.type} without precision`,
            'MySQL would use DECIMAL(10,0) and drop every fraction; DECIMAL(65,30) is used (35 integer and 30 decimal digits)',
          );
          return mysqlType('DECIMAL(65,30)', 'decimal', { precision: 65, scale: 30 });
        }
        let p = cls.precision;
        let s = cls.scale ?? 0;
        if (p > MAX_DECIMAL_PRECISION || s > MAX_DECIMAL_SCALE) {
          w(c.type, `MySQL allows at most DECIMAL(${MAX_DECIMAL_PRECISION},${MAX_DECIMAL_SCALE}); the precision is reduced`);
          p = Math.min(p, MAX_DECIMAL_PRECISION);
          s = Math.min(s, MAX_DECIMAL_SCALE);
        }
        if (s > p) s = p;
        return mysqlType(`DECIMAL(${p},${s})`, 'decimal', { precision: p, scale: s });
      }
      case 'datetime':
        return mysqlType('DATETIME(6)', 'datetime');
      case 'date':
        return mysqlType('DATE', 'date');
      case 'time':
        return mysqlType('TIME(6)', 'time');
      case 'text':
        return textType(table, c, cls.length, keyed);
      case 'blob':
        return blobType(table, c, cls.length, keyed);
      case 'untyped':
      case 'numeric-other':
        return fromData(table, c, cls, keyed);
    }
  }

  function textType(table: string, c: ColumnInfo, declared: number | null, keyed: boolean): MysqlType {
    const longest = probe.maxLength(table, c.name);
    if (keyed) {
      let n = declared ?? Math.max(DEFAULT_KEY_CHARS, longest ?? 0);
      if (declared !== null && longest !== null && longest > declared) {
        warn(
          table,
          c.name,
          `${c.type} holds values of ${longest} characters`,
          'SQLite does not enforce lengths; the column is widened to fit them',
        );
        n = longest;
      }
      if (n > MAX_KEY_CHARS) {
        warn(
          table,
          c.name,
          `key column of ${n} characters`,
          `utf8mb4 keys hold at most ${MAX_KEY_CHARS} characters; VARCHAR(${MAX_KEY_CHARS}) is used and longer values will not fit (see \`dualdb schema check\`)`,
        );
        n = MAX_KEY_CHARS;
      }
      return varchar(Math.max(n, 1));
    }
    if (declared !== null) {
      let n = declared;
      if (longest !== null && longest > declared) {
        warn(
          table,
          c.name,
          `${c.type} holds values of ${longest} characters`,
          'SQLite does not enforce lengths; the column is widened to fit them',
        );
        n = longest;
      }
      return n <= MAX_VARCHAR_CHARS ? varchar(Math.max(n, 1)) : LONGTEXT;
    }
    // Not in a key: unbounded, like SQLite. Ordinary indexes on it get a prefix (fitKeysAndRow).
    return LONGTEXT;
  }

  function blobType(table: string, c: ColumnInfo, declared: number | null, keyed: boolean): MysqlType {
    if (!keyed) return declared !== null && declared <= MAX_VARBINARY ? varbinary(declared) : LONGBLOB;
    const longest = probe.maxLength(table, c.name);
    let n = declared ?? Math.max(DEFAULT_KEY_CHARS, longest ?? 0);
    if (n > MAX_KEY_BYTES) {
      warn(
        table,
        c.name,
        `binary key of ${n} bytes`,
        `InnoDB keys hold at most ${MAX_KEY_BYTES} bytes; VARBINARY(${MAX_KEY_BYTES}) is used`,
      );
      n = MAX_KEY_BYTES;
    }
    return varbinary(Math.max(n, 1));
  }

  function fromData(table: string, c: ColumnInfo, cls: SqliteType, keyed: boolean): MysqlType {
    const what = cls.cls === 'untyped' ? 'no declared type' : `type ${c.type} (NUMERIC affinity in SQLite)`;
    const census = probe.census(table, c.name);
    const text = () => textType(table, c, null, keyed);
    if (!census) {
      const t = text();
      warn(table, c.name, what, `without the data to look at, ${t.sql} is used; numbers stored here would come back as text`);
      return t;
    }
    const kinds = [...census.keys()].sort().join('+');
    switch (kinds) {
      case '':
        warn(table, c.name, what, `the column is empty: ${text().sql} is used`);
        return text();
      case 'integer':
        warn(table, c.name, what, 'every value is an integer: BIGINT is used');
        return BIGINT;
      case 'real':
      case 'integer+real':
        warn(table, c.name, what, 'the values are numbers: DOUBLE is used (integers beyond 2^53 would lose precision)');
        return DOUBLE;
      case 'text':
        return text();
      case 'blob':
        return blobType(table, c, null, keyed);
      default:
        if (kinds.includes('blob')) {
          warn(table, c.name, what, `mixed values (${kinds}): LONGBLOB is used, and text and numbers come back as bytes`);
          return keyed ? blobType(table, c, null, keyed) : LONGBLOB;
        }
        warn(table, c.name, what, `mixed values (${kinds}): text is used, and numbers come back as text`);
        return text();
    }
  }

  /** Keeps every index within InnoDB's 3072-byte key limit and the row within 65,535 bytes. */
  function fitKeysAndRow(plan: TablePlan): void {
    const table = plan.src.name;
    const col = (name: string) => plan.columns.get(lower(name));
    const isLob = (c: ColumnPlan) => /text|blob/.test(c.type.base);
    const isBinary = (c: ColumnPlan) => /binary|blob/.test(c.type.base);
    /** Prefix lengths per key part (null: whole column); shortens unique keys' columns when they cannot fit. */
    const fitKey = (names: string[], unique: boolean, label: string): (number | null)[] => {
      const cols = names.map((n) => col(n));
      const prefixes: (number | null)[] = cols.map((c) => (c && isLob(c) ? PREFIX_CHARS : null));
      const bytes = (c: ColumnPlan, p: number | null) => (p === null ? keyBytes(c.type) : isBinary(c) ? p : p * UTF8MB4_BYTES);
      const total = cols.reduce((s, c, i) => s + (c ? bytes(c, prefixes[i] ?? null) : 0), 0);
      if (total <= MAX_KEY_BYTES) return prefixes;
      const stringParts = cols.flatMap((c, i) => (c && /char|text|binary|blob/.test(c.type.base) ? [i] : []));
      const fixed = cols.reduce((s, c, i) => s + (c && !stringParts.includes(i) ? keyBytes(c.type) : 0), 0);
      const perPart = Math.max(1, Math.floor((MAX_KEY_BYTES - fixed) / Math.max(stringParts.length, 1) / UTF8MB4_BYTES));
      for (const i of stringParts) {
        const c = cols[i];
        if (!c) continue;
        if (unique) {
          if ((c.type.length ?? 0) > perPart) {
            warn(
              table,
              c.src.name,
              `${label}: ${total} bytes`,
              `InnoDB keys hold at most ${MAX_KEY_BYTES} bytes; the column is shortened to ${perPart} characters and longer values will not fit`,
            );
            c.type = isBinary(c) ? varbinary(perPart * UTF8MB4_BYTES) : varchar(perPart);
          }
        } else if (isLob(c)) {
          prefixes[i] = isBinary(c) ? Math.min(PREFIX_CHARS, perPart * UTF8MB4_BYTES) : Math.min(PREFIX_CHARS, perPart);
        } else if ((c.type.length ?? 0) > (isBinary(c) ? perPart * UTF8MB4_BYTES : perPart)) {
          prefixes[i] = isBinary(c) ? perPart * UTF8MB4_BYTES : perPart;
        }
      }
      return prefixes;
    };
    if (plan.src.primaryKey.length > 0) fitKey(plan.src.primaryKey, true, 'primary key');
    for (const ix of plan.indexes) ix.prefixes = fitKey(ix.info.columns, ix.info.unique, `index ${ix.name}`);

    let total = [...plan.columns.values()].reduce((s, c) => s + rowBytes(c.type), 0);
    if (total > MAX_ROW_BYTES) {
      const wide = [...plan.columns.values()]
        .filter((c) => c.type.base === 'varchar' && !c.keyed)
        .sort((a, b) => (b.type.length ?? 0) - (a.type.length ?? 0));
      for (const c of wide) {
        if (total <= MAX_ROW_BYTES) break;
        total -= rowBytes(c.type) - rowBytes(LONGTEXT);
        warn(table, c.src.name, c.type.sql, `the row would exceed MySQL's ${MAX_ROW_BYTES}-byte limit; LONGTEXT is used`);
        c.type = LONGTEXT;
      }
      // Ordinary indexes on columns that became LONGTEXT need prefixes now.
      for (const ix of plan.indexes) if (!ix.info.unique) ix.prefixes = fitKey(ix.info.columns, false, `index ${ix.name}`);
    }
  }
}

function sameFamily(a: MysqlType, b: MysqlType): boolean {
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

function renderTable(
  plan: TablePlan,
  isForward: (fkIndex: number) => boolean,
  options: ToMysqlOptions,
  collationOf: (c: ColumnPlan) => string | null,
): { create: string; alters: string[]; model: TableInfo } {
  const t = plan.src;
  const q = quoteMysqlId;
  const lines: string[] = [];
  const columns: ColumnInfo[] = [];
  for (const c of plan.columns.values()) {
    const collation = collationOf(c);
    let def = `${q(c.src.name)} ${c.type.sql}${collation ? ` COLLATE ${collation}` : ''}${c.nullable ? ' NULL' : ' NOT NULL'}`;
    if (c.autoIncrement) def += ' AUTO_INCREMENT';
    if (c.defaultSql !== null) def += ` DEFAULT ${c.defaultSql}`;
    lines.push(def);
    columns.push({
      name: c.src.name,
      type: c.type.sql.toLowerCase(),
      baseType: c.type.base,
      nullable: c.nullable,
      defaultValue: c.defaultSql,
      pkOrdinal: t.primaryKey.findIndex((k) => lower(k) === lower(c.src.name)) + 1,
      autoIncrement: c.autoIncrement,
      maxLength: /char|binary/.test(c.type.base) ? c.type.length : null,
      numericPrecision: c.type.precision,
      numericScale: c.type.scale,
      ...(/char|text/.test(c.type.base) ? { collation: collation ?? DEFAULT_TEXT_COLLATION } : {}),
    });
  }
  if (t.primaryKey.length > 0) lines.push(`PRIMARY KEY (${t.primaryKey.map(q).join(', ')})`);
  for (const ix of plan.indexes) {
    const parts = ix.info.columns.map((c, i) => {
      const p = ix.prefixes[i];
      return p ? `${q(c)}(${p})` : q(c);
    });
    lines.push(`${ix.info.unique ? 'UNIQUE KEY' : 'KEY'} ${q(ix.name)} (${parts.join(', ')})`);
  }
  const alters: string[] = [];
  const fkModels: ForeignKeyInfo[] = [];
  const takenFk = new Set<string>();
  plan.foreignKeys.forEach((fk) => {
    const fkIndex = t.foreignKeys.indexOf(fk.info);
    fk.name = uniqueName(fk.info.name ?? `fk_${t.name}_${fk.info.columns.join('_')}`, takenFk);
    let clause = `CONSTRAINT ${q(fk.name)} FOREIGN KEY (${fk.info.columns.map(q).join(', ')}) REFERENCES ${q(fk.info.refTable)} (${fk.info.refColumns.map(q).join(', ')})`;
    if (fk.onDelete !== 'NO ACTION') clause += ` ON DELETE ${fk.onDelete}`;
    if (fk.onUpdate !== 'NO ACTION') clause += ` ON UPDATE ${fk.onUpdate}`;
    if (isForward(fkIndex)) alters.push(`ALTER TABLE ${q(t.name)} ADD ${clause}`);
    else lines.push(clause);
    fkModels.push({ ...fk.info, name: fk.name, onDelete: fk.onDelete, onUpdate: fk.onUpdate });
  });
  const create = `CREATE TABLE ${options.ifNotExists ? 'IF NOT EXISTS ' : ''}${q(t.name)} (\n  ${lines.join(',\n  ')}\n) ${MYSQL_TABLE_OPTIONS}`;
  return {
    create,
    alters,
    model: {
      name: t.name,
      columns,
      primaryKey: [...t.primaryKey],
      indexes: plan.indexes.map((ix) => ({ name: ix.name, columns: [...ix.info.columns], unique: ix.info.unique })),
      foreignKeys: fkModels,
    },
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
