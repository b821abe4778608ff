/**
 * Pull batches grow while a backlog drains only up to PULL_MAX_ENTRIES (push-size.ts): a batch's
 * rows live in the node's memory until its SQLite transaction commits, and past what V8's young
 * generation holds the garbage collector copies and promotes them (docs/PERFORMANCE.md, "Pull
 * batches sized for the young generation"). The batches are seen in the node's own SQLite file: a
 * temporary trigger on the pulled table notes, per row written, the pull cursor its transaction
 * started from. Never timed.
 */
import { describe, expect, it } from 'vitest';
import { nextPullLimit, PULL_LOCK_MS, PULL_MAX_ENTRIES } from '../src/sync/push-size.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL, tag TEXT)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL, tag VARCHAR(20) NULL)'];

describe('pull batch cap (push-size.ts)', () => {
  const grows = { base: 2000, grows: true };
  it('a pull batch grows to 5,000 entries at most, however short the last one held the lock', () => {
    expect(PULL_MAX_ENTRIES).toBe(5000);
    expect(nextPullLimit(grows, 2000, 2000, 1)).toBe(5000);
    expect(nextPullLimit(grows, 5000, 5000, 0)).toBe(5000);
    expect(nextPullLimit(grows, 2000, 2000, PULL_LOCK_MS / 2)).toBe(4000);
    // Past the lock budget it still shrinks in proportion, never below the base.
    expect(nextPullLimit(grows, 5000, 5000, PULL_LOCK_MS * 2)).toBe(2500);
    expect(nextPullLimit(grows, 5000, 5000, PULL_LOCK_MS * 10)).toBe(2000);
  });
});

describe.skipIf(!HUB_AVAILABLE)('pull backlog in capped batches', () => {
  const worlds = syncWorlds({ prefix: 'pullcap', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });

  it('SYNC_BATCH_SIZE unset: 14,000 hub rows land once each, in transactions of at most PULL_MAX_ENTRIES rows', async () => {
    const w = await worlds.world({});
    const A = w.node('A');
    await A.syncer.syncOnce();
    // Temporary objects: on the syncer's own connection only, outside the file's schema (its stamp).
    A.db.exec('CREATE TEMP TABLE pulled_in (cursor INTEGER NOT NULL, id INTEGER NOT NULL)');
    A.db.exec(
      `CREATE TEMP TRIGGER note_pulled AFTER INSERT ON main.items BEGIN
         INSERT INTO pulled_in (cursor, id) VALUES ((SELECT upto FROM main._dualdb_pull_state WHERE id = 1), NEW.id);
       END`,
    );
    for (let i = 1; i <= 14_000; i += 1000)
      await w.hub.execute('INSERT INTO items (id, code, tag) VALUES ?', [
        Array.from({ length: 1000 }, (_, j) => [i + j, `h${i + j}`, `u${i + j}`]),
      ]);
    const r = await A.syncer.pull();
    expect(r.perTable.get('items')?.upserts).toBe(14_000);
    const batches = A.db
      .prepare('SELECT cursor, count(*) AS n, count(DISTINCT id) AS ids FROM pulled_in GROUP BY cursor')
      .all() as {
      cursor: bigint;
      n: bigint;
      ids: bigint;
    }[];
    // The first batch is the base (2,000); later ones grow by the lock's time, never past the cap.
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(14_000 / PULL_MAX_ENTRIES));
    for (const b of batches) {
      expect(Number(b.n)).toBeLessThanOrEqual(PULL_MAX_ENTRIES);
      expect(b.ids).toBe(b.n);
    }
    expect(A.db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM pulled_in').get()).toEqual({
      n: 14_000n,
      ids: 14_000n,
    });
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
