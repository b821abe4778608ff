/**
 * The value codec: the only place that knows how values look in each driver and
 * how to carry them across without loss (docs/SYNC-CONTRACT.md, invariant 10).
 *
 *  - better-sqlite3 (safe integers on): INTEGER → bigint, REAL → number, TEXT → string, BLOB → Buffer.
 *  - mysql2 (bigNumberStrings, dateStrings): BIGINT and DECIMAL → string, INT → number,
 *    DOUBLE/FLOAT → number, DATETIME → 'YYYY-MM-DD hh:mm:ss[.ffffff]', BLOB → Buffer, JSON → text.
 *
 * `canonical` turns any value into one string per logical type so that the same
 * datum read from either side compares equal (compare, conflict detection).
 */

import { DualdbError } from '../util/errors.js';
import type { ColumnInfo } from './types.js';
import { applyForm, type ColumnForm } from './value-forms.js';

export type SqlValue = null | bigint | number | string | Buffer;
export type Row = Record<string, SqlValue>;

/** What a column holds, whichever engine it lives in. */
export type LogicalType =
  | 'integer'
  | 'decimal'
  | 'double'
  | 'float32'
  | 'datetime'
  | 'date'
  | 'time'
  | 'text'
  | 'blob'
  | 'json'
  | 'any';

/** Logical type of a column from its declared/base type (MySQL data types or SQLite declared types). */
export function logicalTypeOf(baseType: string): LogicalType {
  const t = baseType.toLowerCase();
  if (
    /^(tinyint|smallint|mediumint|int|integer|bigint|year|bool|boolean|int\d)$/.test(t) ||
    /\bint\b/.test(t) ||
    t.endsWith('int')
  )
    return 'integer';
  if (/^(decimal|numeric|dec|fixed|number)$/.test(t)) return 'decimal';
  if (t === 'float') return 'float32';
  if (/^(double|double precision|real|float8|float4)$/.test(t)) return 'double';
  if (t === 'datetime' || t === 'timestamp') return 'datetime';
  if (t === 'date') return 'date';
  if (t === 'time') return 'time';
  if (/blob|binary|bit/.test(t)) return 'blob';
  if (t === 'json') return 'json';
  if (/char|text|clob|enum|set|uuid|string/.test(t)) return 'text';
  if (t === '') return 'any';
  return 'text';
}

/**
 * The logical type used to compare and convert a column present on both sides.
 * The hub's type is authoritative (MySQL enforces it); SQLite's decides when the
 * column only exists locally or MySQL's type is not informative.
 */
export function pairLogicalType(mysqlCol: ColumnInfo | undefined, sqliteCol: ColumnInfo | undefined): LogicalType {
  if (mysqlCol) {
    // FLOAT(p) with p > 24 is a DOUBLE in MySQL.
    if (mysqlCol.baseType === 'float' && (mysqlCol.numericPrecision ?? 12) > 24) return 'double';
    return logicalTypeOf(mysqlCol.baseType);
  }
  return sqliteCol ? logicalTypeOf(sqliteCol.baseType) : 'any';
}

/** A value the target column cannot hold (NaN, Infinity); names the column. */
export class ValueError extends DualdbError {
  constructor(
    message: string,
    readonly column: string,
  ) {
    super('VALUE_NOT_STORABLE', message, { context: { column } });
  }
}

const ISO_DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]00:?00)?$/;

/** 'YYYY-MM-DDThh:mm:ss.fffZ' → 'YYYY-MM-DD hh:mm:ss.fff' (MySQL's form); anything else unchanged. */
export function normaliseDatetimeText(v: string): string {
  // Already MySQL's form (what SQLAlchemy and most writers store): the value itself, as the match
  // below would rebuild it, without a match and a new string per cell (a bulk push converts every one).
  if (isMysqlDatetime(v)) return v;
  const m = ISO_DATETIME.exec(v.trim());
  if (!m) return v;
  const time = m[2]?.length === 5 ? `${m[2]}:00` : m[2];
  return `${m[1]} ${time}${m[3] ?? ''}`;
}

