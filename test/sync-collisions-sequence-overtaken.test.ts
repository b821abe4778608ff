/**
 * Operator tryout of 2026-12-08 (three sites, SQLAlchemy apps leaving ids to SQLite, a control room
 * inserting on the hub, `sync --watch` on each site): under load the hub's AUTO_INCREMENT was behind
 * the node's keys over and over.
 *  - rekey-node: 13 cycles failed with `the hub's AUTO_INCREMENT of alerts is behind this node's
 *    keys (up to 402); retry in 25.5 s`.
 *  - manual: `rekeys resolve --all --rekey node` exited 1 with that raw line and no fix.
 * Cause: a move of a colliding row takes its new key from the hub's AUTO_INCREMENT while the
 * application keeps taking SQLite's max + 1 on the node. The sync moved the sequence to exactly
 * max + 1 (no room): the very key the application took next, so each retry was overtaken again,
 * and after 3 the cycle failed and earned the backoff of a hub failure.
 *
 * Deterministic here: each time the hub hands a moved row a new key, the application inserts one
 * more row of that table on the node (with a child on it), as a busy site does while its push runs.
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { resolveAllRekeys } from '../src/sync/rekey-resolve-all.js';
import type { Syncer } from '../src/sync/syncer.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, makeWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
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

/** The application: a worker and its attendance row, ids left to SQLite (max + 1). */
function appWorker(db: SqliteDb, badge: string): void {
  db.transaction(() => {
    const id = db.prepare('INSERT INTO workers (badge) VALUES (?)').run(badge).lastInsertRowid;
    db.prepare('INSERT INTO attendance (worker_id, note) VALUES (?, ?)').run(id, badge);
  })();
}

/**
 * After each hub INSERT that leaves the key to the hub's AUTO_INCREMENT (a moved row's new key:
 * its column list lacks `id`), the application writes a worker and its child on the node: it takes
 * SQLite's next keys, as a site under load does while its push runs. Returns how many it wrote.
 */
function appWritesDuringMoves(syncer: Syncer, db: SqliteDb, prefix: string, max = 30): Promise<{ taken: () => number }> {
  let taken = 0;
  const wrapped = new WeakSet<object>();
  const wrap = <C extends object>(conn: C): C => {
    if (wrapped.has(conn)) return conn;
    wrapped.add(conn);
    const c = conn as unknown as { query: (...a: unknown[]) => Promise<unknown> };
    const query = c.query.bind(conn);
    c.query = async (...args: unknown[]) => {
      const r = await query(...args);
      const sql = typeof args[0] === 'string' ? args[0] : '';
      const cols = /^INSERT INTO `(workers|attendance)` \(([^)]*)\)/.exec(sql);
      if (cols && !cols[2]?.includes('`id`') && taken < max) appWorker(db, `${prefix}-${++taken}`);
      return r;
    };
    return conn;
  };
  return syncer.withContext(async (ctx) => {
    const hub = ctx.hub;
    type Lender = (fn: (conn: object) => Promise<unknown>, ...rest: unknown[]) => Promise<unknown>;
    const methods = hub as unknown as Record<'withConnection' | 'lend' | 'withDriverDecode', Lender>;
    for (const name of ['withConnection', 'lend', 'withDriverDecode'] as const) {
      const orig = methods[name].bind(hub);
      methods[name] = (fn, ...rest) => orig((conn) => fn(wrap(conn)), ...rest);
    }
    const pooled = hub.pooledConnection.bind(hub);
    hub.pooledConnection = (async () => wrap(await pooled())) as typeof hub.pooledConnection;
    return { taken: () => taken };
  });
}

type Pair = { note: string | null; badge: string | null };
const PAIRS = 'SELECT a.note, w.badge FROM attendance a LEFT JOIN workers w ON w.id = a.worker_id ORDER BY a.note';

async function expectEveryChildOnItsParent(hub: MysqlHub, db: SqliteDb, rows: number): Promise<void> {
  const onHub = (await hub.query(PAIRS)) as Pair[];
  const here = db.prepare(PAIRS).all() as Pair[];
  expect(onHub).toHaveLength(rows);
  expect(onHub.filter((p) => p.note !== p.badge)).toEqual([]);
  expect(here).toEqual(onHub);
  const [w] = (await hub.query('SELECT count(*) AS n FROM workers')) as { n: number | string }[];
  expect(Number(w?.n)).toBe(rows);
}

