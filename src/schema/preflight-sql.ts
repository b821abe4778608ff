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
 * condition (FLOAT, TIME, JSON, a REAL with a fraction in a DECIMAL) are always looked at.
 * length() is never trusted alone (it stops at the first NUL character); octet_length is.
 * test/preflight-sql-filter.test.ts holds each condition against `checkerFor` on a corpus
 * of edge values, for every target type and six source column affinities.
 */
import type { ColumnInfo } from '../engines/types.js';
import { enumMembers } from './type-map.js';
import { INT_RANGES } from './value-checks.js';

const INT64_MAX = 9_223_372_036_854_775_807n;
const TEXT_BYTES: Record<string, number> = { tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295 };
const BLOB_BYTES: Record<string, number> = { tinyblob: 255, blob: 65_535, mediumblob: 16_777_215, longblob: 4_294_967_295 };
/** 2^53: a DOUBLE holds every integer up to it exactly. */
const EXACT_DOUBLE = '9007199254740992';

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The value with no affinity and the binary collation, for comparisons by storage class:
 * SQLite orders every number before every text, and every text before every blob, and
 * converts nothing between operands that have no affinity. So `bare > 2^53` holds for
 * every text and blob, `bare < x''` for every number and text, `bare >= ''` for every
 * text and blob: type tests without a function call per value (typeof costs one).
 */
const bare = (x: string) => `(+${x} COLLATE BINARY)`;
const isText = (x: string) => `(${bare(x)} >= '' AND ${bare(x)} < x'')`;

const D = '[0-9]';
/** 'YYYY-MM-DD', months and days narrowed by the pattern (the rest by realDate). */
const DATE_GLOB = `${D}${D}${D}${D}-[01]${D}-[0-3]${D}`;
/** 'YYYY-MM-DD hh:mm:ss' (minutes and seconds exact; hours up to 29, narrowed after). */
const DATETIME_GLOB = `${DATE_GLOB} [0-2]${D}:[0-5]${D}:[0-5]${D}`;

/** 'YYYY-MM-DD' at the start of `x` (digits already) is a real date: value-checks' daysIn, in SQL. */
function realDate(x: string): string {
  const y = `CAST(substr(${x}, 1, 4) AS INTEGER)`;
  const m = `substr(${x}, 6, 2)`;
  const d = `substr(${x}, 9, 2)`;
  return (
    `${m} BETWEEN '01' AND '12' AND (${d} BETWEEN '01' AND '28' OR ${d} BETWEEN '01' AND CASE ${m} ` +
    `WHEN '02' THEN CASE WHEN ${y} % 4 = 0 AND (${y} % 100 <> 0 OR ${y} % 400 = 0) THEN '29' ELSE '28' END ` +
    `WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' ELSE '31' END)`
  );
}

/**
 * The SQL twin of value-checks' fastDatetimeFits: `x` is text 'YYYY-MM-DD hh:mm:ss' with
 * up to six fraction digits, a real date and time, no more significant fraction digits
 * than `fsp`. Each length has its exact pattern: GLOB reads text up to a NUL, so a
 * pattern of n characters matching a value of n bytes also proves there is no NUL.
 */
export function datetimeFitsSql(x: string, fsp: number): string {
  const branches = [`WHEN 19 THEN ${x} GLOB '${DATETIME_GLOB}'`];
  for (let n = 1; n <= 6; n++) {
    const trim = n > fsp ? ` AND length(rtrim(substr(${x}, 21), '0')) <= ${fsp}` : '';
    branches.push(`WHEN ${20 + n} THEN ${x} GLOB '${DATETIME_GLOB}.${D.repeat(n)}'${trim}`);
  }
  // Blobs read as text by GLOB: the type is tested first (numbers never match the pattern).
  return (
    `(${bare(x)} < x'' AND CASE octet_length(${x}) ${branches.join(' ')} ELSE 0 END AND ` +
    `${realDate(x)} AND substr(${x}, 12, 2) <= '23')`
  );
}

/** Every non-NULL value is looked at. */
const always = (x: string) => `${x} IS NOT NULL`;

/**
 * The condition under which `checkerFor(col)` may flag the value of the SQLite column `x`
 * (false or NULL when `x` is NULL); null when it never flags anything. Comparisons and
 * CAST cost SQLite next to nothing per value, a function call (typeof, octet_length, substr,
 * GLOB) ~50–70 ns: the common types are tested by comparisons only.
 */
