/**
 * Key lists cut to fit one statement: a lookup of 500 long text keys can pass a small hub's
 * max_allowed_packet (1 MB is allowed), so chunks are sized by the bytes the keys take once
 * escaped into SQL, against the statement budget, as well as by count.
 */
import { CANONICAL_INTEGER } from '../capture/keys.js';

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

/** Runs shorter than this stay in the IN list: a range per two or three keys gains nothing. */
export const MIN_KEY_RUN = 16;

/**
 * The keys of an integer-keyed table as runs of consecutive values (each integer from `lo` to `hi`
 * is one of the keys, so the range matches exactly those keys' rows) and the keys left over (short
 * runs, and any key text that is not an integer in its canonical form: those keep the IN list,
 * which compares them as the hub does). Duplicates are counted once.
 */
export function integerRuns(keys: string[]): { runs: { lo: string; hi: string }[]; rest: string[] } {
  const rest: string[] = [];
  const values: bigint[] = [];
  let sorted = true;
  for (const k of keys) {
    // An integer in its canonical form (what BigInt prints back): one BigInt per key, no text.
    if (CANONICAL_INTEGER.test(k)) {
      const v = BigInt(k);
      if (sorted && values.length > 0 && v < (values[values.length - 1] as bigint)) sorted = false;
      values.push(v);
    } else rest.push(k);
  }
  // A backlog's keys come in log order, mostly ascending already.
  if (!sorted) values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: { lo: string; hi: string }[] = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    const prev = values[i - 1] as bigint;
    const cur = values[i];
    if (cur !== undefined && (cur === prev || cur === prev + 1n)) continue;
    // values[start..i-1] is consecutive (duplicates included).
    const lo = values[start] as bigint;
    if (prev - lo + 1n >= BigInt(MIN_KEY_RUN)) runs.push({ lo: lo.toString(), hi: prev.toString() });
    else for (const v of new Set(values.slice(start, i))) rest.push(v.toString());
    start = i;
  }
  return { runs, rest };
}
