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
