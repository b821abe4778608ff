/**
 * Key lists cut to fit one statement: a lookup of 500 long text keys can pass a small hub's
 * max_allowed_packet (1 MB is allowed), so chunks are sized by the bytes the keys take once
 * escaped into SQL, against the statement budget, as well as by count.
 */

/** Keys per statement at most, whatever their size (a bound on the IN list the server plans). */
export const MAX_KEYS_PER_LOOKUP = 1000;
/** Room for the rest of a lookup statement (column list, table, conditions). */
const STATEMENT_OVERHEAD = 4096;

/** Upper bound of the bytes a key takes in an IN list: escaping may double it, plus quotes and separators. */
export function keyBytes(key: string): number {
  return 2 * Buffer.byteLength(key) + 16;
}

/** Consecutive chunks of `keys`, each within `maxStatementBytes` (less the overhead) and `maxKeys`. */
export function keyChunks(keys: string[], maxStatementBytes: number, maxKeys = MAX_KEYS_PER_LOOKUP): string[][] {
  return chunkBySize(keys, keyBytes, Math.max(1, maxStatementBytes - STATEMENT_OVERHEAD), maxKeys);
}

/** Consecutive chunks whose sizes add up to at most `budget` and `maxCount` items (an item larger than the budget goes alone). */
export function chunkBySize<T>(items: T[], size: (item: T) => number, budget: number, maxCount: number): T[][] {
  const out: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (chunk.length > 0 && (chunk.length >= maxCount || bytes + n > budget)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += n;
  }
  if (chunk.length) out.push(chunk);
  return out;
}
