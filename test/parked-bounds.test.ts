/**
 * Invariant 11 at scale (docs/SYNC-CONTRACT.md): however many changes are parked, a batch reads
 * only the ones due (through an index, at most a batch of them) and looks parked keys up by key —
 * the cost of a batch does not grow with the number parked.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { installSqliteMeta } from '../src/capture/sqlite-capture.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { LocalState } from '../src/sync/local-state.js';
import { tempDir } from './helpers/tmp.js';

describe('parked changes: bounded reads', () => {
  it('due changes come through the (direction, next_retry_ms) index, at most the limit; keyed lookups for the rest', () => {
    const tmp = tempDir('dualdb-parked-');
    const db = openSqlite(path.join(tmp.dir, 'node.db'), { create: true });
    try {
      installSqliteMeta(db);
      const state = new LocalState(db);
      const now = Date.now();
      db.transaction(() => {
        // 20,000 parked for later, 5 due now.
        const ins = db.prepare(
          `INSERT INTO _dualdb_parked (direction, tbl, pk, error, attempts, first_at, last_at, next_retry_ms)
           VALUES ('push', 't', ?, 'x', 1, datetime('now'), datetime('now'), ?)`,
        );
        for (let i = 0; i < 20_000; i++) ins.run(String(i), now + 3_600_000);
        for (let i = 0; i < 5; i++) ins.run(`due-${i}`, now - 1000);
      })();
      expect(state.dueParked('push', now).map((p) => p.pk)).toEqual(['due-0', 'due-1', 'due-2', 'due-3', 'due-4']);
      expect(state.dueParked('push', now, 2)).toHaveLength(2);
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT * FROM _dualdb_parked WHERE direction = ? AND next_retry_ms IS NOT NULL AND next_retry_ms <= ? ORDER BY next_retry_ms, id LIMIT ?`,
        )
        .all('push', now, 10) as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX _dualdb_parked_due/);
      expect([...state.parkedKeys('push', 't', ['7', 'nope', 'due-3'])].sort()).toEqual(['7', 'due-3']);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});
