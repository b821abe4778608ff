/**
 * docs/SYNC-CONTRACT.md invariant 13: independent creations never overwrite each other. Two
 * nodes and the hub insert workers with ids left to the database (so all three hand out the
 * same ids), each with an attendance row pointing at its worker, before any sync. Afterwards
 * every worker exists exactly once on all three sides and every attendance row still points
 * at the worker it was written for — under each SYNC_KEY_COLLISIONS mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, makeWorld, type SyncWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE, name TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
  'CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(80) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  'CREATE TABLE tags (code VARCHAR(40) PRIMARY KEY, label VARCHAR(80) NULL) ENGINE=InnoDB',
];
const TABLES = ['workers', 'attendance', 'tags'];
const PER_SIDE = 25;

function insertLocal(w: SyncWorld, node: string): void {
  const db = w.node(node).db;
  const ins = db.prepare('INSERT INTO workers (badge, name) VALUES (?, ?)');
  const att = db.prepare('INSERT INTO attendance (worker_id, note) VALUES (?, ?)');
  for (let i = 0; i < PER_SIDE; i++) {
    const badge = `${node}-${i}`;
    const id = ins.run(badge, `worker ${badge}`).lastInsertRowid;
    att.run(id, `for ${badge}`);
  }
}

async function insertCentral(w: SyncWorld): Promise<void> {
  for (let i = 0; i < PER_SIDE; i++) {
    const badge = `hub-${i}`;
    const r = await w.hub.execute('INSERT INTO workers (badge, name) VALUES (?, ?)', [badge, `worker ${badge}`]);
    await w.hub.execute('INSERT INTO attendance (worker_id, note) VALUES (?, ?)', [r.insertId, `for ${badge}`]);
  }
}

/** Every worker once, every attendance row pointing at the worker it was written for, on every side. */
async function expectAllKept(w: SyncWorld): Promise<void> {
  expect(await divergence(w, TABLES)).toEqual([]);
  const workers = await w.hub.query<{ badge: string }>('SELECT badge FROM workers ORDER BY badge');
  expect(workers.length).toBe(3 * PER_SIDE);
  const wrong = await w.hub.query<{ note: string; badge: string }>(
    "SELECT a.note, w.badge FROM attendance a JOIN workers w ON w.id = a.worker_id WHERE a.note <> CONCAT('for ', w.badge)",
  );
  expect(wrong).toEqual([]);
  const [att] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM attendance');
  expect(Number(att?.n)).toBe(3 * PER_SIDE);
}

