/** Values application code may pass to the library, normalised to what both drivers store exactly. */
import type { SqlValue } from '../engines/codec.js';
import { applyForm, type ColumnForm } from '../engines/value-forms.js';

export type InputValue = SqlValue | boolean | Date | undefined;
export type InputRow = Record<string, InputValue>;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Dates become UTC 'YYYY-MM-DD hh:mm:ss.fff' text (what MySQL DATETIME(6) takes and SQLite apps read). */
export function normaliseValue(v: InputValue): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v instanceof Date) {
    return `${v.getUTCFullYear()}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())} ${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}.${pad(v.getUTCMilliseconds(), 3)}`;
  }
  if (typeof v === 'number' && Number.isInteger(v) && Number.isSafeInteger(v)) return BigInt(v);
  return v;
}

/**
 * With the columns' forms (src/sync/value-forms.ts), a Date lands in SQLite in the text form the
 * application's other writers use in that column; text the caller wrote is left as written.
 */
export function normaliseRow(row: InputRow, forms?: ReadonlyMap<string, ColumnForm>): Record<string, SqlValue> {
  const out: Record<string, SqlValue> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined) continue;
    const form = v instanceof Date ? forms?.get(k) : undefined;
    out[k] = form ? applyForm(normaliseValue(v), form) : normaliseValue(v);
  }
  return out;
}
