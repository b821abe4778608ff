/**
 * `manual` collisions: a node's row held apart from another node's row under the same generated
 * key, then taken here by an ON DELETE CASCADE that a pull ran (another node deleted its parent).
 * The cascade runs inside the pull's own transaction with capture suppressed, so no delete of the
 * row is logged here and nothing ever closed the held record: the pull kept skipping the key, and
 * the other node's row never reached this node (found in test/sync-parked-retry-lost-commit).
 * With the node's own row gone, nothing clashes any more: the record closes and the hub's row
 * under the key comes here with the next pull.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE dets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, det_id INTEGER REFERENCES dets(id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  'CREATE TABLE dets (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL, det_id BIGINT NULL, FOREIGN KEY (det_id) REFERENCES dets(id) ON DELETE CASCADE) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('manual: a held collision whose node row a pull cascaded away', () => {
  const fixture = syncWorlds({
    prefix: 'heldcasc',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'manual' },
  });

  it("closes, and the other node's row under the key reaches this node", async () => {
    const w = await fixture.world();
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    b.db.prepare("INSERT INTO dets (id, name) VALUES (1, 'b-d')").run();
    b.db.prepare("INSERT INTO alerts (id, name, det_id) VALUES (1, 'b-a', 1)").run();
    await b.syncer.syncOnce();
    // a's alert 1 collides with b's: held apart (manual).
    a.db.prepare("INSERT INTO dets (id, name) VALUES (2, 'a-d')").run();
    a.db.prepare("INSERT INTO alerts (id, name, det_id) VALUES (1, 'a-a', 2)").run();
    await a.syncer.syncOnce();
    await a.syncer.syncOnce();
    expect(a.syncer.rekeys.list({ status: 'held' }).map((r) => [r.tbl, r.oldKey])).toEqual([['alerts', '1']]);
    // b deletes a's detection; a's pull cascades the delete onto a's alert 1 (unlogged here).
    await b.syncer.syncOnce();
    b.db.prepare('DELETE FROM dets WHERE id = 2').run();
    await b.syncer.syncOnce();
    await a.syncer.syncOnce({ push: false });
    expect(a.db.prepare("SELECT count(*) FROM alerts WHERE name = 'a-a'").pluck().get()).toBe(0n);
    await syncUntilQuiet(w.nodes, 8);
    expect(a.db.prepare('SELECT id, name, det_id FROM alerts').all()).toEqual([{ id: 1n, name: 'b-a', det_id: 1n }]);
    expect(await divergence(w, ['dets', 'alerts'])).toEqual([]);
    expect(a.syncer.rekeys.list({}).filter((r) => r.status === 'held' || r.status === 'pending')).toEqual([]);
    for (const n of w.nodes) {
      expect(n.db.prepare('SELECT count(*) FROM _dualdb_parked').pluck().get()).toBe(0n);
      expect(n.syncer.state.conflicts()).toEqual([]);
    }
  }, 120_000);
});
