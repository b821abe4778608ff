/**
 * Primary-key encoding shared by the triggers of both engines and by the sync
 * code: one text per row key that SQLite and MySQL compute identically, so that
 * a change logged on either side names the same row.
 *
 *  - single-column key: the key's text form (`CAST(id AS TEXT)` = `CAST(id AS CHAR)` for
 *    integers; the string itself for text keys);
 *  - composite key: each part as `<characters>:<text>`, concatenated — no escaping
 *    needed and unambiguous, since the length says where each part ends.
 *
 * Only integer and text key columns are supported: their text forms agree on both
 * engines. Float, decimal, date and binary keys are refused by the sync plan with
 * the reason.
 */
import type { LogicalType, SqlValue } from '../engines/codec.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';

export interface KeyColumn {
  name: string;
  type: LogicalType;
}

export const SUPPORTED_KEY_TYPES: ReadonlySet<LogicalType> = new Set(['integer', 'text', 'any']);

/** SQL expression (SQLite dialect) computing the key text of the row NEW or OLD. */
export function sqliteKeyExpr(cols: KeyColumn[], row: 'NEW' | 'OLD'): string {
  const part = (c: KeyColumn) => `CAST(${row}.${quoteSqliteId(c.name)} AS TEXT)`;
  if (cols.length === 1 && cols[0]) return part(cols[0]);
  return cols.map((c) => `length(${part(c)}) || ':' || ${part(c)}`).join(' || ');
}

/** SQL expression (MySQL dialect) computing the key text of the row NEW or OLD. */
/** `row`: the trigger's NEW or OLD, or a table alias (set-based capture, sync/hub-capture-bulk.ts). */
export function mysqlKeyExpr(cols: KeyColumn[], row: string): string {
  const part = (c: KeyColumn) => {
    const ref = `${row}.${quoteMysqlId(c.name)}`;
    return c.type === 'integer' ? `CAST(${ref} AS CHAR)` : ref;
  };
  if (cols.length === 1 && cols[0]) return part(cols[0]);
  return `CONCAT(${cols.map((c) => `CHAR_LENGTH(${part(c)}), ':', ${part(c)}`).join(', ')})`;
}

function textOf(v: SqlValue): string {
  if (v === null) throw new Error('a primary-key value is NULL');
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/** The key text of a row's key values, as the triggers compute it. */
export function encodeKey(values: SqlValue[]): string {
  if (values.length === 1) return textOf(values[0] ?? null);
  return values
    .map((v) => {
      const t = textOf(v);
      return `${[...t].length}:${t}`;
    })
    .join('');
}

/** Splits a key text back into its parts (texts; callers convert per column type). */
export function decodeKey(key: string, parts: number): string[] {
  if (parts === 1) return [key];
  const chars = [...key];
  const out: string[] = [];
  let i = 0;
  while (out.length < parts) {
    const colon = chars.indexOf(':', i);
    if (colon < 0) throw new Error(`malformed composite key text: ${key}`);
    const len = Number(chars.slice(i, colon).join(''));
    if (!Number.isInteger(len) || len < 0) throw new Error(`malformed composite key text: ${key}`);
    out.push(chars.slice(colon + 1, colon + 1 + len).join(''));
    i = colon + 1 + len;
  }
  if (i !== chars.length) throw new Error(`malformed composite key text: ${key}`);
  return out;
}

/**
 * An integer's text as BigInt prints it (no leading zero, no '-0', no '+'): the key text of an
 * integer key column as both engines' triggers write it, and its own escaped form in SQL.
 */
export const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/** Key part text → a value to bind in a WHERE clause on either engine (exact for 64-bit integers). */
export function keyPartValue(text: string, type: LogicalType): SqlValue {
  if (type === 'integer' && /^-?\d+$/.test(text)) return BigInt(text);
  return text;
}
