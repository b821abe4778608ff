/**
 * Pre-flight check before copying SQLite data to MySQL: finds the values that
 * MySQL would refuse or silently change, so the migration can stop (or the user
 * fix them) before anything is written.
 *
 * Checked against the target columns (the hub's tables, or the translation of the
 * SQLite schema for tables the hub does not have yet):
 *  - text (or bytes) in numeric columns, fractions in integer columns, integers
 *    beyond a column's range or beyond 2^53 in a DOUBLE, non-finite REALs,
 *    decimals with more digits than DECIMAL(p,s) keeps;
 *  - date-times MySQL refuses (invalid dates, numbers such as Unix times) or changes
 *    (a date alone in DATETIME, more than 6 fractional digits, a time in DATE);
 *  - strings longer than VARCHAR(n) (characters) or TEXT types (bytes), bytes in text columns;
 *  - NULL in primary keys (SQLite allows it outside INTEGER keys) and in NOT NULL columns;
 *  - NUL characters in text going to a key (MySQL's collation ignores them: 'a\0' = 'a');
 *  - keys that collide under MySQL's case- and accent-insensitive utf8mb4_unicode_ci
 *    ('ABC' = 'abc' = 'abc ', 'é' = 'e'), or after type conversion (1 and '1');
 *  - rows whose foreign key points at a missing parent (SQLite enforces keys only
 *    when PRAGMA foreign_keys is on).
 *
 * One streamed pass per table (iterate, never loaded) checks every value and every
 * unique key that may collide (its collation keys are kept in memory for that table
 * only; keys that cannot collide, such as INTEGER keys or text under a binary NO PAD
 * collation, are not tracked). Foreign keys add SQLite's own foreign_key_check.
 * Each check keeps a few sample findings and counts the rest.
 */
import { canonicalNumber, normaliseDatetimeText, type SqlValue } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import { keyCollationFor, translateToMysql } from './translate.js';
import { classifySqliteType, collationKeepsApart, enumMembers } from './type-map.js';

export type FindingKind =
  | 'text-in-number'
  | 'fraction-in-integer'
  | 'out-of-range'
  | 'precision-loss'
  | 'not-finite'
  | 'decimal-rounded'
  | 'invalid-datetime'
  | 'datetime-changed'
  | 'too-long'
  | 'bytes-in-text'
  | 'invalid-json'
  | 'nul-in-key'
  | 'null-in-key'
  | 'null-not-allowed'
  | 'duplicate-key'
  | 'orphan';

export interface PreflightFinding {
  table: string;
  /** The row: its primary key values as text (or its rowid when the table has no key). */
  key: Record<string, string>;
  /** The column (for keys of several columns: their names joined by ", "). */
  column: string;
  /** The value, shortened and printable. */
  value: string;
  kind: FindingKind;
  reason: string;
}

export interface PreflightCount {
  table: string;
  column: string;
  kind: FindingKind;
  count: number;
}

export interface PreflightReport {
  /** True when nothing was found. */
  ok: boolean;
  /** What the values were checked against: the hub's tables or the translated schema. */
  target: 'hub' | 'translation' | 'given';
  tables: { table: string; rows: number; findings: number }[];
  /** Samples: at most `samplesPerCheck` per table, column and kind. */
  findings: PreflightFinding[];
  /** Every problem counted, per table, column and kind. */
  counts: PreflightCount[];
  /** True when some findings were counted but not listed. */
  truncated: boolean;
  /** Tables not checked, with the reason. */
  skipped: { table: string; reason: string }[];
}

export interface PreflightOptions {
  /** Only these tables (case-insensitive). */
  tables?: string[];
  /** Sample findings kept per table, column and kind (default 20). */
  samplesPerCheck?: number;
  /**
   * Whether a target text column without a known collation compares case-sensitively
   * (a _bin collation). Default: no (utf8mb4_unicode_ci). A column's own `collation` wins.
   */
  caseSensitive?: (table: string, column: string) => boolean;
  /** Progress: called as each table starts. */
  onTable?: (table: string, index: number, total: number) => void;
}

type Problem = { kind: FindingKind; reason: string } | null;
type Checker = (v: SqlValue) => Problem;

