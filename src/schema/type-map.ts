/**
 * Column types across the two engines: what a declared SQLite type holds, which
 * MySQL type stores it exactly, the reverse, and whether two existing columns are
 * compatible. Translation (translate.ts) and diff (diff.ts) both stand on this.
 *
 * SQLite decides storage by type affinity (datatype3.html §3.1: INT → INTEGER;
 * CHAR/CLOB/TEXT → TEXT; BLOB or none → BLOB; REAL/FLOA/DOUB → REAL; else NUMERIC).
 * Common names are recognised before the affinity rules so that DATETIME,
 * BOOLEAN, DECIMAL(p,s) and VARCHAR(n) keep their meaning on MySQL.
 */
import { typeArgs } from '../engines/sqlite/introspect.js';
import type { ColumnInfo } from '../engines/types.js';

export type SqliteClass =
  | 'boolean'
  | 'integer'
  | 'double'
  | 'decimal'
  | 'datetime'
  | 'date'
  | 'time'
  | 'text'
  | 'blob'
  /** No declared type: holds anything; the data decides. */
  | 'untyped'
  /** NUMERIC affinity under a name we do not know (MONEY, STRING…): the data decides. */
  | 'numeric-other';

export interface SqliteType {
  cls: SqliteClass;
  /** VARCHAR(n)/CHAR(n)/VARBINARY(n) length. */
  length: number | null;
  precision: number | null;
  scale: number | null;
}

