/** Exponential backoff with jitter for reconnecting to the hub (docs/SYNC-CONTRACT.md, invariant 8). */
export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based): half fixed, half random, doubling up to the cap. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  const rnd = options.random ?? Math.random;
  return Math.round(ceiling / 2 + rnd() * (ceiling / 2));
}

/**
 * The retry count of a run of failures of one kind. A failure of another kind starts it again: a
 * node that was degraded for a long hub outage and then meets a SQLite lock or a constraint failure
 * retries that soon, not after the backoff the outage earned ("retry 9 in 30 s" for a 5 s lock).
 */
export class RetryCount {
  private count = 0;
  private of: string | undefined;

  /** Counts a failure of `kind`; returns the attempt number (1 for the first of its kind). */
  fail(kind: string): number {
    if (kind !== this.of) {
      this.of = kind;
      this.count = 0;
    }
    return ++this.count;
  }

  /** A cycle went through: the next failure is the first of its kind. */
  reset(): void {
    this.count = 0;
    this.of = undefined;
  }

  get attempt(): number {
    return this.count;
  }

  /** The kind of the failures counted (undefined after a success). */
  get kind(): string | undefined {
    return this.of;
  }
}
