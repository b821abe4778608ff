/**
 * Operator trial of 2026-12-07 18:15, `manual`, seed 1102 ("update lost"): site3's worker W (226),
 * moved on the hub by site2's `rekeys resolve --rekey hub` (226 → 263) and updated there by site2;
 * site3 held its own new row under 263 against W, kept W as an unsettled copy under 226 and edited
 * it. Site3's watcher pulled meanwhile: the pull skips a held key, so its cursor passed site2's update
 * of 263 without applying it to the copy. Its resolve then moved W again (263 → 427) and settled the
 * copy with its edit, weighed against the row's hub changes after the pull cursor only: none. The edit
 * went up as a plain update, site2's later one overwritten everywhere, no conflict recorded.
 *
 * Here: node B is site3 (W's origin), node A site2 (the mover). The row's hub changes an unsettled copy
 * has not seen are counted from where the node's knowledge of the row stopped (when it was left
 * behind), not from the pull cursor, which passes them. Also with `rekey-hub`, where B's own move of W
 * is its push's (the pull, first, deferred B's row under the key and passed A's update), and the plain
 * shape (no collision on B: the copy moves with the pull or the push, a guard).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, name TEXT)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, worker_id INTEGER REFERENCES workers (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  `CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, name VARCHAR(40) NULL,
     CONSTRAINT uq_workers_ref UNIQUE (ref)) ENGINE=InnoDB`,
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, worker_id BIGINT NULL,
     CONSTRAINT fk_at_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Policy = 'hub-wins' | 'node-wins' | 'newest-wins';

/** B's W (with a child) under 1 on the hub; A's own row under 1 moves W 1 → 2 on the hub. */
async function movedByA(w: SyncWorld, a: TestNode, b: TestNode, manual: boolean): Promise<void> {
  a.db.prepare("INSERT INTO workers (id, ref, name) VALUES (1, 'A1', 'a')").run();
  b.db.prepare("INSERT INTO workers (id, ref, name) VALUES (1, 'W', 'w0')").run();
  b.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (100, 'at-W', 1)").run();
  await b.syncer.syncOnce();
  await a.syncer.syncOnce();
  if (manual) {
    const [held] = a.syncer.rekeys.list({ status: 'held' });
    expect([held?.tbl, held?.oldKey]).toEqual(['workers', '1']);
    const ev = await resolveRekey(a.syncer, held?.id as number, 'hub');
    expect([ev?.moved, ev?.oldKey, ev?.newKey]).toEqual(['hub', '1', '2']);
  }
  expect(await w.hub.query('SELECT CAST(id AS CHAR) AS id, ref FROM workers ORDER BY id')).toEqual([
    { id: '1', ref: 'A1' },
    { id: '2', ref: 'W' },
  ]);
}

/**
 * `manual`, the trial's shape up to B's resolve: A moved W 1 → 2; B's own new row under 2 (not
 * pushed then) is held against W, whose copy stays under 1 here with B's edit; A then updates W under
 * 2 and B's watcher pulls (skipping the held key 2). Returns B's held collision's id.
 */
async function leftBehindThenPulled(w: SyncWorld, a: TestNode, b: TestNode): Promise<number> {
  await movedByA(w, a, b, true);
  b.db.prepare("INSERT INTO workers (id, ref, name) VALUES (2, 'B2', 'b')").run();
  b.db.prepare("UPDATE workers SET name = 'b-edit' WHERE id = 1").run();
  await b.syncer.syncOnce();
  const [held] = b.syncer.rekeys.list({ status: 'held' });
  expect([held?.tbl, held?.oldKey]).toEqual(['workers', '2']);
  expect(b.db.prepare('SELECT hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all()).toEqual([
    { hub_key: '2', local_key: '1' },
  ]);
  await sleep(30);
  a.db.prepare("UPDATE workers SET name = 'a-edit' WHERE id = 2").run();
  await a.syncer.syncOnce();
  await b.syncer.syncOnce();
  expect(b.db.prepare("SELECT id, name FROM workers WHERE ref = 'W'").get()).toEqual({ id: 1n, name: 'b-edit' });
  return held?.id as number;
}

/** The conflict B (or the side that found it) recorded about W, and every side agreeing. */
async function expectDecided(w: SyncWorld, policy: Policy, expectWinner: string, loser: string): Promise<void> {
  const conflicts = w.nodes.flatMap((n) =>
    (
      n.db.prepare("SELECT winner, status, node_image, hub_image FROM _dualdb_conflicts WHERE tbl = 'workers'").all() as {
        winner: string;
        status: string;
        node_image: string;
        hub_image: string;
      }[]
    ).map((c) => ({ node: n.name, ...c })),
  );
  // One conflict about W, decided by the policy, the loser's image kept.
  expect(
    conflicts.map((c) => [c.node, c.winner, c.status]),
    JSON.stringify(conflicts),
  ).toEqual([['B', policy === 'node-wins' ? 'node' : 'hub', 'resolved']]);
  const c = conflicts[0];
  expect(policy === 'node-wins' ? c?.hub_image : c?.node_image).toContain(loser);
  for (const n of w.nodes) {
    expect(n.db.prepare("SELECT name FROM workers WHERE ref = 'W'").pluck().all(), n.name).toEqual([expectWinner]);
    expect(
      n.db.prepare('SELECT a.ref, w.ref FROM attendance a JOIN workers w ON w.id = a.worker_id').raw().all(),
      n.name,
    ).toEqual([['at-W', 'W']]);
    expect(n.syncer.state.parked(), n.name).toEqual([]);
  }
  expect(await w.hub.query("SELECT name FROM workers WHERE ref = 'W'")).toEqual([{ name: expectWinner }]);
  expect(await divergence(w, TABLES)).toEqual([]);
}

