/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 2026-12-06 problem 1: a node's new child
 * row whose parent collided and was re-keyed at push must reach the hub as a new row — a
 * collision when the hub holds another node's row under its key — never as an update of that
 * row (node-wins would overwrite the other node's row everywhere).
 */
import { describe, expect, it } from 'vitest';
import { divergence, hubLog, type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

/** Every row once on every side, each attendance row pointing at the worker it was written for. */
async function expectAllKept(w: SyncWorld, notes: string[]): Promise<void> {
  expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
  const rows = await w.hub.query<{ note: string; badge: string }>(
    'SELECT a.note, w.badge FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.note',
  );
  expect(rows.map((r) => r.note)).toEqual([...notes].sort());
  expect(rows.filter((r) => r.note !== `for ${r.badge}`)).toEqual([]);
  expect(w.nodes.flatMap((n) => n.syncer.state.conflicts())).toEqual([]);
}

/** The hub's own worker 1 and attendance 1; A's worker and child collide with them and move to hub-assigned ids (2, 2). */
async function aCollidesAndMoves(w: SyncWorld): Promise<void> {
  const a = w.node('a');
  await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-w')");
  await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'for hub-w')");
  a.db.transaction(() => {
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'a-w')").run();
    a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'for a-w')").run();
  })();
  await a.syncer.push();
}

describe.skipIf(!HUB_AVAILABLE)('invariant 13: a new child of a re-keyed parent goes up as a new row', () => {
  const worlds = syncWorlds({
    prefix: 'childupd',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-node' },
  });

  const cases: { name: string; batch: string; separate: boolean }[] = [
    { name: 'same transaction, one batch', batch: '2000', separate: false },
    { name: 'same transaction, batch size 1', batch: '1', separate: false },
    { name: 'child in a later transaction, batch size 1', batch: '1', separate: true },
    { name: 'child in a later transaction, batch size 2', batch: '2', separate: true },
  ];
  for (const c of cases) {
    it(`B's child under A's re-keyed child id, its worker colliding too (${c.name}): both kept`, async () => {
      const w = await worlds.world({ env: { SYNC_BATCH_SIZE: c.batch } });
      const a = w.node('a');
      const b = w.node('b');
      await aCollidesAndMoves(w);
      const aChild = a.db.prepare("SELECT id FROM attendance WHERE note = 'for a-w'").get() as { id: bigint | number };
      const aChildId = Number(aChild.id);
      expect(aChildId).not.toBe(1);
      // B, before pulling: a worker that collides, and a child under A's child's new id.
      const insB = () => b.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'b-w')").run();
      const childB = () => b.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (?, 1, 'for b-w')").run(aChildId);
      if (c.separate) {
        insB();
        childB();
      } else
        b.db.transaction(() => {
          insB();
          childB();
        })();
      await b.syncer.push();
      // B's child went up as an insert (a collision: moved to a new id), never as an update of A's row.
      const moved = b.syncer.rekeys.list({ status: 'done' }).filter((r) => r.tbl === 'attendance');
      expect(moved.map((r) => r.oldKey)).toEqual([String(aChildId)]);
      for (let i = 0; i < 4; i++) for (const n of w.nodes) await n.syncer.syncOnce();
      await expectAllKept(w, ['for hub-w', 'for a-w', 'for b-w']);
    }, 60_000);
  }

  // The trial's case: B pulled A's child (parked: its parent is one of two rows under one key,
  // B's own unsent worker holds it) but not the update A's re-point of it logged after it. The
  // hub's first unseen operation on that key is then the parked insert, not the later update.
  const orders = [
    { first: 'push', policy: 'node-wins' },
    { first: 'pull', policy: 'node-wins' },
    { first: 'pull', policy: 'hub-wins' },
    { first: 'worker pushed', policy: 'node-wins' },
    // Its parent no longer B's unsent row, the pull decided the hub's update as a conflict with B's
    // new row and hub-wins overwrote it (the pull-read.ts half of the fix; fails without it).
    { first: 'worker pushed', policy: 'hub-wins' },
  ] as const;
  for (const { first, policy } of orders) {
    it(`B's new child under a key whose hub insert B parked on pull, the hub's later update unseen, B's ${first} first (${policy}): a collision, both kept`, async () => {
      const w = await worlds.world({ env: { CONFLICT_POLICY: policy }, nodeEnv: { b: { SYNC_BATCH_SIZE: '1' } } });
      const a = w.node('a');
      const b = w.node('b');
      await aCollidesAndMoves(w);
      await a.syncer.push();
      // The hub now holds A's rows under 2 and 2: the child's insert, then the update of its re-point.
      const log = await hubLog(w.hub, 'attendance');
      expect(log.filter((e) => e.origin === 'a').map((e) => [e.pk, e.op])).toEqual([
        ['2', 'I'],
        ['2', 'U'],
      ]);
      const insertSeq = (log.find((e) => e.origin === 'a' && e.op === 'I') as { seq: bigint }).seq;
      // B's own worker 2, unsent: A's worker 2 is a collision the pull leaves to the push, and A's
      // child waits for it, parked.
      b.db.prepare("INSERT INTO workers (id, badge) VALUES (2, 'b-w')").run();
      await b.syncer.pull(Number(insertSeq));
      expect(b.syncer.state.pullState().upto).toBe(insertSeq);
      expect(b.db.prepare('SELECT count(*) AS n FROM attendance WHERE id = 2').get()).toEqual({ n: 0n });
      // 'worker pushed': B's worker goes up first (a collision: it moves), its child is written after.
      if (first === 'worker pushed') await b.syncer.push();
      const bWorker = b.db.prepare("SELECT id FROM workers WHERE badge = 'b-w'").get() as { id: bigint };
      // The application writes its own child under the free id 2.
      b.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (2, ?, 'for b-w')").run(bWorker.id);
      if (first !== 'push') {
        // The pull brings the update: the hub's row is still one B has not taken, never B's row's update.
        await b.syncer.pull();
        expect(b.db.prepare('SELECT note FROM attendance WHERE id = 2').get()).toEqual({ note: 'for b-w' });
      }
      await b.syncer.push();
      const moved = b.syncer.rekeys.list({ status: 'done' }).filter((r) => r.tbl === 'attendance');
      expect(moved.map((r) => r.oldKey)).toEqual(['2']);
      for (let i = 0; i < 4; i++) for (const n of w.nodes) await n.syncer.syncOnce();
      await expectAllKept(w, ['for hub-w', 'for a-w', 'for b-w']);
    }, 60_000);
  }
});
