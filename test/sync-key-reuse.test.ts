/**
 * docs/SYNC-CONTRACT.md invariants 13 and 6: a key deleted and handed out again on the node is a
 * new row, not an update of the hub's row under that key. SQLite gives a freed max(id) to the next
 * insert (`INTEGER PRIMARY KEY`; with AUTOINCREMENT too once the row was moved away by re-keying,
 * which does not advance `sqlite_sequence`). Coalesced into one change, the delete and the insert
 * used to reach the hub as an update of the old row: a child another node had attached to the
 * deleted row on the hub then belonged to the new one, and the delete's ON DELETE never ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { divergence, makeWorld, type SyncWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const ATTENDANCE_SQLITE = `CREATE TABLE attendance (id INTEGER PRIMARY KEY,
  worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE, note TEXT)`;
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];

type Variant = {
  autoincrement: boolean;
  pullFirst: boolean;
  mode: 'rekey-node' | 'rekey-hub' | 'manual';
  /** The hub updates W before A's delete reaches it, and the hub wins that conflict: W stays. */
  hubKeepsW?: boolean;
  /** After A's push, B (not pulled yet) adds another child to its stale copy of W. */
  staleChild?: boolean;
};

const VARIANTS: Variant[] = [
  { autoincrement: false, pullFirst: false, mode: 'rekey-node' },
  { autoincrement: false, pullFirst: true, mode: 'rekey-node' },
  { autoincrement: true, pullFirst: false, mode: 'rekey-node' },
  { autoincrement: true, pullFirst: true, mode: 'rekey-node' },
  { autoincrement: false, pullFirst: false, mode: 'rekey-hub' },
  { autoincrement: false, pullFirst: true, mode: 'manual' },
  { autoincrement: false, pullFirst: false, mode: 'rekey-node', staleChild: true },
  { autoincrement: true, pullFirst: false, mode: 'rekey-node', staleChild: true },
  { autoincrement: false, pullFirst: false, mode: 'rekey-node', hubKeepsW: true },
  { autoincrement: false, pullFirst: true, mode: 'rekey-node', hubKeepsW: true },
];

function title(v: Variant): string {
  const key = v.autoincrement ? 'AUTOINCREMENT, W re-keyed away first' : 'INTEGER PRIMARY KEY';
  const order = v.pullFirst
    ? 'node A pulls before pushing'
    : v.staleChild
      ? 'node A pushes first, then B adds a child to its stale copy of W'
      : 'node A pushes first';
  const outcome = v.hubKeepsW
    ? 'the hub’s update of W wins over its delete: W keeps its child, the new worker is another row'
    : 'W’s delete reaches the hub with its cascade; the new worker under W’s id gets no child of W';
  return `${v.mode}, ${key}, ${order}: ${outcome}`;
}

async function scenario(w: SyncWorld, v: Variant): Promise<{ reused: number }> {
  const a = w.node('a');
  const b = w.node('b');
  if (v.autoincrement) {
    // The hub's own worker takes id 1, so A's W (id 1 on A) collides and moves to id 2.
    await w.hub.execute("INSERT INTO workers (badge) VALUES ('central')");
  }
  const wId = Number(a.db.prepare("INSERT INTO workers (badge) VALUES ('W')").run().lastInsertRowid);
  await a.syncer.syncOnce();
  const [moved] = await w.hub.query<{ id: number }>("SELECT id FROM workers WHERE badge = 'W'");
  const n = Number(moved?.id);
  if (v.autoincrement) expect(n).not.toBe(wId); // re-keyed away: sqlite_sequence still says wId
  expect(Number((a.db.prepare("SELECT id FROM workers WHERE badge = 'W'").get() as { id: bigint }).id)).toBe(n);

  await b.syncer.syncOnce();
  b.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (?, 'child of W')").run(n);
  await b.syncer.syncOnce();
  expect((await w.hub.query('SELECT id FROM attendance WHERE worker_id = ?', [n])).length).toBe(1);

  a.db.prepare('DELETE FROM workers WHERE id = ?').run(n);
  const reused = Number(a.db.prepare("INSERT INTO workers (badge) VALUES ('new')").run().lastInsertRowid);
  expect(reused).toBe(n); // SQLite handed out W's id again: the case under test
  if (v.hubKeepsW) await w.hub.execute("UPDATE workers SET badge = 'W2' WHERE id = ?", [n]);
  if (v.pullFirst) await a.syncer.syncOnce({ push: false });
  if (v.staleChild) {
    await a.syncer.syncOnce();
    b.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (?, 'late child of W')").run(n);
    await b.syncer.syncOnce();
  }
  return { reused };
}

