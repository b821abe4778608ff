/**
 * The node that moves a hub parent (rekey-hub push, or `rekeys resolve --rekey hub`) holds an
 * unpushed edit of a child the move re-points on the hub (rekey.ts `repointChildren`, logged `P`).
 *
 * How a mover comes to hold such a child: A pulled B's item P (1) and its note C (5). X's own item 1
 * went up under rekey-hub: the hub's P moved 1 -> 2, C re-pointed. A's application had meanwhile
 * taken key 2 for an item of its own (unpushed): A's copy of P cannot follow to 2 and stays
 * unsettled under 1 (hub-moves.ts), C with it; A's application edits C. A's push of its item 2
 * then collides with the hub's P: A moves P again (rekey-hub), or holds it and resolves --rekey hub
 * (manual, re-pointing logged without A's origin). Neither re-pointing is a change of C: A's edit
 * stands, no conflict. A real edit of C on the hub (the control room) is a change like any other:
 * a conflict, decided by the policy. Either way C ends on P everywhere (invariants 6 and 13).
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import type { Syncer } from '../src/sync/syncer.js';
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

const NOTES = 'SELECT n.id, n.text, i.name FROM notes n JOIN items i ON i.id = n.item_id ORDER BY n.id';
type Note = { id: number; text: string; name: string };
const asNotes = (rows: { id: unknown; text: string; name: string }[]): Note[] =>
  rows.map((r) => ({ id: Number(r.id), text: r.text, name: r.name }));
const hubNotes = async (hub: MysqlHub) => asNotes(await hub.query(NOTES));
const nodeNotes = (s: Syncer) => asNotes(s.db.prepare(NOTES).all() as { id: unknown; text: string; name: string }[]);

/** A few milliseconds, so that the later edit is newer (no timing is asserted). */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe.skipIf(!HUB_AVAILABLE)('the mover’s own edit of a child its move re-points on the hub', () => {
  const fixture = syncWorlds({ prefix: 'rkrepedit', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  for (const how of ['push', 'resolve'] as const)
    for (const policy of ['hub-wins', 'node-wins'] as const)
      for (const hubEdit of how === 'push' ? (['none', 'before'] as const) : (['none', 'before', 'after'] as const))
        it(`${how === 'push' ? 'rekey-hub push' : 'manual, resolve --rekey hub'}, ${policy}: ${hubEdit === 'none' ? 'the node’s edit stands, no conflict' : `the control room edits the child too (${hubEdit} the move): a conflict by the policy`}`, async () => {
          const w = await fixture.world({
            nodes: ['a', 'b', 'x'],
            env: { CONFLICT_POLICY: policy, SYNC_KEY_COLLISIONS: 'rekey-hub' },
            nodeEnv: { a: { SYNC_KEY_COLLISIONS: how === 'push' ? 'rekey-hub' : 'manual' } },
          });
          const [a, b, x] = ['a', 'b', 'x'].map((n) => w.node(n));
          if (!a || !b || !x) throw new Error('nodes');
          b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
          b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (5, 1, 'b-note')").run();
          await b.syncer.syncOnce();
          await a.syncer.syncOnce();
          expect(nodeNotes(a.syncer)).toEqual([{ id: 5, text: 'b-note', name: 'b-item' }]);
          // X's own item 1 goes up: the hub's P moves 1 -> 2, C re-pointed there.
          x.db.prepare("INSERT INTO items (id, name) VALUES (1, 'x-item')").run();
          await x.syncer.syncOnce({ pull: false });
          // A, not having pulled that: its application takes key 2 and edits C.
          a.db.prepare("INSERT INTO items (id, name) VALUES (2, 'a-item')").run();
          await tick();
          a.db.prepare("UPDATE notes SET text = 'a-edit' WHERE id = 5").run();
          const controlRoomEdit = async () => {
            await tick();
            await w.hub.execute("UPDATE notes SET text = 'hub-edit' WHERE id = 5");
          };
          if (hubEdit === 'before') await controlRoomEdit();
          // A's push: its item 2 collides with the hub's P, now under 2.
          await a.syncer.syncOnce();
          if (how === 'resolve') {
            const held = a.syncer.rekeys.list({ status: 'held', limit: 10 });
            expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['items', '2']]);
            await resolveRekey(a.syncer, held[0]?.id as number, 'hub');
            // A's edit still waits here (parked with the unsettled copy until the move): sent after this.
            if (hubEdit === 'after') await controlRoomEdit();
          }
          await syncUntilQuiet(w.nodes, 10);
          // Both moves re-pointed C on the hub: X's, then A's (without A's origin when resolved).
          const repoints = await w.hub.query<{ origin: string | null }>(
            "SELECT origin FROM _dualdb_changes WHERE tbl = 'notes' AND pk = '5' AND op = 'P' ORDER BY seq",
          );
          expect(repoints.map((r) => r.origin)).toEqual(['x', how === 'push' ? 'a' : null]);
          expect(await divergence(w, ['items', 'notes'])).toEqual([]);
          const text = hubEdit !== 'none' && policy === 'hub-wins' ? 'hub-edit' : 'a-edit';
          for (const notes of [await hubNotes(w.hub), nodeNotes(a.syncer), nodeNotes(b.syncer), nodeNotes(x.syncer)])
            expect(notes).toEqual([{ id: 5, text, name: 'b-item' }]);
          const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
          expect(names).toEqual(['a-item', 'b-item', 'x-item']);
          const conflicts = a.syncer.state.conflicts().map((c) => [c.tbl, c.pk, c.winner]);
          expect(conflicts).toEqual(hubEdit !== 'none' ? [['notes', '5', policy === 'hub-wins' ? 'hub' : 'node']] : []);
          for (const n of [b, x]) expect(n.syncer.state.conflicts()).toEqual([]);
        }, 120_000);
});
