/**
 * The pre-flight's filter inside SQLite: for each target column, an SQL condition that
 * is true for every value `checkerFor` (value-checks.ts) might flag, and false for the
 * common values it passes. preflight.ts puts the conditions of a table's columns in the
 * WHERE clause of one scan, so SQLite tests every value in C and hands to JavaScript only
 * the rows that may hold a problem; `checkerFor` then decides on those rows, as before
 * (same kinds, reasons, row and column names).
 *
 * Each condition must be a SUPERSET of what the checker flags (a value it lets through is
 * never looked at again); it may be wider (the checker says no). Types with no cheap exact
 * condition (FLOAT, TIME, JSON, a REAL or text in a DECIMAL) are always looked at.
 * Text conditions do not trust length() alone: it stops at the first NUL character.
 */
import type { ColumnInfo } from '../engines/types.js';
import { enumMembers } from './type-map.js';
import { INT_RANGES } from './value-checks.js';

const INT64_MAX = 9_223_372_036_854_775_807n;
const TEXT_BYTES: Record<string, number> = { tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295 };
const BLOB_BYTES: Record<string, number> = { tinyblob: 255, blob: 65_535, mediumblob: 16_777_215, longblob: 4_294_967_295 };
/** 2^53: a DOUBLE holds every integer up to it exactly. */
const EXACT_DOUBLE = '9007199254740992';

/** Always look at a non-NULL value. */
export const ALWAYS = '1';

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** True when the SQLite text value `x` has no NUL and only ASCII (length() counts up to a NUL, octet_length all bytes). */
const plainAscii = (x: string) => `length(${x}) = octet_length(${x})`;

const D = '[0-9]';
const DATE_GLOB = `${D}${D}${D}${D}-${D}${D}-${D}${D}`;
const TIME_GLOB = `${D}${D}:${D}${D}:${D}${D}`;

/** 'YYYY-MM-DD' at the start of `x` is a real date (the same Gregorian rule as value-checks' daysIn). */
function realDate(x: string): string {
  const y = `CAST(substr(${x}, 1, 4) AS INTEGER)`;
  const m = `substr(${x}, 6, 2)`;
  const d = `substr(${x}, 9, 2)`;
  return (
    `${m} BETWEEN '01' AND '12' AND ${d} >= '01' AND (${d} <= '28' OR ${d} <= CASE ${m} ` +
    `WHEN '02' THEN CASE WHEN ${y} % 4 = 0 AND (${y} % 100 <> 0 OR ${y} % 400 = 0) THEN '29' ELSE '28' END ` +
    `WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' ELSE '31' END)`
  );
}

/**
 * The SQL twin of value-checks' fastDatetimeFits: `x` is text 'YYYY-MM-DD hh:mm:ss' with
 * up to six fraction digits, a real date and time, no more significant fraction digits than `fsp`.
 */
export function datetimeFitsSql(x: string, fsp: number): string {
  const frac = `substr(${x}, 21)`;
  const fraction =
    `(length(${x}) = 19 OR (length(${x}) BETWEEN 21 AND 26 AND substr(${x}, 20, 1) = '.' AND ${frac} NOT GLOB '*[^0-9]*'` +
    `${fsp >= 6 ? '' : ` AND length(rtrim(${frac}, '0')) <= ${fsp}`}))`;
  return (
    `(typeof(${x}) = 'text' AND ${plainAscii(x)} AND ${fraction} AND ${x} GLOB '${DATE_GLOB} ${TIME_GLOB}*' AND ` +
    `${realDate(x)} AND substr(${x}, 12, 2) <= '23' AND substr(${x}, 15, 2) <= '59' AND substr(${x}, 18, 2) <= '59')`
  );
}

/**
 * The condition under which `checkerFor(col)` may flag the non-NULL value of the SQLite
 * expression `x`; null when it never flags anything.
 */
