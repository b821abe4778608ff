/**
 * Operator trial 5 (`manual`, merged main, finding N2u): a node's update of a row whose id its
 * writer deleted and handed out again must never overwrite the new row (invariant 13).
 *
 * Site1 deleted worker 4 and wrote a new worker, to which SQLite handed out the freed 4 (hub: D 4,
 * I 4); site2, not pulled since, updated its copy of the old worker; its push met the hub's unseen
 * D then I as a conflict the node won (node-wins) and wrote the old row over the new one (lost with
 * its child everywhere). Two rows under one key: the node winning by the policy keeps both (a key
 * collision, settled by SYNC_KEY_COLLISIONS), the hub winning deletes the old one (the update is
 * the conflict's loser, recorded); the new row is never overwritten.
 *
 * Not so for a row the hub deleted and another node's update, winning over the delete, re-created
 * there: that is the same row again. The first fix (bb7c104) took it for two rows too; the manual
 * trial after it (seed 507) ended with held collisions that `rekeys resolve` refused, the two rows
 * being one (a duplicate of the same unique `ref`). Both rows' unique keys tell them apart.
 */
import { describe, expect, it } from 'vitest';
import type { ConflictPolicy, KeyCollisionMode } from '../src/config/schema.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
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

const POLICIES: ConflictPolicy[] = ['node-wins', 'newest-wins', 'hub-wins'];
const MODES: KeyCollisionMode[] = ['rekey-node', 'rekey-hub', 'manual'];
/** Two sites where the third is not needed: every world stays open until the file ends (the hub's max_connections). */
const TWO = ['site1', 'site2'];

/** Resolves every collision the nodes hold (manual) the given way; how many. */
async function resolveHeld(w: SyncWorld, side: 'node' | 'hub'): Promise<number> {
  let n = 0;
  for (const node of w.nodes)
    for (const r of node.syncer.rekeys.list({ status: 'held' })) {
      await resolveRekey(node.syncer, r.id, side);
      n++;
    }
  return n;
}

const detections = (w: SyncWorld) =>
  w.hub.query<{ ref: string; note: string | null }>('SELECT ref, note FROM detections ORDER BY ref');