const MAX_VALUE_CHARS = 60;
const lower = (s: string) => s.toLowerCase();

/** A value as a short printable string. */
export function displayValue(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return `x'${v.subarray(0, 24).toString('hex')}${v.length > 24 ? '…' : ''}' (${v.length} bytes)`;
  const s = v.length > MAX_VALUE_CHARS ? `${v.slice(0, MAX_VALUE_CHARS)}…` : v;
  return `${JSON.stringify(s)}${v.length > MAX_VALUE_CHARS ? ` (${[...v].length} characters)` : ''}`;
}

const INT_RANGES: Record<string, [bigint, bigint, bigint]> = {
  // signed min, signed max, unsigned max
  tinyint: [-128n, 127n, 255n],
  smallint: [-32768n, 32767n, 65535n],
  mediumint: [-8388608n, 8388607n, 16777215n],
  int: [-2147483648n, 2147483647n, 4294967295n],
  integer: [-2147483648n, 2147483647n, 4294967295n],
  bigint: [-9223372036854775808n, 9223372036854775807n, 18446744073709551615n],
};
const TEXT_BYTES: Record<string, number> = { tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295 };
const BLOB_BYTES: Record<string, number> = { tinyblob: 255, blob: 65_535, mediumblob: 16_777_215, longblob: 4_294_967_295 };
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?$/;
const TIME_RE = /^-?\d{1,3}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?$/;