describe.skipIf(!HUB_AVAILABLE)('the hub’s AUTO_INCREMENT overtaken by the application while rows move', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('rekey-node: the sync cycle moves the sequence with room and carries on in the same cycle; all rows kept', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'seqover',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
    });
    try {
      const s1 = w.node('s1');
      // The control room's worker and child on the hub; the site's own under the same ids.
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-1')");
      await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'hub-1')");
      for (let i = 1; i <= 5; i++) appWorker(s1.db, `s1-${i}`);
      const app = await appWritesDuringMoves(s1.syncer, s1.db, 's1-app');
      // One cycle: it meets the collisions, moves the sequence past what the application took, and goes on.
      const cycle = await s1.syncer.syncOnce();
      expect(cycle.push.rekeys.map((r) => [r.table, r.oldKey, r.moved])).toEqual([
        ['workers', '1', 'node'],
        ['attendance', '1', 'node'],
      ]);
      expect(app.taken()).toBeGreaterThan(0);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      await expectEveryChildOnItsParent(w.hub, s1.db, 1 + 5 + app.taken());
    } finally {
      await w.close();
    }
  }, 120_000);

  it('manual: `rekeys resolve --all --rekey node` moves the sequence for the children that follow too, and resolves all', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'seqoverm',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    try {
      const s1 = w.node('s1');
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-1')");
      await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'hub-1')");
      for (let i = 1; i <= 3; i++) appWorker(s1.db, `s1-${i}`);
      await syncUntilQuiet(w.nodes);
      expect(s1.syncer.rekeys.list({ status: 'held', limit: 100 }).map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
      const app = await appWritesDuringMoves(s1.syncer, s1.db, 's1-app');
      // The worker is resolved, then the round's sync moves its child as it moved: both meet the
      // application's keys.
      const report = await resolveAllRekeys(s1.syncer, 'node');
      expect(report.failed).toEqual([]);
      expect([report.held, report.pending]).toEqual([0, 0]);
      expect(report.events.map((e) => [e.table, e.oldKey, e.moved])).toEqual([
        ['workers', '1', 'node'],
        ['attendance', '1', 'node'],
      ]);
      expect(app.taken()).toBeGreaterThan(1);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      await expectEveryChildOnItsParent(w.hub, s1.db, 1 + 3 + app.taken());
    } finally {
      await w.close();
    }
  }, 120_000);

  it('manual: a sync user that may not ALTER the table: `rekeys resolve` exits 1 with one line naming the statement and the grant', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'seqoverp',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    const user = `noalter_${w.mysql.database.slice(-8)}`;
    const password = 'Pw-noalter-1';
    const admin = await fx.testHub.admin();
    try {
      for (const host of ['%', 'localhost', '127.0.0.1']) {
        await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, host, password]);
        // Everything the sync needs, but not ALTER.
        await admin.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX, TRIGGER, LOCK TABLES, CREATE TEMPORARY TABLES, EXECUTE ON \`${w.mysql.database}\`.* TO ?@?`,
          [user, host],
        );
      }
      const s1 = w.node('s1');
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-1')");
      for (let i = 1; i <= 3; i++) appWorker(s1.db, `s1-${i}`);
      await syncUntilQuiet(w.nodes);
      const held = s1.syncer.rekeys.list({ status: 'held', limit: 100 });
      expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
      // The application wrote on since: its keys are past the hub's AUTO_INCREMENT (4).
      for (let i = 4; i <= 6; i++) appWorker(s1.db, `s1-${i}`);
      const r = runCli(
        ['rekeys', 'resolve', String(held[0]?.id), '--rekey', 'node'],
        envOf(s1.config, { DB_USER: user, DB_PASSWORD: password, SYNC_KEY_COLLISIONS: 'manual' }),
      );
      expect(r.code, r.stderr).toBe(EXIT.FAILURE);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        /key collision #\d+ not resolved: cannot move the hub's AUTO_INCREMENT of workers past this node's keys: the sync user may not alter the table/,
      );
      expect(lines[0]).toMatch(
        /run on the hub: ALTER TABLE workers AUTO_INCREMENT = \d+; or grant ALTER on the table to the sync user/,
      );
      expect(r.stderr).not.toContain(password);
      // Nothing moved: still held, every row still here.
      expect(s1.syncer.rekeys.list({ status: 'held', limit: 100 })).toHaveLength(1);
      expect(Number((s1.db.prepare('SELECT count(*) AS n FROM workers').get() as { n: number | bigint }).n)).toBe(6);
    } finally {
      await admin.end();
      await w.close();
    }
  }, 120_000);

  it('manual: the table held open on the hub for long: `rekeys resolve` says so in one line, waits bounded, names the ALTER', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'seqoverb',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    const holder = await fx.testHub.admin(w.mysql.database);
    try {
      const s1 = w.node('s1');
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-1')");
      await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'hub-1')");
      for (let i = 1; i <= 3; i++) appWorker(s1.db, `s1-${i}`);
      await syncUntilQuiet(w.nodes);
      const held = s1.syncer.rekeys.list({ status: 'held', limit: 100 });
      expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
      for (let i = 4; i <= 6; i++) appWorker(s1.db, `s1-${i}`);
      // A long transaction on the hub that read the table: it holds its metadata lock until it ends.
      await holder.query('START TRANSACTION');
      await holder.query('SELECT count(*) FROM workers');
      const r = runCli(
        ['rekeys', 'resolve', String(held[0]?.id), '--rekey', 'node'],
        envOf(s1.config, { SYNC_KEY_COLLISIONS: 'manual' }),
      );
      expect(r.code, r.stderr).toBe(EXIT.FAILURE);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        /key collision #\d+ not resolved: could not move the hub's AUTO_INCREMENT of workers past this node's keys yet: the table was busy on the hub \(Lock wait timeout exceeded/,
      );
      expect(lines[0]).toMatch(
        /run the same command again once the hub's transactions on workers end; or run on the hub: ALTER TABLE workers AUTO_INCREMENT = \d+;/,
      );
      await holder.query('ROLLBACK');
      // Once the hub's transaction ended, the same command resolves it.
      const again = runCli(
        ['rekeys', 'resolve', String(held[0]?.id), '--rekey', 'node'],
        envOf(s1.config, { SYNC_KEY_COLLISIONS: 'manual' }),
      );
      expect(again.code, again.stderr).toBe(EXIT.OK);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      await expectEveryChildOnItsParent(w.hub, s1.db, 7);
    } finally {
      await holder.end();
      await w.close();
    }
  }, 120_000);
});
