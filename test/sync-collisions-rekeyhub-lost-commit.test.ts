/**
 * Operator trial re-run of seed 1103 (2026-12-07, rekey-hub, hub-wins; the hub SIGKILLed at
 * 12:27:48.6, during site3's push that moved site1's worker 378 -> 457).
 *
 * A push that moves the hub's row (rekey-hub) writes its node half — the hub's row placed here
 * under the new key — in the SQLite transaction it runs just before the hub COMMIT (push.ts: the
 * node's records go first). When the COMMIT is lost, the hub still holds the row under the old
 * key and nothing under the new one, yet this node held a plain copy of it under the new key. The
 * next push collided on the old key again, moved the row to another new key and placed it a second
 * time here (the trial: five workers kept twice on site3, ER_DUP_ENTRY / UNIQUE failures on their
 * `ref`, their attendance parked for good, 15 problems; with no unique column, a doubled row).
 * Until the COMMIT is known, the placement is an unsettled copy of the hub's row under the old key
 * (push-record.ts markPlacedUnsettled): the next collision settles it into the new key, edits along.
 *
 * The node's record of that move (`_dualdb_rekeys`) read "done" with the new key the hub never
 * had, beside the record of the move that did happen: it reads `unconfirmed` until the COMMIT is
 * known, and goes when the next collision settles the copy (that one's record tells the move).
 * `db.on('rekey')` and `dualdb rekeys` tell only the move that happened; a COMMIT that went through
 * although its answer was lost is confirmed (done) and announced by the next push.
 */
import { describe, expect, it } from 'vitest';
import type { PoolConnection } from '../src/engines/mysql/connect.js';
import type { RekeyEvent } from '../src/sync/rekey.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { envOf, runCli } from './helpers/cli.js';
import { loseHubCommit } from './helpers/lost-commit.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB'];

