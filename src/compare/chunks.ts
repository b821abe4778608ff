/**
 * Lines up two ordered readers into key-range chunks: each chunk ends at the
 * smaller of the two sides' n-th keys, so a chunk holds at most n rows per side
 * and both sides cover exactly the same key range. Rows past the boundary stay
 * buffered for the next chunk: memory is bounded by the chunk size, whatever
 * the table size, and a side missing many rows never drags a huge range along.
 *
 * Rows are reduced to their key and canonical form as soon as a page arrives:
 * the drivers' row arrays (strings, Buffers) then die young instead of being
 * kept for a whole chunk, which is what the garbage collector pays for.
 */
import { compareKeys, type KeyShape, rowKeyValues } from './key-order.js';
import type { OrderedReader } from './ordered-reader.js';

/** One side of a chunk: the rows' keys (values in key order) and canonical forms, in key order. */
export interface ChunkSide {
  keys: unknown[][];
  canon: string[];
}

export interface ChunkPair {
  index: number;
  sqlite: ChunkSide;
  mysql: ChunkSide;
}

export type Canonicaliser = (row: readonly unknown[]) => string;

class SideBuffer {
  private keys: unknown[][] = [];
  private canon: string[] = [];
  private pos = 0;
  done = false;
  scanned = 0;

  constructor(
    private readonly reader: OrderedReader,
    private readonly shape: KeyShape,
    private readonly canonical: Canonicaliser,
  ) {}

  get available(): number {
    return this.keys.length - this.pos;
  }

  async fill(n: number): Promise<void> {
    while (!this.done && this.available < n) {
      const page = await this.reader.next();
      if (page.length === 0) {
        this.done = true;
        break;
      }
      this.scanned += page.length;
      if (this.pos > 0) {
        this.keys = this.keys.slice(this.pos);
        this.canon = this.canon.slice(this.pos);
        this.pos = 0;
      }
      for (const row of page) {
        this.keys.push(rowKeyValues(row, this.shape));
        this.canon.push(this.canonical(row));
      }
    }
  }

  keyAt(i: number): unknown[] {
    return this.keys[this.pos + i] as unknown[];
  }

  take(n: number): ChunkSide {
    const side = { keys: this.keys.slice(this.pos, this.pos + n), canon: this.canon.slice(this.pos, this.pos + n) };
    this.pos += n;
    return side;
  }
}

export class ChunkAligner {
  private readonly s: SideBuffer;
  private readonly m: SideBuffer;
  private index = 0;

  constructor(
    sqlite: OrderedReader,
    mysql: OrderedReader,
    private readonly shape: KeyShape,
    canonical: Canonicaliser,
    private readonly chunkSize: number,
  ) {
    this.s = new SideBuffer(sqlite, shape, canonical);
    this.m = new SideBuffer(mysql, shape, canonical);
  }

  /** Rows read so far from each side. */
  get scanned(): { sqlite: number; mysql: number } {
    return { sqlite: this.s.scanned, mysql: this.m.scanned };
  }

  /** Rows of `side` among its first `limit` whose key is <= `hi` (binary search: the side is in key order). */
  private countUpTo(side: SideBuffer, limit: number, hi: unknown[]): number {
    let lo = 0;
    let up = limit;
    while (lo < up) {
      const mid = (lo + up) >>> 1;
      if (compareKeys(side.keyAt(mid), hi, this.shape.types) <= 0) lo = mid + 1;
      else up = mid;
    }
    return lo;
  }

  async next(): Promise<ChunkPair | null> {
    const n = this.chunkSize;
    await Promise.all([this.s.fill(n), this.m.fill(n)]);
    const aS = this.s.available;
    const aM = this.m.available;
    if (aS === 0 && aM === 0) return null;
    // The boundary: the smaller n-th key of the two sides (none when both have fewer left).
    let takeS = aS;
    let takeM = aM;
    if (aS >= n || aM >= n) {
      const sKey = aS >= n ? this.s.keyAt(n - 1) : undefined;
      const mKey = aM >= n ? this.m.keyAt(n - 1) : undefined;
      if (sKey && (!mKey || compareKeys(sKey, mKey, this.shape.types) <= 0)) {
        // The side that sets the boundary always gives exactly n rows, so every chunk
        // advances even if the other side's order disagreed with ours.
        takeS = n;
        takeM = this.countUpTo(this.m, Math.min(aM, n), sKey);
      } else if (mKey) {
        takeM = n;
        takeS = this.countUpTo(this.s, Math.min(aS, n), mKey);
      }
    }
    return { index: this.index++, sqlite: this.s.take(takeS), mysql: this.m.take(takeM) };
  }
}
