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
import { collideUnderRecreatedParents, MYSQL_DDL, NOTIFICATION_ALERTS, SQLITE_DDL, TABLES } from './helpers/recreated-parents.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

describe.skipIf(!HUB_AVAILABLE)(
  'a placed hub row whose parent key holds another row here (operator trial 5 on merged main)',
  () => {
    const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2'] });

    for (const policy of ['node-wins', 'hub-wins'] as const)
      it(`${policy}: site2's notification placed on site1 keeps its alert once site1 pulls the re-created parents`, async () => {
        const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-node' } });
        const s1 = w.node('site1');
        const s2 = w.node('site2');
        // Site1's own notification collides before it pulls: site2's is placed here while site1
        // still holds the old alert under 1.
        await collideUnderRecreatedParents(s1, s2);
        await syncUntilQuiet(w.nodes);

        const hubRows = await w.hub.query<{ ref: string; alert_id: string | null }>(
          'SELECT n.ref, a.ref AS alert FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.ref',
        );
        expect(hubRows.map((r) => [r.ref, (r as unknown as { alert: string | null }).alert])).toEqual([
          ['n-site1', null],
          ['n-site2', 'a-new'],
        ]);
        for (const n of [s1, s2])
          expect(n.db.prepare(NOTIFICATION_ALERTS).raw().all()).toEqual([
            ['n-site1', null],
            ['n-site2', 'a-new'],
          ]);
        expect(await divergence(w, TABLES)).toEqual([]);
      }, 60_000);
  },
);
