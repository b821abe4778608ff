/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 4, R1: an acknowledged delete of a node's own
 * row, made just after its push collided, must reach every side.
 *
 * B's row 1 is on the hub, not pulled by A. A inserts its own row 1 (with a child) and pushes: a
 * collision. Under `rekey-hub` the hub's row moves away and A's row goes up under 1; A's
 * application then deletes its row. Before the fix, A's pull still saw B's insert of 1 as unseen
 * (A's own entries after it are skipped as echoes) while the hub's image at 1 was A's own row: the
 * delete was taken for the delete of "another row" (decide.ts `deletesAnotherRow`), dropped, and
 * the row written back here, with no conflict recorded; the push dropped it the same way. This
 * node's own insert under a key restarts that key's history (push-hub-read.ts, pull-read.ts).
 *
 * The same sequence under `rekey-node` (A's row moves to a new key) and `manual` (held apart, then
 * resolved either way; `--rekey hub` had the same hole, A's row staying under the key): A's row is
 * deleted everywhere too, B's row is kept once, with its child.
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { OWN_INSERTS_SCAN_PER_KEY } from '../src/sync/pull-read.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
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

/** Every side identical; the items' names and each note as `text → item name`, read on the hub. */
async function everywhere(w: SyncWorld): Promise<{ items: string[]; notes: string[] }> {
  expect(await divergence(w, ['items', 'notes'])).toEqual([]);
  const items = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
  const notes = (
    await w.hub.query<{ text: string; name: string }>(
      'SELECT n.text, i.name FROM notes n JOIN items i ON i.id = n.item_id ORDER BY n.text',
    )
  ).map((r) => `${r.text} → ${r.name}`);
  return { items, notes };
}

/** Resolves every held collision of the node, parents first. */
async function resolveHeld(n: TestNode, side: 'node' | 'hub'): Promise<void> {
  const held = n.syncer.rekeys
    .list({ status: 'held' })
    .sort((x, y) => (x.tbl === y.tbl ? x.id - y.id : x.tbl === 'items' ? -1 : 1));
  for (const r of held) await resolveRekey(n.syncer, r.id, side);
}

/** Each mode; `manual` resolved either way (`--rekey hub` leaves A's row under the key, as `rekey-hub`). */
const MODES: { mode: KeyCollisionMode; side?: 'node' | 'hub' }[] = [
  { mode: 'rekey-hub' },
  { mode: 'rekey-node' },
  { mode: 'manual', side: 'node' },
  { mode: 'manual', side: 'hub' },
];

describe.skipIf(!HUB_AVAILABLE)("a node's delete of its own row right after its push collided (trial 4, R1)", () => {
  const fixture = syncWorlds({ prefix: 'owndel', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a', 'b'] });

  for (const { mode, side } of MODES)
    for (const child of [false, true])
      for (const first of ['pull', 'push'] as const)
        it(`${mode}${side ? ` (resolved --rekey ${side})` : ''}${child ? ', with a child (ON DELETE CASCADE)' : ''}: A deletes its row, then ${first === 'pull' ? 'pulls' : 'pushes'} first; gone everywhere, B's row kept once`, async () => {
          const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: mode } });
          const a = w.node('a');
          const b = w.node('b');
          b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
          if (child) b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'of b1')").run();
          await b.syncer.syncOnce({ pull: false });
          a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
          if (child) a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'of a1')").run();
          await a.syncer.syncOnce({ pull: false }); // the collision(s), decided by this push
          if (side) await resolveHeld(a, side);
          // A's application deletes its own row (under whatever key it has now); its child goes with it.
          expect(a.db.prepare("DELETE FROM items WHERE name = 'a1'").run().changes).toBe(1);
          if (first === 'pull') {
            await a.syncer.syncOnce({ push: false });
            await a.syncer.syncOnce({ pull: false });
          } else {
            await a.syncer.syncOnce({ pull: false });
            await a.syncer.syncOnce({ push: false });
          }
          // A's row is gone on A at once, whatever order.
          expect(a.db.prepare("SELECT count(*) AS n FROM items WHERE name = 'a1'").get()).toEqual({ n: 0n });
          await syncUntilQuiet(w.nodes, 8);
          const got = await everywhere(w);
          expect(got.items).toEqual(['b1']);
          expect(got.notes).toEqual(child ? ['of b1 → b1'] : []);
          for (const n of w.nodes) {
            expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
            expect(n.syncer.state.conflicts()).toEqual([]);
          }
        }, 120_000);

  for (const first of ['pull', 'push'] as const)
    it(`rekey-hub: B's child under the key waited parked on A's pull (its parent one of two rows); A deletes its own child there, then ${first === 'pull' ? 'pulls' : 'pushes'} first`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub' } });
      const a = w.node('a');
      const b = w.node('b');
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
      b.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'of b1')").run();
      await b.syncer.syncOnce({ pull: false });
      await a.syncer.syncOnce({ push: false }); // b1 deferred (a collision); its note waits, parked
      expect(a.db.prepare("SELECT count(*) AS n FROM _dualdb_parked WHERE direction = 'pull'").get()).toEqual({ n: 1n });
      a.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (1, 1, 'of a1')").run();
      await a.syncer.syncOnce({ pull: false }); // both collisions: b1 and its note move on
      a.db.prepare('DELETE FROM notes WHERE id = 1').run();
      a.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0').run();
      await a.syncer.syncOnce(first === 'pull' ? { push: false } : { pull: false });
      expect(a.db.prepare("SELECT count(*) AS n FROM notes WHERE text = 'of a1'").get()).toEqual({ n: 0n });
      await syncUntilQuiet(w.nodes, 8);
      const got = await everywhere(w);
      expect(got.items).toEqual(['a1', 'b1']);
      expect(got.notes).toEqual(['of b1 → b1']);
      for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
    }, 120_000);

  it('rekey-hub, pull batches of one log entry: the insert of B and the insert of A under the key in different batches', async () => {
    const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', SYNC_BATCH_SIZE: '1' } });
    const a = w.node('a');
    const b = w.node('b');
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
    await b.syncer.syncOnce({ pull: false });
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
    await a.syncer.syncOnce({ pull: false });
    a.db.prepare("DELETE FROM items WHERE name = 'a1'").run();
    // One batch only: B's insert of 1 alone, A's own insert after it not read yet.
    await a.syncer.syncOnce({ push: false, maxBatches: 1 });
    expect(a.db.prepare("SELECT count(*) AS n FROM items WHERE name = 'a1'").get()).toEqual({ n: 0n });
    await syncUntilQuiet(w.nodes, 8);
    expect((await everywhere(w)).items).toEqual(['b1']);
    for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
  }, 120_000);

  // The own inserts past a full batch are read by one range scan of the log when the log past the
  // batch is short (above), by key when it is long (OWN_INSERTS_SCAN_PER_KEY): here, hub writes
  // after A's insert make it long, and the answer must be the same.
  it('rekey-hub, pull batches of one log entry, a long log after A’s own insert: the same', async () => {
    const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', SYNC_BATCH_SIZE: '1' } });
    const a = w.node('a');
    const b = w.node('b');
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
    await b.syncer.syncOnce({ pull: false });
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
    await a.syncer.syncOnce({ pull: false });
    const later = Number(OWN_INSERTS_SCAN_PER_KEY) * 3;
    for (let i = 0; i < later; i++) await w.hub.execute('INSERT INTO items (id, name) VALUES (?, ?)', [1000 + i, `hub${i}`]);
    a.db.prepare("DELETE FROM items WHERE name = 'a1'").run();
    await a.syncer.syncOnce({ push: false, maxBatches: 1 });
    expect(a.db.prepare("SELECT count(*) AS n FROM items WHERE name = 'a1'").get()).toEqual({ n: 0n });
    await syncUntilQuiet(w.nodes, 8);
    expect((await everywhere(w)).items).toEqual(['b1', ...Array.from({ length: later }, (_, i) => `hub${i}`)].sort());
    for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
  }, 120_000);
});