export function suspectSql(col: ColumnInfo, x: string): string | null {
  const base = col.baseType.toLowerCase();
  const type = col.type.toLowerCase();
  const unsigned = /unsigned/.test(type);
  const range = INT_RANGES[base];
  const b = bare(x);
  // A REAL whose value is not an integer (SQLite keeps integral REALs as REAL in untyped columns).
  const fraction = `CAST(${x} AS INTEGER) <> ${b}`;
  if (range) {
    // Text and blobs are above every number: the upper bound catches them.
    const min = unsigned ? 0n : range[0];
    const max = unsigned ? range[2] : range[1];
    const upper = max < INT64_MAX ? max : INT64_MAX;
    const lower = base === 'bigint' && !unsigned ? '' : ` OR ${b} < ${min}`;
    return `(${b} > ${upper}${lower} OR ${fraction})`;
  }
  if (base === 'decimal' || base === 'numeric') {
    const intDigits = (col.numericPrecision ?? 10) - (col.numericScale ?? 0);
    // Every SQLite integer has at most 19 digits; REALs with a fraction are always looked at.
    if (intDigits >= 19) return `(${b} > ${INT64_MAX} OR ${fraction})`;
    const bound = 10n ** BigInt(Math.max(0, intDigits));
    return `(${b} >= ${bound} OR ${b} <= -${bound} OR ${fraction})`;
  }
  if (base === 'float') return always(x);
  // Text, blobs and ±Infinity are beyond 2^53 too.
  if (base === 'double' || base === 'real') return `(${b} > ${EXACT_DOUBLE} OR ${b} < -${EXACT_DOUBLE})`;
  if (base === 'datetime' || base === 'timestamp') {
    const fsp = Number(/\((\d)\)/.exec(type)?.[1] ?? 0);
    const fits = datetimeFitsSql(x, fsp);
    return `(${x} IS NOT NULL AND NOT ${base === 'datetime' ? fits : `(${fits} AND substr(${x}, 1, 4) BETWEEN '1970' AND '2038')`})`;
  }
  if (base === 'date') {
    return `(${x} IS NOT NULL AND NOT (${b} < x'' AND octet_length(${x}) = 10 AND ${x} GLOB '${DATE_GLOB}' AND ${realDate(x)}))`;
  }
  if (base === 'time') return always(x);
  if (base === 'enum') {
    const members = enumMembers(col.type);
    if (members.length === 0) return always(x);
    return `${b} NOT IN (${members.map(sqlText).join(', ')})`;
  }
  if (base === 'json') return `${b} >= ''`;
  if (base === 'varchar' || base === 'char' || TEXT_BYTES[base] !== undefined) {
    const chars = base === 'varchar' || base === 'char' ? (col.maxLength ?? null) : null;
    const bytes = TEXT_BYTES[base] ?? null;
    // Characters: never more than bytes (in any encoding; an invalid UTF-8 byte decodes to one U+FFFD).
    // UTF-8 bytes: at most 3 per byte of SQLite's own (UTF-16: 1.5 per byte; an invalid byte: U+FFFD, 3 bytes).
    // (Numbers are never flagged; their text may be looked at needlessly.)
    const limit = Math.min(chars ?? Number.POSITIVE_INFINITY, bytes === null ? Number.POSITIVE_INFINITY : Math.floor(bytes / 3));
    return Number.isFinite(limit) ? `(${b} >= x'' OR octet_length(${x}) > ${limit})` : `${b} >= x''`;
  }
  if (base === 'varbinary' || base === 'binary' || BLOB_BYTES[base] !== undefined) {
    const max = base === 'varbinary' || base === 'binary' ? (col.maxLength ?? null) : (BLOB_BYTES[base] ?? null);
    if (max === null) return null;
    // Blobs by their bytes; text by at most 3 UTF-8 bytes per byte; numbers always (JavaScript prints them its own way).
    return `CASE WHEN ${b} >= x'' THEN octet_length(${x}) > ${max} ELSE ${b} < '' OR octet_length(${x}) > ${Math.floor(max / 3)} END`;
  }
  return null;
}

/** A NUL character in text (the pre-flight's nul-in-key check, for key columns). */
export const hasNulSql = (x: string) => `(${isText(x)} AND instr(CAST(${x} AS BLOB), x'00') > 0)`;
