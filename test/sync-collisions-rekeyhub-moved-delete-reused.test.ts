/**
 * Operator trial 6 (2026-12-07, `rekey-hub`, seed 702, finding T6-R1): a node's delete of a copy,
 * carried along the hub's moves of that row, deleted another node's new row under the key the row
 * had been moved to.
 *
 * In the trial: site2's detection W went up under 6; site1 pulled it, then deleted it while its
 * sync could not reach the hub. Meanwhile site3's push moved W on the hub 6 → 43 and site2's
 * 43 → 61 (rekey-hub); site3 deleted W under 61 and wrote its own detection X, to which SQLite
 * handed 61 (hub log: I 61 (the move), D 61 site3, I 61 site3). Site1's catch-up push applied the
 * moves to its logged delete (D 6 → D 61) and sent it as a conflict against X that it won
 * (node-wins): X and its alert deleted everywhere. The delete is of W, already gone: nothing may
 * happen to X, under any policy (invariants 6 and 13). decide.ts `deletesAnotherRow`.
 *
 * Trial 802 (the last cases): the node that moved the new row had deleted W itself.
 *
 * Without the fix node-wins fails (one move and two moves); newest-wins and hub-wins are guards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, detection_id BIGINT NULL,
     CONSTRAINT fk_al_det FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['detections', 'alerts'];
const POLICIES = ['node-wins', 'newest-wins', 'hub-wins'] as const;

type Node = NonNullable<ReturnType<SyncWorld['node']>>;

/** W (site2's) under 1, pulled by site1, which then deletes it unpushed; site3's own 1 moves W 1 -> 2. */
async function deletedCopyMoved(w: SyncWorld): Promise<Node[]> {
  const nodes = ['site1', 'site2', 'site3', 'site4'].map((n) => w.node(n));
  const [s1, s2, s3] = nodes;
  if (!s1 || !s2 || !s3) throw new Error('nodes');
  s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'W')").run();
  await s2.syncer.syncOnce();
  await s1.syncer.syncOnce();
  expect(s1.db.prepare('SELECT ref FROM detections WHERE id = 1').pluck().get()).toBe('W');
  // Site1, cut off from the hub: deletes its copy of W (logged D 1, not pushed).
  s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
  // Site3's own row under 1: its push moves the hub's W 1 -> 2 (rekey-hub).
  s3.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'B')").run();
  await s3.syncer.syncOnce();
  expect(s3.db.prepare("SELECT id FROM detections WHERE ref = 'W'").pluck().get()).toBe(2n);
  return nodes as Node[];
}

/** Site3 deletes W under `key` and writes X, to which SQLite hands the freed key, with an alert. */
async function recreate(s3: Node, key: number): Promise<void> {
  s3.db.prepare('DELETE FROM detections WHERE id = ?').run(key);
  expect(Number(s3.db.prepare("INSERT INTO detections (ref) VALUES ('X')").run().lastInsertRowid)).toBe(key);
  s3.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'alert of X', ?)").run(key);
  await s3.syncer.syncOnce();
}

