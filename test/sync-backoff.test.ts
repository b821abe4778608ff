/**
 * Reconnect delays (docs/SYNC-CONTRACT.md, invariant 8: the queue drains with
 * retry, exponential backoff and jitter). Pure: the random source is injected.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay, RetryCount } from '../src/sync/backoff.js';
import { failureKind } from '../src/sync/errors.js';
import { MysqlError, SqliteError } from '../src/util/errors.js';

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

describe('RetryCount', () => {
  it('counts failures of one kind in a row and starts again at 1 when the kind changes (a lock after a long outage)', () => {
    const r = new RetryCount();
    const hub = failureKind(new MysqlError('connection-refused', 'the hub refused the connection'));
    const locked = failureKind(new SqliteError('locked', 'the file is locked by another process'));
    expect([hub, locked]).toEqual(['hub', 'sqlite-locked']);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => r.fail(hub)).at(-1)).toBe(8);
    expect(r.fail(locked)).toBe(1);
    expect(r.fail(locked)).toBe(2);
    expect(failureKind(Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }))).toBe(
      'other:SQLITE_CONSTRAINT_FOREIGNKEY',
    );
    expect(r.fail('other:SQLITE_CONSTRAINT_FOREIGNKEY')).toBe(1);
    r.reset();
    expect(r.kind).toBeUndefined();
    expect(r.fail(hub)).toBe(1);
  });
});
