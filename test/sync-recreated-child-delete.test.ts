/**
 * Operator trial 6 (2026-12-07, `rekey-node`, seed 704, finding T6-R2): a delete of a row another
 * node's push re-created as a child of a row it kept against the hub's delete is dropped, and the
 * row comes back everywhere, no conflict recorded.
 *
 * In the trial: site3's worker 7 with attendance A under 23; the hub (a central writer) deleted the
 * worker, MySQL's ON DELETE CASCADE took A there without logging it. Site2, not pulled yet, updated
 * the worker: its push won (newest-wins), re-created the worker and logged its children here as new
 * rows (recreated-children.ts) — A among them, a row site2 only had from the hub. The hub's log then
 * held "I attendance 23 origin site2", and the deletes of A by site3 and site1 (not pushed yet) met
 * that insert as the first of the hub's changes to 23 they had not seen: decide.ts took each for a
 * delete of another row (`deletesAnotherRow`), sent nothing, and the pull wrote A back.
 */
import { describe, expect, it } from 'vitest';
import { divergence, hubLog, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, dept TEXT)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, worker_id INTEGER REFERENCES workers (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, dept VARCHAR(40) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, worker_id BIGINT NULL,
     CONSTRAINT fk_rc_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];

describe.skipIf(!HUB_AVAILABLE)('a delete of a child another node re-created with its kept parent (trial 6, T6-R2)', () => {
  const fx = syncWorlds({ prefix: 't6rc', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2', 'site3'] });

  for (const mode of ['rekey-node', 'rekey-hub'] as const)
    for (const first of ['push', 'pull'] as const)
      it(`${mode}, the deleting nodes ${first} first: the deletes of A by site3 and site1 reach the hub; A stays deleted everywhere`, async () => {
        const w = await fx.world({ env: { CONFLICT_POLICY: 'node-wins', SYNC_KEY_COLLISIONS: mode } });
        const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n));
        if (!s1 || !s2 || !s3) throw new Error('nodes');
        s3.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W')").run();
        s3.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (1, 'A', 1)").run();
        s3.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (2, 'B', 1)").run();
        await s3.syncer.syncOnce();
        await s1.syncer.syncOnce();
        await s2.syncer.syncOnce();
        expect(s2.db.prepare('SELECT ref FROM attendance WHERE id = 1').pluck().get()).toBe('A');

        // Site3 and site1 delete A (not pushed yet); the hub deletes W (its cascade takes A, unlogged);
        // site2, not pulled since, updates W.
        s3.db.prepare('DELETE FROM attendance WHERE id = 1').run();
        s1.db.prepare('DELETE FROM attendance WHERE id = 1').run();
        await w.hub.query('DELETE FROM workers WHERE id = 1');
        s2.db.prepare("UPDATE workers SET dept = 'kept' WHERE id = 1").run();

        await s2.syncer.syncOnce(); // W kept against the hub's delete, re-created there; A and B logged here (restores)
        await s2.syncer.syncOnce({ pull: false }); // A and B go up
        for (const n of [s3, s1]) {
          await n.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await n.syncer.syncOnce();
        }
        await syncUntilQuiet(w.nodes, 8);

        const log = (await hubLog(w.hub, 'attendance')).map((e) => `${e.op} ${e.pk} ${e.origin ?? '-'}`);
        // B, which no one deleted, is restored with its parent.
        expect(await w.hub.query('SELECT ref FROM attendance'), `hub log: ${log.join(', ')}`).toEqual([{ ref: 'B' }]);
        expect(await w.hub.query('SELECT ref, dept FROM workers')).toEqual([{ ref: 'W', dept: 'kept' }]);
        for (const n of [s1, s2, s3]) {
          expect(n.db.prepare('SELECT ref FROM attendance').pluck().all()).toEqual(['B']);
          expect(n.db.prepare("SELECT count(*) FROM _dualdb_conflicts WHERE tbl = 'attendance'").pluck().get()).toBe(0n);
        }
        expect(await divergence(w, TABLES)).toEqual([]);
      }, 120_000);

  // The kept row itself: site2's update re-creates W on the hub after the hub's logged delete. Site1's
  // delete of W, not pushed yet, met "D, I origin site2" — taken for a new row under a re-used key
  // (`hubRecreated`), dropped with no conflict recorded, and W came back on site1.
  for (const first of ['push', 'pull'] as const)
    it(`node-wins, site2 ${first === 'push' ? 'pushes' : 'pulls'} first: site1's delete of the kept row W is a conflict it wins, not dropped`, async () => {
      const w = await fx.world({ env: { CONFLICT_POLICY: 'node-wins', SYNC_KEY_COLLISIONS: 'rekey-node' } });
      const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n));
      if (!s1 || !s2 || !s3) throw new Error('nodes');
      s3.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W')").run();
      await s3.syncer.syncOnce();
      await s1.syncer.syncOnce();
      await s2.syncer.syncOnce();
      s1.db.prepare('DELETE FROM workers WHERE id = 1').run();
      await w.hub.query('DELETE FROM workers WHERE id = 1');
      s2.db.prepare("UPDATE workers SET dept = 'kept' WHERE id = 1").run();
      // Site2's push or pull meets the hub's delete; site1's push (a pull first would take the hub's
      // delete for its own, the same outcome: its delete is done, and site2's change wins over both).
      await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
      await s2.syncer.syncOnce();
      await s1.syncer.syncOnce({ pull: false });
      await syncUntilQuiet(w.nodes, 8);

      const log = (await hubLog(w.hub, 'workers')).map((e) => `${e.op} ${e.pk} ${e.origin ?? '-'}`);
      expect(await w.hub.query('SELECT ref FROM workers'), `hub log: ${log.join(', ')}`).toEqual([]);
      for (const n of [s1, s2, s3]) expect(n.db.prepare('SELECT ref FROM workers').pluck().all()).toEqual([]);
      expect(s1.db.prepare("SELECT winner FROM _dualdb_conflicts WHERE tbl = 'workers'").pluck().all()).toEqual(['node']);
      expect(await divergence(w, TABLES)).toEqual([]);
    }, 120_000);
});
