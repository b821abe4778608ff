/**
 * One text per row that both engines can build themselves, so that a chunk's
 * fingerprint is computed inside each database and no row crosses the wire
 * when the sides agree (as pt-table-checksum does, but across two engines).
 *
 * Every value is written as a self-delimiting part: `N` for NULL, `n<number>;`,
 * `d<date-time>;`, `b<HEX>;` and `t<bytes>:<text>` for short values, `m<md5>;` and
 * `h<md5>;` for longer blobs and texts (a chunk's text stays small whatever the rows hold). MySQL builds it with CONCAT,
 * the number and date forms trimmed of trailing fraction zeros; SQLite builds
 * the same in SQL for the values it can (integers, text, blobs, well-formed
 * date-times, plain decimals) and through `dualdb_render()`, a function of this
 * process, for the others (REAL values in MariaDB's print format, anything of
 * an unexpected storage class). A chunk's fingerprint is the MD5 of its rows'
 * texts joined in key order (GROUP_CONCAT / group_concat), plus the row count.
 *
 * The rendering is a filter, never the judge: equal texts mean equal values
 * under the codec's `canonical` (each part below is that canonical form, or a
 * form MySQL prints for exactly one canonical value), while a value SQLite
 * holds in a form MySQL would print differently — or that no MySQL value can
 * equal — renders as `X`, a tag MySQL never writes: the chunk then differs and
 * its rows are compared by the codec, which decides.
 */
import { hash } from 'node:crypto';
import type { LogicalType } from '../engines/codec.js';
import { canonical } from '../engines/codec.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { HubColumnFact, HubColumnFacts } from './hub-column-facts.js';

/** A value SQLite holds that no MySQL value of the column prints as: forces a row-by-row look. */
const UNLIKE_MYSQL = 'X';
/** Longer blobs and texts (bytes) enter a row's text as their MD5. */
const SHORT_BLOB = 32;
const SHORT_TEXT = 64;

const md5 = (v: string | Buffer) => hash('md5', v, 'hex');

function blobPart(bytes: Buffer): string {
  return bytes.length <= SHORT_BLOB ? `b${bytes.toString('hex').toUpperCase()};` : `m${md5(bytes)};`;
}

/** Digits (no leading/trailing zeros) and decimal point position of a finite non-zero double, from its shortest form. */
function shortestDigits(v: number, precision?: number): { sign: string; digits: string; decpt: number } {
  const e = precision === undefined ? v.toExponential() : v.toExponential(precision - 1);
  const at = e.indexOf('e');
  const sign = e.startsWith('-') ? '-' : '';
  let digits = e.slice(sign.length, at).replace('.', '');
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
  digits = digits.slice(0, end);
  return { sign, digits, decpt: Number(e.slice(at + 1)) + 1 };
}

function fixedNotation(sign: string, digits: string, decpt: number): string {
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return sign + digits + '0'.repeat(decpt - digits.length);
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/**
 * A double as MariaDB's CAST(… AS CHAR) prints it: the shortest digits that read back as the
 * same double, in fixed notation from 1e-15 up to 1e15 (and beyond, while the fixed form still
 * has a fraction), otherwise `d.ddde±x` without a `+`. With `precision`, FLOAT's 6 digits.
 */
export function mariadbDoubleText(v: number, precision?: number): string {
  if (v === 0) return '0';
  const { sign, digits, decpt } = shortestDigits(v, precision);
  if (decpt < -14 || (decpt > 15 && decpt >= digits.length)) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${decpt - 1}`;
  }
  return fixedNotation(sign, digits, decpt);
}

/** Plain decimal text (`[-]digits[.digits]`) as MySQL prints a DECIMAL with its trailing fraction zeros trimmed. */
function decimalText(text: string): string | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const int = (m[2] ?? '').replace(/^0+/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (int === '0' && frac === '') return '0';
  return `${m[1] === '-' ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

function integerText(v: unknown): string | null {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : null;
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return BigInt(v).toString();
  return null;
}

/** The part `value` (as better-sqlite3 returns it) renders as in a column of `type`: the reference for both SQL forms. */
export function renderValue(value: unknown, type: LogicalType): string {
  if (value === null || value === undefined) return 'N';
  let text: string | null = null;
  switch (type) {
    case 'integer':
      text = integerText(value);
      return text === null ? UNLIKE_MYSQL : `n${text};`;
    case 'decimal':
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) return UNLIKE_MYSQL;
        if (value === 0) return 'n0;';
        const { sign, digits, decpt } = shortestDigits(value);
        return `n${fixedNotation(sign, digits, decpt)};`;
      }
      text = typeof value === 'string' ? decimalText(value) : integerText(value);
      return text === null ? UNLIKE_MYSQL : `n${text};`;
    case 'double':
    case 'float32': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'bigint' && Number.isSafeInteger(Number(value))
            ? Number(value)
            : NaN;
      if (!Number.isFinite(n) || Object.is(n, -0)) return UNLIKE_MYSQL;
      if (type === 'double') return `n${mariadbDoubleText(n)};`;
      const f = Math.fround(n);
      return Number.isFinite(f) ? `n${mariadbDoubleText(f, 6)};` : UNLIKE_MYSQL;
    }
    case 'datetime':
    case 'date':
    case 'time':
      return typeof value === 'string' ? `d${canonical(value, type).slice(1)};` : UNLIKE_MYSQL;
    case 'blob':
      if (Buffer.isBuffer(value)) return blobPart(value);
      if (typeof value === 'string') return blobPart(Buffer.from(value, 'utf8'));
      return UNLIKE_MYSQL;
    default: {
      if (typeof value !== 'string') return UNLIKE_MYSQL;
      const bytes = Buffer.byteLength(value, 'utf8');
      return bytes <= SHORT_TEXT ? `t${bytes}:${value}` : `h${md5(value)};`;
    }
  }
}

