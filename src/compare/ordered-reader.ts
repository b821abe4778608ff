/**
 * A table read in primary-key order, one page at a time, as row arrays in the
 * sync plan's column order. Both engines' readers produce the order of
 * `compareRowKeys` (key-order.ts), which is what lets chunks line up.
 */
import type { ReadMode } from './types.js';

export interface OrderedReader {
  readonly mode: ReadMode;
  /** The next rows in key order; an empty array once the table is exhausted. */
  next(): Promise<unknown[][]>;
  /** Releases what the reader holds (statements, streams, connections). */
  close(): Promise<void>;
}