/** Two or four ASCII digits at `at` as a number, or -1. */
function digitsAt(v: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/**
 * True when `v` is exactly 'YYYY-MM-DD hh:mm:ss' with up to six fraction digits, a real
 * date and time, and no more significant fraction digits than `fsp`. False means "look
 * closer" (the full check decides), never "wrong".
 */
function fastDatetimeFits(v: string, fsp: number): boolean {
  const n = v.length;
  if (n < 19 || n === 20 || n > 26) return false;
  if (v[4] !== '-' || v[7] !== '-' || v[10] !== ' ' || v[13] !== ':' || v[16] !== ':') return false;
  const year = digitsAt(v, 0, 4);
  const month = digitsAt(v, 5, 2);
  const day = digitsAt(v, 8, 2);
  const h = digitsAt(v, 11, 2);
  const mi = digitsAt(v, 14, 2);
  const sec = digitsAt(v, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
  if (n === 19) return true;
  if (v[19] !== '.' || digitsAt(v, 20, n - 20) < 0) return false;
  let significant = n - 20;
  while (significant > 0 && v[19 + significant] === '0') significant--;
  return significant <= fsp;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month (Gregorian); a table, not a Date: this runs for every date-time of every row. */
function daysIn(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return MONTH_DAYS[month - 1] ?? 0;
}

/** Checks one value against a MySQL column; null when it goes in and comes back unchanged. */
export function checkerFor(col: ColumnInfo): Checker {
  const base = col.baseType.toLowerCase();
  const type = col.type.toLowerCase();
  const unsigned = /unsigned/.test(type);
  const range = INT_RANGES[base];
  if (range) {
    const min = unsigned ? 0n : range[0];
    const max = unsigned ? range[2] : range[1];
    const inRange = (n: bigint): Problem =>
      n < min || n > max ? { kind: 'out-of-range', reason: `outside ${type}'s range ${min}..${max}` } : null;
    // SQLite integers are signed 64-bit: a signed BIGINT holds every one of them.
    const holdsAll = base === 'bigint' && !unsigned;
    return (v) => {
      if (typeof v === 'bigint') return holdsAll ? null : inRange(v);
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return { kind: 'not-finite', reason: `${v} cannot be stored in MySQL` };
        if (!Number.isInteger(v)) return { kind: 'fraction-in-integer', reason: `MySQL would round it to ${Math.round(v)}` };
        return inRange(BigInt(v));
      }
      if (typeof v === 'string')
        return /^[+-]?\d+$/.test(v)
          ? inRange(BigInt(v))
          : { kind: 'text-in-number', reason: `text in an integer column (${type}): MySQL refuses it` };
      return { kind: 'text-in-number', reason: `bytes in an integer column (${type}): MySQL refuses them` };
    };
  }
  if (base === 'decimal' || base === 'numeric') {
    const p = col.numericPrecision ?? 10;
    const s = col.numericScale ?? 0;
    return (v) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return { kind: 'not-finite', reason: `${v} cannot be stored in MySQL` };
      const text = typeof v === 'bigint' || typeof v === 'number' ? String(v) : typeof v === 'string' ? v : undefined;
      const canon = text === undefined ? undefined : canonicalNumber(text);
      if (canon === undefined) return { kind: 'text-in-number', reason: `not a number: DECIMAL(${p},${s}) refuses it` };
      if (canon === '0') return null;
      const m = /^-?(\d+)e(-?\d+)$/.exec(canon);
      const digits = m?.[1]?.length ?? 0;
      const exp = Number(m?.[2] ?? 0);
      const intDigits = Math.max(0, digits + exp);
      const fracDigits = Math.max(0, -exp);
      if (intDigits > p - s)
        return { kind: 'out-of-range', reason: `${intDigits} integer digits: DECIMAL(${p},${s}) keeps ${p - s}` };
      if (fracDigits > s) return { kind: 'decimal-rounded', reason: `${fracDigits} decimals: DECIMAL(${p},${s}) rounds to ${s}` };
      return null;
    };
  }
  if (base === 'double' || base === 'real' || base === 'float') {
    return (v) => {
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return { kind: 'not-finite', reason: `${v} cannot be stored in MySQL` };
        if (base === 'float' && Math.abs(v) > 3.4028234663852886e38)
          return { kind: 'out-of-range', reason: 'beyond FLOAT’s range' };
        if (base === 'float' && Math.fround(v) !== v) return floatChanged(v);
        return null;
      }
      if (typeof v === 'bigint' && base === 'float') {
        const n = Number(v);
        return BigInt(n) === v && Math.fround(n) === n ? null : floatChanged(n);
      }
      if (typeof v === 'bigint')
        return Number.isSafeInteger(Number(v)) || BigInt(Number(v)) === v
          ? null
          : {
              kind: 'precision-loss',
              reason: `a ${base.toUpperCase()} holds integers exactly only up to 2^53; it would become ${Number(v)}`,
            };
      if (typeof v === 'string')
        return canonicalNumber(v) === undefined
          ? { kind: 'text-in-number', reason: `text in a ${base.toUpperCase()} column: MySQL refuses it` }
          : null;
      return { kind: 'text-in-number', reason: `bytes in a ${base.toUpperCase()} column: MySQL refuses them` };
    };
  }
  if (base === 'datetime' || base === 'timestamp' || base === 'date') {
    const fsp = Number(/\((\d)\)/.exec(type)?.[1] ?? 0);
    return (v) => {
      if (typeof v !== 'string')
        return {
          kind: 'invalid-datetime',
          reason:
            typeof v === 'bigint' || typeof v === 'number'
              ? `a number (Unix time? Julian day?) in a ${base.toUpperCase()} column: MySQL refuses it; store 'YYYY-MM-DD hh:mm:ss' text`
              : `bytes in a ${base.toUpperCase()} column`,
        };
      // The common case, 'YYYY-MM-DD hh:mm:ss[.ffffff]' that fits: read by position, no regex, no new string.
      if (base === 'datetime' && fastDatetimeFits(v, fsp)) return null;
      const m = DATETIME_RE.exec(normaliseDatetimeText(v));
      if (!m) return { kind: 'invalid-datetime', reason: `not a date-time MySQL reads ('YYYY-MM-DD hh:mm:ss[.ffffff]', UTC)` };
      const [, y, mo, d, h, mi, sec, frac] = m;
      const year = Number(y);
      const month = Number(mo);
      const day = Number(d);
      if (
        month < 1 ||
        month > 12 ||
        day < 1 ||
        day > daysIn(year, month) ||
        Number(h ?? 0) > 23 ||
        Number(mi ?? 0) > 59 ||
        Number(sec ?? 0) > 59
      )
        return { kind: 'invalid-datetime', reason: 'no such date or time: MySQL refuses it' };
      if (base === 'timestamp' && (year < 1970 || year > 2038))
        return { kind: 'out-of-range', reason: 'TIMESTAMP holds 1970–2038 only' };
      if (base === 'date')
        return h !== undefined ? { kind: 'datetime-changed', reason: 'a DATE column drops the time of day' } : null;
      if (h === undefined) return { kind: 'datetime-changed', reason: `a date alone: MySQL stores and returns '${v} 00:00:00'` };
      // '.000000' in DATETIME comes back without the fraction: the same instant, nothing lost.
      if ((frac?.replace(/0+$/, '').length ?? 0) > fsp)
        return {
          kind: 'datetime-changed',
          reason:
            fsp === 0
              ? `${base.toUpperCase()} without fractions drops them`
              : `more than ${fsp} fractional digits: MySQL rounds them`,
        };
      return null;
    };
  }
  if (base === 'time') {
    const fsp = Number(/\((\d)\)/.exec(type)?.[1] ?? 0);
    return (v) => {
      if (typeof v !== 'string' || !TIME_RE.test(v))
        return { kind: 'invalid-datetime', reason: "not a time MySQL reads ('hh:mm:ss[.ffffff]')" };
      const frac = /\.(\d+)$/.exec(v)?.[1]?.replace(/0+$/, '') ?? '';
      return frac.length > fsp
        ? {
            kind: 'datetime-changed',
            reason: fsp === 0 ? 'TIME without fractions drops them' : `more than ${fsp} fractional digits: MySQL rounds them`,
          }
        : null;
    };
  }
  if (base === 'enum') {
    const members = enumMembers(col.type);
    const exact = new Set(members);
    const folded = new Map(members.map((m) => [unicodeCiKey(m), m]));
    return (v) => {
      if (typeof v === 'string' && exact.has(v)) return null;
      const near = typeof v === 'string' ? folded.get(unicodeCiKey(v)) : undefined;
      return near !== undefined
        ? { kind: 'out-of-range', reason: `MySQL stores it as the member '${near}'` }
        : { kind: 'out-of-range', reason: `not one of ${col.type}` };
    };
  }
  if (base === 'varchar' || base === 'char' || TEXT_BYTES[base] !== undefined || base === 'json') {
    const chars = base === 'varchar' || base === 'char' ? (col.maxLength ?? null) : null;
    const bytes = TEXT_BYTES[base] ?? null;
    return (v) => {
      if (Buffer.isBuffer(v))
        return {
          kind: 'bytes-in-text',
          reason: 'bytes in a text column: MySQL refuses invalid UTF-8, and valid bytes come back as text',
        };
      if (typeof v !== 'string') return null;
      if (chars !== null && v.length > chars) {
        const n = [...v].length; // characters, not UTF-16 units (an emoji is one character)
        if (n > chars) return { kind: 'too-long', reason: `${n} characters: ${col.type} holds ${chars}` };
      }
      if (bytes !== null && v.length * 3 > bytes) {
        const n = Buffer.byteLength(v, 'utf8');
        if (n > bytes) return { kind: 'too-long', reason: `${n} bytes: ${base.toUpperCase()} holds ${bytes}` };
      }
      if (base === 'json') {
        try {
          JSON.parse(v);
        } catch {
          return { kind: 'invalid-json', reason: 'not valid JSON: the JSON column refuses it' };
        }
      }
      return null;
    };
  }
  if (base === 'varbinary' || base === 'binary' || BLOB_BYTES[base] !== undefined) {
    const max = base === 'varbinary' || base === 'binary' ? (col.maxLength ?? null) : (BLOB_BYTES[base] ?? null);
    return (v) => {
      if (max === null || v === null) return null;
      const n = Buffer.isBuffer(v) ? v.length : Buffer.byteLength(String(v), 'utf8');
      return n > max ? { kind: 'too-long', reason: `${n} bytes: ${col.type} holds ${max}` } : null;
    };
  }
  return () => null;
}

