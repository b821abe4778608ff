/**
 * Invariant 7 of docs/SYNC-CONTRACT.md (order; foreign keys never break the apply). Parent and
 * child tables with a foreign key ON DELETE CASCADE on both sides; parents and
 * children inserted, re-parented and deleted within one batch and across
 * batches (SYNC_BATCH_SIZE=3), in both directions: no foreign-key failure,
 * nothing parked, every side identical. Also changes to one row arrive in commit
 * order (the last write wins everywhere, whatever the batch boundaries).
 */
import { describe, expect, it } from 'vitest';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  `CREATE TABLE cameras (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE, label TEXT)`,
  `CREATE TABLE detections (id INTEGER PRIMARY KEY, camera_id INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE, score REAL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE sites (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE cameras (id BIGINT PRIMARY KEY, site_id BIGINT NOT NULL, label VARCHAR(50) NULL,
     CONSTRAINT fk_cam_site FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  `CREATE TABLE detections (id BIGINT PRIMARY KEY, camera_id BIGINT NOT NULL, score DOUBLE NULL,
     CONSTRAINT fk_det_cam FOREIGN KEY (camera_id) REFERENCES cameras (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['sites', 'cameras', 'detections'];

/** The same story of parents and children, written as SQL both engines accept. */
const STORY: string[][] = [
  // 1. one transaction: parents, then children, then grandchildren
  [
    "INSERT INTO sites (id, name) VALUES (1, 'north'), (2, 'south'), (3, 'east')",
    "INSERT INTO cameras (id, site_id, label) VALUES (10, 1, 'gate'), (11, 1, 'dock'), (20, 2, 'yard'), (30, 3, 'roof')",
    'INSERT INTO detections (id, camera_id, score) VALUES (100, 10, 0.5), (101, 10, 0.6), (110, 11, 0.7), (200, 20, 0.8), (300, 30, 0.9)',
  ],
  // 2. inserted and deleted in the same batch: a parent with children that never needs to exist remotely
  [
    "INSERT INTO sites (id, name) VALUES (4, 'temp')",
    "INSERT INTO cameras (id, site_id, label) VALUES (40, 4, 'temp cam')",
    'INSERT INTO detections (id, camera_id, score) VALUES (400, 40, 0.1)',
    'DELETE FROM sites WHERE id = 4',
  ],
  // 3. re-parent a camera to a new site, then delete the old site (cascade takes its other children)
  [
    "INSERT INTO sites (id, name) VALUES (5, 'west')",
    'UPDATE cameras SET site_id = 5 WHERE id = 11',
    'DELETE FROM sites WHERE id = 1',
  ],
  // 4. a child whose parent is deleted and re-created with the same key
  [
    'DELETE FROM sites WHERE id = 3',
    "INSERT INTO sites (id, name) VALUES (3, 'east again')",
    "INSERT INTO cameras (id, site_id, label) VALUES (31, 3, 'new roof')",
    'INSERT INTO detections (id, camera_id, score) VALUES (310, 31, 0.3)',
  ],
  // 5. many small steps on one row (commit order must be kept), and a last delete of a whole subtree
  [
    "UPDATE cameras SET label = 'v1' WHERE id = 20",
    "UPDATE cameras SET label = 'v2' WHERE id = 20",
    "UPDATE cameras SET label = 'v3' WHERE id = 20",
    'DELETE FROM detections WHERE id = 200',
    'INSERT INTO detections (id, camera_id, score) VALUES (201, 20, 0.25)',
    "INSERT INTO sites (id, name) VALUES (6, 'short-lived')",
    "INSERT INTO cameras (id, site_id, label) VALUES (60, 6, 'x'), (61, 6, 'y')",
    'INSERT INTO detections (id, camera_id, score) VALUES (600, 60, 1), (610, 61, 1)',
    'DELETE FROM sites WHERE id = 6',
  ],
];

describe.skipIf(!HUB_AVAILABLE)('order and foreign keys', () => {
  const worlds = syncWorlds({ prefix: 'fk', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
  const world = (batch: string) => worlds.world({ env: { SYNC_BATCH_SIZE: batch } });

  function expectNothingParked(w: SyncWorld) {
    for (const n of w.nodes) expect(n.syncer.state.parked(), `parked on ${n.name}`).toEqual([]);
  }

  const FINAL_SITES = [
    { id: 2n, name: 'south' },
    { id: 3n, name: 'east again' },
    { id: 5n, name: 'west' },
  ];

  for (const batch of ['3', '2000']) {
    it(`node → hub → node, batch size ${batch}: steps synced one by one`, async () => {
      const w = await world(batch);
      const A = w.node('A');
      for (const step of STORY) {
        A.db.transaction(() => {
          for (const sql of step) A.db.prepare(sql).run();
        })();
        const r = await A.syncer.syncOnce();
        expect(r.push.parked).toBe(0);
        await w.node('B').syncer.syncOnce();
        expectNothingParked(w);
        expect(await divergence(w, TABLES)).toEqual([]);
      }
      expect(w.node('B').db.prepare('SELECT id, name FROM sites ORDER BY id').all()).toEqual(FINAL_SITES);
      expect(w.node('B').db.prepare('SELECT label FROM cameras WHERE id = 20').get()).toEqual({ label: 'v3' });
    });

    it(`node → hub → node, batch size ${batch}: the whole story in one push`, async () => {
      const w = await world(batch);
      const A = w.node('A');
      for (const step of STORY) {
        A.db.transaction(() => {
          for (const sql of step) A.db.prepare(sql).run();
        })();
      }
      await syncUntilQuiet(w.nodes);
      expectNothingParked(w);
      expect(await divergence(w, TABLES)).toEqual([]);
      expect(w.node('B').db.prepare('SELECT id, name FROM sites ORDER BY id').all()).toEqual(FINAL_SITES);
    });

    it(`hub → nodes, batch size ${batch}: central writes with MySQL's silent cascades`, async () => {
      const w = await world(batch);
      for (const [i, step] of STORY.entries()) {
        await w.hub.transaction(async (conn) => {
          for (const sql of step) await conn.query(sql);
        });
        // Half the steps are pulled one by one, the rest accumulate into one pull.
        if (i % 2 === 0) {
          await w.node('A').syncer.syncOnce();
          expectNothingParked(w);
        }
      }
      await syncUntilQuiet(w.nodes);
      expectNothingParked(w);
      expect(await divergence(w, TABLES)).toEqual([]);
      expect(w.node('A').db.prepare('SELECT id, name FROM sites ORDER BY id').all()).toEqual(FINAL_SITES);
      expect(w.node('A').db.prepare('SELECT id FROM detections ORDER BY id').all()).toEqual([
        { id: 110n },
        { id: 201n },
        { id: 310n },
      ]);
    });
  }

  it('both directions at once: the node builds one subtree while the hub builds and prunes another', async () => {
    const w = await world('3');
    const A = w.node('A');
    A.db.transaction(() => {
      A.db.prepare("INSERT INTO sites VALUES (1, 'node site')").run();
      A.db.prepare("INSERT INTO cameras VALUES (10, 1, 'n1'), (11, 1, 'n2')").run();
      A.db.prepare('INSERT INTO detections VALUES (100, 10, 0.1), (110, 11, 0.2)').run();
    })();
    await w.hub.transaction(async (conn) => {
      await conn.query("INSERT INTO sites VALUES (2, 'hub site'), (3, 'hub doomed')");
      await conn.query("INSERT INTO cameras VALUES (20, 2, 'h1'), (30, 3, 'h2')");
      await conn.query('INSERT INTO detections VALUES (200, 20, 0.3), (300, 30, 0.4)');
    });
    await w.hub.execute('DELETE FROM sites WHERE id = 3');
    A.db.prepare('DELETE FROM cameras WHERE id = 11').run();
    await syncUntilQuiet(w.nodes);
    expectNothingParked(w);
    expect(await divergence(w, TABLES)).toEqual([]);
    expect(w.node('B').db.prepare('SELECT id FROM detections ORDER BY id').all()).toEqual([{ id: 100n }, { id: 200n }]);
  });
});