/** What a column declared with this type in SQLite holds. */
export function classifySqliteType(declared: string): SqliteType {
  const t = declared.trim().toUpperCase();
  const base = t.replace(/\(.*$/, '').trim();
  const [a, b] = typeArgs(t);
  const make = (cls: SqliteClass, extra: Partial<SqliteType> = {}): SqliteType => ({
    cls,
    length: null,
    precision: null,
    scale: null,
    ...extra,
  });
  if (t === '') return make('untyped');
  if (base === 'BOOL' || base === 'BOOLEAN' || (base === 'TINYINT' && a === 1)) return make('boolean');
  // Our own name for exact decimals kept as text in SQLite (see mysqlToSqliteType).
  if (base === 'DECIMAL_TEXT') return make('decimal', { precision: a ?? null, scale: b ?? null });
  if (t.includes('INT')) return make('integer');
  if (base === 'DATETIME' || base === 'TIMESTAMP' || base.startsWith('DATETIME ') || base.startsWith('TIMESTAMP '))
    return make('datetime');
  if (base === 'DATE') return make('date');
  if (base === 'TIME') return make('time');
  if (/CHAR|CLOB|TEXT/.test(t)) return make('text', { length: /CHAR/.test(base) && a !== undefined ? a : null });
  if (/BLOB/.test(t)) return make('blob');
  if (/BINARY/.test(base)) return make('blob', { length: base.includes('VAR') && a !== undefined ? a : null });
  if (/REAL|FLOA|DOUB/.test(t)) return make('double');
  if (/^(NUMERIC|DECIMAL|DEC|NUMBER|FIXED)$/.test(base))
    return make('decimal', { precision: a ?? null, scale: a === undefined ? null : (b ?? 0) });
  if (/^(UUID|GUID|JSON|STRING|ENUM|SET|XML)$/.test(base)) return make('text');
  return make('numeric-other');
}

/** A MySQL column type chosen for a translated column. */
export interface MysqlType {
  /** SQL as written in DDL, e.g. `BIGINT`, `VARCHAR(255)`, `DECIMAL(10,2)`. */
  sql: string;
  /** information_schema-style lower-case base type: `bigint`, `varchar`, `longtext`… */
  base: string;
  length: number | null;
  precision: number | null;
  scale: number | null;
}

export const mysqlType = (
  sql: string,
  base: string,
  extra: Partial<Pick<MysqlType, 'length' | 'precision' | 'scale'>> = {},
): MysqlType => ({
  sql,
  base,
  length: extra.length ?? null,
  precision: extra.precision ?? null,
  scale: extra.scale ?? null,
});

/** utf8mb4: up to 4 bytes per character. */
export const UTF8MB4_BYTES = 4;
/** InnoDB's largest index key (DYNAMIC/COMPRESSED rows, MySQL 5.7+/MariaDB 10.2+). */
export const MAX_KEY_BYTES = 3072;
/** 3072 / 4: the longest VARCHAR a single-column utf8mb4 key can hold. */
export const MAX_KEY_CHARS = MAX_KEY_BYTES / UTF8MB4_BYTES;
/** Default length for a TEXT column that must become VARCHAR for a key, without data to measure. */
export const DEFAULT_KEY_CHARS = 255;
/** Longest utf8mb4 VARCHAR (65,535-byte row limit / 4). */
export const MAX_VARCHAR_CHARS = 16383;
/** MySQL's largest DECIMAL precision and scale. */
export const MAX_DECIMAL_PRECISION = 65;
export const MAX_DECIMAL_SCALE = 30;

/** Bytes a column takes in an index key (approximate for DECIMAL), for the 3072-byte limit. */
export function keyBytes(t: MysqlType): number {
  switch (t.base) {
    case 'varchar':
    case 'char':
      return (t.length ?? DEFAULT_KEY_CHARS) * UTF8MB4_BYTES;
    case 'varbinary':
    case 'binary':
      return t.length ?? DEFAULT_KEY_CHARS;
    case 'tinyint':
      return 1;
    case 'date':
      return 3;
    case 'time':
      return 6;
    case 'decimal':
      return Math.ceil((t.precision ?? 10) / 2) + 1;
    default:
      return 8;
  }
}

/** Bytes a column takes toward InnoDB's 65,535-byte row-size limit (TEXT/BLOB count as a pointer). */
export function rowBytes(t: MysqlType): number {
  if (t.base === 'varchar') return (t.length ?? 0) * UTF8MB4_BYTES + 2;
  if (t.base === 'varbinary') return (t.length ?? 0) + 2;
  if (/text|blob/.test(t.base)) return 12;
  return keyBytes(t);
}

export type TypeDiagnosis = { problem: string; reason: string };

/**
 * The SQLite declared type for a hub column, chosen so that values round-trip
 * exactly and the name translates back to the same MySQL type.
 */
export function mysqlToSqliteType(col: ColumnInfo): { sql: string; note?: TypeDiagnosis } {
  const base = col.baseType.toLowerCase();
  const full = col.type.toLowerCase();
  const unsigned = /unsigned/.test(full);
  if (base === 'tinyint' && /^tinyint\(1\)/.test(full)) return { sql: 'BOOLEAN' };
  if (base === 'bool' || base === 'boolean') return { sql: 'BOOLEAN' };
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|year)$/.test(base)) {
    if (base === 'bigint' && unsigned)
      return {
        sql: 'INTEGER',
        note: {
          problem: 'BIGINT UNSIGNED',
          reason: 'SQLite integers are signed 64-bit: values above 9223372036854775807 cannot be stored locally',
        },
      };
    return { sql: 'INTEGER' };
  }
  if (base === 'decimal' || base === 'numeric') {
    const p = col.numericPrecision ?? 10;
    const s = col.numericScale ?? 0;
    // A double keeps any decimal of up to 15 significant digits exactly (DBL_DIG), so
    // DECIMAL(p ≤ 15) can use SQLite's NUMERIC affinity. Wider ones are stored as TEXT
    // so that no digit is lost: DECIMAL_TEXT has TEXT affinity (the name contains
    // "TEXT") and says what it holds, so it translates back to DECIMAL(p,s).
    return { sql: p <= 15 ? `DECIMAL(${p},${s})` : `DECIMAL_TEXT(${p},${s})` };
  }
  if (base === 'float')
    return {
      sql: 'REAL',
      note: {
        problem: 'FLOAT is 32-bit on MySQL',
        reason: 'SQLite keeps 64-bit REALs: values written locally are rounded to single precision on the hub',
      },
    };
  if (base === 'double' || base === 'real' || base === 'double precision') return { sql: 'REAL' };
  if (base === 'datetime') return { sql: 'DATETIME' };
  if (base === 'timestamp')
    return {
      sql: 'DATETIME',
      note: {
        problem: 'TIMESTAMP',
        reason: 'MySQL converts TIMESTAMP to the session time zone: the local copy holds the text the hub returns',
      },
    };
  if (base === 'date') return { sql: 'DATE' };
  if (base === 'time') return { sql: 'TIME' };
  if (base === 'varchar' || base === 'char') return { sql: `VARCHAR(${col.maxLength ?? 255})` };
  if (/text$/.test(base) || base === 'json' || base === 'uuid' || base === 'inet4' || base === 'inet6') return { sql: 'TEXT' };
  if (base === 'enum') return { sql: 'TEXT' };
  if (base === 'set')
    return { sql: 'TEXT', note: { problem: 'SET', reason: 'SQLite does not check SET members: the hub refuses unknown ones' } };
  if (base === 'varbinary' || base === 'binary') return { sql: col.maxLength ? `VARBINARY(${col.maxLength})` : 'BLOB' };
  if (/blob$/.test(base) || base === 'bit') return { sql: 'BLOB' };
  return {
    sql: 'BLOB',
    note: { problem: `type ${col.type}`, reason: 'no SQLite equivalent: stored as the bytes MySQL returns' },
  };
}