describe.skipIf(!HUB_AVAILABLE)('an update of a row whose key its writer handed out again (operator trial 5, N2u)', () => {
  const fx = syncWorlds({ prefix: 'n2u', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2', 'site3'] });

  for (const mode of MODES)
    for (const policy of POLICIES)
      for (const first of ['push', 'pull'] as const)
        it(`${mode}, ${policy}, site2's ${first} first: site2's update of the old row never overwrites site1's new row`, async () => {
          const w = await fx.world({ nodes: TWO, env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: mode } });
          const s1 = w.node('site1');
          const s2 = w.node('site2');
          s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'old')").run();
          await s1.syncer.syncOnce();
          await s2.syncer.syncOnce();
          // Site1: the old row deleted, a new one (with a child) under the id SQLite hands out again.
          s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
          expect(Number(s1.db.prepare("INSERT INTO detections (ref) VALUES ('new')").run().lastInsertRowid)).toBe(1);
          s1.db.prepare("INSERT INTO alerts (detection_id, ref) VALUES (1, 'alert of new')").run();
          await s1.syncer.syncOnce();
          // Site2, not pulled since, updates its copy of the old row (the newer change).
          await new Promise((r) => setTimeout(r, 20));
          s2.db.prepare("UPDATE detections SET note = 'edited' WHERE id = 1").run();
          await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await syncUntilQuiet(w.nodes);
          const nodeWins = policy !== 'hub-wins';
          if (mode === 'manual') {
            expect(s2.syncer.rekeys.list({ status: 'held' }).map((r) => [r.tbl, r.oldKey])).toEqual(
              nodeWins ? [['detections', '1']] : [],
            );
            await resolveHeld(w, first === 'push' ? 'node' : 'hub');
            await syncUntilQuiet(w.nodes);
          }
          // The conflict with the hub's delete is recorded either way: site2's update lost (hub-wins),
          // or the delete undone by the update kept as a row of its own.
          expect(s2.syncer.state.conflicts().map((c) => [c.tbl, c.pk, c.winner])).toEqual([
            ['detections', '1', nodeWins ? 'node' : 'hub'],
          ]);
          const want = nodeWins
            ? [
                { ref: 'new', note: null },
                { ref: 'old', note: 'edited' },
              ]
            : [{ ref: 'new', note: null }];
          expect(await detections(w)).toEqual(want);
          expect(await w.hub.query('SELECT a.ref FROM alerts a JOIN detections d ON d.id = a.detection_id')).toEqual([
            { ref: 'alert of new' },
          ]);
          expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
          for (const n of w.nodes) expect(n.syncer.rekeys.list({ status: 'held' })).toEqual([]);
          await w.close(); // a world stays open until the file ends otherwise: the hub runs out of connections
        }, 60_000);

  // The reverted fix's trial (manual, seed 507): the hub's D then I under the key is the same row,
  // deleted by site1 and re-created by site3's update that won over the delete. Site2's update of
  // its copy is a conflict with site3's, settled by the policy — never a collision of the row with
  // itself (held under manual, which `rekeys resolve` could never settle: a duplicate `ref`).
  for (const mode of MODES)
    for (const policy of ['node-wins', 'newest-wins'] as const)
      for (const first of ['push', 'pull'] as const)
        it(`${mode}, ${policy}, site2's ${first} first: a row deleted and re-created by another node's update is one row`, async () => {
          const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: mode } });
          const [s1, s2, s3] = (['site1', 'site2', 'site3'] as const).map((n) => w.node(n));
          if (!s1 || !s2 || !s3) throw new Error('nodes');
          s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'w1')").run();
          for (const n of [s1, s2, s3]) await n.syncer.syncOnce();
          // Site1 deletes it (hub: D 1); site3, not pulled since, updates its copy later: its push
          // wins over the delete and re-creates the row (hub: I 1, the same row).
          s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
          await s1.syncer.syncOnce();
          await new Promise((r) => setTimeout(r, 20));
          s3.db.prepare("UPDATE detections SET note = 'by site3' WHERE id = 1").run();
          await s3.syncer.syncOnce({ pull: false });
          expect(await detections(w)).toEqual([{ ref: 'w1', note: 'by site3' }]);
          // Site2, not pulled since either, updates its copy last.
          await new Promise((r) => setTimeout(r, 20));
          s2.db.prepare("UPDATE detections SET note = 'by site2' WHERE id = 1").run();
          await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await syncUntilQuiet(w.nodes);

          for (const n of w.nodes) expect(n.syncer.rekeys.list({ status: 'held' })).toEqual([]);
          expect(await w.hub.query('SELECT id, ref, note FROM detections')).toEqual([{ id: '1', ref: 'w1', note: 'by site2' }]);
          // Site3's version, overwritten, is site2's conflict's loser.
          expect(s2.syncer.state.conflicts().map((c) => [c.tbl, c.pk, c.winner])).toEqual([['detections', '1', 'node']]);
          expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
          for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
          await w.close();
        }, 60_000);

  // Seed 508 after the change: the same row re-created twice. The hub deleted it; site2's update
  // won over the delete in its pull (its change now begins with an insert, pull.ts markRecreated);
  // site1's update won in its push and re-created the row first. Site2's push met site1's insert
  // as a collision of its own re-creation: the row held apart from itself, never resolvable.
  for (const mode of MODES)
    it(`${mode}, node-wins: two updates that each won over the hub's delete re-create one row`, async () => {
      const w = await fx.world({ nodes: TWO, env: { CONFLICT_POLICY: 'node-wins', SYNC_KEY_COLLISIONS: mode } });
      const [s1, s2] = (['site1', 'site2'] as const).map((n) => w.node(n));
      if (!s1 || !s2) throw new Error('nodes');
      s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'w1')").run();
      for (const n of [s1, s2]) await n.syncer.syncOnce();
      await w.hub.execute('DELETE FROM detections WHERE id = 1');
      s2.db.prepare("UPDATE detections SET note = 'by site2' WHERE id = 1").run();
      await s2.syncer.syncOnce({ push: false });
      s1.db.prepare("UPDATE detections SET note = 'by site1' WHERE id = 1").run();
      await s1.syncer.syncOnce({ pull: false });
      expect(await detections(w)).toEqual([{ ref: 'w1', note: 'by site1' }]);
      await s2.syncer.syncOnce({ pull: false });
      await syncUntilQuiet(w.nodes);

      for (const n of w.nodes) expect(n.syncer.rekeys.list({ status: 'held' })).toEqual([]);
      expect(await w.hub.query('SELECT id, ref, note FROM detections')).toEqual([{ id: '1', ref: 'w1', note: 'by site2' }]);
      expect(s2.syncer.state.conflicts().map((c) => [c.tbl, c.pk, c.detectedIn, c.winner])).toContainEqual([
        'detections',
        '1',
        'push',
        'node',
      ]);
      expect(await divergence(w, ['detections', 'alerts'])).toEqual([]);
      for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
      await w.close();
    }, 60_000);
});
