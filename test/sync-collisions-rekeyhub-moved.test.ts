/**
 * Operator trial, finding 1 (rekey-hub): a node's new row pushed onto a hub key whose row another
 * node's rekey-hub move replaced in place is a key collision, not a conflict. The move logs the
 * key as updated ('U'), but for every node that has not pulled it the row under that key is a
 * different, new row; decided as a conflict, node-wins overwrote it (the other writer's row lost).
 *
 * a's own move put c's row under key 2 on the hub (a holds a copy); b then pushes its own new row
 * 2, moving c's row on to 3 and taking key 2 in place; a follows that move (its copy goes to 3)
 * and writes a new row under the freed key 2 before pulling b's row. Four rows, kept everywhere.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a key another node took in place holds a new row', () => {
  const fixture = syncWorlds({
    prefix: 'rhmoved',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'node-wins' },
  });

  it('a new row pushed onto it is a collision (both kept), not a node-wins conflict', async () => {
    const w = await fixture.world();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => w.node(n));
    if (!a || !b || !c) throw new Error('nodes');
    const push = (n: typeof a) => n.syncer.syncOnce({ pull: false });
    c.db.prepare("INSERT INTO items (id, name) VALUES (1, 'c-first')").run();
    await push(c);
    // a's own row 1 collides with c's: c's row moves to the hub's next key (2), a holds a copy there.
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-first')").run();
    await push(a);
    expect(a.db.prepare('SELECT name FROM items WHERE id = 2').get()).toEqual({ name: 'c-first' });
    // b's own new row 2 collides with the row a moved there: that row moves on (3), b's takes 2 in place.
    b.db.prepare("INSERT INTO items (id, name) VALUES (2, 'b-second')").run();
    await push(b);
    expect(await w.hub.query('SELECT id, name FROM items ORDER BY id')).toEqual([
      { id: '1', name: 'a-first' },
      { id: '2', name: 'b-second' },
      { id: '3', name: 'c-first' },
    ]);
    // a follows b's move (its copy goes to 3) on its next push, then writes a new row under the freed 2.
    a.db.prepare("INSERT INTO items (id, name) VALUES (10, 'a-other')").run();
    await push(a);
    expect(a.db.prepare('SELECT id FROM items WHERE name = ?').get('c-first')).toEqual({ id: 3n });
    a.db.prepare("INSERT INTO items (id, name) VALUES (2, 'a-second')").run();
    await push(a);
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    expect(names).toEqual(['a-first', 'a-other', 'a-second', 'b-second', 'c-first']);
    expect(w.nodes.flatMap((n) => n.syncer.state.conflicts())).toEqual([]);
  }, 120_000);
});
