/**
 * Operator trial after the N4 fix (2026-12-07 02:16, seed 611, hub-wins; site1 never received
 * site3's alert 85 and its notification): a hub row this node never placed (its pull parked it)
 * was moved by another node onto a key this node's own new row held, so its "copy" waited,
 * unsettled, under a key that held nothing here. The hub's row was then deleted by a cascade
 * (unlogged) while this node's push ran, after the push had looked for gone copies: the node's own
 * row went up under the key as a plain insert, the hub's row under it was now the node's own, and
 * the empty copy waited for good — with it the pull of the key it named (another node's row).
 * A copy with no row and nothing logged here is no copy: nothing waits for it.
 */
import { describe, expect, it } from 'vitest';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE, text TEXT NOT NULL UNIQUE)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id BIGINT NOT NULL, text VARCHAR(80) NOT NULL UNIQUE,
     CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a moved hub row this node never placed', () => {
  const fixture = syncWorlds({
    prefix: 'rhempty',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'hub-wins' },
  });

  it('its empty copy waits for nothing: the key it named is pulled, every side agrees', async () => {
    const w = await fixture.world();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => w.node(n));
    if (!a || !b || !c) throw new Error('nodes');
    c.db.prepare("INSERT INTO items (id, name) VALUES (1, 'c-item')").run();
    c.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'dup')").run();
    await c.syncer.syncOnce();
    // a's own note with the same text: a's pull parks c's note (a's UNIQUE), a holds nothing under 1.
    a.db.prepare("INSERT INTO items (id, name) VALUES (50, 'a-item')").run();
    a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (50, 50, 'dup')").run();
    await a.syncer.syncOnce({ push: false });
    expect(a.db.prepare('SELECT id FROM notes ORDER BY id').all()).toEqual([{ id: 50n }]);
    // b's own note 1 collides with c's: c's note moves 1 -> 2 on the hub.
    b.db.prepare("INSERT INTO items (id, name) VALUES (2, 'b-item')").run();
    b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 2, 'b-note')").run();
    await b.syncer.syncOnce({ pull: false });
    // a's own new note under 2, not knowing; its push learns the move (the empty copy waits on 2),
    // then, before it reads the notes' hub rows, c's item is deleted on the hub (its note by cascade).
    a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (2, 50, 'a-note')").run();
    await pushWith(w, 'a', /FROM `notes` WHERE .* FOR UPDATE/, async () => {
      await w.hub.execute('DELETE FROM items WHERE id = 1');
    });
    // The application renames its duplicate; everything settles.
    a.db.prepare("UPDATE notes SET text = 'a-dup' WHERE id = 50").run();
    a.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0').run();
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items', 'notes'])).toEqual([]);
    const notes = (await w.hub.query<{ text: string }>('SELECT text FROM notes ORDER BY text')).map((r) => r.text);
    expect(notes).toEqual(['a-dup', 'a-note', 'b-note']);
    for (const n of w.nodes)
      expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').get()).toEqual({ n: 0n });
  }, 120_000);
});
