/**
 * A hub query read as a stream, one page at a time, with backpressure: the
 * socket is paused once a page is buffered and resumed when the page is taken,
 * so a table of any size is read in bounded memory. Used where a whole table is
 * read in order (compare without a usable index order, migration to SQLite).
 *
 * A stream left half-read means the server is still sending rows: the
 * connection cannot be reused, so the caller destroys it.
 */
import type { Readable } from 'node:stream';
import type { Connection as CoreConnection } from 'mysql2';
import type { PoolConnection } from './connect.js';

export interface StreamQuery {
  sql: string;
  values?: unknown[];
  /** Rows as arrays in column order instead of objects. */
  rowsAsArray?: boolean;
}

export interface PageLimits<T> {
  /** Rows in a page. */
  rows: number;
  /** A page also ends once its rows reach this many bytes (by `sizeOf`). */
  maxBytes?: number;
  sizeOf?: (row: T) => number;
  /** Rows the driver reads ahead of the consumer (default 1000). */
  highWaterMark?: number;
}

/** Pages of a query streamed on a pinned connection. */
export class StreamPages<T> {
  private readonly stream: Readable;
  private buffer: T[] = [];
  private bytes = 0;
  private ended = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private readonly maxBytes: number;

  constructor(
    conn: PoolConnection,
    query: StreamQuery,
    private readonly limits: PageLimits<T>,
  ) {
    this.maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
    // mysql2 types `connection` as the promise wrapper; at run time it is the callback one, which streams.
    const core = conn.connection as unknown as CoreConnection;
    this.stream = core.query(query).stream({ highWaterMark: limits.highWaterMark ?? 1000 });
    this.stream.on('data', (row: T) => {
      this.buffer.push(row);
      if (limits.sizeOf) this.bytes += limits.sizeOf(row);
      if (this.full()) {
        // Backpressure: stop reading the socket once a page is buffered.
        this.stream.pause();
        this.notify();
      }
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    this.stream.on('error', (e) => {
      this.error = e;
      this.notify();
    });
  }

  private full(): boolean {
    return this.buffer.length >= this.limits.rows || this.bytes >= this.maxBytes;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Every row has arrived (the last pages may still be buffered). */
  get finished(): boolean {
    return this.ended;
  }

  /** The next page: full, or what is left at the end (empty once everything was taken). */
  async next(): Promise<T[]> {
    while (!this.full() && !this.ended && this.error === undefined) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.error !== undefined) throw this.error;
    const page = this.buffer;
    this.buffer = [];
    this.bytes = 0;
    if (!this.ended) this.stream.resume();
    return page;
  }

  /** The query failed (next() throws the error). */
  get failed(): boolean {
    return this.error !== undefined;
  }

  /** Stops reading. Half-read, the server is still sending rows: the caller destroys the connection too. */
  destroy(): void {
    this.stream.destroy();
  }
}
