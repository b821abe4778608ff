/**
 * The resume mark: a row's key values kept exactly (type and value) as text,
 * so a keyset query `WHERE (k1, k2) > (?, ?) ORDER BY k1, k2` continues right
 * after the last row a committed batch copied.
 */
import type { SqlValue } from '../engines/codec.js';

type Tagged = ['n'] | ['i', string] | ['f', string] | ['s', string] | ['b', string];

export function encodeMark(values: SqlValue[]): string {
  return JSON.stringify(
    values.map((v): Tagged => {
      if (v === null) return ['n'];
      if (typeof v === 'bigint') return ['i', v.toString()];
      if (typeof v === 'number') return ['f', String(v)];
      if (Buffer.isBuffer(v)) return ['b', v.toString('hex')];
      return ['s', v];
    }),
  );
}

export function decodeMark(text: string): SqlValue[] {
  const parts = JSON.parse(text) as Tagged[];
  return parts.map((p) => {
    switch (p[0]) {
      case 'n':
        return null;
      case 'i':
        return BigInt(p[1]);
      case 'f':
        return Number(p[1]);
      case 'b':
        return Buffer.from(p[1], 'hex');
      default:
        return p[1];
    }
  });
}

/** Rough in-memory size of a row, to bound a batch by bytes as well as rows. */
export function rowBytes(row: Record<string, unknown>): number {
  let n = 16;
  for (const v of Object.values(row)) {
    if (typeof v === 'string') n += v.length * 2 + 16;
    else if (Buffer.isBuffer(v)) n += v.length + 32;
    else n += 16;
  }
  return n;
}
