/**
 * Operator trial of 2026-12-07 (seed 1102, manual, node-wins): a conflict on a row one writer
 * alone ever touched. Site3 held a copy of the hub writer's alert 3, which site2 then updated and
 * deleted on the hub. Site3 deleted its copy too and SQLite handed the freed key 3 to a new alert
 * of site3's own: its pull parked the hub's change of key 3 ("waits for this node's push: the key
 * was deleted and handed out again here", pull.ts), and its push decided it (push-reused.ts: the
 * old row's delete against the hub's change, then the new row sent under the key). The parked
 * change stayed parked: when site3 then deleted its new row, the pull's retry and the push both
 * weighed that delete against the old row's changes — a conflict, which hub-wins decides against
 * the delete (the new row back, an acknowledged delete undone; an update of it, lost).
 *
 * Once the push has decided the re-used key's delete against the hub's change, the parked change
 * is settled: the node's later changes of its new row are no conflict with it.
 */
import { describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE alerts (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, note TEXT)'];
const MYSQL_DDL = [
  'CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, note VARCHAR(40) NULL) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('a hub change parked for a re-used key, once the push decided it (trial seed 1102)', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site3'] });

  for (const mode of ['rekey-node', 'manual'] as const)
    for (const policy of ['hub-wins', 'node-wins'] as const)
      for (const hubChange of ['update', 'update-delete'] as const)
        for (const then of ['delete', 'update'] as const)
          it(`${mode}, ${policy}, the hub's ${hubChange} of the old row: the new row's ${then} stands, no conflict`, async () => {
            const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: mode } });
            const s3 = w.node('site3');
            // The hub writer's alert, copied to site3.
            await w.hub.execute("INSERT INTO alerts (id, ref) VALUES (3, 'hub-old')");
            await s3.syncer.syncOnce();
            expect(s3.db.prepare('SELECT ref FROM alerts').pluck().all()).toEqual(['hub-old']);
            // Another writer updates (and deletes) it on the hub; site3, not pulled since, deletes
            // its copy and its application gets the freed key 3 for a new alert.
            await w.hub.execute("UPDATE alerts SET note = 'seen' WHERE id = 3");
            if (hubChange === 'update-delete') await w.hub.execute('DELETE FROM alerts WHERE id = 3');
            s3.db.prepare('DELETE FROM alerts WHERE id = 3').run();
            s3.db.prepare("INSERT INTO alerts (id, ref) VALUES (3, 's3-new')").run(); // SQLite's max + 1 with more rows
            await s3.syncer.syncOnce({ push: false });
            expect(s3.syncer.state.parked('pull').map((p) => [p.tbl, p.pk])).toEqual([['alerts', '3']]);
            await s3.syncer.syncOnce({ pull: false });
            const decided = s3.syncer.state.conflicts().length; // the old row's delete against the hub's update
            // The hub's row kept against that delete (hub-wins): the new row collides with it; held
            // apart under manual, the operator moves the new row.
            for (const h of s3.syncer.rekeys.list({ status: 'held', limit: 10 })) await resolveRekey(s3.syncer, h.id, 'node');
            // The new row is site3's alone: its delete or update is no conflict with anything.
            if (then === 'delete') s3.db.prepare("DELETE FROM alerts WHERE ref = 's3-new'").run();
            else s3.db.prepare("UPDATE alerts SET note = 's3-edit' WHERE ref = 's3-new'").run();
            await syncUntilQuiet(w.nodes);
            expect(await divergence(w, ['alerts'])).toEqual([]);
            const rows = await w.hub.query<{ ref: string; note: string | null }>('SELECT ref, note FROM alerts ORDER BY ref');
            const hubOldKept = hubChange === 'update' && policy === 'hub-wins';
            expect(rows.filter((r) => r.ref === 's3-new')).toEqual(then === 'delete' ? [] : [{ ref: 's3-new', note: 's3-edit' }]);
            expect(rows.filter((r) => r.ref === 'hub-old')).toEqual(hubOldKept ? [{ ref: 'hub-old', note: 'seen' }] : []);
            expect(s3.syncer.state.conflicts()).toHaveLength(decided);
            expect(s3.syncer.state.parked('pull')).toEqual([]);
          }, 60_000);
});