for (const POLICY of ['hub-wins', 'node-wins'] as const)
  describe.skipIf(!HUB_AVAILABLE)(`${POLICY}: an update of a moved row made under its new key meets the origin's edit`, () => {
    const fx = syncWorlds({
      prefix: `mcopy${POLICY.slice(0, 3)}`,
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['A', 'B'],
      env: { CONFLICT_POLICY: POLICY },
    });
    const open: { close(): Promise<void> }[] = [];
    afterEach(async () => {
      for (const x of open.splice(0).reverse()) await x.close();
    });
    // Under hub-wins (and newest-wins: A's update is the later one) A's update stands; under node-wins B's.
    const winner = POLICY === 'node-wins' ? 'b-edit' : 'a-edit';
    const loser = POLICY === 'node-wins' ? 'a-edit' : 'b-edit';

    for (const SIDE of ['hub', 'node'] as const)
      it(`manual: B's copy left behind, B pulls A's update, then resolves --rekey ${SIDE} (trial 1102)`, async () => {
        const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: POLICY } });
        open.push(w);
        const [a, b] = [w.node('A'), w.node('B')];
        const held = await leftBehindThenPulled(w, a, b);
        await resolveRekey(b.syncer, held, SIDE);
        await syncUntilQuiet(w.nodes, 8);
        await expectDecided(w, POLICY, winner, loser);
        expect(b.syncer.rekeys.list({ status: 'held' })).toEqual([]);
      }, 120_000);

    it("manual: B's pull passes A's update, B deletes its own row under the key, then resolves (the copy takes the key)", async () => {
      const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: POLICY } });
      open.push(w);
      const [a, b] = [w.node('A'), w.node('B')];
      const held = await leftBehindThenPulled(w, a, b);
      // B's own row goes: the resolve finds one of the two rows gone, and the copy takes the key with its edit.
      b.db.prepare('DELETE FROM workers WHERE id = 2').run();
      await resolveRekey(b.syncer, held, 'hub');
      await syncUntilQuiet(w.nodes, 8);
      await expectDecided(w, POLICY, winner, loser);
      for (const n of w.nodes)
        expect(n.db.prepare("SELECT count(*) FROM workers WHERE ref = 'B2'").pluck().get(), n.name).toBe(0n);
    }, 120_000);

    it("rekey-hub: B's pull defers its own row under the key and passes A's update; B's push moves W again", async () => {
      const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: POLICY } });
      open.push(w);
      const [a, b] = [w.node('A'), w.node('B')];
      await movedByA(w, a, b, false);
      b.db.prepare("INSERT INTO workers (id, ref, name) VALUES (2, 'B2', 'b')").run();
      b.db.prepare("UPDATE workers SET name = 'b-edit' WHERE id = 1").run();
      // B pulls first (its push failed, or was killed): W's copy stays under 1, B2 under 2 is deferred.
      await b.syncer.syncOnce({ push: false });
      expect(b.db.prepare('SELECT hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all()).toEqual([
        { hub_key: '2', local_key: '1' },
      ]);
      await sleep(30);
      a.db.prepare("UPDATE workers SET name = 'a-edit' WHERE id = 2").run();
      await a.syncer.syncOnce();
      await b.syncer.syncOnce({ push: false });
      await syncUntilQuiet([b, a], 8);
      await expectDecided(w, POLICY, winner, loser);
    }, 120_000);

    for (const FIRST of ['push', 'pull'] as const)
      it(`rekey-hub, no collision on B: B's unpushed edit under the old key, B's ${FIRST} first (a guard)`, async () => {
        const w = await fx.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: POLICY } });
        open.push(w);
        const [a, b] = [w.node('A'), w.node('B')];
        b.db.prepare("INSERT INTO workers (id, ref, name) VALUES (1, 'W', 'w0')").run();
        b.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (100, 'at-W', 1)").run();
        await b.syncer.syncOnce();
        b.db.prepare("UPDATE workers SET name = 'b-edit' WHERE id = 1").run();
        a.db.prepare("INSERT INTO workers (id, ref, name) VALUES (1, 'A1', 'a')").run();
        await a.syncer.syncOnce();
        expect(await w.hub.query("SELECT CAST(id AS CHAR) AS id FROM workers WHERE ref = 'W'")).toEqual([{ id: '2' }]);
        await sleep(30);
        a.db.prepare("UPDATE workers SET name = 'a-edit' WHERE id = 2").run();
        await a.syncer.syncOnce();
        if (FIRST === 'pull') await b.syncer.syncOnce({ push: false });
        await syncUntilQuiet([b, a], 8);
        await expectDecided(w, POLICY, winner, loser);
      }, 120_000);
  });
