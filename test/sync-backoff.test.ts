/**
 * Reconnect delays (docs/SYNC-CONTRACT.md, invariant 8: the queue drains with
 * retry, exponential backoff and jitter). Pure: the random source is injected.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/sync/backoff.js';

describe('backoffDelay', () => {
  const at = (attempt: number, r: number) => backoffDelay(attempt, { baseMs: 500, capMs: 30_000, random: () => r });

  it('doubles with each attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((a) => at(a, 1))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('jitters between half the ceiling and the ceiling, so nodes that lost the hub together do not return together', () => {
    expect(at(4, 0)).toBe(2000);
    expect(at(4, 0.5)).toBe(3000);
    expect(at(4, 0.999)).toBeLessThanOrEqual(4000);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(6)));
    expect(seen.size).toBeGreaterThan(1);
    for (const d of seen) expect(d >= 8000 && d <= 16_000).toBe(true);
  });
});
