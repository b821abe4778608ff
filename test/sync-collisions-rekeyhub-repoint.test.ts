/**
 * Under rekey-hub, another node's move of a parent re-points the hub's children of it
 * (rekey.ts `moveOnHub`: `UPDATE child SET fk = new`). That update changes no value of the child
 * but its parent's key, which every node's copy follows by the move itself (hub-moves.ts): it is
 * not a change of the child by anyone (docs/SYNC-CONTRACT.md invariants 6 and 13).
 *
 * Operator trials after the N4 fix (seed 611, hub-wins; seed 802, node-wins): logged as an update
 * with the mover's origin, the re-pointing was weighed as the hub's change of the child: a conflict
 * against its owner's own edit or delete, and under hub-wins it undid site1's acknowledged delete of
 * attendance 27 (pull first: the pull took the hub's row back; push first: the push lost to it).
 *
 * B owns item P (1) and its note C (5). A's own item 1 goes up: the hub's P moves 1 -> 2 and C
 * is re-pointed to 2. B, offline meanwhile, edits or deletes C. B's change stands everywhere, no
 * conflict anywhere, and C points at P's new key on every side.
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

/** A few milliseconds, so that B's change is newer than A's move under newest-wins (no timing is asserted). */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: the re-pointing of a child by its parent’s move is not a change of the child', () => {
  const fixture = syncWorlds({
    prefix: 'rhrepoint',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
  });

  for (const policy of ['hub-wins', 'node-wins', 'newest-wins'] as const)
    for (const change of ['update', 'delete'] as const)
      for (const first of ['push', 'pull'] as const)
        it(`${policy}, B's ${change} of its child, ${first} first: stands everywhere, no conflict, the child on its parent's new key`, async () => {
          const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
          const [a, b] = ['a', 'b'].map((n) => w.node(n));
          if (!a || !b) throw new Error('nodes');
          b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
          b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (5, 1, 'b-note')").run();
          await b.syncer.syncOnce();
          // A, not having pulled them, pushes its own item 1: the hub's P moves 1 -> 2, C re-pointed.
          a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
          await a.syncer.syncOnce({ pull: false });
          const repointed = await w.hub.query<{ id: unknown; item_id: unknown }>('SELECT id, item_id FROM notes');
          expect(repointed.map((r) => [String(r.id), String(r.item_id)])).toEqual([['5', '2']]);
          await tick();
          // B, offline: its own child, which only B writes.
          if (change === 'update') b.db.prepare("UPDATE notes SET text = 'b-note-edited' WHERE id = 5").run();
          else b.db.prepare('DELETE FROM notes WHERE id = 5').run();
          await b.syncer.syncOnce(first === 'push' ? { pull: false } : { push: false });
          await syncUntilQuiet(w.nodes, 8);
          expect(await divergence(w, ['items', 'notes'])).toEqual([]);
          const notes = await w.hub.query<{ id: number | string; text: string; name: string }>(
            'SELECT n.id, n.text, i.name FROM notes n JOIN items i ON i.id = n.item_id ORDER BY n.id',
          );
          expect(notes.map((r) => ({ id: Number(r.id), text: r.text, name: r.name }))).toEqual(
            change === 'update' ? [{ id: 5, text: 'b-note-edited', name: 'b-item' }] : [],
          );
          for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
        }, 120_000);

  /** B's item P (1) with its note C (5) on the hub; A's own item 1 moves P to 2, C re-pointed there. */
  const movedByA = async (policy: string) => {
    const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
    b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (5, 1, 'b-note')").run();
    await b.syncer.syncOnce();
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
    await a.syncer.syncOnce({ pull: false });
    return { w, a, b };
  };

  const notesOnHub = async (w: { hub: { query<T>(sql: string): Promise<T[]> } }) =>
    (
      await w.hub.query<{ id: number | string; text: string; name: string }>(
        'SELECT n.id, n.text, i.name FROM notes n JOIN items i ON i.id = n.item_id ORDER BY n.id',
      )
    ).map((r) => ({ id: Number(r.id), text: r.text, name: r.name }));

  // The re-pointing waits here, parked, for the parent: B's own new item took the parent's new key
  // (its copy of P unsettled under 1 until B's push places the hub's row). Parked, it was the hub's
  // change to B's push (hub time 0: hub-wins undid the delete) and to the pull's retry.
  for (const policy of ['hub-wins', 'node-wins', 'newest-wins'] as const)
    for (const change of ['update', 'delete'] as const)
      it(`${policy}, B's ${change} of its child while the re-pointing waits parked for the parent: stands everywhere, no conflict`, async () => {
        const { w, b } = await movedByA(policy);
        await tick();
        b.db.prepare("INSERT INTO items (id, name) VALUES (2, 'b-own')").run(); // the key P moved to, here B's own row
        if (change === 'update') b.db.prepare("UPDATE notes SET text = 'b-note-edited' WHERE id = 5").run();
        else b.db.prepare('DELETE FROM notes WHERE id = 5').run();
        await b.syncer.syncOnce({ push: false });
        expect(b.syncer.state.parked('pull').map((p) => [p.tbl, p.pk])).toContainEqual(['notes', '5']);
        await syncUntilQuiet(w.nodes, 10);
        expect(await divergence(w, ['items', 'notes'])).toEqual([]);
        expect(await notesOnHub(w)).toEqual(change === 'update' ? [{ id: 5, text: 'b-note-edited', name: 'b-item' }] : []);
        const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
        expect(names).toEqual(['a-item', 'b-item', 'b-own']);
        for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
      }, 120_000);

  // A real update of the child after the move is a change like any other: a conflict, by the policy.
  for (const policy of ['hub-wins', 'node-wins', 'newest-wins'] as const)
    it(`${policy}: A's own update of the re-pointed child is still a change (a conflict with B's)`, async () => {
      const { w, a, b } = await movedByA(policy);
      await a.syncer.syncOnce({ push: false });
      a.db.prepare("UPDATE notes SET text = 'a-edit' WHERE id = 5").run();
      await a.syncer.syncOnce({ pull: false });
      await tick();
      b.db.prepare("UPDATE notes SET text = 'b-edit' WHERE id = 5").run(); // newer than A's
      await b.syncer.syncOnce({ pull: false });
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items', 'notes'])).toEqual([]);
      const winner = policy === 'hub-wins' ? 'a-edit' : 'b-edit';
      expect(await notesOnHub(w)).toEqual([{ id: 5, text: winner, name: 'b-item' }]);
      const conflicts = b.syncer.state.conflicts();
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]?.winner).toBe(policy === 'hub-wins' ? 'hub' : 'node');
      expect(a.syncer.state.conflicts()).toEqual([]);
    }, 120_000);
});
