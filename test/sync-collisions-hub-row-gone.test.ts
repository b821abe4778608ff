/**
 * docs/SYNC-CONTRACT.md invariants 6 and 13. The hub inserts a row under a generated key and deletes
 * it again before a node, which never had that row, pushes its own independent insert under the same
 * key (operator tryout 2026-12-08: `conflicts` showed "workers pk 1, push, node-wins", the hub image
 * null). The hub's delete was of the hub's own row, not of the node's: whatever the policy, the
 * node's acknowledged insert must survive on every side.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE, name TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(80) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('the hub inserted and deleted a key a node then inserted on its own', () => {
  const worlds = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, prefix: 'hubgone', nodes: ['A'] });

  async function expectOnlyTheNodeRow(w: Awaited<ReturnType<typeof worlds.world>>): Promise<void> {
    expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    const workers = await w.hub.query<{ badge: string }>('SELECT badge FROM workers');
    expect(workers.map((x) => x.badge)).toEqual(['A-1']);
    const att = await w.hub.query<{ note: string; badge: string }>(
      'SELECT a.note, w.badge FROM attendance a JOIN workers w ON w.id = a.worker_id',
    );
    expect(att).toEqual([{ note: 'for A-1', badge: 'A-1' }]);
  }

  for (const policy of ['hub-wins', 'node-wins', 'newest-wins', 'manual'])
    for (const mode of ['rekey-node', 'rekey-hub', 'manual'])
      it(`${policy}, ${mode}: the node's insert and its child survive on both sides`, async () => {
        const w = await worlds.world({ env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: mode } });
        const A = w.node('A');
        await A.syncer.syncOnce();
        const r = await w.hub.execute("INSERT INTO workers (badge, name) VALUES ('hub-1', 'central')");
        await w.hub.execute('INSERT INTO attendance (worker_id, note) VALUES (?, ?)', [r.insertId, 'for hub-1']);
        await w.hub.execute('DELETE FROM workers WHERE id = ?', [r.insertId]);
        const id = A.db.prepare("INSERT INTO workers (badge, name) VALUES ('A-1', 'site')").run().lastInsertRowid;
        A.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (?, 'for A-1')").run(id);
        expect(String(id)).toBe(String(r.insertId)); // the same generated key on both sides
        await syncUntilQuiet([A]);
        await expectOnlyTheNodeRow(w);
      });

  // The EPI app's models: INTEGER PRIMARY KEY without AUTOINCREMENT, so SQLite hands out a key
  // again once the largest row is gone: here the hub's row the node had pulled, then its delete.
  for (const policy of ['hub-wins', 'node-wins', 'newest-wins'])
    it(`${policy}: a key SQLite reuses after pulling the hub's insert and delete of it is a plain insert`, async () => {
      const w = await worlds.world({
        env: { CONFLICT_POLICY: policy },
        sqliteDdl: SQLITE_DDL.map((d) => d.replace(' AUTOINCREMENT', '')),
      });
      const A = w.node('A');
      await A.syncer.syncOnce();
      const r = await w.hub.execute("INSERT INTO workers (badge, name) VALUES ('hub-1', 'central')");
      await A.syncer.syncOnce();
      await w.hub.execute('DELETE FROM workers WHERE id = ?', [r.insertId]);
      await A.syncer.syncOnce();
      const id = A.db.prepare("INSERT INTO workers (badge, name) VALUES ('A-1', 'site')").run().lastInsertRowid;
      A.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (?, 'for A-1')").run(id);
      expect(String(id)).toBe(String(r.insertId));
      await syncUntilQuiet([A]);
      await expectOnlyTheNodeRow(w);
    });
});