describe.skipIf(!HUB_AVAILABLE)('invariant 13: a key deleted and reused on the node is a new row', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-reuse-');
  beforeAll(async () => {
    testHub = await startTestHub();
  }, 60_000);
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  for (const v of VARIANTS) {
    it(title(v), async () => {
      const workers = v.autoincrement
        ? 'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)'
        : 'CREATE TABLE workers (id INTEGER PRIMARY KEY, badge TEXT NOT NULL UNIQUE)';
      const w = await makeWorld(testHub, tmp.dir, {
        prefix: 'reuse',
        sqliteDdl: [workers, ATTENDANCE_SQLITE],
        mysqlDdl: MYSQL_DDL,
        nodes: ['a', 'b'],
        env: { SYNC_KEY_COLLISIONS: v.mode, ...(v.hubKeepsW ? { CONFLICT_POLICY: 'hub-wins' } : {}) },
      });
      try {
        const { reused } = await scenario(w, v);
        await syncUntilQuiet(w.nodes, 8);
        expect(await divergence(w, TABLES)).toEqual([]);
        for (const n of w.nodes) {
          expect(n.db.prepare("SELECT count(*) AS c FROM workers WHERE badge = 'new'").get()).toEqual({ c: 1n });
          expect(
            n.db
              .prepare("SELECT count(*) AS c FROM attendance a JOIN workers w ON w.id = a.worker_id WHERE w.badge = 'new'")
              .get(),
          ).toEqual({ c: 0n });
        }
        const conflicts = w.nodes.flatMap((n) => n.syncer.state.conflicts().map((c) => [n.name, c.tbl, c.pk, c.winner]));
        if (v.hubKeepsW) {
          // A's delete lost to the hub's later update: W and B's child of it stay; the new row moved.
          expect(conflicts).toEqual([['a', 'workers', String(reused), 'hub']]);
          const [kept] = await w.hub.query<{ id: string }>("SELECT id FROM workers WHERE badge = 'W2'");
          expect(Number(kept?.id)).toBe(reused);
          const att = await w.hub.query<{ worker_id: string; note: string }>('SELECT worker_id, note FROM attendance');
          expect(att.map((r) => [Number(r.worker_id), r.note])).toEqual([[reused, 'child of W']]);
          return;
        }
        expect(conflicts).toEqual([]);
        // W is gone everywhere, and with it (ON DELETE CASCADE) B's child of W.
        const badges = (await w.hub.query<{ badge: string }>('SELECT badge FROM workers ORDER BY badge')).map((r) => r.badge);
        expect(badges).toEqual(v.autoincrement ? ['central', 'new'] : ['new']);
        // The new row went up as a new row under the id SQLite gave it (after W's delete).
        const [fresh] = await w.hub.query<{ id: string }>("SELECT id FROM workers WHERE badge = 'new'");
        expect(Number(fresh?.id)).toBe(reused);
        expect(await w.hub.query('SELECT id, worker_id, note FROM attendance')).toEqual([]);
        for (const n of w.nodes) expect(n.db.prepare('SELECT id, worker_id, note FROM attendance').all()).toEqual([]);
      } finally {
        await w.close();
      }
    }, 60_000);
  }

  it('the hub refuses the delete (a RESTRICT child): the new row’s children in the same batch wait with it, and go up after it', async () => {
    const passesSqlite = `CREATE TABLE passes (id INTEGER PRIMARY KEY,
      worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE RESTRICT, gate TEXT)`;
    const passesMysql = `CREATE TABLE passes (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, gate VARCHAR(20) NULL,
      CONSTRAINT fk_pass_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE RESTRICT) ENGINE=InnoDB`;
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'reuserestrict',
      sqliteDdl: ['CREATE TABLE workers (id INTEGER PRIMARY KEY, badge TEXT NOT NULL UNIQUE)', ATTENDANCE_SQLITE, passesSqlite],
      mysqlDdl: [...MYSQL_DDL, passesMysql],
      nodes: ['a'],
      env: { SYNC_KEY_COLLISIONS: 'rekey-node' },
    });
    try {
      const a = w.node('a');
      const n = Number(a.db.prepare("INSERT INTO workers (badge) VALUES ('W')").run().lastInsertRowid);
      await a.syncer.syncOnce();
      // The hub gives W a pass (RESTRICT) that A has not pulled; A deletes W and hands its id out again.
      await w.hub.execute("INSERT INTO passes (worker_id, gate) VALUES (?, 'north')", [n]);
      a.db.prepare('DELETE FROM workers WHERE id = ?').run(n);
      expect(Number(a.db.prepare("INSERT INTO workers (badge) VALUES ('new')").run().lastInsertRowid)).toBe(n);
      a.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (?, 'child of new')").run(n);
      await a.syncer.syncOnce({ pull: false });
      // The delete was refused: W stays on the hub, and the new row's child did not attach to it.
      expect(await w.hub.query('SELECT badge FROM workers WHERE id = ?', [n])).toEqual([{ badge: 'W' }]);
      expect(await w.hub.query('SELECT note FROM attendance')).toEqual([]);
      const parked = a.syncer.state.parked().map((p) => [p.tbl, p.error.startsWith('waits for its parent row workers')]);
      expect(parked).toContainEqual(['attendance', true]);
      // The pass goes; the delete is retried, then the new row and its child go up after it.
      await w.hub.execute('DELETE FROM passes');
      a.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0').run();
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, [...TABLES, 'passes'])).toEqual([]);
      const rows = await w.hub.query<{ badge: string; note: string }>(
        'SELECT w.badge, a.note FROM attendance a JOIN workers w ON w.id = a.worker_id',
      );
      expect(rows).toEqual([{ badge: 'new', note: 'child of new' }]);
      expect(a.syncer.state.parked()).toEqual([]);
    } finally {
      await w.close();
    }
  }, 60_000);
});
