/**
 * Operator trial 5 (2026-12-06, `rekey-node`, finding N2): a node's delete of a row that the hub
 * no longer holds under its key must never delete the new row another node put there.
 *
 * Site1's detection went up under 47; site2 pulled it. Site1's application deleted it and wrote a
 * new detection, to which SQLite handed out the freed 47 again: site1's push ran the delete on the
 * hub, then inserted the new row (push-reused.ts; the hub log reads D 47, I 47). Site2 then pushed
 * its own delete of the old row under 47: the hub's unseen history of the key began with that D,
 * not an I, so decide.ts did not take the delete for one of another row (`deletesAnotherRow`), but
 * for a conflict the node won (node-wins, or newest-wins with the newer delete): the new detection
 * was deleted on every side, its alert with it by cascade.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL)',
  `CREATE TABLE alerts (id INTEGER PRIMARY KEY, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE,
     ref TEXT NOT NULL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, detection_id BIGINT NULL, ref VARCHAR(40) NOT NULL,
     CONSTRAINT fk_alert_detection FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('a delete of a row whose key its writer handed out again (operator trial 5, N2)', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2'] });

  for (const policy of ['node-wins', 'newest-wins', 'hub-wins'] as const)
    for (const first of ['push', 'pull'] as const)
      it(`${policy}, site2's ${first} first: site1's new row under the re-used key is kept everywhere`, async () => {
        const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-node' } });
        const s1 = w.node('site1');
        const s2 = w.node('site2');
        s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'old')").run();
        await s1.syncer.syncOnce();
        await s2.syncer.syncOnce();
        expect(s2.db.prepare('SELECT ref FROM detections WHERE id = 1').pluck().get()).toBe('old');

        // Site1: the old row deleted, a new one (with a child) under the id SQLite hands out again.
        s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
        const id = Number(s1.db.prepare("INSERT INTO detections (ref) VALUES ('new')").run().lastInsertRowid);
        expect(id).toBe(1);
        s1.db.prepare("INSERT INTO alerts (detection_id, ref) VALUES (1, 'alert of new')").run();
        await s1.syncer.syncOnce();
        expect(await w.hub.query('SELECT id, ref FROM detections')).toEqual([{ id: '1', ref: 'new' }]);

        // Site2, not pulled since: deletes its copy of the old row.
        s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
        await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
        await syncUntilQuiet(w.nodes);

        expect(await w.hub.query('SELECT ref FROM detections')).toEqual([{ ref: 'new' }]);
        expect(await w.hub.query('SELECT ref FROM alerts')).toEqual([{ ref: 'alert of new' }]);
        for (const n of [s1, s2]) {
          expect(n.db.prepare('SELECT ref FROM detections').pluck().all()).toEqual(['new']);
          expect(n.db.prepare('SELECT ref FROM alerts').pluck().all()).toEqual(['alert of new']);
        }
        expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
      }, 60_000);
});