/** A FLOAT column keeps a 32-bit value: what MySQL would return instead. */
function floatChanged(v: number): Problem {
  return {
    kind: 'precision-loss',
    reason: `FLOAT is 32-bit: it would come back as ${Number(Math.fround(v).toPrecision(6))} (DOUBLE keeps it; \`dualdb schema fit\`)`,
  };
}

/**
 * A key under utf8mb4_unicode_ci, approximated in JavaScript: equal keys here are
 * equal there. It follows what MariaDB and MySQL do with UCA 4.0.0 at primary
 * strength (checked on MariaDB 10.11): case and accents ignored (NFKD, marks
 * removed, ß = ss, ﬁ = fi, fullwidth = ASCII), trailing spaces ignored (PAD SPACE),
 * control and zero-width characters ignored, and every character beyond U+FFFF
 * (emoji) equal to every other. It cannot see every UCA expansion (æ ≠ ae, ø ≠ o there).
 */
export function unicodeCiKey(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[\u0000-\u0008\u000e-\u001f\u007f\u200b-\u200d\u2060\ufeff]/g, '')
    .replace(/[\u{10000}-\u{10ffff}]/gu, '\ufffd')
    .replace(/œ/gi, 'oe')
    .toUpperCase()
    .toLowerCase()
    .replace(/ +$/, '');
}

