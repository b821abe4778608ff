/**
 * One value against one MySQL column: null when it goes in and comes back
 * unchanged, else the kind of problem and the reason (preflight.ts runs these
 * over every row). Also the utf8mb4_unicode_ci key approximation.
 */
import { canonicalNumber, normaliseDatetimeText, type SqlValue } from '../engines/codec.js';
import type { ColumnInfo } from '../engines/types.js';
import { enumMembers } from './type-map.js';

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

export type Problem = { kind: FindingKind; reason: string } | null;
export type Checker = (v: SqlValue) => Problem;

const MAX_VALUE_CHARS = 60;

/** A value as a short printable string. */
export function displayValue(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return `x'${v.subarray(0, 24).toString('hex')}${v.length > 24 ? '…' : ''}' (${v.length} bytes)`;
  const s = v.length > MAX_VALUE_CHARS ? `${v.slice(0, MAX_VALUE_CHARS)}…` : v;
  return `${JSON.stringify(s)}${v.length > MAX_VALUE_CHARS ? ` (${[...v].length} characters)` : ''}`;
}

export const INT_RANGES: Record<string, [bigint, bigint, bigint]> = {
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
