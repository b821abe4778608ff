/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 2026-12-07 (wip9-r10, manual seed 1102: three
 * of site2's own alerts gone from site2 only, their notifications' alert_id NULL on every side).
 *
 * B inserts its row under K (with a child under ON DELETE SET NULL) while A inserts its own row
 * under K, pushes it, deletes it and pushes again: the hub's unseen history of K is A's insert and
 * delete, the hub has no row under K. B's push finds K free and sends its row up as it is (under
 * `manual` and `rekey-hub`; `rekey-node` moves it to a fresh key). B's later pull must not take A's
 * insert and delete of K for changes of B's own row: applied, they deleted B's row here (its child
 * losing its parent, SET NULL, and that update spreading) while the hub and the other nodes kept it.
 *
 * One syncer pushing and pulling was already safe (B's own insert restarts K's history, pull-read.ts
 * `ownInserts`): this pins it. The trial's loss came from a pull beside another process's push
 * (test/sync-pull-beside-push.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
  `CREATE TABLE notifications (id INTEGER PRIMARY KEY, alert_id INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
     text TEXT NOT NULL UNIQUE)`,
];
const MYSQL_DDL = [
  'CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE notifications (id BIGINT AUTO_INCREMENT PRIMARY KEY, alert_id BIGINT NULL, text VARCHAR(80) NOT NULL UNIQUE,
     CONSTRAINT fk_notif_alert FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL) ENGINE=InnoDB`,
];

const MODES: KeyCollisionMode[] = ['manual', 'rekey-hub', 'rekey-node'];

describe.skipIf(!HUB_AVAILABLE)("a node's new row pushed over another node's insert and delete of its key (trial 1102)", () => {
  const fixture = syncWorlds({ prefix: 'gonehist', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a', 'b'] });

  for (const mode of MODES)
    for (const order of ['push, pull', 'pull, push, pull', 'push, pull in batches of one'] as const)
      it(`${mode}: B ${order}; B's row and its child stay on every side`, async () => {
        const env: Record<string, string> = { SYNC_KEY_COLLISIONS: mode };
        if (order.endsWith('batches of one')) env.SYNC_BATCH_SIZE = '1';
        const w = await fixture.world({ env });
        const a = w.node('a');
        const b = w.node('b');
        // B, offline: its own alert under 1, with a notification.
        b.db.prepare("INSERT INTO alerts (id, name) VALUES (1, 'b-alert')").run();
        b.db.prepare("INSERT INTO notifications (id, alert_id, text) VALUES (10, 1, 'of b-alert')").run();
        // A: its own alert under 1, pushed, deleted, pushed.
        a.db.prepare("INSERT INTO alerts (id, name) VALUES (1, 'a-alert')").run();
        await a.syncer.syncOnce();
        a.db.prepare('DELETE FROM alerts WHERE id = 1').run();
        await a.syncer.syncOnce();
        if (order === 'pull, push, pull') await b.syncer.syncOnce({ push: false });
        await b.syncer.syncOnce({ pull: false });
        await b.syncer.syncOnce({ push: false });
        // B's row is still here, its notification still under it.
        expect(
          b.db.prepare("SELECT n.text FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.name = 'b-alert'").all(),
        ).toEqual([{ text: 'of b-alert' }]);
        await syncUntilQuiet(w.nodes, 8);
        expect(await divergence(w, ['alerts', 'notifications'])).toEqual([]);
        const got = await w.hub.query<{ text: string; name: string | null }>(
          'SELECT n.text, a.name FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.text',
        );
        expect(got.map((r) => `${r.text} → ${r.name}`)).toEqual(['of b-alert → b-alert']);
        const alerts = await w.hub.query<{ name: string }>('SELECT name FROM alerts ORDER BY name');
        expect(alerts.map((r) => r.name)).toEqual(['b-alert']);
        for (const n of w.nodes) {
          expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
          expect(n.syncer.rekeys.list({}).filter((r) => r.status === 'pending' || r.status === 'held')).toEqual([]);
        }
      }, 120_000);
});
