/**
 * docs/SYNC-CONTRACT.md invariant 13 with the hub down: the control room inserts before the hub
 * stops, the node keeps inserting (ids left to SQLite) while the hub is unreachable — more rows
 * than the hub's AUTO_INCREMENT has handed out, so the keys the hub's sequence offers for the
 * node's moved rows are keys the node already holds (SequenceBehindError, bumpHubSequence) —
 * and the control room inserts again after recovery. Afterwards every row exists once on both
 * sides and every child points at the worker it was written for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { divergence, makeWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_CRASHABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT NOT NULL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NOT NULL,
     CONSTRAINT fk_off_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_CRASHABLE)('invariant 13: collisions made while the hub is down', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-coloff-');
  beforeAll(async () => {
    testHub = await startSyncTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  for (const mode of ['rekey-node', 'rekey-hub'] as const) {
    it(`SYNC_KEY_COLLISIONS=${mode}: the node inserts offline past the hub's AUTO_INCREMENT; all rows kept`, async () => {
      const w = await makeWorld(testHub, tmp.dir, {
        prefix: 'coloff',
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['a'],
        env: { SYNC_KEY_COLLISIONS: mode },
      });
      try {
        const node = w.node('a');
        const badges: string[] = [];
        const insNode = (badge: string): void => {
          badges.push(badge);
          const id = node.db.prepare('INSERT INTO workers (badge) VALUES (?)').run(badge).lastInsertRowid;
          node.db.prepare('INSERT INTO attendance (worker_id, note) VALUES (?, ?)').run(id, `for ${badge}`);
        };
        const insHub = async (badge: string): Promise<void> => {
          badges.push(badge);
          const r = await w.hub.execute('INSERT INTO workers (badge) VALUES (?)', [badge]);
          await w.hub.execute('INSERT INTO attendance (worker_id, note) VALUES (?, ?)', [r.insertId, `for ${badge}`]);
        };
        for (let i = 0; i < 2; i++) insNode(`shared-${i}`);
        await syncUntilQuiet(w.nodes);
        // The control room before the stop: the node does not see these (ids 3-5).
        for (let i = 0; i < 3; i++) await insHub(`before-${i}`);
        await testHub.server?.stop();
        // Offline: 12 rows, ids 3-14 — past the hub's AUTO_INCREMENT (6).
        for (let i = 0; i < 12; i++) {
          insNode(`offline-${i}`);
          if (i % 4 === 3) await node.syncer.syncOnce().catch(() => undefined); // the hub is down: fails, loses nothing
        }
        await testHub.server?.restart();
        for (let i = 0; i < 2; i++) await insHub(`after-${i}`);
        await syncUntilQuiet(w.nodes, 10);

        expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
        const workers = await w.hub.query<{ badge: string }>('SELECT badge FROM workers ORDER BY badge');
        expect(workers.map((r) => r.badge)).toEqual([...badges].sort());
        const wrong = await w.hub.query<{ note: string }>(
          "SELECT a.note FROM attendance a JOIN workers w ON w.id = a.worker_id WHERE a.note <> CONCAT('for ', w.badge)",
        );
        expect(wrong).toEqual([]);
        const [att] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM attendance');
        expect(Number(att?.n)).toBe(badges.length);
        // ids 3-7 collided (3 control-room rows before the stop, 2 after); the keys the rows moved to
        // come from the hub's sequence moved past the node's offline keys (3-14), never one the node holds.
        const done = node.syncer.rekeys.list({ status: 'done' });
        for (const tbl of ['workers', 'attendance'])
          expect(
            done
              .filter((r) => r.tbl === tbl)
              .map((r) => r.oldKey)
              .sort(),
          ).toEqual(['3', '4', '5', '6', '7']);
        expect(done.filter((r) => Number(r.newKey) <= 14)).toEqual([]);
        expect(node.syncer.state.parked()).toEqual([]);
      } finally {
        if (testHub.server && !testHub.server.running) await testHub.server.restart().catch(() => {});
        await w.close();
      }
    }, 120_000);
  }
});
