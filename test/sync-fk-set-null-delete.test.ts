/**
 * docs/SYNC-CONTRACT.md invariant 6, "an update a parent's delete made" (issue 11). Site A (or the
 * hub's control room) deletes attendance row C; site B deletes the worker C references, and the
 * foreign key's ON DELETE SET NULL makes B's SQLite update C itself. That update must not bring C
 * back: the delete stands on every side, with no conflict recorded, under every policy, whoever
 * pushes first and whichever side meets the other's change (B's push or pull, A's push or pull).
 * An application's update of C (another column, or the reference nulled while the worker exists)
 * still conflicts by the policy, as before.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installSqliteMeta, installSqliteTableCapture } from '../src/capture/sqlite-capture.js';
import { impliedUpdateSpec } from '../src/capture/sqlite-fk-actions.js';
import type { ConflictPolicy } from '../src/config/schema.js';
import { introspectSqliteTable } from '../src/engines/sqlite/introspect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { divergence, hubLog, localLog, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers (id) ON DELETE SET NULL, note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT PRIMARY KEY, worker_id BIGINT NULL, note VARCHAR(50) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE SET NULL) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];

/**
 * Who deletes C, and the order the two changes meet in: `A-push` / `A-pull` is A's delete pushed
 * first, then B's push (B's push meets the hub's delete) or B's pull first; `B-first-push` /
 * `B-first-pull` is B's push first, then A's push or pull meets it; `hub-push` / `hub-pull` the
 * control room deletes C on the hub, and B's push or pull meets that.
 */