/** How MySQL compares a key part: ci (utf8mb4_unicode_ci), bin (binary, PAD SPACE), exact (binary, NO PAD), num, dt, raw. */
type KeyMode = 'ci' | 'bin' | 'exact' | 'num' | 'dt' | 'raw';

function keyModeFor(col: ColumnInfo, caseSensitive: boolean): KeyMode {
  const base = col.baseType.toLowerCase();
  if (INT_RANGES[base] || /decimal|numeric|double|float|real/.test(base)) return 'num';
  if (/date|time/.test(base)) return 'dt';
  if (/char|text|enum|set/.test(base)) {
    if (col.collation) return collationKeepsApart(col.collation) ? 'exact' : /_bin$/i.test(col.collation) ? 'bin' : 'ci';
    return caseSensitive ? 'bin' : 'ci';
  }
  return 'raw';
}

/** One key part as MySQL would compare it; null when the part is NULL (NULLs never collide in unique keys). */
function keyPart(mode: KeyMode, v: SqlValue): string | null {
  if (v === null) return null;
  switch (mode) {
    case 'ci':
      return `t${unicodeCiKey(Buffer.isBuffer(v) ? v.toString('utf8') : String(v))}`;
    case 'bin':
      return `t${(Buffer.isBuffer(v) ? v.toString('utf8') : String(v)).replace(/ +$/, '')}`;
    case 'num': {
      const c = canonicalNumber(typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
      return c === undefined ? `x${String(v)}` : `n${c}`;
    }
    case 'dt':
      return typeof v === 'string' ? `d${normaliseDatetimeText(v)}` : `x${String(v)}`;
    case 'exact':
      return `t${Buffer.isBuffer(v) ? v.toString('utf8') : String(v)}`;
    default:
      return Buffer.isBuffer(v) ? `b${v.toString('hex')}` : `t${String(v)}`;
  }
}

/** A unique key of the target watched during the table's one pass: collation key → the first row holding it. */
interface KeyWatch {
  label: string;
  /** Positions of the key's columns in the pass's row. */
  at: number[];
  modes: KeyMode[];
  what: string;
  seen: Map<string, SqlValue[]>;
}

/**
 * The target's unique keys that may collide in MySQL although they are distinct in
 * SQLite. Keys that cannot collide are left out: integers over INTEGER columns, and
 * text over TEXT columns under a binary NO PAD collation (SQLite's own uniqueness holds).
 */
function keyWatches(
  s: TableInfo,
  target: TableInfo,
  position: (column: string) => number,
  caseSensitive: (table: string, column: string) => boolean,
): KeyWatch[] {
  const sCols = new Map(s.columns.map((c) => [lower(c.name), c]));
  const tCols = new Map(target.columns.map((c) => [lower(c.name), c]));
  const keys: { cols: string[]; pk: boolean }[] = [];
  if (target.primaryKey.length > 0) keys.push({ cols: target.primaryKey, pk: true });
  for (const ix of target.indexes) if (ix.unique) keys.push({ cols: ix.columns, pk: false });
  const out: KeyWatch[] = [];
  for (const { cols, pk } of keys) {
    const parts = cols.map((name) => ({ s: sCols.get(lower(name)), t: tCols.get(lower(name)), at: position(name) }));
    if (parts.some((p) => !p.s || !p.t || p.at < 0)) continue;
    const modes = parts.map((p) => keyModeFor(p.t as ColumnInfo, caseSensitive(target.name, p.t?.name ?? '')));
    const cannotCollide = parts.every((p, i) => {
      const cls = classifySqliteType(p.s?.type ?? '').cls;
      return (modes[i] === 'num' && cls === 'integer') || (modes[i] === 'exact' && cls === 'text');
    });
    if (cannotCollide) continue;
    out.push({
      label: cols.join(', '),
      at: parts.map((p) => p.at),
      modes,
      what: `${modes.includes('ci') ? `MySQL's case- and accent-insensitive ${parts.find((_, i) => modes[i] === 'ci')?.t?.collation ?? 'utf8mb4_unicode_ci'}` : modes.includes('bin') ? 'MySQL’s binary collation, which ignores trailing spaces' : 'MySQL’s comparison'}: the ${pk ? 'primary key' : 'unique index'} would refuse it`,
      seen: new Map(),
    });
  }
  return out;
}

/** The collation key of a row's key, or null when a part is NULL. */
function collationKey(w: KeyWatch, row: SqlValue[]): string | null {
  let out = '';
  for (let i = 0; i < w.at.length; i++) {
    const part = keyPart(w.modes[i] as KeyMode, row[w.at[i] as number] ?? null);
    if (part === null) return null;
    out += `${part.length}:${part}`;
  }
  return out;
}

class Findings {
  readonly samples: PreflightFinding[] = [];
  private readonly counts = new Map<string, PreflightCount>();
  truncated = false;

  constructor(readonly perCheck: number) {}

  add(f: PreflightFinding): void {
    this.count(f.table, f.column, f.kind, 1, f);
  }

  /** Adds `n` to a count, keeping `sample` if there is room. */
  count(table: string, column: string, kind: FindingKind, n: number, sample?: PreflightFinding): void {
    const id = `${table}\u0000${column}\u0000${kind}`;
    let c = this.counts.get(id);
    if (!c) {
      c = { table, column, kind, count: 0 };
      this.counts.set(id, c);
    }
    const before = c.count;
    c.count += n;
    if (sample) {
      if (before < this.perCheck) this.samples.push(sample);
      else this.truncated = true;
    } else if (c.count > this.perCheck) this.truncated = true;
  }

  room(table: string, column: string, kind: FindingKind): boolean {
    return (this.counts.get(`${table}\u0000${column}\u0000${kind}`)?.count ?? 0) < this.perCheck;
  }

  all(): PreflightCount[] {
    return [...this.counts.values()];
  }

  forTable(table: string): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.table === table) n += c.count;
    return n;
  }
}

