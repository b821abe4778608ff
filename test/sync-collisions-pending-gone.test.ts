/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 2026-12-07 (wip9-trials, rekey-hub seed
 * 1302: a `pending` record left open at the end): a collision a pull saw and left to the push
 * (`pending`), whose node row the application deletes before any push, must close once a later
 * pull takes the hub's row under the key (the node's insert and delete never go up, so no push
 * closes it). Left open, the hub's row here stayed "a row apart": its children written on the hub
 * afterwards waited for it, parked, for ever — never converging — and the key's later changes were
 * taken for another collision.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, badge TEXT NOT NULL UNIQUE, dept TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE, dept VARCHAR(40) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('invariant 13: a pending collision whose node row is gone before the push', () => {
  const worlds = syncWorlds({ prefix: 'pendgone', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a'] });

  for (const mode of ['rekey-node', 'rekey-hub'] as const)
    it(`${mode}: the hub updates its row after the node's delete; the record closes, the row's later child arrives`, async () => {
      const w = await worlds.world({ env: { SYNC_KEY_COLLISIONS: mode } });
      const a = w.node('a');
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-w')");
      a.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'a-w')").run();
      // The pull meets the node's unsent row under the hub's key: left to the push, pending.
      await a.syncer.pull();
      expect(a.syncer.rekeys.list({}).map((r) => [r.tbl, r.oldKey, r.status])).toEqual([['workers', '1', 'pending']]);
      // The application deletes its row before any push; the hub's row changes; the pull takes it.
      a.db.prepare('DELETE FROM workers WHERE id = 1').run();
      await w.hub.execute("UPDATE workers SET dept = 'hub dept' WHERE id = 1");
      await a.syncer.pull();
      expect(a.db.prepare('SELECT badge, dept FROM workers').all()).toEqual([{ badge: 'hub-w', dept: 'hub dept' }]);
      // A child of the hub's row, written on the hub afterwards, arrives here.
      await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'for hub-w')");
      await syncUntilQuiet(w.nodes);
      expect(a.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      expect(a.db.prepare('SELECT w.badge, t.note FROM attendance t JOIN workers w ON w.id = t.worker_id').all()).toEqual([
        { badge: 'hub-w', note: 'for hub-w' },
      ]);
      expect(a.syncer.rekeys.list({}).filter((r) => r.status === 'pending' || r.status === 'held')).toEqual([]);
    }, 60_000);
});