/** MySQL: `s` without trailing fraction zeros (and without the point when none is left). */
const mysqlTrimFraction = (s: string) => `IF(INSTR(${s}, '.') > 0, ${mysqlTrimAfterPoint(s)}, ${s})`;
/** The same where `s` is known to hold a point (a type printed with a fixed number of fraction digits > 0). */
const mysqlTrimAfterPoint = (s: string) => `TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${s}))`;

/** `s` as MySQL prints it, trimmed of fraction zeros; the test for a point only where the column's type does not settle it. */
function trimmedFraction(s: string, fact: HubColumnFact | undefined): string {
  if (fact?.fractionDigits === 0) return s;
  if (fact?.fractionDigits) return mysqlTrimAfterPoint(s);
  return mysqlTrimFraction(s);
}

/**
 * The MySQL expression of one column's part. With the hub column's `fact` the text is the same,
 * built with fewer functions per row (no CONVERT of UTF-8 text, no test for a point whose
 * presence the type decides).
 */
export function mysqlPart(column: string, type: LogicalType, fact?: HubColumnFact): string {
  const c = quoteMysqlId(column);
  let part: string;
  switch (type) {
    case 'integer':
    case 'double':
    case 'float32':
      part = `CONCAT('n', ${c}, ';')`;
      break;
    case 'decimal':
      part = `CONCAT('n', ${trimmedFraction(`CAST(${c} AS CHAR)`, fact)}, ';')`;
      break;
    case 'datetime':
    case 'date':
    case 'time':
      part = `CONCAT('d', ${trimmedFraction(`CAST(${c} AS CHAR)`, fact)}, ';')`;
      break;
    case 'blob':
      part = `IF(LENGTH(${c}) <= ${SHORT_BLOB}, CONCAT('b', HEX(${c}), ';'), CONCAT('m', MD5(${c}), ';'))`;
      break;
    default: {
      const u = fact?.utf8 ? c : `CONVERT(${c} USING utf8mb4)`;
      part = `IF(LENGTH(${u}) <= ${SHORT_TEXT}, CONCAT('t', LENGTH(${u}), ':', ${u}), CONCAT('h', MD5(${u}), ';'))`;
    }
  }
  return `IFNULL(${part}, 'N')`;
}

/** The name of the SQLite function that renders what SQL alone does not. */
export const SQLITE_RENDER_FN = 'dualdb_render';
/** The same for a REAL value in a double column (one argument, no type to read per call). */
const SQLITE_DOUBLE_FN = 'dualdb_render_double';

/**
 * A REAL as `renderValue(v, 'double')`: from 1e-6 up to 1e15 JavaScript's own shortest text is
 * MariaDB's (fixed notation, the same digits), which skips the digit surgery of `mariadbDoubleText`.
 */
export function renderDouble(v: number): string {
  const a = v < 0 ? -v : v;
  return a >= 1e-6 && a < 1e15 ? `n${v};` : renderValue(v, 'double');
}

/**
 * A row's text (`renderValue` of each value, joined) from a row as better-sqlite3 returns it:
 * the text `SqliteSide.sum` builds in SQL, built from rows the caller already read (the
 * migration's copy). The common values take a shortcut whose text is renderValue's own.
 */
export function rowTextOf(types: readonly LogicalType[]): (row: readonly unknown[]) => string {
  const parts = types.map((type): ((v: unknown) => string) => {
    switch (type) {
      case 'integer':
        return (v) => (typeof v === 'bigint' ? `n${v};` : renderValue(v, type));
      case 'double':
        return (v) => (typeof v === 'number' ? renderDouble(v) : renderValue(v, type));
      case 'text':
      case 'json':
      case 'any':
        return (v) => {
          if (typeof v !== 'string') return renderValue(v, type);
          const bytes = Buffer.byteLength(v, 'utf8');
          return bytes <= SHORT_TEXT ? `t${bytes}:${v}` : `h${md5(v)};`;
        };
      default:
        return (v) => renderValue(v, type);
    }
  });
  const n = parts.length;
  return (row) => {
    let text = '';
    for (let i = 0; i < n; i++) text += (parts[i] as (v: unknown) => string)(row[i] ?? null);
    return text;
  };
}