/** A value read from SQLite, made ready for mysql2's escaping into a column of the given logical type. */
export function sqliteToMysql(v: SqlValue, type: LogicalType, column: string): SqlValue {
  if (v === null) return null;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ValueError(`${column}: ${v} cannot be stored in MySQL`, column);
    // -0 formats as "0"; MySQL has no distinct negative zero worth keeping.
    return v;
  }
  if (typeof v === 'string' && (type === 'datetime' || type === 'date')) return normaliseDatetimeText(v);
  return v;
}

/**
 * A value read from MySQL, made ready for better-sqlite3 binding; with a form, in the text form
 * the application writes in that column (src/engines/value-forms.ts).
 */
export function mysqlToSqlite(v: unknown, type: LogicalType, form?: ColumnForm): SqlValue {
  if (v === null || v === undefined) return null;
  // The codec's own DATETIME rule (drop an all-zero fraction) is what a form replaces.
  if (form) return applyForm(type === 'datetime' && typeof v === 'string' ? v : mysqlToSqlite(v, type), form);
  switch (type) {
    case 'integer':
      if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      break;
    case 'datetime':
      // DATETIME(6) always carries six digits; keep them unless they are all zero.
      if (typeof v === 'string') return v.replace(/\.0+$/, '');
      break;
    default:
      break;
  }
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (Buffer.isBuffer(v) || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return v;
  return String(v);
}

/**
 * Canonical decimal text of a number given as text: sign, digits without
 * leading/trailing zeros, exponent. "1.50" → "15e-1", "150" → "15e1", "-0.0" → "0".
 * Exact for any decimal string; doubles go through their shortest round-trip form.
 */
export function canonicalNumber(text: string): string | undefined {
  const plain = plainDecimal(text);
  if (plain !== null) return plain;
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const sign = m[1] === '-' ? '-' : '';
  const intPart = m[2] ?? '';
  const frac = m[3] ?? '';
  let exp = Number(m[4] ?? 0) - frac.length;
  let digits = (intPart + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  const trailing = /0+$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return `${sign}${digits}e${exp}`;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * `canonicalNumber` of plain decimal text ([+-]digits[.digits]) by scanning, with no
 * regular expression; null for anything else (exponents, spaces: the general path).
 * Compare calls this for every number of every row, so it must not allocate much.
 */
function plainDecimal(text: string): string | undefined | null {
  const n = text.length;
  let i = 0;
  let sign = '';
  const c0 = text.charCodeAt(0);
  if (c0 === 45) {
    sign = '-';
    i = 1;
  } else if (c0 === 43) i = 1;
  const intStart = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let fracStart = i;
  if (i < n && text.charCodeAt(i) === 46) {
    fracStart = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  }
  if (i !== n) return null;
  const fracLen = i - fracStart;
  if (intEnd === intStart && fracLen === 0) return undefined;
  const digits = fracLen ? text.slice(intStart, intEnd) + text.slice(fracStart) : text.slice(intStart, intEnd);
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead++;
  if (lead === digits.length) return '0';
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end--;
  return `${sign}${digits.slice(lead, end)}e${digits.length - end - fracLen}`;
}

function numberText(v: SqlValue): string | undefined {
  if (typeof v === 'bigint') return canonicalNumber(v.toString());
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    return canonicalNumber(String(v));
  }
  if (typeof v === 'string') return canonicalNumber(v);
  return undefined;
}

const digitsAt = (v: string, from: number, to: number) => {
  for (let i = from; i < to; i++) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
};

/** 'YYYY-MM-DD hh:mm:ss' with an optional '.' and one or more digits: ISO_DATETIME's match of it rebuilds it unchanged. */
function isMysqlDatetime(v: string): boolean {
  const n = v.length;
  if (n < 19 || v[4] !== '-' || v[7] !== '-' || v[10] !== ' ' || v[13] !== ':' || v[16] !== ':') return false;
  if (!digitsAt(v, 0, 4) || !digitsAt(v, 5, 7) || !digitsAt(v, 8, 10)) return false;
  if (!digitsAt(v, 11, 13) || !digitsAt(v, 14, 16) || !digitsAt(v, 17, 19)) return false;
  return n === 19 || (n > 20 && v[19] === '.' && digitsAt(v, 20, n));
}

/**
 * `canonical` of a plain 'YYYY-MM-DD', 'YYYY-MM-DD hh:mm:ss[.f…]' or the same with 'T'
 * (what both drivers return nearly always) by scanning; null for anything else.
 */
function plainDatetime(v: string): string | null {
  if (v.length === 10)
    return v[4] === '-' && v[7] === '-' && digitsAt(v, 0, 4) && digitsAt(v, 5, 7) && digitsAt(v, 8, 10) ? `d${v}` : null;
  if (v.length < 19 || v[4] !== '-' || v[7] !== '-' || (v[10] !== ' ' && v[10] !== 'T') || v[13] !== ':' || v[16] !== ':')
    return null;
  if (
    !digitsAt(v, 0, 4) ||
    !digitsAt(v, 5, 7) ||
    !digitsAt(v, 8, 10) ||
    !digitsAt(v, 11, 13) ||
    !digitsAt(v, 14, 16) ||
    !digitsAt(v, 17, 19)
  ) {
    return null;
  }
  const head = v[10] === ' ' ? v.slice(0, 19) : `${v.slice(0, 10)} ${v.slice(11, 19)}`;
  if (v.length === 19) return `d${head}`;
  if (v[19] !== '.' || v.length === 20 || !digitsAt(v, 20, v.length)) return null;
  let end = v.length;
  while (end > 20 && v.charCodeAt(end - 1) === 48) end--;
  return end === 20 ? `d${head}` : `d${head}${v.slice(19, end)}`;
}

/**
 * One string per datum, identical for the same value read from either engine:
 * NULL, numbers (exact decimal form), text, bytes (hex), date-times (MySQL form,
 * trailing zero fraction dropped). The first character is the kind, so that
 * the number 1 and the text '1' differ where the column type allows both.
 */
export function canonical(v: SqlValue | unknown, type: LogicalType): string {
  if (v === null || v === undefined) return 'N';
  const value = v as SqlValue;
  switch (type) {
    case 'integer':
    case 'decimal':
    case 'double': {
      const n = numberText(value);
      if (n !== undefined) return `n${n}`;
      break;
    }
    case 'float32': {
      // Only numeric text counts as a number ('' is not 0).
      const num =
        typeof value === 'bigint'
          ? Number(value)
          : typeof value === 'string'
            ? canonicalNumber(value) === undefined
              ? Number.NaN
              : Number(value)
            : value;
      if (typeof num === 'number' && Number.isFinite(Math.fround(num))) {
        // MySQL FLOAT keeps 24 bits of mantissa, and the text protocol shows only
        // 6 significant digits of it (123456.7 is stored as 123456.703125 and read
        // back as 123457): compare at what every reader can see.
        return `n${canonicalNumber(Math.fround(num).toPrecision(6))}`;
      }
      break;
    }
    case 'datetime':
    case 'date':
    case 'time':
      if (typeof value === 'string') {
        const fast = plainDatetime(value);
        if (fast !== null) return fast;
        const t = normaliseDatetimeText(value)
          .replace(/(\.\d*?)0+$/, '$1')
          .replace(/\.$/, '');
        return `d${t}`;
      }
      break;
    case 'blob':
      if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
      if (typeof value === 'string') return `b${Buffer.from(value, 'utf8').toString('hex')}`;
      break;
    default:
      break;
  }
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  if (typeof value === 'string') return `t${value}`;
  const n = numberText(value);
  return n === undefined ? `t${String(value)}` : `n${n}`;
}

/** Canonical form of a whole row, as one string (length-prefixed so no separator can collide). */
export function canonicalRow(row: Record<string, unknown>, columns: { name: string; type: LogicalType }[]): string {
  let out = '';
  for (const c of columns) {
    const s = canonical(row[c.name] as SqlValue, c.type);
    out += `${s.length}:${s}`;
  }
  return out;
}