/**
 * Checks the SQLite data against target (MySQL) tables. `sqliteTables` comes from
 * introspectSqlite(db); `targets` from introspectMysql or a translation's models.
 * Tables without a target are skipped (with the reason).
 */
export function preflight(
  db: SqliteDb,
  sqliteTables: TableInfo[],
  targets: TableInfo[],
  options: PreflightOptions = {},
): PreflightReport {
  const perCheck = options.samplesPerCheck ?? 20;
  const findings = new Findings(perCheck);
  const filter = options.tables?.length ? new Set(options.tables.map(lower)) : undefined;
  const targetByName = new Map(targets.map((t) => [lower(t.name), t]));
  const list = sqliteTables.filter((t) => !isMetaTable(t.name) && (!filter || filter.has(lower(t.name))));
  const report: PreflightReport = {
    ok: true,
    target: 'given',
    tables: [],
    findings: [],
    counts: [],
    truncated: false,
    skipped: [],
  };
  const caseSensitive = options.caseSensitive ?? (() => false);

  list.forEach((s, index) => {
    options.onTable?.(s.name, index, list.length);
    const target = targetByName.get(lower(s.name));
    if (!target) {
      report.skipped.push({ table: s.name, reason: 'no target table to check against' });
      return;
    }
    const rows = checkValues(db, s, target, findings, caseSensitive);
    checkOrphans(db, s, target, findings);
    report.tables.push({ table: s.name, rows, findings: findings.forTable(s.name) });
  });
  report.findings = findings.samples;
  report.counts = findings.all();
  report.truncated = findings.truncated;
  report.ok = report.counts.length === 0;
  return report;
}

