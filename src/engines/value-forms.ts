/**
 * The text form an application writes in one SQLite column (docs/SYNC-CONTRACT.md invariant 14):
 * a value that arrives from the hub is reshaped into it, so the application's own equality and
 * range queries find rows made elsewhere. SQLAlchemy, for instance, always writes DATETIME as
 * 'YYYY-MM-DD hh:mm:ss.ffffff' and TIME as 'hh:mm:ss.ffffff'; a JavaScript application may write
 * 'YYYY-MM-DDThh:mm:ss.sssZ'; the sqlite3 shell's datetime() writes no fraction.
 *
 * A form never drops a significant digit: a hub value with more precision than the form keeps it.
 * Pure functions; which form a column has is decided in src/sync/value-forms.ts.
 */
import { VALUE_FORM_NAME } from '../config/schema.js';
import type { LogicalType, SqlValue } from './codec.js';

export type ColumnForm =
  /** Date and time: separator, fraction digits (padded with zeros), optional 'Z' suffix. */
  | { kind: 'datetime'; sep: ' ' | 'T'; digits: number; zulu: boolean }
  /** Time of day: fraction digits. */
  | { kind: 'time'; digits: number }
  /** A number stored as a REAL, not as text (for columns whose declared type does not convert it). */
  | { kind: 'real' }
  /** Exactly as the hub returns it (the hub column's own precision). */
  | { kind: 'hub' };

/** A name of SYNC_VALUE_FORMS (datetime0-6, iso0-6 with 'T', iso0z-iso6z, time0-6, real, hub) as a form. */
export function formFromName(name: string): ColumnForm | undefined {
  const n = name.trim().toLowerCase();
  if (!VALUE_FORM_NAME.test(n)) return undefined;
  if (n === 'real' || n === 'hub') return { kind: n };
  const digits = Number(/\d/.exec(n)?.[0] ?? 0);
  if (n.startsWith('time')) return { kind: 'time', digits };
  if (n.startsWith('iso')) return { kind: 'datetime', sep: 'T', digits, zulu: n.endsWith('z') };
  return { kind: 'datetime', sep: ' ', digits, zulu: false };
}

export function formName(form: ColumnForm): string {
  switch (form.kind) {
    case 'datetime':
      return form.sep === 'T' ? `iso${form.digits}${form.zulu ? 'z' : ''}` : `datetime${form.digits}`;
    case 'time':
      return `time${form.digits}`;
    default:
      return form.kind;
  }
}

const DATETIME_TEXT = /^(\d{4}-\d{2}-\d{2})([ T])(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z?)$/;
const TIME_TEXT = /^(-?\d{2,3}:\d{2}:\d{2})(?:\.(\d+))?$/;

/** '.ffffff' with at least `digits` digits and every significant one ('' when none). */
function fraction(digits: string, want: number): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  const n = Math.max(want, end);
  return n === 0 ? '' : `.${digits.slice(0, end).padEnd(n, '0')}`;
}

/** A value from the hub (already in better-sqlite3's types), reshaped into the column's form. */
export function applyForm(v: SqlValue, form: ColumnForm): SqlValue {
  if (v === null) return v;
  switch (form.kind) {
    case 'datetime': {
      const m = typeof v === 'string' ? DATETIME_TEXT.exec(v) : null;
      // A hub value is never zoned; a text with another shape is left as it is.
      if (!m || m[5]) return v;
      return `${m[1]}${form.sep}${m[3]}${fraction(m[4] ?? '', form.digits)}${form.zulu ? 'Z' : ''}`;
    }
    case 'time': {
      const m = typeof v === 'string' ? TIME_TEXT.exec(v) : null;
      return m ? `${m[1]}${fraction(m[2] ?? '', form.digits)}` : v;
    }
    case 'real': {
      // Only when the double is the same number (a 30-digit DECIMAL stays text).
      if (typeof v === 'bigint') return BigInt(Number(v)) === v ? Number(v) : v;
      return typeof v === 'string' && exactAsDouble(v) ? Number(v) : v;
    }
    default:
      return v;
  }
}

/** Decimal text of at most 15 significant digits (DBL_DIG): a double holds it exactly. */
function exactAsDouble(text: string): boolean {
  const m = /^-?(\d*)(?:\.(\d*))?(?:e[+-]?\d+)?$/i.exec(text);
  if (!m || (m[1] ?? '') + (m[2] ?? '') === '') return false;
  const digits = `${m[1] ?? ''}${m[2] ?? ''}`.replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 15;
}

/** SQLite's type affinity of a declared type converts numeric text to REAL by itself. */
const NUMERIC_AFFINITY = (declared: string) =>
  !/char|clob|text|blob/i.test(declared) && /real|floa|doub|int|num|dec/i.test(declared);

/**
 * The form a column's values show: the shape most of the sampled values have (ties: the one
 * with more fraction digits). Undefined when the codec's own conversion is right for it.
 */
export function inferForm(type: LogicalType, declared: string, samples: SqlValue[]): ColumnForm | undefined {
  if (type === 'datetime') {
    const shapes = new Map<string, { form: ColumnForm; n: number }>();
    for (const s of samples) {
      const m = typeof s === 'string' ? DATETIME_TEXT.exec(s) : null;
      if (!m) continue;
      const form: ColumnForm = {
        kind: 'datetime',
        sep: m[2] === 'T' ? 'T' : ' ',
        digits: (m[4] ?? '').length,
        zulu: m[5] === 'Z',
      };
      if (form.digits > 6) continue;
      count(shapes, form);
    }
    return mostCommon(shapes) ?? { kind: 'hub' };
  }
  if (type === 'time') {
    const shapes = new Map<string, { form: ColumnForm; n: number }>();
    for (const s of samples) {
      const m = typeof s === 'string' ? TIME_TEXT.exec(s) : null;
      if (m && (m[2] ?? '').length <= 6) count(shapes, { kind: 'time', digits: (m[2] ?? '').length });
    }
    return mostCommon(shapes) ?? { kind: 'hub' };
  }
  if ((type === 'double' || type === 'float32' || type === 'decimal') && !NUMERIC_AFFINITY(declared)) {
    const reals = samples.filter((s) => typeof s === 'number').length;
    if (reals > 0 && reals * 2 > samples.length) return { kind: 'real' };
  }
  return undefined;
}

function count(shapes: Map<string, { form: ColumnForm; n: number }>, form: ColumnForm): void {
  const name = formName(form);
  const seen = shapes.get(name);
  if (seen) seen.n++;
  else shapes.set(name, { form, n: 1 });
}

function mostCommon(shapes: Map<string, { form: ColumnForm; n: number }>): ColumnForm | undefined {
  let best: { form: ColumnForm; n: number } | undefined;
  const digits = (f: ColumnForm) => (f.kind === 'datetime' || f.kind === 'time' ? f.digits : 0);
  for (const s of shapes.values()) {
    if (!best || s.n > best.n || (s.n === best.n && digits(s.form) > digits(best.form))) best = s;
  }
  return best?.form;
}
