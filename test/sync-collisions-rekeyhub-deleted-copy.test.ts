/**
 * Operator trial 3, finding B (rekey-hub): another node moved a node's own row on the hub (1 -> 2)
 * while the node deleted that row under its old key, not knowing of the move; the node's own new
 * row held the new key here, so its copy (gone) waited unsettled. The node's push then collided on
 * its own row under 2 and moved "the hub's row" (its own deleted row) to 3 — and wrote it back
 * here: the delete, renamed along, went up as a delete followed by an insert, and the acknowledged
 * delete was undone on every side. The delete follows the row: the moved row is deleted everywhere.
 */
import { describe, expect, it } from 'vitest';
import { divergence, hubLog, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE, text TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id BIGINT NOT NULL, text VARCHAR(80) NOT NULL,
     CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a node deletes its own row that another node moved on the hub', () => {
  const fixture = syncWorlds({
    prefix: 'rhdelcopy',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
  });

  for (const policy of ['newest-wins', 'hub-wins', 'node-wins'])
    it(`its own new row under the new key collides; the deleted row stays deleted everywhere (${policy})`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
      const [a, b] = ['a', 'b'].map((n) => w.node(n));
      if (!a || !b) throw new Error('nodes');
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
      a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (100, 1, 'of a1')").run();
      await a.syncer.syncOnce();
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
      await b.syncer.syncOnce({ pull: false }); // the hub's a1 moves 1 -> 2
      // a, not knowing: deletes a1 (its note goes with it) and creates a2 under 2.
      a.db.prepare('DELETE FROM items WHERE id = 1').run();
      a.db.prepare("INSERT INTO items (id, name) VALUES (2, 'a2')").run();
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items', 'notes'])).toEqual([]);
      const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
      expect(names).toEqual(['a2', 'b1']);
      expect(await w.hub.query('SELECT id FROM notes')).toEqual([]);
      // Never re-inserted on the hub after its delete.
      const log = await hubLog(w.hub, 'items');
      const deletes = log.filter((e) => e.op === 'D').map((e) => e.pk);
      for (const pk of deletes)
        expect(
          log.some((e) => e.op === 'I' && e.pk === pk && e.seq > (log.find((d) => d.op === 'D' && d.pk === pk)?.seq ?? 0n)),
        ).toBe(false);
      for (const n of w.nodes) expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
    }, 120_000);

  for (const policy of ['hub-wins', 'newest-wins'])
    it(`the new key free here: the delete follows the row there and deletes it on the hub (${policy})`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
      const [a, b] = ['a', 'b'].map((n) => w.node(n));
      if (!a || !b) throw new Error('nodes');
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
      await a.syncer.syncOnce();
      a.db.prepare('DELETE FROM items WHERE id = 1').run(); // before the move: the move is newer
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
      await b.syncer.syncOnce({ pull: false }); // the hub's a1 moves 1 -> 2
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items', 'notes'])).toEqual([]);
      const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
      expect(names).toEqual(['b1']);
    }, 120_000);
});
