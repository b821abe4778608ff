/**
 * Bulk pushes (issue 16, docs/PERFORMANCE.md "Push and pull in bulk"): a poison row in a large
 * batch is found by halving the failed group (push-isolate.ts), not by retrying every row of the
 * batch one by one, and the rest lands with its change-log rows (invariant 11); with
 * SYNC_BATCH_SIZE unset a backlog drains in growing batches (push-size.ts), with it set every
 * batch keeps to it. Counted with the hub's own statement counters, never timed.
 */
import { describe, expect, it } from 'vitest';
import {
  BULK_BATCH_BYTES,
  BULK_MAX_ENTRIES,
  nextPullLimit,
  nextPushLimit,
  PULL_LOCK_MS,
  PULL_MAX_ENTRIES,
} from '../src/sync/push-size.js';
import { type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL, tag TEXT)'];
// code is short and tag unique on the hub only: the node accepts rows the hub refuses.
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL, tag VARCHAR(20) NULL, UNIQUE KEY uq_tag (tag))',
];

async function hubCounter(w: SyncWorld, name: string): Promise<number> {
  const [row] = await w.hub.query<{ Value: string }>(`SHOW GLOBAL STATUS LIKE '${name}'`);
  return Number(row?.Value ?? Number.NaN);
}

describe('push batch sizing (push-size.ts)', () => {
  const grows = { base: 2000, grows: true };
  it('grows to what the byte budget allows while batches are full, up to the cap; back to the base when a batch was not full', () => {
    expect(nextPushLimit(grows, 2000, 2000, 200_000)).toBe(BULK_MAX_ENTRIES);
    expect(nextPushLimit(grows, 2000, 2000, BULK_BATCH_BYTES / 4)).toBe(8000);
    expect(nextPushLimit(grows, 2000, 2000, 0)).toBe(4000);
    expect(nextPushLimit(grows, 16_000, 16_000, 1_600_000)).toBe(BULK_MAX_ENTRIES);
    expect(nextPushLimit(grows, 8000, 1234, 100)).toBe(2000);
  });
  it('grows no further than the byte budget allows, shrinks past it, never below SYNC_BATCH_SIZE', () => {
    expect(nextPushLimit(grows, 4000, 4000, BULK_BATCH_BYTES * 0.75)).toBe(Math.floor(4000 / 0.75));
    expect(nextPushLimit(grows, 8000, 8000, BULK_BATCH_BYTES * 2)).toBe(4000);
    expect(nextPushLimit(grows, 2000, 2000, BULK_BATCH_BYTES * 10)).toBe(2000);
  });
  it('a SYNC_BATCH_SIZE set by hand is kept for every batch', () => {
    expect(nextPushLimit({ base: 500, grows: false }, 500, 500, 1000)).toBe(500);
    expect(nextPullLimit({ base: 500, grows: false }, 500, 500, 1)).toBe(500);
  });
  it('pull batches grow by the time the last one held the SQLite write lock, shrink past it, never below the base', () => {
    expect(nextPullLimit(grows, 2000, 2000, PULL_LOCK_MS / 2)).toBe(4000);
    expect(nextPullLimit(grows, 2000, 2000, 1)).toBe(PULL_MAX_ENTRIES);
    expect(nextPullLimit(grows, 16_000, 16_000, PULL_LOCK_MS * 2)).toBe(8000);
    expect(nextPullLimit(grows, 2000, 2000, PULL_LOCK_MS * 10)).toBe(2000);
    expect(nextPullLimit(grows, 8000, 0, 10)).toBe(2000);
  });
});

