/**
 * Operator trial 3, P2 (rekey-hub): a node's own row came back from the hub as another origin's
 * new row and collided with itself. Site3's worker 17 (pushed) was moved 17→93 by site1; site3's
 * own new row 93, never pushed, held the key, so the copy of 17 waited (unsettled, hub-moves.ts).
 * The application then deleted its row 93 (still unpushed); at the next move learned, the copy
 * settled into the freed 93 and its unpushed update joined the dead row's logged insert/delete
 * there: the change read "insert first" (a new row of this node) against the hub's unseen insert
 * of 93 (the move) — a collision with itself. rekey-hub kept "both": the same worker twice (on the
 * trial, ER_DUP_ENTRY on a unique badge and the row parked for good with its children).
 *
 * The trial's first guess, a re-sent insert (its COMMIT reply lost when the hub was killed) renamed
 * by the move, is the second case: it holds (the reconcile before any move drops what the hub has).
 */
import { describe, expect, it } from 'vitest';
import { pushBatch } from '../src/sync/push.js';
import { RekeyStore } from '../src/sync/rekey-store.js';
import { loseHubCommit } from './helpers/lost-commit.js';
import { divergence, localLog, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a node recognises its own row moved into a key its dead row used', () => {
  const fixture = syncWorlds({
    prefix: 'rhself',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'node-wins' },
    planTtlMs: 600_000,
  });

  /** The trial's case; `anotherMove`: the copy settles at the next move learned (else the push takes the freed key). */
  async function deadRowKey(anotherMove: boolean) {
    const w = await fixture.world();
    const [a, c] = [w.node('a'), w.node('c')];
    const hubKeyOf = async (name: string) =>
      (await w.hub.query<{ id: string }>('SELECT id FROM items WHERE name = ?', [name]))[0]?.id ?? '';
    c.db.prepare("INSERT INTO items (id, name) VALUES (1, 'c-one'), (2, 'c-two')").run();
    await c.syncer.syncOnce({ pull: false });
    // a's own row 1 collides with c's: a's push moves c's row on the hub (an R entry).
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-one')").run();
    await a.syncer.syncOnce({ pull: false });
    const moved = await hubKeyOf('c-one');
    expect(moved).not.toBe('1');
    // c, before it learns the move: a new row of its own under that very key, and an edit of its row 1.
    c.db.prepare("INSERT INTO items (id, name) VALUES (?, 'c-temp')").run(BigInt(moved));
    c.db.prepare("UPDATE items SET name = 'c-one-renamed' WHERE id = 1").run();
    // c learns the move by a pull: the copy of 1 cannot move (its own row holds the key): it waits.
    await c.syncer.syncOnce({ push: false });
    expect(c.db.prepare('SELECT name FROM items WHERE id = 1').get()).toEqual({ name: 'c-one-renamed' });
    // The application deletes its new row before any push; another move then reaches c (a's row 2).
    c.db.prepare('DELETE FROM items WHERE id = ?').run(BigInt(moved));
    if (anotherMove) {
      a.db.prepare("INSERT INTO items (id, name) VALUES (2, 'a-two')").run();
      await a.syncer.syncOnce({ pull: false });
    }
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    // c's row once, with its edit (node-wins: the move is no edit of it); never twice.
    expect(names).toEqual(anotherMove ? ['a-one', 'a-two', 'c-one-renamed', 'c-two'] : ['a-one', 'c-one-renamed', 'c-two']);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
    // c never saw its own row as a collision: no re-key of it (the trial's records #430/#431). Its
    // edit against the hub's insert of the move is what an edit of a moved row always is (at most
    // a conflict c wins), as when the copy moves straight away.
    expect(new RekeyStore(c.db).list().filter((r) => r.oldKey === moved || r.newKey === moved)).toEqual([]);
    for (const x of c.syncer.state.conflicts()) expect(x.winner).toBe('node');
  }

  it('the copy settling into the key of a deleted unpushed row is not sent as a new row', () => deadRowKey(true), 120_000);

  it(
    'the copy the push settles into a freed key keeps its edit (the hub image does not overwrite it)',
    () => deadRowKey(false),
    120_000,
  );

  it('an insert whose COMMIT reply was lost, then moved by another node, is not sent again as a new row', async () => {
    const w = await fixture.world();
    const [a, c] = [w.node('a'), w.node('c')];
    c.db.prepare("INSERT INTO items (id, name) VALUES (1, 'c-one')").run();
    // The hub commits c's push; its reply is lost.
    const lost = await loseHubCommit(c.syncer, { server: 'commit' });
    await expect(c.syncer.withContext((ctx) => pushBatch(ctx))).rejects.toThrow();
    lost.restore();
    expect(lost.lost).toBe(1);
    expect(await w.hub.query('SELECT id, name FROM items')).toEqual([{ id: '1', name: 'c-one' }]);
    // c does not know: its insert is still in its log, as after the hub's SIGKILL on the trial.
    expect(localLog(c.db, 'items').map((e) => `${e.op} ${e.pk}`)).toEqual(['I 1']);
    // a's own row 1 moves c's on the hub, before c knows its push committed.
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-one')").run();
    await a.syncer.syncOnce({ pull: false });
    const moved = (await w.hub.query<{ id: string }>("SELECT id FROM items WHERE name = 'c-one'"))[0]?.id ?? '';
    expect(moved).not.toBe('1');
    c.db.prepare("UPDATE items SET name = 'c-one-renamed' WHERE id = 1").run();
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    expect(names).toEqual(['a-one', 'c-one-renamed']);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
    expect(new RekeyStore(c.db).list().filter((r) => r.oldKey === moved || r.newKey === moved)).toEqual([]);
  }, 120_000);
});