describe.skipIf(!HUB_AVAILABLE)('invariant 13: independent creations under one generated key are two rows', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-collide-');
  beforeAll(async () => {
    testHub = await startTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  for (const mode of ['rekey-node', 'rekey-hub'] as const) {
    it(`SYNC_KEY_COLLISIONS=${mode}: 2 nodes + the hub insert 25 workers each with children; all 75 kept everywhere`, async () => {
      const w = await makeWorld(testHub, tmp.dir, {
        prefix: 'col',
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['a', 'b'],
        env: { SYNC_KEY_COLLISIONS: mode },
      });
      try {
        insertLocal(w, 'a');
        insertLocal(w, 'b');
        await insertCentral(w);
        const events: unknown[] = [];
        for (const n of w.nodes) n.syncer.on('rekey', (e) => events.push(e));
        await syncUntilQuiet(w.nodes, 8);
        await expectAllKept(w);
        // Node a collided with the hub's 25, node b with the hub's and a's: every move recorded and emitted.
        const recorded = w.nodes.flatMap((n) => n.syncer.rekeys.list({ status: 'done' }));
        expect(recorded.length).toBe(events.length);
        expect(recorded.length).toBeGreaterThanOrEqual(2 * PER_SIDE);
        expect(recorded.every((r) => r.moved === (mode === 'rekey-node' ? 'node' : 'hub'))).toBe(true);
        // No conflicts: these were never the same row.
        expect(w.nodes.flatMap((n) => n.syncer.state.conflicts())).toEqual([]);
      } finally {
        await w.close();
      }
    }, 120_000);
  }

  it('SYNC_KEY_COLLISIONS=manual: the node rows are held apart (nothing overwritten) until `rekeys resolve`', async () => {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'colm',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a', 'b'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    try {
      insertLocal(w, 'a');
      insertLocal(w, 'b');
      await insertCentral(w);
      await syncUntilQuiet(w.nodes, 8);
      // Held: the hub keeps its own 25 rows untouched, each node keeps its own.
      const hubBadges = await w.hub.query<{ badge: string }>("SELECT badge FROM workers WHERE badge LIKE 'hub-%'");
      expect(hubBadges.length).toBe(PER_SIDE);
      for (const n of ['a', 'b']) {
        const mine = w.node(n).db.prepare('SELECT count(*) AS c FROM workers WHERE badge LIKE ?').get(`${n}-%`) as { c: bigint };
        expect(Number(mine.c)).toBe(PER_SIDE);
      }
      const held = w.nodes.flatMap((n) => n.syncer.rekeys.list({ status: 'held' }).map((r) => ({ n, r })));
      expect(held.length).toBeGreaterThanOrEqual(PER_SIDE);
      // Resolve them, parents before children (a child's resolution waits for its parent's),
      // half by moving the node's row, half by moving the hub's; later syncs may find more.
      let i = 0;
      for (let round = 0; round < 6; round++) {
        const open = w.nodes
          .flatMap((n) => n.syncer.rekeys.list({ status: 'held' }).map((r) => ({ n, r })))
          .sort((x, y) => (x.r.tbl === y.r.tbl ? x.r.id - y.r.id : x.r.tbl === 'workers' ? -1 : 1));
        if (open.length === 0) break;
        for (const { n, r } of open) {
          try {
            const moved = await resolveRekey(n.syncer, r.id, i++ % 2 === 0 ? 'node' : 'hub');
            expect(moved?.oldKey).toBe(r.oldKey);
          } catch (e) {
            if ((e as { code?: string }).code !== 'REKEY_PARENT_HELD') throw e;
          }
        }
        await syncUntilQuiet(w.nodes, 8);
      }
      expect(w.nodes.flatMap((n) => n.syncer.rekeys.list({ status: 'held' }))).toEqual([]);
      await expectAllKept(w);
    } finally {
      await w.close();
    }
  }, 120_000);

  it('natural keys: two independent inserts of the same text key are one entity (a conflict with its policy)', async () => {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'coln',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a'],
      env: { CONFLICT_POLICY: 'hub-wins' },
    });
    try {
      w.node('a').db.prepare("INSERT INTO tags (code, label) VALUES ('ppe', 'node label')").run();
      await w.hub.execute("INSERT INTO tags (code, label) VALUES ('ppe', 'hub label')");
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, TABLES)).toEqual([]);
      const conflicts = w.node('a').syncer.state.conflicts();
      expect(conflicts.map((c) => [c.tbl, c.pk, c.winner])).toEqual([['tags', 'ppe', 'hub']]);
      expect(w.node('a').syncer.rekeys.list()).toEqual([]);
    } finally {
      await w.close();
    }
  }, 60_000);

  it('a row created and deleted on the node never deletes the hub’s different row under the same id', async () => {
    const w = await makeWorld(testHub, tmp.dir, { prefix: 'cold', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a'] });
    try {
      const db = w.node('a').db;
      const id = db.prepare("INSERT INTO workers (badge) VALUES ('temp')").run().lastInsertRowid;
      db.prepare('DELETE FROM workers WHERE id = ?').run(id);
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (?, 'central')", [String(id)]);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, TABLES)).toEqual([]);
      const rows = await w.hub.query<{ badge: string }>('SELECT badge FROM workers');
      expect(rows.map((r) => r.badge)).toEqual(['central']);
    } finally {
      await w.close();
    }
  }, 60_000);
});
