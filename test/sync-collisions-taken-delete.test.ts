/**
 * Operator trial 5 (2026-12-06, `rekey-node`, finding N1): a delete of the hub's row that this
 * node's own push placed under a colliding key must reach the hub.
 *
 * Site1's attendance went up under 51 (moved there by its own collision); site2 then pushed its
 * own 51: a collision, site2's row moved to a fresh key and site1's row was written here under 51
 * (rekey-node.ts, the hub row's placement). The hub's insert of 51 stayed after site2's pull
 * cursor, unseen. Site2's application deleted 51 (site1's row, as it now saw it) before the pull
 * passed that insert: the push took the delete for one of another row (decide.ts
 * `deletesAnotherRow`: the hub's side begins with an insert the node has not seen), sent nothing,
 * and the pull wrote the row back here. The acknowledged delete was undone on every side, no
 * conflict recorded (3 rows in trial 5's rekey-node runs).
 * N1b, the same through a _take_: site2's own row under the key is gone again before its push, which
 * then writes the hub's row here with no rekey record (trial 5's rekey-hub run: a site's delete
 * never reached the hub, the site kept no row and the hub's children of it parked for good here).
 */
import { describe, expect, it } from 'vitest';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL) ENGINE=InnoDB'];

/**
 * Site1's row under 1 on the hub; site2's own row under the same id (deleted again when `taken`),
 * pushed before any pull: a collision; its row moves away (or is gone) and site1's is placed here
 * under 1, while the hub's insert of 1 is still unseen here.
 */
async function placeSite1Row(s1: TestNode, s2: TestNode, how: 'moved' | 'taken'): Promise<void> {
  s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'site1')").run();
  await s1.syncer.syncOnce();
  s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'site2')").run();
  if (how === 'taken') s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
  await s2.syncer.syncOnce({ pull: false });
}

describe.skipIf(!HUB_AVAILABLE)('a delete of the hub row a collision placed here (operator trial 5, N1)', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['site1', 'site2'] });

  for (const how of ['moved', 'taken'] as const)
    for (const policy of ['node-wins', 'hub-wins'] as const)
      for (const first of ['push', 'pull'] as const)
        it(`site2's row ${how === 'moved' ? 'moved away' : 'deleted before its push'}, ${policy}, site2's ${first} first after the delete: the row stays deleted everywhere`, async () => {
          const w = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-node' } });
          const s1 = w.node('site1');
          const s2 = w.node('site2');
          await placeSite1Row(s1, s2, how);
          expect(s2.db.prepare('SELECT ref FROM detections WHERE id = 1').pluck().get()).toBe('site1');

          // Site2's application deletes the row it sees under 1: site1's.
          s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
          await s2.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await syncUntilQuiet(w.nodes);

          const left = how === 'moved' ? ['site2'] : [];
          expect((await w.hub.query<{ ref: string }>('SELECT ref FROM detections')).map((r) => r.ref)).toEqual(left);
          for (const n of [s1, s2]) expect(n.db.prepare('SELECT ref FROM detections').pluck().all()).toEqual(left);
          expect(await divergence(w, ['detections'])).toEqual([]);
        }, 60_000);
  // Found by the trial of the fix above (rekey-node, app transactions on): the hub's writer inserted
  // under the key between the push's lookup of it (no row, nothing locked) and its read of the hub
  // log. The node's row moved away with no hub row to place, and its record's hub seq covered that
  // insert: taken for placed here, the hub's row was never pulled (the site one row short for good).
  it('a hub row inserted between the push’s lookup and its read of the hub log is still pulled', async () => {
    const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-node' } });
    const s1 = w.node('site1');
    s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'site1')").run();
    await pushWith(w, 'site1', /FROM _dualdb_changes FORCE INDEX/, async () => {
      await w.hub.execute("INSERT INTO detections (id, ref) VALUES (1, 'hub')");
    });
    await syncUntilQuiet(w.nodes);
    expect((await w.hub.query<{ ref: string }>('SELECT ref FROM detections ORDER BY ref')).map((r) => r.ref)).toEqual([
      'hub',
      'site1',
    ]);
    expect(s1.db.prepare('SELECT ref FROM detections ORDER BY ref').pluck().all()).toEqual(['hub', 'site1']);
    expect(await divergence(w, ['detections'])).toEqual([]);
  }, 60_000);

  // What N1 and N1b record matters only while the hub holds changes under the key this node has not
  // pulled: the prune path forgets it once the pull cursor (and its holes) are past it.
  const placedSeqs = (n: TestNode): { records: unknown[][]; taken: unknown[] } => ({
    records: n.db.prepare("SELECT old_key, status, hub_seq FROM _dualdb_rekeys WHERE status = 'done'").raw().all() as unknown[][],
    taken: n.db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = '_dualdb_taken'").pluck().get()
      ? n.db.prepare('SELECT pk FROM _dualdb_taken').pluck().all()
      : [],
  });
  for (const how of ['moved', 'taken'] as const)
    it(`${how}: its hub seq is kept until site2 pulled past it, then pruned; the record itself stays`, async () => {
      const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-node' } });
      const s2 = w.node('site2');
      await placeSite1Row(w.node('site1'), s2, how);
      const before = placedSeqs(s2);
      if (how === 'moved') {
        expect(before.records).toHaveLength(1);
        expect(before.records[0]?.[2]).not.toBeNull();
        expect(before.taken).toEqual([]);
      } else expect(before.taken).toEqual(['1']);
      // Not pulled past yet: the prune keeps them.
      await s2.syncer.pruneHubLog();
      expect(placedSeqs(s2)).toEqual(before);
      await s2.syncer.syncOnce({ push: false });
      await s2.syncer.pruneHubLog();
      const after = placedSeqs(s2);
      expect(after.taken).toEqual([]);
      expect(after.records).toEqual(before.records.map((r) => [r[0], r[1], null]));
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['detections'])).toEqual([]);
    }, 60_000);

  it('a hole below the placed row’s hub seq keeps it until the hole is filled', async () => {
    const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-node' } });
    const s1 = w.node('site1');
    const s2 = w.node('site2');
    // A hub transaction holds a log seq below everything that follows, open across site2's pull.
    const slow = await fx.testHub.admin(w.mysql.database);
    let before: ReturnType<typeof placedSeqs>;
    try {
      await slow.query('START TRANSACTION');
      await slow.query("INSERT INTO detections (id, ref) VALUES (5, 'slow')");
      s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'site1')").run();
      await s1.syncer.syncOnce();
      s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'site2')").run();
      await s2.syncer.syncOnce();
      expect(s2.syncer.state.pullState().holes.size).toBe(1);
      before = placedSeqs(s2);
      expect(before.records[0]?.[2]).not.toBeNull();
      await s2.syncer.pruneHubLog();
      expect(placedSeqs(s2)).toEqual(before);
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    await s2.syncer.syncOnce();
    expect(s2.syncer.state.pullState().holes.size).toBe(0);
    await s2.syncer.pruneHubLog();
    expect(placedSeqs(s2).records).toEqual(before.records.map((r) => [r[0], r[1], null]));
  }, 60_000);
});
