/**
 * Operator trial, findings 2 and 3 (rekey-hub): two moves of one hub key in a row. Node a's row
 * 1 was moved on the hub to 2 (b took key 1), where a has its own new row: a's copy stays under
 * 1, unsettled. Then c took key 1 from b's row, moving that one to 3. a's copy under 1 is not b's
 * row: it must not follow that second move (its children would end up under b's row, for good).
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE, text TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id BIGINT NOT NULL, text VARCHAR(80) NOT NULL,
     CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a copy left unsettled under a key the hub moves again', () => {
  const fixture = syncWorlds({
    prefix: 'rhchain',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'node-wins' },
  });

  it('does not follow the move of another row under its key; every note keeps its item', async () => {
    const w = await fixture.world();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => w.node(n));
    if (!a || !b || !c) throw new Error('nodes');
    const push = (n: typeof a) => n.syncer.syncOnce({ pull: false });
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
    a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (100, 1, 'of a1')").run();
    await push(a);
    // a's own new row 2, not pushed yet: the hub's next key.
    a.db.prepare("INSERT INTO items (id, name) VALUES (2, 'a2')").run();
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
    await push(b); // a1 moves to 2 on the hub
    c.db.prepare("INSERT INTO items (id, name) VALUES (1, 'c1')").run();
    await push(c); // b1 moves to 3 on the hub
    await a.syncer.syncOnce({ push: false });
    // a's copy of a1 waits under 1 (its hub key 2 is a's own row here); it is not b1.
    expect(a.db.prepare('SELECT id FROM items WHERE name = ?').all('a1')).toEqual([{ id: 1n }]);
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items', 'notes'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    expect(names).toEqual(['a1', 'a2', 'b1', 'c1']);
    const note = await w.hub.query<{ name: string }>('SELECT i.name FROM notes n JOIN items i ON i.id = n.item_id');
    expect(note).toEqual([{ name: 'a1' }]);
  }, 120_000);
});