export function suspectSql(col: ColumnInfo, x: string): string | null {
  const base = col.baseType.toLowerCase();
  const type = col.type.toLowerCase();
  const unsigned = /unsigned/.test(type);
  const range = INT_RANGES[base];
  if (range) {
    if (base === 'bigint' && !unsigned) return `typeof(${x}) <> 'integer'`;
    const min = unsigned ? 0n : range[0];
    const max = unsigned ? range[2] : range[1];
    return `(typeof(${x}) <> 'integer' OR ${x} < ${min}${max < INT64_MAX ? ` OR ${x} > ${max}` : ''})`;
  }
  if (base === 'decimal' || base === 'numeric') {
    const intDigits = (col.numericPrecision ?? 10) - (col.numericScale ?? 0);
    // Every SQLite integer has at most 19 digits.
    if (intDigits >= 19) return `typeof(${x}) <> 'integer'`;
    const bound = 10n ** BigInt(Math.max(0, intDigits));
    return `(typeof(${x}) <> 'integer' OR ${x} <= -${bound} OR ${x} >= ${bound})`;
  }
  if (base === 'float') return ALWAYS;
  if (base === 'double' || base === 'real') {
    return (
      `(typeof(${x}) IN ('text', 'blob') OR (typeof(${x}) = 'integer' AND (${x} > ${EXACT_DOUBLE} OR ${x} < -${EXACT_DOUBLE}))` +
      ` OR (typeof(${x}) = 'real' AND abs(${x}) > 1.7976931348623157e308))`
    );
  }
  if (base === 'datetime' || base === 'timestamp') {
    const fsp = Number(/\((\d)\)/.exec(type)?.[1] ?? 0);
    const fits = datetimeFitsSql(x, fsp);
    return base === 'datetime' ? `NOT ${fits}` : `NOT (${fits} AND substr(${x}, 1, 4) BETWEEN '1970' AND '2038')`;
  }
  if (base === 'date') {
    return `NOT (typeof(${x}) = 'text' AND length(${x}) = 10 AND octet_length(${x}) = 10 AND ${x} GLOB '${DATE_GLOB}' AND ${realDate(x)})`;
  }
  if (base === 'time') return ALWAYS;
  if (base === 'enum') {
    const members = enumMembers(col.type);
    if (members.length === 0) return ALWAYS;
    return `(typeof(${x}) <> 'text' OR ${x} COLLATE BINARY NOT IN (${members.map(sqlText).join(', ')}))`;
  }
  if (base === 'json') return `typeof(${x}) IN ('text', 'blob')`;
  if (base === 'varchar' || base === 'char' || TEXT_BYTES[base] !== undefined) {
    const chars = base === 'varchar' || base === 'char' ? (col.maxLength ?? null) : null;
    const bytes = TEXT_BYTES[base] ?? null;
    // Characters: never more than bytes (in any encoding; an invalid UTF-8 byte decodes to one U+FFFD).
    // UTF-8 bytes: at most 3 per byte of SQLite's own (UTF-16: 1.5 per byte; an invalid byte: U+FFFD, 3 bytes).
    const limit = Math.min(chars ?? Number.POSITIVE_INFINITY, bytes === null ? Number.POSITIVE_INFINITY : Math.floor(bytes / 3));
    return Number.isFinite(limit)
      ? `(typeof(${x}) = 'blob' OR (typeof(${x}) = 'text' AND octet_length(${x}) > ${limit}))`
      : `typeof(${x}) = 'blob'`;
  }
  if (base === 'varbinary' || base === 'binary' || BLOB_BYTES[base] !== undefined) {
    const max = base === 'varbinary' || base === 'binary' ? (col.maxLength ?? null) : (BLOB_BYTES[base] ?? null);
    if (max === null) return null;
    return `(typeof(${x}) IN ('integer', 'real') OR (typeof(${x}) = 'blob' AND octet_length(${x}) > ${max}) OR (typeof(${x}) = 'text' AND octet_length(${x}) > ${Math.floor(max / 3)}))`;
  }
  return null;
}

/** A NUL character in text (the pre-flight's nul-in-key check, for key columns). */
export const hasNulSql = (x: string) => `(typeof(${x}) = 'text' AND instr(CAST(${x} AS BLOB), x'00') > 0)`;