const INTEGER_RANGE_TEXT: Record<string, string> = {
  tinyint: '-128..127',
  smallint: '-32768..32767',
  mediumint: '-8388608..8388607',
  int: '-2147483648..2147483647',
  integer: '-2147483648..2147483647',
  year: '1901..2155',
};

/**
 * Whether a collation keeps apart every pair of strings SQLite's default BINARY
 * comparison keeps apart: a binary collation without PAD SPACE (MariaDB's
 * `*_nopad_bin`, MySQL 8's `*_0900_bin`, `binary`). `utf8mb4_bin` still ignores
 * trailing spaces.
 */
export function collationKeepsApart(collation: string | null | undefined): boolean {
  if (!collation) return true; // not a text column
  return /_nopad_bin$|_0900_bin$|^binary$/i.test(collation);
}

/** What a collation folds that SQLite keeps apart, in words; null when nothing. */
export function collationFolds(collation: string | null | undefined): string | null {
  if (collationKeepsApart(collation)) return null;
  if (/_bin$/i.test(collation ?? '')) return 'trailing spaces';
  if (/_cs$/i.test(collation ?? '')) return 'trailing spaces (and some accents)';
  return 'case, accents and trailing spaces';
}

/** ENUM('a','b') → ['a', 'b'] (MySQL quoting: '' and backslash escapes). */
export function enumMembers(columnType: string): string[] {
  const m = /^\s*(?:enum|set)\s*\((.*)\)\s*$/is.exec(columnType);
  if (!m?.[1]) return [];
  const out: string[] = [];
  const re = /'((?:[^'\\]|''|\\.)*)'/g;
  for (let x = re.exec(m[1]); x; x = re.exec(m[1])) {
    out.push((x[1] ?? '').replace(/''/g, "'").replace(/\\(.)/g, '$1'));
  }
  return out;
}

function mysqlFamily(base: string): string {
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|year|bool|boolean)$/.test(base)) return 'integer';
  if (base === 'decimal' || base === 'numeric') return 'decimal';
  if (base === 'double' || base === 'real') return 'double';
  if (base === 'float') return 'float';
  if (base === 'datetime') return 'datetime';
  if (base === 'timestamp') return 'timestamp';
  if (base === 'date') return 'date';
  if (base === 'time') return 'time';
  if (base === 'char') return 'char';
  if (/char|text|enum|set|uuid|inet/.test(base)) return 'text';
  if (base === 'json') return 'json';
  if (/blob|binary|bit/.test(base)) return 'blob';
  return base;
}