const ORDERS = ['A-push', 'A-pull', 'B-first-push', 'B-first-pull', 'hub-push', 'hub-pull'] as const;
type Order = (typeof ORDERS)[number];

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HUB_AVAILABLE)('an update a parent’s delete made (ON DELETE SET NULL) against a delete', () => {
  const worlds = syncWorlds({ prefix: 'fkdel', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
  // Thirty worlds of two nodes each would outgrow the hub's max_connections if all stayed open
  // until the block ends: each is closed after its test (closing again at the end is harmless).
  let open: SyncWorld | undefined;
  afterEach(async () => {
    await open?.close().catch(() => {});
    open = undefined;
  });

  async function seeded(policy: ConflictPolicy): Promise<{ w: SyncWorld; A: TestNode; B: TestNode }> {
    const w = await worlds.world({ env: { CONFLICT_POLICY: policy } });
    open = w;
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'w1'), (2, 'w2')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (10, 1, 'in'), (11, 2, 'out')");
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    return { w, A, B };
  }

  const attendance = async (w: SyncWorld, n: TestNode[]) => ({
    hub: (await w.hub.query<{ id: string }>('SELECT id FROM attendance WHERE id = 10')).length,
    nodes: n.map((x) => (x.db.prepare('SELECT id FROM attendance WHERE id = 10').get() ? 1 : 0)),
  });
  const conflicts = (n: TestNode[]) => n.flatMap((x) => x.syncer.state.conflicts().filter((c) => c.tbl === 'attendance'));

  /** C's delete first, then B's delete of its worker (the newer change: newest-wins would keep the update), then the order. */
  async function play(w: SyncWorld, A: TestNode, B: TestNode, order: Order): Promise<void> {
    if (order.startsWith('hub')) await w.hub.execute('DELETE FROM attendance WHERE id = 10');
    else A.db.prepare('DELETE FROM attendance WHERE id = 10').run();
    await pause(60); // newest-wins compares change times: keep the order unambiguous
    B.db.prepare('DELETE FROM workers WHERE id = 1').run();
    // B's log holds the update SQLite made for the worker's delete, as such.
    expect(localLog(B.db, 'attendance').map((e) => e.op)).toEqual(['N']);
    switch (order) {
      case 'A-push':
        await A.syncer.syncOnce();
        await B.syncer.syncOnce();
        break;
      case 'A-pull':
        await A.syncer.syncOnce();
        await B.syncer.syncOnce({ push: false });
        break;
      case 'B-first-push':
        await B.syncer.syncOnce();
        await A.syncer.syncOnce();
        break;
      case 'B-first-pull':
        await B.syncer.syncOnce();
        await A.syncer.syncOnce({ push: false });
        break;
      case 'hub-push':
        await B.syncer.syncOnce();
        break;
      case 'hub-pull':
        await B.syncer.syncOnce({ push: false });
        break;
    }
    await syncUntilQuiet([A, B]);
  }

  for (const policy of ['node-wins', 'hub-wins', 'newest-wins', 'manual'] as const) {
    for (const order of ORDERS) {
      it(`${policy}, ${order}: the delete stands on every side, no conflict`, async () => {
        const { w, A, B } = await seeded(policy);
        await play(w, A, B, order);
        expect(await attendance(w, [A, B]), 'row 10 on the hub, A, B').toEqual({ hub: 0, nodes: [0, 0] });
        expect(conflicts([A, B])).toEqual([]);
        // The worker is gone everywhere, the other row untouched.
        expect((await w.hub.query('SELECT id FROM workers WHERE id = 1')).length).toBe(0);
        expect(A.db.prepare('SELECT worker_id, note FROM attendance WHERE id = 11').get()).toEqual({
          worker_id: 2n,
          note: 'out',
        });
        expect(await divergence(w, TABLES)).toEqual([]);
      });
    }
  }

  it('hub-wins, B-first-push, SYNC_BATCH_SIZE=1: a batch ending among the children’s updates takes the worker’s delete too', async () => {
    const w = await worlds.world({ env: { CONFLICT_POLICY: 'hub-wins', SYNC_BATCH_SIZE: '1' } });
    open = w;
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'w1')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (10, 1, 'in'), (12, 1, 'in'), (13, 1, 'in')");
    await syncUntilQuiet([A, B]);
    A.db.prepare('DELETE FROM attendance WHERE id = 10').run();
    await pause(60);
    B.db.prepare('DELETE FROM workers WHERE id = 1').run();
    expect(localLog(B.db).map((e) => e.op)).toEqual(['N', 'N', 'N', 'D']);
    await B.syncer.syncOnce();
    // None of the three went up as an update: the hub's own SET NULL did it.
    expect((await hubLog(w.hub, 'attendance')).filter((e) => e.origin === 'B')).toEqual([]);
    await A.syncer.syncOnce();
    await syncUntilQuiet([A, B]);
    expect(await attendance(w, [A, B])).toEqual({ hub: 0, nodes: [0, 0] });
    expect(conflicts([A, B])).toEqual([]);
    // A nulled its copies itself, by its own foreign key, when the pull deleted the worker.
    for (const n of [A, B])
      expect(n.db.prepare('SELECT id, worker_id FROM attendance ORDER BY id').all(), n.name).toEqual([
        { id: 12n, worker_id: null },
        { id: 13n, worker_id: null },
      ]);
    expect(await divergence(w, TABLES)).toEqual([]);
  });

  // An application's update of the row is a change of its own: the policy decides, as before.
  for (const kind of ['another column too', 'the reference nulled while the worker exists'] as const) {
    it(`node-wins, A's delete pushed first; B's application update (${kind}) wins and is recorded`, async () => {
      const { w, A, B } = await seeded('node-wins');
      A.db.prepare('DELETE FROM attendance WHERE id = 10').run();
      await pause(60);
      if (kind === 'another column too') {
        B.db.prepare("UPDATE attendance SET note = 'late' WHERE id = 10").run();
        B.db.prepare('DELETE FROM workers WHERE id = 1').run();
      } else B.db.prepare('UPDATE attendance SET worker_id = NULL WHERE id = 10').run();
      expect(localLog(B.db, 'attendance')[0]?.op).toBe('U');
      await A.syncer.syncOnce();
      await B.syncer.syncOnce();
      await syncUntilQuiet([A, B]);
      expect(await attendance(w, [A, B])).toEqual({ hub: 1, nodes: [1, 1] });
      const recs = conflicts([B]);
      expect(recs.map((c) => [c.pk, c.winner, c.detectedIn])).toEqual([['10', 'node', 'push']]);
      expect(await divergence(w, TABLES)).toEqual([]);
    });
  }

  it('hub-wins, B pushes first: the reference nulled by the application while the worker exists still conflicts on A', async () => {
    const { w, A, B } = await seeded('hub-wins');
    A.db.prepare('DELETE FROM attendance WHERE id = 10').run();
    await pause(60);
    B.db.prepare('UPDATE attendance SET worker_id = NULL WHERE id = 10').run();
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    await syncUntilQuiet([A, B]);
    expect(await attendance(w, [A, B])).toEqual({ hub: 1, nodes: [1, 1] });
    expect(conflicts([A]).map((c) => [c.pk, c.winner])).toEqual([['10', 'hub']]);
    expect(await divergence(w, TABLES)).toEqual([]);
  });
});

describe.skipIf(!HUB_AVAILABLE)('a node whose triggers predate the rule (upgraded dualdb, no new init)', () => {
  const worlds = syncWorlds({ prefix: 'fkdel-old', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });

  it('its first sync brings the trigger up to date: the update SQLite makes is logged as N and the delete stands', async () => {
    const w = await worlds.world({ env: { CONFLICT_POLICY: 'node-wins' } });
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'w1')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (10, 1, 'in')");
    // B's trigger as an older dualdb wrote it: no knowledge of ON DELETE SET NULL.
    const key = [{ name: 'id', type: 'integer' as const }];
    const stored = B.db.prepare("SELECT pk_columns FROM _dualdb_tables WHERE tbl = 'attendance'").get() as { pk_columns: string };
    expect(stored.pk_columns).toBe('id:integer');
    expect(installSqliteTableCapture(B.db, 'attendance', key, undefined)).toBe('upgraded');
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    A.db.prepare('DELETE FROM attendance WHERE id = 10').run();
    await A.syncer.syncOnce();
    B.db.prepare('DELETE FROM workers WHERE id = 1').run();
    expect(localLog(B.db, 'attendance').map((e) => e.op)).toEqual(['N']);
    await syncUntilQuiet([A, B]);
    expect((await w.hub.query('SELECT id FROM attendance WHERE id = 10')).length).toBe(0);
    expect(A.db.prepare('SELECT id FROM attendance WHERE id = 10').get()).toBeUndefined();
    expect(B.db.prepare('SELECT id FROM attendance WHERE id = 10').get()).toBeUndefined();
  });
});

