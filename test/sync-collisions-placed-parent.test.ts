/**
 * Operator trial 5 on merged main (2026-12-06 23:55, `rekey-node`, app transactions on, seed 604):
 * a hub row a collision's push placed here must point at the parent it points at on the hub.
 *
 * Site2 pushed detection 1 with alert 1; site1 pulled them. Site2 deleted the detection (its
 * alert by cascade) and wrote a new detection and a new alert, to which SQLite handed the freed
 * ids 1 again, and a notification of the new alert; its push deleted the old rows on the hub and
 * inserted the new ones. Site1's push then collided on the notification's id: site1's own
 * notification moved away and site2's was placed here, pointing at alert 1 — which here was still
 * the OLD alert, its delete not pulled yet. The pull then deleted the old detection, the cascade
 * took the old alert and ON DELETE SET NULL cleared the placed notification's alert_id; the
 * notification's own hub insert counted as seen (placed), so nothing wrote it again: site1 (and
 * site3) kept alert_id NULL where the hub and site2 had 1, for good.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE)',
  'CREATE TABLE notifications (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, alert_id INTEGER REFERENCES alerts (id) ON DELETE SET NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, detection_id BIGINT NULL,
     CONSTRAINT fk_al_det FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  `CREATE TABLE notifications (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, alert_id BIGINT NULL,
     CONSTRAINT fk_no_al FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL) ENGINE=InnoDB`,
];
const TABLES = ['detections', 'alerts', 'notifications'];

describe.skipIf(!HUB_AVAILABLE)(
  'a placed hub row whose parent key holds another row here (operator trial 5 on merged main)',
  () => {
    const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2'] });

    for (const policy of ['node-wins', 'hub-wins'] as const)
      it(`${policy}: site2's notification placed on site1 keeps its alert once site1 pulls the re-created parents`, async () => {
        const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-node' } });
        const s1 = w.node('site1');
        const s2 = w.node('site2');
        s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'd-old')").run();
        s2.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'a-old', 1)").run();
        await s2.syncer.syncOnce();
        await s1.syncer.syncOnce();
        expect(s1.db.prepare('SELECT ref FROM alerts WHERE id = 1').pluck().get()).toBe('a-old');

        // Site2 deletes the detection (the alert by cascade) and writes new ones under the freed ids.
        s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
        s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'd-new')").run();
        s2.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'a-new', 1)").run();
        s2.db.prepare("INSERT INTO notifications (id, ref, alert_id) VALUES (1, 'n-site2', 1)").run();
        await s2.syncer.syncOnce({ pull: false });

        // Site1's own notification under the same id, pushed before it pulls: a collision; site2's
        // notification is placed here while site1 still holds the old alert under 1.
        s1.db.prepare("INSERT INTO notifications (id, ref, alert_id) VALUES (1, 'n-site1', NULL)").run();
        await s1.syncer.syncOnce({ pull: false });
        await syncUntilQuiet(w.nodes);

        const hubRows = await w.hub.query<{ ref: string; alert_id: string | null }>(
          'SELECT n.ref, a.ref AS alert FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.ref',
        );
        expect(hubRows.map((r) => [r.ref, (r as unknown as { alert: string | null }).alert])).toEqual([
          ['n-site1', null],
          ['n-site2', 'a-new'],
        ]);
        for (const n of [s1, s2])
          expect(
            n.db
              .prepare('SELECT n.ref, a.ref AS alert FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.ref')
              .raw()
              .all(),
          ).toEqual([
            ['n-site1', null],
            ['n-site2', 'a-new'],
          ]);
        expect(await divergence(w, TABLES)).toEqual([]);
      }, 60_000);
  },
);
