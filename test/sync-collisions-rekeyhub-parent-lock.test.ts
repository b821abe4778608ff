/**
 * Operator trial, open case 1 (rekey-hub): another node's move of a *parent* row commits between a
 * push's read of the hub moves (push start) and its lock read of the pushed child rows. The child,
 * written for the parent under the old key, went up under that key and attached to the other
 * node's row, which had just taken the key in place; the node itself followed the move (its child
 * points at the moved parent), so hub and node disagreed for good. A hub connection wrapper runs
 * b's push just before a's lock read of the child table; nothing in the product is mocked.
 * Second case: b's push starts later, just before a's insert of the child (after a checked the
 * moves): the parent row a locked makes b's move wait for a's commit, and then re-point a's child.
 */
import { describe, expect, it } from 'vitest';
import { PushRaceError } from '../src/sync/push.js';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY AUTOINCREMENT, worker_id INTEGER NOT NULL REFERENCES workers(id), note TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NOT NULL,
     FOREIGN KEY (worker_id) REFERENCES workers(id)) ENGINE=InnoDB`,
];

const ATTENDED = `SELECT a.note AS note, w.name AS worker FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.note`;

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a parent move another node commits inside a push', () => {
  const fixture = syncWorlds({
    prefix: 'rhparent',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });

  /** a-worker (1) on the hub from a; b's own b-worker (1 too, b has not pulled); a's child of a-worker. */
  async function childOfMovedParent(w: SyncWorld): Promise<void> {
    const [a, b] = [w.node('a'), w.node('b')];
    a.db.prepare("INSERT INTO workers (name) VALUES ('a-worker')").run(); // 1
    await a.syncer.syncOnce({ pull: false });
    b.db.prepare("INSERT INTO workers (name) VALUES ('b-worker')").run(); // 1 too: b has not pulled
    a.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (1, 'a-visit')").run(); // a's child of a-worker
  }

  async function expectChildAtItsParent(w: SyncWorld): Promise<void> {
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    const want = [{ note: 'a-visit', worker: 'a-worker' }];
    expect(await w.hub.query(ATTENDED)).toEqual(want);
    for (const n of w.nodes) expect(n.db.prepare(ATTENDED).all()).toEqual(want);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
  }

  const raceIsRetried = (e: unknown) => {
    if (!(e instanceof PushRaceError)) throw e;
  };

  it('a’s child of a parent b moved after a read the moves still points at that parent everywhere', async () => {
    const w = await fixture.world();
    await childOfMovedParent(w);
    // a read the hub's moves; now b's push moves a-worker to the hub's next key (2) and takes key 1
    // in place, then a locks its child's key. Only attendance is in a's batch.
    await pushWith(w, 'a', /FROM `attendance` WHERE .* FOR UPDATE$/, async () => {
      await w.node('b').syncer.syncOnce({ pull: false });
    }).catch(raceIsRetried);
    await expectChildAtItsParent(w);
  }, 120_000);

  it('a parent move that starts after a checked the moves waits for a’s push, then takes the child along', async () => {
    const w = await fixture.world();
    await childOfMovedParent(w);
    let bDone = false;
    let bPush: Promise<unknown> = Promise.resolve();
    await pushWith(w, 'a', /^INSERT INTO `attendance`/, async () => {
      bPush = w
        .node('b')
        .syncer.syncOnce({ pull: false })
        .finally(() => {
          bDone = true;
        });
      // b's push either finishes (nothing held it) or waits on a lock a's push holds.
      await waitFor(async () => {
        if (bDone) return true;
        const [r] = await w.hub.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
        );
        return Number(r?.n ?? 0) > 0;
      }, 'b’s push to finish or to wait on a lock');
    }).catch(raceIsRetried);
    await bPush;
    await expectChildAtItsParent(w);
  }, 120_000);
});