const DATE_GLOB = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'";
const DATETIME_GLOB = `${DATE_GLOB.slice(0, -1)}[ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]'`;
const DATETIME_FRACTION_GLOB = `${DATETIME_GLOB.slice(0, -1)}.[0-9]*'`;

/** The SQLite expression of one column's part (identical text to `mysqlPart` for equal values). */
export function sqlitePart(column: string, type: LogicalType): string {
  const c = quoteSqliteId(column);
  const js = `${SQLITE_RENDER_FN}('${type}', ${c})`;
  switch (type) {
    case 'integer':
      return `CASE typeof(${c}) WHEN 'integer' THEN 'n' || ${c} || ';' WHEN 'null' THEN 'N' ELSE ${js} END`;
    case 'decimal':
      // Plain unsigned text with a point and no leading zero: trimmed in SQL; the rest in JS.
      return `CASE typeof(${c}) WHEN 'integer' THEN 'n' || ${c} || ';' WHEN 'null' THEN 'N'
        WHEN 'text' THEN CASE WHEN ${c} GLOB '[0-9]*.*' AND ${c} NOT GLOB '*[^0-9.]*' AND ${c} NOT GLOB '*.*.*'
          AND ${c} NOT GLOB '0[0-9]*' THEN 'n' || rtrim(rtrim(${c}, '0'), '.') || ';' ELSE ${js} END
        ELSE ${js} END`;
    case 'datetime':
    case 'date':
    case 'time':
      // The length first: each GLOB below only ever matches one length (or lengths past 20).
      return `CASE WHEN ${c} IS NULL THEN 'N'
        WHEN typeof(${c}) <> 'text' THEN ${js}
        WHEN length(${c}) = 19 AND ${c} GLOB ${DATETIME_GLOB} THEN 'd' || substr(${c}, 1, 10) || ' ' || substr(${c}, 12) || ';'
        WHEN length(${c}) = 10 AND ${c} GLOB ${DATE_GLOB} THEN 'd' || ${c} || ';'
        WHEN length(${c}) > 20 AND ${c} GLOB ${DATETIME_FRACTION_GLOB} AND substr(${c}, 21) NOT GLOB '*[^0-9]*'
          THEN 'd' || substr(${c}, 1, 10) || ' ' || rtrim(rtrim(substr(${c}, 12), '0'), '.') || ';'
        ELSE ${js} END`;
    case 'blob':
      return `CASE WHEN ${c} IS NULL THEN 'N' WHEN typeof(${c}) = 'blob' AND length(${c}) <= ${SHORT_BLOB}
        THEN 'b' || hex(${c}) || ';' ELSE ${js} END`;
    case 'double':
      // Whole values in SQL; other REALs through a one-argument function with a fast path
      // (a function call per value is most of a table's sum: keep it cheap).
      return `CASE WHEN ${c} IS NULL THEN 'N' WHEN typeof(${c}) <> 'real' THEN ${js}
        WHEN ${c} <> 0 AND ${c} = CAST(${c} AS INTEGER) AND abs(${c}) < 1e15 THEN 'n' || CAST(${c} AS INTEGER) || ';'
        ELSE ${SQLITE_DOUBLE_FN}(${c}) END`;
    case 'float32':
      return `CASE WHEN ${c} IS NULL THEN 'N' ELSE ${js} END`;
    default:
      return `CASE WHEN ${c} IS NULL THEN 'N' WHEN typeof(${c}) = 'text' AND octet_length(${c}) <= ${SHORT_TEXT}
        THEN 't' || octet_length(${c}) || ':' || ${c} ELSE ${js} END`;
  }
}

const registered = new WeakSet<SqliteDb>();

/** Registers `dualdb_render(type, value)` on a connection (once). */
export function registerSqliteRender(db: SqliteDb): void {
  if (registered.has(db)) return;
  db.function(SQLITE_RENDER_FN, { deterministic: true, safeIntegers: true }, (type: unknown, value: unknown) =>
    renderValue(value, String(type) as LogicalType),
  );
  db.function(SQLITE_DOUBLE_FN, { deterministic: true }, (value: unknown) =>
    typeof value === 'number' ? renderDouble(value) : renderValue(value, 'double'),
  );
  registered.add(db);
}

/** Row texts for the given columns, as one expression per engine. */
export function rowExpressions(
  columns: readonly { name: string; type: LogicalType }[],
  hubFacts?: HubColumnFacts,
): { mysql: string; sqlite: string } {
  return {
    mysql: `CONCAT(${columns.map((c) => mysqlPart(c.name, c.type, hubFacts?.get(c.name.toLowerCase()))).join(', ')})`,
    sqlite: columns.map((c) => `(${sqlitePart(c.name, c.type)})`).join(' || '),
  };
}