/** Site1 back (its delete of W carried along the moves), then all quiet: X and its alert everywhere, no conflict. */
async function site1Back(w: SyncWorld, nodes: Node[], first: 'push' | 'pull', kept: string[], xKey: number) {
  const [s1] = nodes as [Node];
  await s1.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
  await syncUntilQuiet(w.nodes, 8);
  expect(await w.hub.query('SELECT ref FROM detections ORDER BY ref')).toEqual(kept.map((ref) => ({ ref })));
  expect(await w.hub.query('SELECT ref, detection_id FROM alerts')).toEqual([{ ref: 'alert of X', detection_id: String(xKey) }]);
  for (const n of nodes) {
    // Not a conflict: the delete has nothing left to delete.
    expect(n.db.prepare("SELECT COUNT(*) FROM _dualdb_conflicts WHERE tbl = 'detections'").pluck().get()).toBe(0n);
    expect(n.db.prepare('SELECT ref FROM detections ORDER BY ref').pluck().all()).toEqual(kept);
    expect(n.db.prepare('SELECT ref FROM alerts').pluck().all()).toEqual(['alert of X']);
  }
  expect(await divergence(w, TABLES)).toEqual([]);
}

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a moved copy’s delete meets a re-created row (trial 6, T6-R1)', () => {
  const fx = syncWorlds({
    prefix: 't6r1',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['site1', 'site2', 'site3', 'site4'],
  });
  // Each test's world is closed after it (4 nodes' pools a world: all kept open, the hub refuses connections).
  let open: SyncWorld | undefined;
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });
  const world = async (policy: string): Promise<SyncWorld> => {
    open = await fx.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-hub' } });
    return open;
  };

  for (const policy of POLICIES)
    for (const first of ['push', 'pull'] as const) {
      it(`${policy}, site1's ${first} first, W moved once: X under W's key is kept`, async () => {
        const w = await world(policy);
        const nodes = await deletedCopyMoved(w);
        await recreate(nodes[2] as Node, 2);
        expect(await w.hub.query('SELECT id, ref FROM detections ORDER BY id')).toEqual([
          { id: '1', ref: 'B' },
          { id: '2', ref: 'X' },
        ]);
        await site1Back(w, nodes, first, ['B', 'X'], 2);
      }, 120_000);

      it(`${policy}, site1's ${first} first, W moved twice: X under W's last key is kept`, async () => {
        const w = await world(policy);
        const nodes = await deletedCopyMoved(w);
        const [, , s3, s4] = nodes as [Node, Node, Node, Node];
        // Site4's own row under 2: its push moves W on, 2 -> 3; site3 follows it there.
        s4.db.prepare("INSERT INTO detections (id, ref) VALUES (2, 'C')").run();
        await s4.syncer.syncOnce();
        await s3.syncer.syncOnce();
        expect(s3.db.prepare("SELECT id FROM detections WHERE ref = 'W'").pluck().get()).toBe(3n);
        await recreate(s3, 3);
        await site1Back(w, nodes, first, ['B', 'C', 'X'], 3);
      }, 120_000);

      // X itself moved on afterwards: site1's delete, carried along both moves (1 -> 2 -> 3), reaches
      // X's new key, under which the hub's only change is the move.
      // Needs the row's hub history across moves (src/sync/row-history.ts), pull.ts taking `hubRecreated` from it.
      it(`${policy}, site1's ${first} first, X moved on from W's key: X is kept`, async () => {
        const w = await world(policy);
        const nodes = await deletedCopyMoved(w);
        const [, , s3, s4] = nodes as [Node, Node, Node, Node];
        await recreate(s3, 2);
        s4.db.prepare("INSERT INTO detections (id, ref) VALUES (2, 'C')").run();
        await s4.syncer.syncOnce();
        expect(await w.hub.query("SELECT id FROM detections WHERE ref = 'X'")).toEqual([{ id: '3' }]);
        await site1Back(w, nodes, first, ['B', 'C', 'X'], 3);
      }, 120_000);
    }
  // Trial 6, 702 alerts 22 (no move): site1's own row, deleted on the hub by site2, its key taken by
  // site3's own row; site1, offline, updated its copy, then deleted it. Its change begins with the
  // update: it was weighed as a conflict against site3's row (pull, node-wins), then its delete sent.
  for (const policy of POLICIES)
    for (const first of ['push', 'pull'] as const)
      it(`${policy}, site1's ${first} first: an update, then a delete of a row the hub re-created leaves the new row`, async () => {
        const w = await world(policy);
        const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n)) as [Node, Node, Node];
        s1.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'A')").run();
        await s1.syncer.syncOnce();
        await s2.syncer.syncOnce();
        s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
        await s2.syncer.syncOnce();
        s3.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'X')").run();
        s3.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'alert of X', 1)").run();
        await s3.syncer.syncOnce();
        expect(await w.hub.query('SELECT id, ref FROM detections')).toEqual([{ id: '1', ref: 'X' }]);
        // Site1, cut off: updates its row A, then deletes it.
        s1.db.prepare("UPDATE detections SET ref = 'A2' WHERE id = 1").run();
        s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
        await site1Back(w, [s1, s2, s3], first, ['X'], 1);
      }, 120_000);
  // Operator trial 802 (seed 802, node-wins): the node that moved X off W's key had itself deleted W
  // there (hub: D 1 site3, I 1 site2 = X, site3's move 1 -> 2). The row's history skipped the mover's
  // own entries under the old key, its D too: "I by site2" alone read as the move's, and site1's
  // delete of W, carried to 2, deleted X (deletesMovedRow); pull first, site1's pull failed on a
  // FOREIGN KEY error. Only the mover's updates (re-pointing) are skipped now (row-history.ts).
  for (const policy of POLICIES)
    for (const [first, own] of [
      ['push', false],
      ['pull', false],
      ['push', true],
    ] as const)
      it(`${policy}, site1's ${first} first${own ? ', its own row under X’s new key' : ''}: site2's X, moved off the freed key by site3, is kept`, async () => {
        const w = await world(policy);
        const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n)) as [Node, Node, Node];
        s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'W')").run();
        await s2.syncer.syncOnce();
        await s1.syncer.syncOnce();
        await s3.syncer.syncOnce();
        // Site1, cut off: deletes W (D 1, not pushed).
        s1.db.prepare('DELETE FROM detections WHERE id = 1').run();
        // Site3 deletes W and pushes; SQLite hands it the freed 1 for its own B (not pushed yet).
        s3.db.prepare('DELETE FROM detections WHERE id = 1').run();
        await s3.syncer.syncOnce({ pull: false });
        s3.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'B')").run();
        // Site2 pulls the delete, writes X under 1 with an alert, pushes first.
        await s2.syncer.syncOnce();
        s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'X')").run();
        s2.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'alert of X', 1)").run();
        await s2.syncer.syncOnce();
        // Site3's push collides at 1: X moves 1 -> 2 on the hub (rekey-hub), B goes up under 1.
        await s3.syncer.syncOnce();
        expect(await w.hub.query('SELECT id, ref FROM detections ORDER BY id')).toEqual([
          { id: '1', ref: 'B' },
          { id: '2', ref: 'X' },
        ]);
        // As in the trial: site1's own row under X's new key keeps its copy unsettled, its delete parked.
        if (own) s1.db.prepare("INSERT INTO detections (id, ref) VALUES (2, 'S')").run();
        // There site1's push collides with X in turn and moves it 2 -> 3.
        await site1Back(w, w.nodes as Node[], first, own ? ['B', 'S', 'X'] : ['B', 'X'], own ? 3 : 2);
      }, 120_000);
});
