/**
 * Pass 1 of the translation (translate.ts): a plan per table: column types from
 * SQLite's declarations and data, the indexes MySQL can have, the foreign keys.
 */
import type { ColumnInfo, TableInfo } from '../engines/types.js';
import { sqliteDefaultToMysql } from './defaults.js';
import {
  BIGINT,
  type ColumnPlan,
  DOUBLE,
  LONGBLOB,
  LONGTEXT,
  lower,
  MAX_VARBINARY,
  type TablePlan,
  type TranslateContext,
  varbinary,
  varchar,
} from './translate-context.js';
import { normaliseRule, uniqueName } from './translation.js';
import {
  classifySqliteType,
  DEFAULT_KEY_CHARS,
  MAX_DECIMAL_PRECISION,
  MAX_DECIMAL_SCALE,
  MAX_KEY_BYTES,
  MAX_KEY_CHARS,
  MAX_VARCHAR_CHARS,
  type MysqlType,
  mysqlType,
  type SqliteType,
} from './type-map.js';

/** Plans every table into `ctx.plans`. */
export function planTables(ctx: TranslateContext, userTables: TableInfo[]): void {
  // Which columns are referenced by foreign keys of other tables (the parent end).
  const referenced = new Set<string>();
  for (const t of userTables)
    for (const fk of t.foreignKeys) for (const c of fk.refColumns) referenced.add(`${lower(fk.refTable)}.${lower(c)}`);

  for (const t of userTables) ctx.plans.set(lower(t.name), planTable(ctx, t, referenced));
}

/** One table: columns typed, indexes MySQL can have, foreign keys (named later, by fitKeys). */
function planTable(ctx: TranslateContext, t: TableInfo, referenced: Set<string>): TablePlan {
  const { options, probe, warn } = ctx;
  const table = t.name;
  const pk = new Set(t.primaryKey.map(lower));
  // Indexes MySQL cannot have are dropped first, so that they do not shape column types.
  const keptIndexes = portableIndexes(ctx, t);
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
    const type = chooseType(ctx, table, c, cls, keyed);
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

/** The table's indexes MySQL can have: no expression indexes, no partial UNIQUE ones. */
function portableIndexes(ctx: TranslateContext, t: TableInfo): TableInfo['indexes'] {
  const { probe, warn } = ctx;
  const table = t.name;
  const colNames = new Set(t.columns.map((c) => lower(c.name)));
  const partial = probe.partialIndexes(table);
  return t.indexes.filter((ix) => {
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
}

/** The MySQL type of one column. */
function chooseType(ctx: TranslateContext, table: string, c: ColumnInfo, cls: SqliteType, keyed: boolean): MysqlType {
  const { warn } = ctx;
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
      return textType(ctx, table, c, cls.length, keyed);
    case 'blob':
      return blobType(ctx, table, c, cls.length, keyed);
    case 'untyped':
    case 'numeric-other':
      return fromData(ctx, table, c, cls, keyed);
  }
}

function textType(ctx: TranslateContext, table: string, c: ColumnInfo, declared: number | null, keyed: boolean): MysqlType {
  const { probe, warn } = ctx;
  const longest = probe.maxLength(table, c.name);
  /** The declared length, or the longest value when SQLite holds longer ones (it does not enforce lengths). */
  const fitted = (d: number): number => {
    if (longest === null || longest <= d) return d;
    warn(
      table,
      c.name,
      `${c.type} holds values of ${longest} characters`,
      'SQLite does not enforce lengths; the column is widened to fit them',
    );
    return longest;
  };
  if (keyed) {
    let n = declared === null ? Math.max(DEFAULT_KEY_CHARS, longest ?? 0) : fitted(declared);
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
    const n = fitted(declared);
    return n <= MAX_VARCHAR_CHARS ? varchar(Math.max(n, 1)) : LONGTEXT;
  }
  // Not in a key: unbounded, like SQLite. Ordinary indexes on it get a prefix (fitKeysAndRow).
  return LONGTEXT;
}

function blobType(ctx: TranslateContext, table: string, c: ColumnInfo, declared: number | null, keyed: boolean): MysqlType {
  const { probe, warn } = ctx;
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

/** An untyped or NUMERIC-affinity column: the type comes from the values it holds. */
function fromData(ctx: TranslateContext, table: string, c: ColumnInfo, cls: SqliteType, keyed: boolean): MysqlType {
  const { probe, warn } = ctx;
  const what = cls.cls === 'untyped' ? 'no declared type' : `type ${c.type} (NUMERIC affinity in SQLite)`;
  const census = probe.census(table, c.name);
  const text = () => textType(ctx, table, c, null, keyed);
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
      return blobType(ctx, table, c, null, keyed);
    default:
      if (kinds.includes('blob')) {
        warn(table, c.name, what, `mixed values (${kinds}): LONGBLOB is used, and text and numbers come back as bytes`);
        return keyed ? blobType(ctx, table, c, null, keyed) : LONGBLOB;
      }
      warn(table, c.name, what, `mixed values (${kinds}): text is used, and numbers come back as text`);
      return text();
  }
}
