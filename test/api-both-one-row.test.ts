/**
 * `both` writes by the one-row push (src/sync/push-one.ts, issue 16), against a real SQLite file and
 * the private MariaDB: a single insert goes up in one multi-statement query that ends in its COMMIT, with every
 * guarantee of the generic push — and whenever the hub has something to decide (another origin
 * changed the key, or deleted the parent the row references; the hub refuses the row) the generic
 * push decides it exactly as before. A connection cut before or after the COMMIT loses nothing and
 * doubles nothing. The cut is a real one: a TCP proxy that drops the connection at the COMMIT.
 */
import { copyFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import { HubInsertPool } from '../src/api/hub-insert.js';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { initNode } from '../src/sync/init.js';
import { CommitCutter } from './helpers/commit-cutter.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'PRAGMA foreign_keys = ON',
  'CREATE TABLE cameras (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)',
  'CREATE TABLE detections (id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id INTEGER REFERENCES cameras (id), label TEXT NOT NULL)',
  'CREATE TABLE tags (code TEXT PRIMARY KEY, note TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE cameras (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL)',
  // label is short on the hub only: a longer one is refused there (a poison row).
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, camera_id BIGINT NULL, label VARCHAR(10) NOT NULL, FOREIGN KEY (camera_id) REFERENCES cameras (id))',
  'CREATE TABLE tags (code VARCHAR(20) PRIMARY KEY, note VARCHAR(50) NULL)',
];

