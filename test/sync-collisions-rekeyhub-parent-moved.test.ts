/**
 * Operator trial, finding (b) (rekey-hub): another node's move of a *parent* row commits between
 * a push's read of the hub moves (push start) and its writes of a child that references the
 * parent's old key. Unchecked, the child went up under the old key and attached to the row that
 * took it (the other node's worker), on the hub and every node but the writer. The push now reads
 * the hub's moves once more at its end, over the batch's keys and the parent keys its rows
 * reference (src/sync/push-hub-read.ts `assertNoMovesMeanwhile`), and gives the batch back when a
 * move touched one. The hook (test/helpers/intercept-hub.ts) runs b's push just before a's lock
 * read of the child table; nothing in the product is mocked.
 */
import { describe, expect, it } from 'vitest';
import { PushRaceError, pushBatch } from '../src/sync/push.js';
import { observeHub, pushWith } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     wname TEXT NOT NULL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, wname VARCHAR(80) NOT NULL,
     CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a parent moved by another node inside a push', () => {
  const fixture = syncWorlds({
    prefix: 'rhpar',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });

  it('a child pushed under a parent key another node’s rekey-hub just moved follows its parent', async () => {
    const w = await fixture.world();
    const [a, b] = [w.node('a'), w.node('b')];
    await w.hub.execute("INSERT INTO workers (name) VALUES ('h-worker')"); // 1 on the hub
    await a.syncer.syncOnce({ push: false }); // a holds the hub's worker 1
    b.db.prepare("INSERT INTO workers (name) VALUES ('b-worker')").run(); // 1 too: b has not pulled
    a.db.prepare("INSERT INTO attendance (worker_id, wname) VALUES (1, 'h-worker')").run();
    // a read the hub's moves; now b's push moves the hub's worker 1 to 2 and puts b-worker under 1.
    await pushWith(w, 'a', /FROM `attendance` WHERE .* FOR UPDATE$/, async () => {
      await b.syncer.syncOnce({ pull: false });
    }).catch((e: unknown) => {
      if (!(e instanceof PushRaceError)) throw e;
    });
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    const children = await w.hub.query<{ wname: string; parent: string }>(
      'SELECT a.wname, w.name AS parent FROM attendance a JOIN workers w ON w.id = a.worker_id',
    );
    expect(children).toEqual([{ wname: 'h-worker', parent: 'h-worker' }]);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
  }, 120_000);

  it('one read of the hub moves at push start and one at its end, whatever the number of tables', async () => {
    const w = await fixture.world();
    const a = w.node('a');
    a.db.prepare("INSERT INTO workers (name) VALUES ('a-worker')").run();
    a.db.prepare("INSERT INTO attendance (worker_id, wname) VALUES (1, 'a-worker')").run();
    let movesReads = 0;
    await a.syncer.withContext((ctx) =>
      pushBatch({
        ...ctx,
        hub: observeHub(ctx.hub, (sql) => {
          if (/op = 'R'/.test(sql)) movesReads++;
        }),
      }),
    );
    expect(movesReads).toBe(2);
    expect((await w.hub.query('SELECT id FROM attendance')).length).toBe(1);
  }, 60_000);
});