/** Key columns of the SQLite table for naming rows: the primary key, or the rowid. */
function rowKey(s: TableInfo): { exprs: string[]; names: string[] } {
  if (s.primaryKey.length > 0) return { exprs: s.primaryKey.map(quoteSqliteId), names: s.primaryKey };
  return { exprs: ['rowid'], names: ['rowid'] };
}

const keyRecord = (names: string[], values: SqlValue[]): Record<string, string> =>
  Object.fromEntries(
    names.map((n, i) => [
      n,
      values[i] === null || values[i] === undefined
        ? 'NULL'
        : Buffer.isBuffer(values[i])
          ? displayValue(values[i])
          : String(values[i]),
    ]),
  );

/**
 * One streamed pass over the table: every column checked against its target, and
 * every unique key that may collide in MySQL tracked by its collation key.
 */
function checkValues(
  db: SqliteDb,
  s: TableInfo,
  target: TableInfo,
  findings: Findings,
  caseSensitive: (table: string, column: string) => boolean,
): number {
  const key = rowKey(s);
  const tCols = new Map(target.columns.map((c) => [lower(c.name), c]));
  const keyCols = new Set<string>([
    ...target.primaryKey.map(lower),
    ...target.indexes.filter((i) => i.unique).flatMap((i) => i.columns.map(lower)),
    ...target.foreignKeys.flatMap((f) => f.columns.map(lower)),
  ]);
  const checked = s.columns
    .map((c) => ({ name: c.name, target: tCols.get(lower(c.name)) }))
    .filter((c): c is { name: string; target: ColumnInfo } => c.target !== undefined)
    .map((c) => ({
      ...c,
      check: checkerFor(c.target),
      inKey: keyCols.has(lower(c.name)),
      inPk: c.target.pkOrdinal > 0,
      notNull: !c.target.nullable && !c.target.autoIncrement,
    }));
  if (checked.length === 0) return 0;
  const sql = `SELECT ${[...key.exprs, ...checked.map((c) => quoteSqliteId(c.name))].join(', ')} FROM ${quoteSqliteId(s.name)}`;
  const stmt = db.prepare(sql).raw(true).safeIntegers(true);
  const k = key.exprs.length;
  const watches = keyWatches(
    s,
    target,
    (name) => {
      const i = checked.findIndex((c) => lower(c.name) === lower(name));
      return i < 0 ? -1 : k + i;
    },
    caseSensitive,
  );
  let rows = 0;
  for (const raw of stmt.iterate() as Iterable<SqlValue[]>) {
    rows++;
    for (const w of watches) {
      const ck = collationKey(w, raw);
      if (ck === null) continue;
      const first = w.seen.get(ck);
      if (first === undefined) {
        // The row's key and the key's values, formatted only if a later row collides.
        w.seen.set(ck, [...raw.slice(0, k), ...w.at.map((i) => raw[i] ?? null)]);
        continue;
      }
      const values = w.at.map((i) => displayValue(raw[i])).join(', ');
      findings.count(
        s.name,
        w.label,
        'duplicate-key',
        1,
        findings.room(s.name, w.label, 'duplicate-key')
          ? {
              table: s.name,
              key: keyRecord(key.names, raw.slice(0, k)),
              column: w.label,
              value: values,
              kind: 'duplicate-key',
              reason: `equal to the row ${rowText(key.names, first.slice(0, k))} (${first
                .slice(k)
                .map((v) => displayValue(v))
                .join(', ')}) under ${w.what}`,
            }
          : undefined,
      );
    }
    for (let i = 0; i < checked.length; i++) {
      const c = checked[i];
      if (!c) continue;
      const v = raw[k + i] ?? null;
      let problem: Problem;
      if (v === null) {
        problem = c.inPk
          ? {
              kind: 'null-in-key',
              reason: 'NULL in a primary-key column (SQLite allows it outside INTEGER keys; MySQL does not)',
            }
          : c.notNull
            ? { kind: 'null-not-allowed', reason: 'NULL in a column that is NOT NULL on MySQL' }
            : null;
      } else {
        problem = c.check(v);
        if (!problem && c.inKey && typeof v === 'string' && v.includes('\u0000'))
          problem = {
            kind: 'nul-in-key',
            reason: "a NUL character in a key: MySQL's collation ignores it, so 'a\\0' and 'a' collide",
          };
      }
      if (problem) {
        const sample: PreflightFinding | undefined = findings.room(s.name, c.name, problem.kind)
          ? { table: s.name, key: keyRecord(key.names, raw.slice(0, k)), column: c.name, value: displayValue(v), ...problem }
          : undefined;
        findings.count(s.name, c.name, problem.kind, 1, sample);
      }
    }
  }
  return rows;
}

