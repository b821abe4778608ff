/**
 * Primary keys of rows read as arrays: where the key columns sit, the key text
 * shared with the change log, and the one order both engines are read in —
 * integers numerically (BigInt: exact beyond 2^53), text by UTF-8 bytes
 * (SQLite's BINARY collation; code-point order, which is neither JavaScript's
 * UTF-16 `<` nor MySQL's `_ci` collations).
 */
import { decodeKey, encodeKey } from '../capture/keys.js';
import type { LogicalType, SqlValue } from '../engines/codec.js';
import type { SyncTable } from '../sync/plan.js';

export interface KeyShape {
  names: string[];
  types: LogicalType[];
  /** Index of each key column in the selected column list (the plan's `columns`). */
  positions: number[];
}

export function keyShape(table: SyncTable): KeyShape {
  const index = new Map(table.columns.map((c, i) => [c.name, i]));
  const positions = table.key.map((k) => {
    const i = index.get(k.name);
    if (i === undefined) throw new Error(`key column ${k.name} of ${table.name} is not among its synced columns`);
    return i;
  });
  return { names: table.key.map((k) => k.name), types: table.key.map((k) => k.type), positions };
}

/** The key values of a row array, in key order. */
export function rowKeyValues(row: readonly unknown[], shape: KeyShape): unknown[] {
  return shape.positions.map((p) => row[p]);
}

export function keyPartsOf(key: string, shape: KeyShape): string[] {
  return decodeKey(key, shape.names.length);
}

function asBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}

/** SQLite's order of storage classes: NULL, numbers, text, blobs. */
function storageRank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'bigint' || typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  return 3;
}

function bytesOf(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

export function compareKeyValue(a: unknown, b: unknown, type: LogicalType): number {
  if (type === 'integer' || (typeof a !== 'string' && typeof b !== 'string' && !Buffer.isBuffer(a) && !Buffer.isBuffer(b))) {
    const x = asBigInt(a);
    const y = asBigInt(b);
    if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
    if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  }
  const ra = storageRank(a);
  const rb = storageRank(b);
  // Text read from a binary MySQL column arrives as a Buffer: same bytes, same order.
  if ((ra === 2 || ra === 3) && (rb === 2 || rb === 3)) return Buffer.compare(bytesOf(a), bytesOf(b));
  return ra - rb;
}

/** Compares two key tuples (values in key order) in the shared order. */
export function compareKeys(a: readonly unknown[], b: readonly unknown[], types: readonly LogicalType[]): number {
  for (let i = 0; i < types.length; i++) {
    const c = compareKeyValue(a[i], b[i], types[i] ?? 'text');
    if (c !== 0) return c;
  }
  return 0;
}

/** Key text of a key tuple (the same text the capture triggers log). */
export function keyTextOf(tuple: readonly unknown[]): string {
  return encodeKey(tuple as SqlValue[]);
}
