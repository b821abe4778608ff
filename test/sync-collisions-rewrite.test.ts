/**
 * docs/SYNC-CONTRACT.md invariant 13 with a hub that rewrites what it is sent: the rows a push
 * moves to new keys (SYNC_KEY_COLLISIONS=rekey-node, many at once: one multi-row INSERT …
 * RETURNING) are checked against what the hub stored, as written rows are, so the node pulls the
 * hub's version back instead of keeping its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { divergence, makeWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL, name TEXT)'];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL, name VARCHAR(80) NULL) ENGINE=InnoDB',
  // The hub's own rule: names are stored in capitals.
  'CREATE TRIGGER workers_upper BEFORE INSERT ON workers FOR EACH ROW SET NEW.name = UPPER(NEW.name)',
];
const ROWS = 6;

describe.skipIf(!HUB_AVAILABLE)('invariant 13: moved rows the hub rewrote come back to the node', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-collide-rewrite-');
  beforeAll(async () => {
    testHub = await startTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('rekey-node moves 6 colliding rows; the hub capitalises their names; the node ends with the hub’s values', async () => {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'colrw',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a'],
      env: { SYNC_KEY_COLLISIONS: 'rekey-node' },
    });
    try {
      const db = w.node('a').db;
      const ins = db.prepare('INSERT INTO workers (badge, name) VALUES (?, ?)');
      for (let i = 0; i < ROWS; i++) ins.run(`a-${i}`, `worker a ${i}`);
      for (let i = 0; i < ROWS; i++)
        await w.hub.execute('INSERT INTO workers (badge, name) VALUES (?, ?)', [`hub-${i}`, `worker hub ${i}`]);
      await syncUntilQuiet(w.nodes, 6);
      expect(w.node('a').syncer.rekeys.list({ status: 'done' }).length).toBe(ROWS);
      expect(await divergence(w, ['workers'])).toEqual([]);
      const names = db.prepare("SELECT name FROM workers WHERE badge LIKE 'a-%' ORDER BY badge").pluck().all();
      expect(names).toEqual(Array.from({ length: ROWS }, (_, i) => `WORKER A ${i}`));
    } finally {
      await w.close();
    }
  }, 120_000);
});