describe.skipIf(!HUB_AVAILABLE)('an update a parent’s delete made, the hub without that foreign key', () => {
  const worlds = syncWorlds({
    prefix: 'fkdelnofk',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: [
      'CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB',
      'CREATE TABLE attendance (id BIGINT PRIMARY KEY, worker_id BIGINT NULL, note VARCHAR(50) NULL) ENGINE=InnoDB',
    ],
    nodes: ['A', 'B'],
  });

  it('the node’s update is written after all: the hub’s row is not nulled by the hub itself', async () => {
    const w = await worlds.world();
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'w1')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (10, 1, 'in')");
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    B.db.prepare('DELETE FROM workers WHERE id = 1').run();
    await B.syncer.syncOnce();
    await syncUntilQuiet([A, B]);
    const [row] = await w.hub.query<{ worker_id: string | null }>('SELECT worker_id FROM attendance WHERE id = 10');
    expect(row?.worker_id).toBeNull();
    expect(A.db.prepare('SELECT worker_id FROM attendance WHERE id = 10').get()).toEqual({ worker_id: null });
    expect(await divergence(w, TABLES)).toEqual([]);
  });
});

describe.skipIf(!HUB_AVAILABLE)('an update a parent’s delete made, the hub’s foreign key ON DELETE CASCADE', () => {
  const worlds = syncWorlds({
    prefix: 'fkdelcasc',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: [
      MYSQL_DDL[0] as string,
      `CREATE TABLE attendance (id BIGINT PRIMARY KEY, worker_id BIGINT NULL, note VARCHAR(50) NULL,
         CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
    ],
    nodes: ['A', 'B'],
  });

  it('the row the hub’s cascade removed is written again, as before (the node’s row, its reference nulled)', async () => {
    const w = await worlds.world();
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'w1')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (10, 1, 'in')");
    await syncUntilQuiet([A, B]);
    B.db.prepare('DELETE FROM workers WHERE id = 1').run();
    await B.syncer.syncOnce();
    await syncUntilQuiet([A, B]);
    const [row] = await w.hub.query<{ worker_id: string | null; note: string }>(
      'SELECT worker_id, note FROM attendance WHERE id = 10',
    );
    expect(row).toEqual({ worker_id: null, note: 'in' });
    expect(await divergence(w, TABLES)).toEqual([]);
  });
});

describe('the capture trigger tells an update a parent’s delete made (N) from an application’s (U)', () => {
  it('N for ON DELETE SET NULL, U for another column or a reference nulled while the parent exists; init again is unchanged', () => {
    const tmp = tempDir('fkdel-capture-');
    const db = openSqlite(path.join(tmp.dir, 't.db'), { create: true });
    try {
      for (const ddl of SQLITE_DDL) db.exec(ddl);
      installSqliteMeta(db);
      const spec = impliedUpdateSpec(introspectSqliteTable(db, 'attendance'));
      expect(spec?.fks.map((f) => f.columns)).toEqual([['worker_id']]);
      const key = [{ name: 'id', type: 'integer' as const }];
      expect(installSqliteTableCapture(db, 'attendance', key, spec)).toBe('installed');
      expect(installSqliteTableCapture(db, 'attendance', key, spec)).toBe('unchanged');
      // A table without such a key keeps today's trigger.
      expect(impliedUpdateSpec(introspectSqliteTable(db, 'workers'))).toBeUndefined();
      db.exec("INSERT INTO workers VALUES (1, 'a'), (2, 'b'), (3, 'c')");
      db.exec("INSERT INTO attendance VALUES (10, 1, 'x'), (11, 2, 'y'), (12, 3, 'z')");
      db.exec('DELETE FROM workers WHERE id = 1'); // the foreign key's SET NULL: N
      db.exec("UPDATE attendance SET note = 'q' WHERE id = 11"); // U
      db.exec('UPDATE attendance SET worker_id = NULL WHERE id = 12'); // the parent exists: U
      expect(localLog(db, 'attendance').map((e) => [e.pk, e.op])).toEqual([
        ['10', 'I'],
        ['11', 'I'],
        ['12', 'I'],
        ['10', 'N'],
        ['11', 'U'],
        ['12', 'U'],
      ]);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});
