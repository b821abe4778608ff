/**
 * Trial of the seed-901 fix (2026-12-07 04:59, `manual`, seed 951, node-wins, chaos on): site2's
 * own detection under 9 was held against site1's; the application deleted its row, and before a
 * push ran (its sync process killed, the hub down) the operator's `rekeys resolve` found one row
 * gone and placed the hub's row (site1's) under 9. The delete stayed in site2's log: the next push
 * read it with a row under the key again — a key deleted and handed out anew — and held site1's
 * row as a collision with itself, which neither `--rekey node` nor `--rekey hub` resolves
 * (duplicate `uq_detections_ref`); site1's alert and its notification never reached site2.
 * The resolve that takes the hub's row now drops what this node logged under the key since the
 * hold: the changes of its own row, gone, that the hub never had.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, n INTEGER)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  `CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, n INT NULL,
     CONSTRAINT uq_detections_ref UNIQUE (ref)) ENGINE=InnoDB`,
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, detection_id BIGINT NULL,
     CONSTRAINT fk_al_d FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('manual: resolve after the node deleted its own held row, before a push', () => {
  const fx = syncWorlds({
    prefix: 'goneheld',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['site1', 'site2'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });
  const open: SyncWorld[] = [];
  afterEach(async () => {
    for (const w of open.splice(0)) await w.close();
  });

  for (const SIDE of ['node', 'hub'] as const)
    for (const EDIT of [false, true])
      it(`--rekey ${SIDE}${EDIT ? ', its row updated then deleted' : ''}: the hub's row taken, nothing held again, site1's alert on site2`, async () => {
        const w = await fx.world();
        open.push(w);
        const [s1, s2] = [w.node('site1'), w.node('site2')];
        s1.db.prepare("INSERT INTO detections (id, ref) VALUES (9, 'd-site1')").run();
        s1.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (13, 'a-site1', 9)").run();
        await s1.syncer.syncOnce();
        s2.db.prepare("INSERT INTO detections (id, ref) VALUES (9, 'd-site2')").run();
        await s2.syncer.syncOnce();
        const [held] = s2.syncer.rekeys.list({ status: 'held' });
        expect([held?.tbl, held?.oldKey]).toEqual(['detections', '9']);
        // Its own row changed and deleted while held; no push before the operator's resolve.
        if (EDIT) s2.db.prepare("UPDATE detections SET n = 1 WHERE ref = 'd-site2'").run();
        s2.db.prepare('DELETE FROM detections WHERE id = 9').run();
        await resolveRekey(s2.syncer, held?.id as number, SIDE);
        expect(s2.db.prepare('SELECT ref FROM detections WHERE id = 9').pluck().get()).toBe('d-site1');
        await syncUntilQuiet(w.nodes, 8);
        expect(s2.syncer.rekeys.list({ status: 'held' })).toEqual([]);
        expect(s2.syncer.rekeys.list({ status: 'pending' })).toEqual([]);
        for (const n of w.nodes) {
          expect(n.syncer.state.parked(), n.name).toEqual([]);
          expect(
            n.db.prepare('SELECT a.ref, d.ref FROM alerts a JOIN detections d ON d.id = a.detection_id').raw().all(),
            n.name,
          ).toEqual([['a-site1', 'd-site1']]);
        }
        expect(await w.hub.query('SELECT id, ref FROM detections')).toEqual([{ id: '9', ref: 'd-site1' }]);
        expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
      }, 120_000);
});
