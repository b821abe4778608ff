/**
 * The keyed lookups a pull and a push make per batch (unpushed changes and parked changes of a
 * batch's keys): when few rows match the table, they are read at once and filtered; when many,
 * the keys go in NULL-padded lists of a few fixed lengths. Both paths must give the same answer,
 * in log order (the first operation of a key decides collisions, invariant 13). Also the rolling
 * lag window kept per batch instead of per sample. And the ids of a push's sent parked retries.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { installSqliteMeta } from '../src/capture/sqlite-capture.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { LocalState } from '../src/sync/local-state.js';
import { RollingMetrics } from '../src/sync/metrics.js';
import { tempDir } from './helpers/tmp.js';

function withState(fn: (db: SqliteDb, state: LocalState) => void): void {
  const tmp = tempDir('dualdb-keyed-');
  const db = openSqlite(path.join(tmp.dir, 'node.db'), { create: true });
  try {
    installSqliteMeta(db);
    fn(db, new LocalState(db));
  } finally {
    db.close();
    tmp.cleanup();
  }
}

function logChange(db: SqliteDb, tbl: string, pk: string, op: string, at: number): void {
  db.prepare('INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (?, ?, ?, ?)').run(tbl, pk, op, at);
}

function parkRow(db: SqliteDb, direction: string, tbl: string, pk: string, firstOp: string | null): void {
  db.prepare(
    `INSERT INTO _dualdb_parked (direction, tbl, pk, error, attempts, first_at, last_at, next_retry_ms, first_op)
     VALUES (?, ?, ?, 'x', 1, datetime('now'), datetime('now'), NULL, ?)`,
  ).run(direction, tbl, pk, firstOp);
}

describe('keyed lookups of unpushed and parked changes', () => {
  it('few rows of the table (read at once) and many (key lists): the same keys, ops in log order', () => {
    withState((db, state) => {
      db.transaction(() => {
        // Key k1: U then D then I (first op U, deleted); k2: I; other tables' and other keys' noise.
        logChange(db, 't', 'k1', 'U', 1);
        logChange(db, 'u', 'k1', 'I', 2);
        logChange(db, 't', 'k1', 'D', 3);
        logChange(db, 't', 'k2', 'I', 4);
        logChange(db, 't', 'k1', 'I', 5);
        parkRow(db, 'push', 't', 'p1', 'I');
        parkRow(db, 'pull', 't', 'q1', 'U');
        parkRow(db, 'pull', 'u', 'q2', 'D');
      })();
      const few = state.pendingKeys('t', ['k1', 'k2', 'p1', 'absent']);
      const fewPulls = state.parkedOps('pull', 't', ['q1', 'q2', 'absent']);
      expect(Object.fromEntries([...few].map(([k, v]) => [k, [v.firstOp, v.deleted, Number(v.seq)]]))).toEqual({
        k1: ['U', true, 5],
        k2: ['I', false, 4],
        p1: ['I', false, 0],
      });
      expect([...fewPulls]).toEqual([['q1', 'U']]);

      // Many rows of the table: more than four per asked key, so the keyed statements run.
      db.transaction(() => {
        for (let i = 0; i < 3000; i++) logChange(db, 't', `noise-${i}`, 'U', 10 + i);
        for (let i = 0; i < 3000; i++) parkRow(db, 'pull', 't', `noise-${i}`, 'U');
        for (let i = 0; i < 3000; i++) parkRow(db, 'push', 't', `noise-${i}`, 'U');
      })();
      const many = state.pendingKeys('t', ['k1', 'k2', 'p1', 'absent']);
      expect(Object.fromEntries([...many].map(([k, v]) => [k, [v.firstOp, v.deleted, Number(v.seq)]]))).toEqual({
        k1: ['U', true, 5],
        k2: ['I', false, 4],
        p1: ['I', false, 0],
      });
      expect([...state.parkedOps('pull', 't', ['q1', 'q2', 'absent'])]).toEqual([['q1', 'U']]);
    });
  });

  it('key lists longer than one statement, and of every padded length, find every key once', () => {
    withState((db, state) => {
      db.transaction(() => {
        for (let i = 0; i < 5000; i++) parkRow(db, 'pull', 't', `k${i}`, i % 2 ? 'I' : 'U');
      })();
      for (const n of [1, 8, 9, 64, 65, 400, 401, 1203]) {
        // Every other asked key is parked; 5,000 parked rows are more than four per key for n ≤ 1203.
        const keys = Array.from({ length: n }, (_, i) => (i % 2 ? `k${i}` : `missing-${i}`));
        const found = state.parkedOps('pull', 't', keys);
        expect(found.size).toBe(Math.floor(n / 2));
        for (const [k, op] of found) expect(op).toBe(Number(k.slice(1)) % 2 ? 'I' : 'U');
      }
    });
  });

  it("a push's sent parked retries by id: one statement, compiled once, each key looked up on the parked key", () => {
    withState((db, state) => {
      db.transaction(() => {
        parkRow(db, 'push', 't', 'a', 'I');
        parkRow(db, 'push', 'u', 'a', 'U');
        parkRow(db, 'pull', 't', 'b', 'U');
        for (let i = 0; i < 3000; i++) parkRow(db, 'push', 't', `noise-${i}`, 'U');
      })();
      const idOf = (direction: string, tbl: string, pk: string) =>
        Number(
          db.prepare('SELECT id FROM _dualdb_parked WHERE direction = ? AND tbl = ? AND pk = ?').pluck().get(direction, tbl, pk),
        );
      const [ta, ua, noise7] = [idOf('push', 't', 'a'), idOf('push', 'u', 'a'), idOf('push', 't', 'noise-7')];
      const prepared: string[] = [];
      const prepare = db.prepare.bind(db);
      db.prepare = ((sql: string) => {
        prepared.push(sql);
        return prepare(sql);
      }) as typeof db.prepare;
      try {
        const sent = [
          { tbl: 't', pk: 'a' },
          { tbl: 'u', pk: 'a' },
          { tbl: 't', pk: 'a' }, // sent twice in the batch: its id once
          { tbl: 't', pk: 'b' }, // parked the other way (pull): not a push retry
          { tbl: 'u', pk: 'absent' },
        ];
        expect(state.parkedPushIds(sent).sort((x, y) => x - y)).toEqual([ta, ua]);
        expect(state.parkedPushIds([{ tbl: 't', pk: 'noise-7' }])).toEqual([noise7]);
        expect(state.parkedPushIds([])).toEqual([]);
      } finally {
        db.prepare = prepare as typeof db.prepare;
      }
      expect(prepared).toHaveLength(1);
      // The sent keys drive the loop, each a search on the (direction, tbl, pk) key: no scan of the parked.
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${prepared[0]}`)
        .all('[]')
        .map((r) => (r as { detail: string }).detail);
      expect(plan[0]).toMatch(/^SCAN k VIRTUAL TABLE/);
      expect(plan).toContainEqual(
        expect.stringMatching(
          /^SEARCH p USING COVERING INDEX sqlite_autoindex__dualdb_parked_1 \(direction=\? AND tbl=\? AND pk=\?\)/,
        ),
      );
      expect(plan.filter((d) => /^SCAN p\b/.test(d))).toEqual([]);
    });
  });
});

describe('rolling lag window', () => {
  it('keeps the newest 50,000 samples, drops samples older than the window, per direction', () => {
    const m = new RollingMetrics(60_000);
    const t0 = 1_000_000;
    m.recordLags('pull', [5, 1, 3], t0);
    m.recordLags('push', [100], t0);
    expect(m.lag('pull', t0)).toEqual({ p50: 3, p99: 5, max: 5, samples: 3 });
    expect(m.lag('push', t0).samples).toBe(1);
    // 30,000 + 30,000 more pull samples: only the newest 50,000 of all samples stay.
    m.recordLags('pull', new Array(30_000).fill(10), t0 + 1);
    m.recordLags('pull', new Array(30_000).fill(20), t0 + 2);
    expect(m.lag('pull', t0 + 2).samples).toBe(50_000);
    expect(m.lag('push', t0 + 2).samples).toBe(0);
    expect(m.lag('pull', t0 + 2).p50).toBe(20);
    // A minute later the first batches are gone (the second one was already cut to its newest 20,000).
    expect(m.lag('pull', t0 + 60_001).samples).toBe(50_000);
    expect(m.lag('pull', t0 + 60_002).samples).toBe(30_000);
    expect(m.lag('pull', t0 + 60_003).samples).toBe(0);
  });
});