/**
 * Whether a hub column can hold what the SQLite column holds, exactly. Returns
 * the problem, or null when compatible. Lengths of unbounded SQLite text are
 * not judged here: `schema check` measures the data.
 */
export function columnCompatibility(sqlite: ColumnInfo, hub: ColumnInfo): TypeDiagnosis | null {
  const s = classifySqliteType(sqlite.type);
  const fam = mysqlFamily(hub.baseType.toLowerCase());
  const hubType = hub.type;
  const bad = (reason: string): TypeDiagnosis => ({ problem: `${sqlite.type || '(no type)'} vs ${hubType}`, reason });
  switch (s.cls) {
    case 'untyped':
    case 'numeric-other':
      return null;
    case 'boolean':
      return fam === 'integer' ? null : bad('SQLite holds integers here; the hub column is not an integer type');
    case 'integer': {
      if (fam !== 'integer') return bad('SQLite holds integers here; the hub column is not an integer type');
      const base = hub.baseType.toLowerCase();
      if (base === 'bigint' || /^tinyint\(1\)/i.test(hubType)) return null;
      return bad(
        `SQLite integers are 64-bit; ${base.toUpperCase()} holds ${INTEGER_RANGE_TEXT[base] ?? 'fewer digits'}: larger values are refused (\`dualdb schema check\` counts them; \`dualdb schema fit\` widens to BIGINT)`,
      );
    }
    case 'double':
      if (fam === 'double') return null;
      if (fam === 'float') return bad('FLOAT is 32-bit: SQLite REAL values would be rounded on the hub (use DOUBLE)');
      return bad('SQLite holds 64-bit REALs here; only DOUBLE stores them exactly');
    case 'decimal':
      if (fam !== 'decimal') return fam === 'double' ? null : bad('SQLite holds decimals here; the hub column is not numeric');
      if (s.precision !== null && hub.numericPrecision !== null && hub.numericPrecision < s.precision)
        return bad(`the hub keeps fewer digits (${hub.numericPrecision}) than SQLite declares (${s.precision})`);
      if (s.scale !== null && hub.numericScale !== null && hub.numericScale < s.scale)
        return bad(
          `the hub keeps fewer decimals (${hub.numericScale}) than SQLite declares (${s.scale}): values would be rounded`,
        );
      return null;
    case 'datetime':
      if (fam === 'timestamp') return bad('TIMESTAMP shifts values with the session time zone (use DATETIME(6))');
      if (fam !== 'datetime') return fam === 'text' ? null : bad('SQLite holds date-times here');
      if (!/\(\s*6\s*\)/.test(hubType))
        return bad(`${hubType} keeps fewer fractional digits than SQLite's microseconds: they are dropped (use DATETIME(6))`);
      return null;
    case 'date':
      return fam === 'date' || fam === 'datetime' || fam === 'text' ? null : bad('SQLite holds dates here');
    case 'time':
      if (fam === 'time' && !/\(\s*6\s*\)/.test(hubType))
        return bad(`${hubType} keeps fewer fractional digits than SQLite's microseconds: they are dropped (use TIME(6))`);
      return fam === 'time' || fam === 'text' ? null : bad('SQLite holds times of day here');
    case 'text':
      if (fam === 'char') return bad('CHAR removes trailing spaces when read back (use VARCHAR)');
      if (fam === 'json') return bad('the JSON type rewrites the text (key order, spaces): it does not come back as written');
      if (fam !== 'text') return bad('SQLite holds text here; the hub column is not a text type');
      if (s.length !== null && hub.maxLength !== null && hub.maxLength < s.length)
        return bad(`the hub allows ${hub.maxLength} characters, SQLite declares ${s.length}`);
      return null;
    case 'blob':
      return fam === 'blob' ? null : bad('SQLite holds bytes here; the hub column is not a binary type');
  }
}