const rowText = (names: string[], values: SqlValue[]): string =>
  Object.entries(keyRecord(names, values))
    .map(([n, v]) => `${n}=${v}`)
    .join(', ');

/** Rows whose foreign key points at no parent row (only for keys the target has too). */
function checkOrphans(db: SqliteDb, s: TableInfo, target: TableInfo, findings: Findings): void {
  if (s.foreignKeys.length === 0 || target.foreignKeys.length === 0) return;
  const targetFks = new Set(target.foreignKeys.map((f) => `${lower(f.refTable)}(${f.columns.map(lower).join(',')})`));
  let rows: { rowid: bigint | null; parent: string; fkid: bigint }[];
  try {
    rows = [];
    for (const r of db
      .prepare(`PRAGMA foreign_key_check(${quoteSqliteId(s.name)})`)
      .safeIntegers(true)
      .iterate() as Iterable<{
      rowid: bigint | null;
      parent: string;
      fkid: bigint;
    }>) {
      const fk = s.foreignKeys[Number(r.fkid)];
      if (!fk || !targetFks.has(`${lower(fk.refTable)}(${fk.columns.map(lower).join(',')})`)) continue;
      const label = fk.columns.join(', ');
      if (findings.room(s.name, label, 'orphan')) rows.push(r);
      else findings.count(s.name, label, 'orphan', 1);
    }
  } catch {
    return; // the parent table is missing in SQLite: nothing to check against
  }
  const key = rowKey(s);
  for (const r of rows) {
    const fk = s.foreignKeys[Number(r.fkid)];
    if (!fk) continue;
    const label = fk.columns.join(', ');
    let values: SqlValue[] = [];
    if (r.rowid !== null) {
      values = (db
        .prepare(
          `SELECT ${[...key.exprs, ...fk.columns.map(quoteSqliteId)].join(', ')} FROM ${quoteSqliteId(s.name)} WHERE rowid = ?`,
        )
        .raw(true)
        .safeIntegers(true)
        .get(r.rowid) ?? []) as SqlValue[];
    }
    const kn = key.exprs.length;
    findings.add({
      table: s.name,
      key: keyRecord(key.names, values.slice(0, kn)),
      column: label,
      value: values
        .slice(kn)
        .map((v) => displayValue(v))
        .join(', '),
      kind: 'orphan',
      reason: `no row in ${fk.refTable} has this key: MySQL refuses the row while foreign keys are checked`,
    });
  }
}

/**
 * The pre-flight as the migration runs it: against the hub's tables where they
 * exist (with their collations), and against the translated schema for tables
 * the hub does not have yet. Without a hub, everything is checked against the translation.
 */
export async function preflightToHub(
  db: SqliteDb,
  hub: MysqlHub | undefined,
  options: PreflightOptions = {},
): Promise<PreflightReport> {
  const sqliteTables = introspectSqlite(db);
  const hubTables = hub ? await introspectMysql(hub) : [];
  const onHub = new Set(hubTables.map((t) => lower(t.name)));
  const missing = sqliteTables.filter((t) => !onHub.has(lower(t.name)));
  const translated = translateToMysql(missing, {
    db,
    existing: hubTables,
    ...(hub ? { keyCollation: await keyCollationFor(hub) } : {}),
  }).tables.map((t) => t.model);
  // The hub's columns carry their collations (introspectMysql): keys are compared as the hub would.
  const report = preflight(db, sqliteTables, [...hubTables, ...translated], options);
  report.target = hub ? 'hub' : 'translation';
  return report;
}