describe.skipIf(!HUB_AVAILABLE)('both: the one-row push', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  async function setup(options: { via?: CommitCutter; env?: Record<string, string> } = {}) {
    const m: MysqlConfig = await hub.freshDatabase('one');
    const name = `one-${Math.random().toString(36).slice(2, 8)}`;
    const { via } = options;
    const config = nodeConfig(tmp.dir, name, via ? { ...m, host: '127.0.0.1', port: via.port } : m, {
      SYNC_MODE: 'both',
      DB_CONNECT_TIMEOUT: '2',
      ...options.env,
    });
    createSqlite(config, SQLITE_DDL).close();
    const h = await MysqlHub.connect(m);
    for (const s of MYSQL_DDL) await h.execute(s);
    await initNode(config);
    // The loop stays off: the test decides when the syncer pulls. One cycle registers the node.
    const db = await DualDatabase.open({ config, sync: false, hubWriteTimeoutMs: 10_000 });
    await db.service.syncer.syncOnce();
    return { config, h, db };
  }

  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Counts the queries (client commands, one round trip each) sent on the connections the `both` writes lease. */
  function countLeasedQueries(): { n: number } {
    const count = { n: 0 };
    const lease = HubInsertPool.prototype.lease;
    vi.spyOn(HubInsertPool.prototype, 'lease').mockImplementation(async function (this: HubInsertPool) {
      const l = await lease.call(this);
      const query = l.conn.query.bind(l.conn);
      return {
        ...l,
        conn: {
          threadId: l.conn.threadId,
          query: (o: { sql: string; timeout?: number }) => {
            count.n++;
            return query(o);
          },
        },
      };
    });
    return count;
  }

  it('a single insert goes up in one query that ends in its COMMIT (one round trip): on the hub with the node’s origin, cursor moved, no echo', async () => {
    const { h, db } = await setup();
    try {
      const queries = countLeasedQueries();
      const r = await db.insert('cameras', { name: 'gate' });
      expect(r).toMatchObject({ committed: 'both', queued: false, failedOver: false, changes: 1 });
      expect(db.service.syncer.oneRowPushes).toBe(1);
      expect(queries.n).toBe(1);
      expect(await h.query('SELECT id, name FROM cameras')).toEqual([{ id: String(r.lastInsertId), name: 'gate' }]);
      expect(await h.query("SELECT pk, op, origin FROM _dualdb_changes WHERE tbl = 'cameras'")).toEqual([
        { pk: String(r.lastInsertId), op: 'I', origin: db.service.syncer.nodeId },
      ]);
      const [node] = await h.query<{ push_cursor: string }>('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ?', [
        db.service.syncer.nodeId,
      ]);
      expect(BigInt(node?.push_cursor ?? -1)).toBe(db.service.syncer.state.pushedUpto());
      expect(db.service.syncer.state.pendingPush().count).toBe(0);
      // A child of it, a natural key: the same path; the next cycle sends and takes nothing back.
      await db.insert('detections', { camera_id: r.lastInsertId, label: 'car' });
      await db.insert('tags', { code: 'x', note: 'first' });
      expect(db.service.syncer.oneRowPushes).toBe(3);
      const cycle = await db.service.syncer.syncOnce();
      expect(cycle.push.applied + cycle.pull.applied).toBe(0);
      expect(await h.query('SELECT label FROM detections')).toEqual([{ label: 'car' }]);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('generated key: another origin inserted and deleted the id on the hub, unpulled: a collision, the node’s row moves', async () => {
    const { h, db } = await setup();
    try {
      await h.execute("INSERT INTO cameras (id, name) VALUES (7, 'hub row')");
      await h.execute('DELETE FROM cameras WHERE id = 7');
      const r = await db.insert('cameras', { id: 7, name: 'node row' });
      expect(r).toMatchObject({ committed: 'both', queued: false });
      expect(db.service.syncer.oneRowPushes).toBe(0);
      // rekey-node (the default): the node's row took a key from the hub's sequence, on both sides.
      const onHub = await h.query<{ id: string; name: string }>('SELECT id, name FROM cameras');
      expect(onHub).toHaveLength(1);
      expect(onHub[0]?.name).toBe('node row');
      expect(onHub[0]?.id).not.toBe('7');
      expect(db.all('SELECT id, name FROM cameras')).toEqual([{ id: BigInt(onHub[0]?.id ?? -1), name: 'node row' }]);
      expect(db.all("SELECT tbl, old_key, status FROM _dualdb_rekeys WHERE tbl = 'cameras'")).toEqual([
        { tbl: 'cameras', old_key: '7', status: 'done' },
      ]);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('natural key: another origin inserted and deleted it on the hub, unpulled: a conflict, decided by the policy', async () => {
    const { h, db } = await setup({ env: { CONFLICT_POLICY: 'hub-wins' } });
    try {
      await h.execute("INSERT INTO tags (code, note) VALUES ('k', 'hub')");
      await h.execute("DELETE FROM tags WHERE code = 'k'");
      await db.insert('tags', { code: 'k', note: 'node' });
      expect(db.service.syncer.oneRowPushes).toBe(0);
      // The hub's delete wins: nothing went up, the loser is kept.
      expect(await h.query('SELECT code FROM tags')).toEqual([]);
      expect(db.all("SELECT tbl, pk, winner FROM _dualdb_conflicts WHERE tbl = 'tags'")).toEqual([
        { tbl: 'tags', pk: 'k', winner: 'hub' },
      ]);
      await db.service.syncer.syncOnce();
      expect(db.all('SELECT code FROM tags')).toEqual([]);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('a child of a parent row another origin deleted and re-created on the hub, unpulled: it waits, never attaches to the new row', async () => {
    const { h, db } = await setup();
    try {
      const cam = await db.insert('cameras', { name: 'old gate' });
      await h.execute('DELETE FROM cameras WHERE id = ?', [cam.lastInsertId]);
      await h.execute("INSERT INTO cameras (id, name) VALUES (?, 'another camera')", [cam.lastInsertId]);
      const r = await db.insert('detections', { camera_id: cam.lastInsertId, label: 'car' });
      expect(db.service.syncer.oneRowPushes).toBe(1); // the camera only
      expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: false });
      expect(await h.query('SELECT id FROM detections')).toEqual([]);
      const parked = db.service.syncer.state.parked('push');
      expect(parked.map((p) => p.tbl)).toEqual(['detections']);
      expect(r.hubError).toBe(parked[0]?.error);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('a copied file (same node id): its write is refused with NODE_ID_IN_USE and stays queued; the holder’s go up', async () => {
    const { config, h, db } = await setup();
    const copyPath = config.sqlitePath.replace(/\.db$/, '-copy.db');
    try {
      db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      copyFileSync(config.sqlitePath, copyPath);
      const mine = await db.insert('cameras', { name: 'holder' });
      expect(mine).toMatchObject({ committed: 'both', queued: false });
      expect(db.service.syncer.oneRowPushes).toBe(1);
      const copy = await DualDatabase.open({ config: { ...config, sqlitePath: copyPath }, sync: false });
      try {
        const r = await copy.insert('cameras', { id: 100, name: 'copy' });
        expect(r).toMatchObject({ committed: 'sqlite', queued: true });
        expect(r.hubError).toMatch(/another SQLite file syncs as node/);
        expect(copy.service.syncer.state.pendingPush().count).toBe(1);
      } finally {
        await copy.close();
      }
      expect(await h.query('SELECT name FROM cameras')).toEqual([{ name: 'holder' }]);
      await db.insert('cameras', { name: 'holder again' });
      expect(db.service.syncer.oneRowPushes).toBe(2);
    } finally {
      await db.close();
      await h.close();
    }
  });

  /** A node whose plan stays trusted for the whole test, after two one-row pushes of `cameras` (the shape seen). */
  async function shapeSeen() {
    const { h, db } = await setup();
    // The plan stays trusted for the whole test: only the push itself can notice the change.
    (db.service.syncer as unknown as { planTtlMs: number }).planTtlMs = 600_000;
    await db.service.syncer.currentPlan(true);
    await db.insert('cameras', { name: 'first' }); // the fingerprint read; the shape remembered
    await db.insert('cameras', { name: 'second' }); // the shape compared, no fingerprint
    expect(db.service.syncer.oneRowPushes).toBe(2);
    return { h, db };
  }

  it.each([
    // Seen by the server inside the query: the COMMIT never runs.
    ['a column added', "ALTER TABLE cameras ADD COLUMN site VARCHAR(10) NOT NULL DEFAULT 'x'"],
    ['a column added with a NULL default', 'ALTER TABLE cameras ADD COLUMN site VARCHAR(10) NULL'],
    ['a column dropped', 'ALTER TABLE cameras DROP COLUMN name'],
    ['a column renamed', 'ALTER TABLE cameras RENAME COLUMN name TO title'],
    ['a column narrowed below the value', 'ALTER TABLE cameras MODIFY name VARCHAR(6) NOT NULL'],
    ['a column whose type changes the value', 'ALTER TABLE cameras MODIFY name VARCHAR(50) CHARACTER SET ascii NOT NULL'],
  ])(
    '%s on the hub after the table’s shape was seen: the one-row push’s query stops before its COMMIT and the generic push decides',
    async (_what, ddl) => {
      const { h, db } = await shapeSeen();
      try {
        await h.execute(ddl);
        const r = await db.insert('cameras', { name: 'thïrd, longer' });
        expect(db.service.syncer.oneRowPushes).toBe(2);
        // The generic push re-plans and decides (a paused table, a parked row); the write is never
        // lost, and the hub never holds a value other than the node's.
        if (r.committed === 'both')
          expect(await h.query('SELECT name FROM cameras WHERE id = ?', [String(r.lastInsertId)])).toEqual([
            { name: 'thïrd, longer' },
          ]);
        else expect(r).toMatchObject({ committed: 'sqlite', queued: true });
      } finally {
        await db.close();
        await h.close();
      }
    },
  );

  it.each([
    // Definitions only: every value stored as sent; the insert's column definitions show the change.
    ['a column widened', 'ALTER TABLE cameras MODIFY name VARCHAR(60) NOT NULL'],
    ['a column made nullable', 'ALTER TABLE cameras MODIFY name VARCHAR(50) NULL'],
    ['a unique key added', 'ALTER TABLE cameras ADD UNIQUE KEY uq_name (name)'],
    ['a column’s type changed, the value the same', 'ALTER TABLE cameras MODIFY name TEXT NOT NULL'],
  ])(
    '%s on the hub after the table’s shape was seen: the row commits stored as sent, and the plan is made again before the next batch',
    async (_what, ddl) => {
      const { h, db } = await shapeSeen();
      try {
        await h.execute(ddl);
        const r = await db.insert('cameras', { name: 'thïrd' });
        expect(r).toMatchObject({ committed: 'both', queued: false });
        expect(db.service.syncer.oneRowPushes).toBe(3);
        expect(await h.query('SELECT id, name FROM cameras WHERE id = ?', [String(r.lastInsertId)])).toEqual([
          { id: String(r.lastInsertId), name: 'thïrd' },
        ]);
        // The shape was seen to differ: the plan is dropped, so the next batch makes it again.
        expect((db.service.syncer as unknown as { plan?: unknown }).plan).toBeUndefined();
        // The next write checks the whole fingerprint again (the shape forgotten) and flows.
        const next = await db.insert('cameras', { name: 'fourth' });
        expect(next).toMatchObject({ committed: 'both', queued: false });
        expect(db.service.syncer.oneRowPushes).toBe(4);
        const cycle = await db.service.syncer.syncOnce();
        expect(cycle.push.applied + cycle.pull.applied).toBe(0);
      } finally {
        await db.close();
        await h.close();
      }
    },
  );

  it('the primary key changed on the hub after the table’s shape was seen (its values the same): the row stands as sent, the plan is made again and pauses the table; later writes wait', async () => {
    const { h, db } = await shapeSeen();
    try {
      await h.execute('ALTER TABLE cameras DROP PRIMARY KEY, ADD PRIMARY KEY (id, name)');
      const r = await db.insert('cameras', { name: 'third' });
      expect(r).toMatchObject({ committed: 'both', queued: false });
      expect(db.service.syncer.oneRowPushes).toBe(3);
      expect(await h.query('SELECT name FROM cameras WHERE id = ?', [String(r.lastInsertId)])).toEqual([{ name: 'third' }]);
      expect((db.service.syncer as unknown as { plan?: unknown }).plan).toBeUndefined();
      // The new plan sees the key drift (invariant 9): the table pauses and the next write waits.
      const next = await db.insert('cameras', { name: 'fourth' });
      expect(next).toMatchObject({ committed: 'sqlite', queued: true });
      expect(db.service.syncer.oneRowPushes).toBe(3);
      expect(await h.query("SELECT name FROM cameras WHERE name = 'fourth'")).toEqual([]);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('the hub stores another value than sent (its own trigger): the query stops before its COMMIT, nothing of it committed; the generic push sends the row and the node pulls the hub’s version back', async () => {
    const { h, db } = await setup();
    try {
      await db.insert('cameras', { name: 'warm' });
      expect(db.service.syncer.oneRowPushes).toBe(1);
      await h.execute('CREATE TRIGGER cameras_upper BEFORE INSERT ON cameras FOR EACH ROW SET NEW.name = UPPER(NEW.name)');
      const r = await db.insert('cameras', { name: 'gate' });
      expect(r).toMatchObject({ committed: 'both', queued: false });
      // Not by the one-row push: its stop saw the stored row differ from the sent one.
      expect(db.service.syncer.oneRowPushes).toBe(1);
      expect(await h.query('SELECT name FROM cameras WHERE id = ?', [String(r.lastInsertId)])).toEqual([{ name: 'GATE' }]);
      await db.service.syncer.syncOnce();
      expect(db.all('SELECT name FROM cameras WHERE id = ?', [r.lastInsertId])).toEqual([{ name: 'GATE' }]);
      const log = await h.query<{ n: string }>("SELECT COUNT(*) AS n FROM _dualdb_changes WHERE tbl = 'cameras' AND op = 'I'");
      expect(log[0]?.n).toBe('2');
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('the write’s hub session is killed while its query waits (before the COMMIT): the write stays queued, then goes up once', async () => {
    const { h, db } = await setup();
    try {
      await db.insert('cameras', { name: 'warm' });
      expect(db.service.syncer.oneRowPushes).toBe(1);
      const nodeId = db.service.syncer.nodeId;
      const pending = await h.withConnection(async (holder) => {
        // The node's row locked by another session: the write's query waits at its fence.
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM _dualdb_nodes WHERE node_id = ? FOR UPDATE', [nodeId]);
        const write = db.insert('cameras', { name: 'mid' });
        let victim: string | undefined;
        for (let i = 0; i < 200 && victim === undefined; i++) {
          await new Promise((r) => setTimeout(r, 25));
          const rows = await h.query<{ id: string }>(
            "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '%UPDATE _dualdb_nodes SET push_token%' AND ID <> CONNECTION_ID()",
          );
          victim = rows[0]?.id;
        }
        expect(victim).toBeDefined();
        await h.query('KILL CONNECTION ?', [victim]);
        await holder.query('ROLLBACK');
        return write;
      });
      const r = await pending;
      expect(r).toMatchObject({ committed: 'sqlite', queued: true });
      expect(await h.query("SELECT name FROM cameras WHERE name = 'mid'")).toEqual([]);
      await db.service.syncer.syncOnce();
      expect((await h.query('SELECT name FROM cameras ORDER BY id')).map((c) => (c as { name: string }).name)).toEqual([
        'warm',
        'mid',
      ]);
      expect(db.service.syncer.state.pendingPush().count).toBe(0);
      const log = await h.query<{ n: string }>("SELECT COUNT(*) AS n FROM _dualdb_changes WHERE tbl = 'cameras'");
      expect(log[0]?.n).toBe('2');
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('a row the hub refuses is parked with its error and the caller told; the next write still flows', async () => {
    const { h, db } = await setup();
    try {
      const r = await db.insert('detections', { label: 'much too long for the hub' });
      expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: false });
      expect(r.hubError).toMatch(/ER_DATA_TOO_LONG|too long/i);
      const parked = db.service.syncer.state.parked('push');
      expect(parked.map((p) => p.pk)).toEqual([String(r.lastInsertId)]);
      const next = await db.insert('detections', { label: 'short' });
      expect(next).toMatchObject({ committed: 'both', queued: false });
      expect(await h.query('SELECT label FROM detections')).toEqual([{ label: 'short' }]);
      await expect(
        DualDatabase.open({ config: db.config, sync: false, strict: true }).then(async (strict) => {
          try {
            await strict.insert('detections', { label: 'still much too long' });
          } finally {
            await strict.close();
          }
        }),
      ).rejects.toThrow(/refused/);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it.each([
    ['before', 'before-commit'],
    ['after', 'after-commit'],
  ] as const)('the connection is cut %s the hub commits: nothing lost, nothing doubled', async (_when, arm) => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup({ via: cutter });
    try {
      await db.insert('cameras', { name: 'warm' });
      expect(db.service.syncer.oneRowPushes).toBe(1);
      // A plan read now is trusted for seconds: no introspection (and its COMMIT) before the cut one.
      await db.service.syncer.currentPlan(true);
      cutter.arm = arm;
      const r = await db.insert('cameras', { name: 'cut' });
      expect(cutter.cuts).toBe(1);
      if (arm === 'before-commit') {
        // Not on the hub: the caller is told, the write stays queued.
        expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: true });
        expect(await h.query("SELECT name FROM cameras WHERE name = 'cut'")).toEqual([]);
      } else {
        // Committed, only the reply lost: the push token says so at once.
        expect(r).toMatchObject({ committed: 'both', queued: false });
        expect(db.service.syncer.state.pendingPush().count).toBe(0);
      }
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT id, name FROM cameras ORDER BY id')).toEqual(
        db
          .all<{ id: bigint; name: string }>('SELECT id, name FROM cameras ORDER BY id')
          .map((c) => ({ id: String(c.id), name: c.name })),
      );
      expect((await h.query('SELECT name FROM cameras ORDER BY id')).map((c) => (c as { name: string }).name)).toEqual([
        'warm',
        'cut',
      ]);
      expect(db.service.syncer.state.pendingPush().count).toBe(0);
      const log = await h.query<{ n: string }>("SELECT COUNT(*) AS n FROM _dualdb_changes WHERE tbl = 'cameras'");
      expect(log[0]?.n).toBe('2');
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });
});