/** The COMMIT to lose: one whose transaction moves a row on the hub (an R entry in its log). */
const moveInIt = async (conn: PoolConnection) =>
  ((await conn.query("SELECT 1 FROM _dualdb_changes WHERE op = 'R' LIMIT 1"))[0] as unknown[]).length > 0;

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a push that moved the hub’s row loses its hub COMMIT (known bug)', () => {
  const fixture = syncWorlds({
    prefix: 'rhlostcommit',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
  });

  for (const edit of [false, true])
    it(`the next push moves the row again${edit ? ' (the copy edited here meanwhile)' : ''}: every row once on every side, nothing parked`, async () => {
      const w = await fixture.world();
      const [a, b] = ['a', 'b'].map((n) => w.node(n));
      if (!a || !b) throw new Error('nodes');
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
      await b.syncer.syncOnce();
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
      // a's push moves the hub's b-item 1 -> 2 and places it here; its hub COMMIT is lost (rolled back).
      const lost = await loseHubCommit(a.syncer, { server: 'rollback', when: moveInIt });
      const events: RekeyEvent[] = [];
      a.syncer.on('rekey', (e: RekeyEvent) => events.push(e));
      await a.syncer.syncOnce({ pull: false }).catch(() => {});
      lost.restore();
      expect(lost.lost).toBe(1);
      expect(await w.hub.query('SELECT id, name FROM items ORDER BY id')).toEqual([{ id: '1', name: 'b-item' }]);
      // The move the hub never had is not told as done, nor announced.
      const moves = () => a.syncer.rekeys.list().map((r) => [r.oldKey, r.newKey, r.moved, r.status]);
      expect(moves()).toEqual([['1', '2', 'hub', 'unconfirmed']]);
      expect(events).toEqual([]);
      // The application edits the copy placed here (under the key the hub never gave it).
      if (edit) a.db.prepare("UPDATE items SET name = 'b-item-edited' WHERE name = 'b-item'").run();
      await syncUntilQuiet(w.nodes, 8).catch(() => {});
      expect(await divergence(w, ['items'])).toEqual([]);
      for (const n of w.nodes) {
        expect(n.db.prepare('SELECT name FROM items ORDER BY name').pluck().all()).toEqual([
          'a-item',
          edit ? 'b-item-edited' : 'b-item',
        ]);
        expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
      }
      // The record and the event tell the move that happened, once: the hub's row 1 -> its key now.
      const [moved] = (await w.hub.query<{ id: string }>("SELECT id FROM items WHERE name LIKE 'b-item%'")).map((r) => r.id);
      expect(moves()).toEqual([['1', moved, 'hub', 'done']]);
      expect(events.map((e) => [e.oldKey, e.newKey, e.moved])).toEqual([['1', moved, 'hub']]);
      const listed = JSON.parse(runCli(['rekeys', '--json'], envOf(a.config)).stdout) as { newKey: string; status: string }[];
      expect(listed.map((r) => [r.newKey, r.status])).toEqual([[moved, 'done']]);
    }, 120_000);

  for (const first of ['push', 'pull'] as const)
    it(`the COMMIT went through, its answer lost, the copy then edited here: done and announced once by the next ${first}, the edit on every side`, async () => {
      const w = await fixture.world();
      const [a, b] = ['a', 'b'].map((n) => w.node(n));
      if (!a || !b) throw new Error('nodes');
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
      await b.syncer.syncOnce();
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
      const lost = await loseHubCommit(a.syncer, { server: 'commit', when: moveInIt });
      const events: RekeyEvent[] = [];
      a.syncer.on('rekey', (e: RekeyEvent) => events.push(e));
      await a.syncer.syncOnce({ pull: false }).catch(() => {});
      lost.restore();
      expect(lost.lost).toBe(1);
      const moves = () => a.syncer.rekeys.list().map((r) => [r.oldKey, r.newKey, r.moved, r.status]);
      expect(moves()).toEqual([['1', '2', 'hub', 'unconfirmed']]);
      // The application edits the moved row under the key the hub did give it.
      a.db.prepare("UPDATE items SET name = 'b-item-edited' WHERE id = 2").run();
      // The next sync step learns the COMMIT went through (the push token is the hub's).
      if (first === 'push') await a.syncer.syncOnce({ pull: false });
      else await a.syncer.syncOnce({ push: false });
      expect(moves()).toEqual([['1', '2', 'hub', 'done']]);
      expect(events.map((e) => [e.oldKey, e.newKey, e.moved])).toEqual([['1', '2', 'hub']]);
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items'])).toEqual([]);
      for (const n of w.nodes) {
        expect(n.db.prepare('SELECT id, name FROM items ORDER BY id').raw().all(), n.name).toEqual([
          [1n, 'a-item'],
          [2n, 'b-item-edited'],
        ]);
        expect(n.syncer.state.parked(), n.name).toEqual([]);
      }
      expect(moves()).toEqual([['1', '2', 'hub', 'done']]);
      expect(events).toHaveLength(1);
      expect(a.db.prepare('SELECT count(*) FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').pluck().get()).toBe(0n);
    }, 120_000);

  it('the COMMIT went through, its answer lost, the copy edited: `rekeys resolve` of another collision confirms it first, announced once', async () => {
    const w = await fixture.world();
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    const mode = (m: 'manual' | 'rekey-hub') => {
      (a.syncer.config.sync as { keyCollisions: string }).keyCollisions = m;
    };
    // a's push connection (kept between pushes) loses the answer of the COMMIT that moves a row, once armed.
    const lost = await loseHubCommit(a.syncer, { server: 'commit', armed: false, when: moveInIt });
    // 1. Under manual, a's own item 1 is held against b's.
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item'), (5, 'b-five')").run();
    await b.syncer.syncOnce();
    mode('manual');
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
    await a.syncer.syncOnce({ pull: false });
    const [held] = a.syncer.rekeys.list({ status: 'held' });
    expect([held?.oldKey]).toEqual(['1']);
    // 2. Under rekey-hub, a's item 5 moves the hub's b-five 5 -> 6; the COMMIT goes through, its answer is lost.
    mode('rekey-hub');
    a.db.prepare("INSERT INTO items (id, name) VALUES (5, 'a-five')").run();
    const events: RekeyEvent[] = [];
    a.syncer.on('rekey', (e: RekeyEvent) => events.push(e));
    lost.armed = true;
    await a.syncer.syncOnce({ pull: false }).catch(() => {});
    expect(lost.lost).toBe(1);
    lost.restore();
    const record = () => a.syncer.rekeys.list().find((r) => r.oldKey === '5');
    expect([record()?.newKey, record()?.status]).toEqual(['6', 'unconfirmed']);
    expect(events).toEqual([]);
    // 3. The application edits the moved row; then the operator resolves the held one (no sync between).
    a.db.prepare("UPDATE items SET name = 'b-five-edited' WHERE id = 6").run();
    mode('manual');
    await resolveRekey(a.syncer, held?.id as number, 'node');
    expect([record()?.newKey, record()?.status]).toEqual(['6', 'done']);
    expect(events.filter((e) => e.oldKey === '5').map((e) => [e.newKey, e.moved])).toEqual([['6', 'hub']]);
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, ['items'])).toEqual([]);
    expect(await w.hub.query('SELECT name FROM items WHERE id = 6')).toEqual([{ name: 'b-five-edited' }]);
    for (const n of w.nodes) expect(n.syncer.state.parked(), n.name).toEqual([]);
    expect(events.filter((e) => e.oldKey === '5')).toHaveLength(1);
    expect(record()?.status).toBe('done');
  }, 120_000);

  it('the COMMIT went through, its answer lost: unconfirmed, then done and announced once by the next push', async () => {
    const w = await fixture.world();
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b-item')").run();
    await b.syncer.syncOnce();
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a-item')").run();
    const lost = await loseHubCommit(a.syncer, { server: 'commit', when: moveInIt });
    const events: RekeyEvent[] = [];
    a.syncer.on('rekey', (e: RekeyEvent) => events.push(e));
    await a.syncer.syncOnce({ pull: false }).catch(() => {});
    lost.restore();
    expect(lost.lost).toBe(1);
    expect(await w.hub.query('SELECT id, name FROM items ORDER BY id')).toEqual([
      { id: '1', name: 'a-item' },
      { id: '2', name: 'b-item' },
    ]);
    const moves = () => a.syncer.rekeys.list().map((r) => [r.oldKey, r.newKey, r.moved, r.status]);
    expect(moves()).toEqual([['1', '2', 'hub', 'unconfirmed']]);
    expect(events).toEqual([]);
    await syncUntilQuiet(w.nodes, 8).catch(() => {});
    expect(await divergence(w, ['items'])).toEqual([]);
    expect(moves()).toEqual([['1', '2', 'hub', 'done']]);
    expect(events.map((e) => [e.oldKey, e.newKey, e.moved])).toEqual([['1', '2', 'hub']]);
  }, 120_000);
});
