/**
 * Under rekey-hub a row's hub history follows it across moves (docs/SYNC-CONTRACT.md invariants
 * 6 and 13): an edit of a node's copy is weighed against the hub's changes to that row under any
 * of its keys since the node last saw it, and a move is not a change of the row's values.
 *
 * N4 (operator trial 5): B's copy of W waited unsettled (B's own new row held W's new key); B
 * edited the copy; A updated W under its new key; B's push collided there, moved W on and settled
 * the copy with its edit, which went up under W's newest key, whose hub history held only B's own
 * move: A's newer update was overwritten, no conflict recorded.
 *
 * One writer (trial 5, "conflicts on rows only one writer touched"): a node's own row, moved on the
 * hub by another node's rekey-hub, then edited here before the node pulled the move's insert: the
 * insert was taken for the hub's change, a conflict, and hub-wins lost the acknowledged edit.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

/** A few milliseconds, so that newest-wins sees which edit came last (no timing is asserted). */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a row’s hub history follows it across moves', () => {
  const fixture = syncWorlds({
    prefix: 'rhhist',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
  });

  /** B's row W pushed under 1, then A's own row 1 pushed: the hub's W moves 1 -> 2 (B not told yet). */
  const movedByA = async (policy: string) => {
    const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'w')").run();
    await b.syncer.syncOnce();
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-own')").run();
    await a.syncer.syncOnce({ pull: false });
    return { w, a, b };
  };

  for (const policy of ['newest-wins', 'hub-wins', 'node-wins'] as const)
    it(`N4 (${policy}): A's update of W under its key before B's move is weighed against B's older edit of its settled copy`, async () => {
      const { w, a, b } = await movedByA(policy);
      // B, not knowing: its own new row under 2, and an edit of its copy of W (under 1).
      b.db.prepare("INSERT INTO items (id, name) VALUES (2, 'b-own')").run();
      b.db.prepare("UPDATE items SET name = 'w-by-b' WHERE id = 1").run();
      await tick();
      await a.syncer.syncOnce({ push: false });
      expect(a.db.prepare('SELECT name FROM items WHERE id = 2').get()).toEqual({ name: 'w' });
      a.db.prepare("UPDATE items SET name = 'w-by-a' WHERE id = 2").run(); // newer than B's edit
      await a.syncer.syncOnce({ pull: false });
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items'])).toEqual([]);
      const winner = policy === 'node-wins' ? 'w-by-b' : 'w-by-a';
      const loser = policy === 'node-wins' ? 'w-by-a' : 'w-by-b';
      const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
      expect(names).toEqual(['a-own', 'b-own', winner].sort());
      // The losing version is kept, with the winner's, in B's conflicts table.
      const conflicts = b.syncer.state.conflicts();
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]?.winner).toBe(policy === 'node-wins' ? 'node' : 'hub');
      expect([conflicts[0]?.nodeImage, conflicts[0]?.hubImage].join(' ')).toContain(loser);
      expect([conflicts[0]?.nodeImage, conflicts[0]?.hubImage].join(' ')).toContain(winner);
      expect(a.syncer.state.conflicts()).toEqual([]);
    }, 120_000);

  for (const policy of ['hub-wins', 'newest-wins', 'node-wins'] as const)
    for (const first of ['push', 'pull'] as const)
      it(`one writer (${policy}, ${first} first): B's edit of its own row, moved on the hub by A, goes through with no conflict`, async () => {
        const { w, b } = await movedByA(policy);
        await tick();
        // B learns the move (its copy of W goes to 2) but has not pulled the move's insert.
        b.db.prepare("INSERT INTO items (id, name) VALUES (10, 'b-other')").run();
        await b.syncer.syncOnce({ pull: false });
        expect(b.db.prepare('SELECT id FROM items WHERE name = ?').get('w')).toEqual({ id: 2n });
        b.db.prepare("UPDATE items SET name = 'w-edited' WHERE id = 2").run(); // B's own row, B the only writer
        await b.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
        await syncUntilQuiet(w.nodes, 8);
        expect(await divergence(w, ['items'])).toEqual([]);
        const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
        expect(names).toEqual(['a-own', 'b-other', 'w-edited']);
        for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
      }, 120_000);

  for (const policy of ['newest-wins', 'hub-wins'] as const)
    for (const first of ['push', 'pull'] as const)
      it(`C's update before A's move (${policy}, ${first} first): B's edit of its copy is weighed against it, not against the move`, async () => {
        const w = await fixture.world({
          nodes: ['a', 'b', 'c'],
          env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy },
        });
        const [a, b, c] = ['a', 'b', 'c'].map((n) => w.node(n));
        if (!a || !b || !c) throw new Error('nodes');
        b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'w')").run();
        await b.syncer.syncOnce();
        await c.syncer.syncOnce();
        c.db.prepare("UPDATE items SET name = 'w-by-c' WHERE id = 1").run();
        await c.syncer.syncOnce();
        await tick();
        b.db.prepare("UPDATE items SET name = 'w-by-b' WHERE id = 1").run(); // newer than C's
        await tick();
        a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-own')").run();
        await a.syncer.syncOnce({ pull: false }); // the hub's W (C's version) moves 1 -> 2
        await b.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
        await syncUntilQuiet(w.nodes, 8);
        expect(await divergence(w, ['items'])).toEqual([]);
        const winner = policy === 'hub-wins' ? 'w-by-c' : 'w-by-b';
        const loser = policy === 'hub-wins' ? 'w-by-b' : 'w-by-c';
        const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
        expect(names).toEqual(['a-own', winner]);
        const conflicts = b.syncer.state.conflicts();
        expect(conflicts).toHaveLength(1);
        expect(conflicts[0]?.winner).toBe(policy === 'hub-wins' ? 'hub' : 'node');
        expect([conflicts[0]?.nodeImage, conflicts[0]?.hubImage].join(' ')).toContain(loser);
      }, 120_000);

  // Operator trial after the N4 fix (seed 611, hub-wins): the mover's push moved the row's parent
  // first and re-pointed the hub's row to the parent's new key (an update with the mover's origin),
  // then moved the row itself. That update is the move's, not a change of the row.
  for (const change of ['update', 'delete'] as const)
    it(`one writer, hub-wins: B's ${change} of its own child, moved by A with its parent, goes through with no conflict`, async () => {
      const w = await fixture.world({
        sqliteDdl: [
          ...SQLITE_DDL,
          'CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE, text TEXT NOT NULL)',
        ],
        mysqlDdl: [
          ...MYSQL_DDL,
          `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id BIGINT NOT NULL, text VARCHAR(80) NOT NULL,
             CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
        ],
        env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'hub-wins' },
      });
      const [a, b] = ['a', 'b'].map((n) => w.node(n));
      if (!a || !b) throw new Error('nodes');
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
      b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'b-note')").run();
      await b.syncer.syncOnce();
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
      a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'a-note')").run();
      await a.syncer.syncOnce({ pull: false }); // B's item and note move 1 -> 2, the note re-pointed first
      await tick();
      if (change === 'update') b.db.prepare("UPDATE notes SET text = 'b-note-edited' WHERE id = 1").run();
      else b.db.prepare('DELETE FROM notes WHERE id = 1').run();
      await b.syncer.syncOnce({ pull: false });
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items', 'notes'])).toEqual([]);
      const notes = await w.hub.query<{ text: string; name: string }>(
        'SELECT n.text, i.name FROM notes n JOIN items i ON i.id = n.item_id ORDER BY n.text',
      );
      expect(notes).toEqual([
        { text: 'a-note', name: 'a-item' },
        ...(change === 'update' ? [{ text: 'b-note-edited', name: 'b-item' }] : []),
      ]);
      for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
    }, 120_000);
});