describe.skipIf(!HUB_AVAILABLE)('bulk push', () => {
  const worlds = syncWorlds({ prefix: 'bulkpush', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });

  it('one refused row in the middle of a 5,000-row batch: parked, found by halving, the rest lands with its log rows', async () => {
    const w = await worlds.world({ env: { SYNC_BATCH_SIZE: '5000' } });
    const A = w.node('A');
    await A.syncer.syncOnce();
    const ins = A.db.prepare('INSERT INTO items (id, code, tag) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 5000; i++) ins.run(i, i === 2345 ? 'much-too-long-for-the-hub' : `c${i}`, `t${i}`);
    })();
    const savepoints = await hubCounter(w, 'Com_savepoint');
    const r = await A.syncer.push();
    // Row by row, that was 5,001 savepoints; halving needs a few per level (~13 levels to one row).
    expect((await hubCounter(w, 'Com_savepoint')) - savepoints).toBeLessThan(100);
    expect(r.parked).toBe(1);
    expect(r.perTable.get('items')).toMatchObject({ upserts: 4999, parked: 1 });
    const parked = A.syncer.state.parked();
    expect(parked.map((p) => p.pk)).toEqual(['2345']);
    expect(parked[0]?.error).toMatch(/ER_DATA_TOO_LONG|too long/i);
    const ids = (await w.hub.query<{ id: string }>('SELECT id FROM items ORDER BY id')).map((h) => Number(h.id));
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1).filter((i) => i !== 2345));
    // Every landed row logged once, under its key, with this node's origin; nothing for the refused one.
    const logged = await w.hub.query<{ pk: string; n: string; origin: string }>(
      "SELECT pk, COUNT(*) AS n, MAX(origin) AS origin FROM _dualdb_changes WHERE tbl = 'items' GROUP BY pk",
    );
    expect(logged.length).toBe(4999);
    expect(logged.every((l) => Number(l.n) === 1 && l.origin === 'A' && l.pk !== '2345')).toBe(true);
    // Fixed on the hub, the parked row arrives.
    await w.hub.execute('ALTER TABLE items MODIFY code VARCHAR(40) NOT NULL');
    A.syncer.state.retryParked();
    await A.syncer.syncOnce();
    expect(A.syncer.state.parked()).toEqual([]);
    expect((await w.hub.query('SELECT id FROM items WHERE id = 2345')).length).toBe(1);
  });

  it('refused rows at the edges, side by side, and two rows of the batch that clash with each other: exactly those are parked', async () => {
    const w = await worlds.world({ env: { SYNC_BATCH_SIZE: '3000' } });
    const A = w.node('A');
    await A.syncer.syncOnce();
    const tooLong = new Set([1, 2, 3, 1500, 3000]);
    const ins = A.db.prepare('INSERT INTO items (id, code, tag) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 3000; i++)
        ins.run(i, tooLong.has(i) ? 'much-too-long-for-the-hub' : `c${i}`, i === 2222 ? 't111' : `t${i}`);
    })();
    const r = await A.syncer.push();
    // 2222 takes 111's tag, unique on the hub only: the later row in the batch is the refused one.
    const parked = A.syncer.state.parked();
    expect(parked.map((p) => Number(p.pk)).sort((a, b) => a - b)).toEqual([1, 2, 3, 1500, 2222, 3000]);
    expect(parked.find((p) => p.pk === '2222')?.error).toMatch(/ER_DUP_ENTRY.*t111/);
    expect(r.perTable.get('items')).toMatchObject({ upserts: 2994, parked: 6 });
    const [count] = await w.hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM items');
    expect(Number(count?.n)).toBe(2994);
    const [logged] = await w.hub.query<{ n: string }>("SELECT COUNT(*) AS n FROM _dualdb_changes WHERE tbl = 'items'");
    expect(Number(logged?.n)).toBe(2994);
  });

  it('SYNC_BATCH_SIZE unset: a backlog goes up in growing batches (fewer hub commits); set: every batch keeps to it', async () => {
    const commitsFor = async (env: Record<string, string>): Promise<number> => {
      const w = await worlds.world({ env });
      const A = w.node('A');
      await A.syncer.syncOnce();
      const ins = A.db.prepare('INSERT INTO items (id, code, tag) VALUES (?, ?, ?)');
      A.db.transaction(() => {
        for (let i = 1; i <= 14_000; i++) ins.run(i, `c${i}`, `t${i}`);
      })();
      const before = await hubCounter(w, 'Com_commit');
      const r = await A.syncer.push();
      const commits = (await hubCounter(w, 'Com_commit')) - before;
      expect(r.perTable.get('items')?.upserts).toBe(14_000);
      const [count] = await w.hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM items');
      expect(Number(count?.n)).toBe(14_000);
      return commits;
    };
    // 2,000 + 4,000 + 8,000 unset; seven batches of 2,000 when set (the default's value, by hand).
    expect(await commitsFor({})).toBeLessThanOrEqual(4);
    expect(await commitsFor({ SYNC_BATCH_SIZE: '2000' })).toBeGreaterThanOrEqual(7);
  });

  // Pull batches grow by the time each held the SQLite write lock (push-size.ts nextPullLimit): how
  // many batches depends on this machine, so only the outcome is checked, never the count.
  it('SYNC_BATCH_SIZE unset: a pull backlog of 14,000 hub rows lands once each, the cursor at the hub’s last entry', async () => {
    const w = await worlds.world({});
    const A = w.node('A');
    await A.syncer.syncOnce();
    for (let i = 1; i <= 14_000; i += 1000)
      await w.hub.execute('INSERT INTO items (id, code, tag) VALUES ?', [
        Array.from({ length: 1000 }, (_, j) => [i + j, `h${i + j}`, `u${i + j}`]),
      ]);
    const r = await A.syncer.pull();
    expect(r.perTable.get('items')?.upserts).toBe(14_000);
    expect(A.db.prepare("SELECT count(*) AS n, sum(code = 'h' || id) AS ok FROM items").get()).toEqual({
      n: 14_000n,
      ok: 14_000n,
    });
    const [max] = await w.hub.query<{ s: string }>('SELECT MAX(seq) AS s FROM _dualdb_changes');
    expect(A.syncer.state.pullState()).toEqual({ upto: BigInt(max?.s ?? 0), holes: new Map() });
    expect(A.syncer.state.parked()).toEqual([]);
    expect((await A.syncer.pull()).applied).toBe(0);
  });
});
