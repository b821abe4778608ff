/**
 * Trial rekey-hub 2026-12-07T18:49 (seed 1402): a node's children of a row it kept against the
 * hub's delete as a row of its own (decide.ts `editsAnotherRow`: the hub deleted the row and
 * another row took the key) must come back with it. Site2 added attendance 595 to worker 113 and
 * pushed it; site1's delete of 113 won (hub: D 113, its ON DELETE CASCADE took 595 there, unlogged);
 * site3's new worker took the freed 113; site2's later update of 113 won as a collision, re-created
 * its worker on the hub (rekey-hub: site3's moved to 846) — but not attendance 595, which stayed on
 * site2 only. The re-key path never logged the children as recreated-children.ts does for a row
 * kept against a plain delete. (rekey-node passed already: the move there logs the children as
 * updates; so did `manual` resolved `--rekey node`. `manual` resolved `--rekey hub` lost it too.)
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, note TEXT)',
  `CREATE TABLE alerts (id INTEGER PRIMARY KEY, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE,
     ref TEXT NOT NULL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, note VARCHAR(40) NULL) ENGINE=InnoDB',
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, detection_id BIGINT NULL, ref VARCHAR(40) NOT NULL,
     CONSTRAINT fk_alert_detection FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('the children of a row kept against the hub delete as a row of its own', () => {
  const fx = syncWorlds({ prefix: 'keptapart', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2'] });

  for (const mode of ['rekey-hub', 'rekey-node', 'manual'] as KeyCollisionMode[])
    for (const first of ['push', 'pull'] as const)
      for (const side of mode === 'manual' ? (['hub', 'node'] as const) : (['-'] as const))
        it(`${mode}${side === '-' ? '' : ` --rekey ${side}`}, node-wins, site2's ${first} first: the child the hub's cascade removed comes back with its parent`, async () => {
          const w = await fx.world({ env: { CONFLICT_POLICY: 'node-wins', SYNC_KEY_COLLISIONS: mode } });
          const s1 = w.node('site1');
          const s2 = w.node('site2');
          s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'old')").run();
          await s1.syncer.syncOnce();
          await s2.syncer.syncOnce();
          // Site2's child of the row, on the hub.
          s2.db.prepare("INSERT INTO alerts (id, detection_id, ref) VALUES (10, 1, 'child of old')").run();
          await s2.syncer.syncOnce();
          expect(await w.hub.query('SELECT id, detection_id FROM alerts')).toEqual([{ id: '10', detection_id: '1' }]);
          // Site1 deletes the row (hub: D 1; the cascade takes alert 10 there, unlogged), then its
          // writer hands the freed id to a new row (hub: I 1, another row).
          s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
          expect(Number(s1.db.prepare("INSERT INTO detections (ref) VALUES ('new')").run().lastInsertRowid)).toBe(1);
          await s1.syncer.syncOnce({ pull: false });
          expect(await w.hub.query('SELECT id FROM alerts')).toEqual([]);
          // Site2, not pulled since, updates its copy: kept by the policy, a row of its own.
          s2.db.prepare("UPDATE detections SET note = 'edited' WHERE id = 1").run();
          await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await syncUntilQuiet(w.nodes);
          if (mode === 'manual') {
            // Held apart; resolved either way (--rekey hub keeps site2's row under the key).
            const held = s2.syncer.rekeys.list({ status: 'held' });
            expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['detections', '1']]);
            for (const r of held) await resolveRekey(s2.syncer, r.id, side === 'node' ? 'node' : 'hub');
            await syncUntilQuiet(w.nodes);
          }

          for (const n of w.nodes) expect(n.syncer.rekeys.list({ status: 'held' })).toEqual([]);
          expect(await w.hub.query('SELECT ref, note FROM detections ORDER BY ref')).toEqual([
            { ref: 'new', note: null },
            { ref: 'old', note: 'edited' },
          ]);
          // The child is back on the hub, under site2's row wherever its key ended.
          expect(await w.hub.query('SELECT a.id, d.ref FROM alerts a JOIN detections d ON d.id = a.detection_id')).toEqual([
            { id: '10', ref: 'old' },
          ]);
          expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
          for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
          await w.close();
        }, 60_000);
});
