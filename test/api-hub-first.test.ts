/**
 * mysql_primary writes (issue 12 item 6), against a real SQLite file and the private MariaDB:
 *  - a hub-first write and a push in flight are serialised: the push (holding an older local
 *    image) cannot write over the newer hub row;
 *  - a connection cut during COMMIT: when the hub committed (only the reply was lost) the write
 *    is mirrored, not applied locally a second time (no duplicate AUTO_INCREMENT row); when it
 *    did not, the write fails over to SQLite and is pushed once.
 * The cut is a real one: a TCP proxy between the library and the server that drops the
 * connection at the COMMIT packet, after or before handing it to the server.
 *
 * The one-row insert's write token (issue 16): on a MariaDB hub with capture version 2 the capture
 * trigger logs it with the insert's own log row (no `_dualdb_write_tokens` row), and a lost reply
 * is resolved from the log; a hub whose triggers are older (version 1) keeps the token row until
 * `init` brings them up to date.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import { installMysqlMeta, installMysqlTableCapture, mysqlTriggerDdl } from '../src/capture/mysql-capture.js';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { committedInLog } from '../src/sync/commit-outcome.js';
import { initNode } from '../src/sync/init.js';
import { until, within } from './helpers/cli.js';
import { CommitCutter } from './helpers/commit-cutter.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE detections (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL)'];
const MYSQL_DDL = 'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, camera VARCHAR(50) NOT NULL)';

describe.skipIf(!HUB_AVAILABLE)('mysql_primary: serialised with the sync, exact after a cut COMMIT', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  async function setup(via?: CommitCutter) {
    const m: MysqlConfig = await hub.freshDatabase('first');
    const name = `first-${Math.random().toString(36).slice(2, 8)}`;
    const config = nodeConfig(tmp.dir, name, via ? { ...m, host: '127.0.0.1', port: via.port } : m, {
      SYNC_MODE: 'mysql_primary',
      DB_CONNECT_TIMEOUT: '2',
    });
    createSqlite(config, SQLITE_DDL).close();
    const h = await MysqlHub.connect(m);
    await h.execute(MYSQL_DDL);
    await initNode(config);
    // The loop stays off: the test decides when the syncer pushes.
    const db = await DualDatabase.open({ config, sync: false, hubWriteTimeoutMs: 10_000 });
    return { config, h, db };
  }

  it('a hub-first write waits for the push in flight, which cannot overwrite it with an older image', async () => {
    const { config, h, db } = await setup();
    const admin = await hub.admin(h.config.database);
    const watcher = await hub.admin(h.config.database);
    try {
      await db.insert('detections', { id: 1, camera: 'first' });
      // Another program on this node changes the row: captured, waiting to be pushed.
      const app = openSqlite(config.sqlitePath);
      app.prepare("UPDATE detections SET camera = 'older local' WHERE id = 1").run();
      app.close();
      // The hub row is busy (another client holds it); the write queues for it first, the push
      // (which has read its older local image by then) after it.
      const lockWaits = async () => {
        // InnoDB refreshes INNODB_TRX only after 0.1 s without readers: polled faster, it never changes.
        await new Promise((r) => setTimeout(r, 150));
        const [rows] = await watcher.query(
          "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
        );
        return Number((rows as { n: string }[])[0]?.n);
      };
      await admin.query('BEGIN');
      await admin.query('SELECT * FROM detections WHERE id = 1 FOR UPDATE');
      const write = db.update('detections', { id: 1 }, { camera: 'newest' });
      await until(async () => (await lockWaits()) === 1, 'the write to wait for the row');
      const push = db.service.syncer.push();
      // Before the fix the push also waits on the hub row now; after it, it waits for the write.
      await within(
        until(async () => (await lockWaits()) === 2, 'the push to wait for the row', 3000).catch(() => {}),
        5000,
      );
      await admin.query('ROLLBACK');
      await push;
      expect((await write).committed).toBe('mysql+sqlite');
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT id, camera FROM detections')).toEqual([{ id: '1', camera: 'newest' }]);
      expect(db.all('SELECT id, camera FROM detections')).toEqual([{ id: 1n, camera: 'newest' }]);
    } finally {
      await admin.end();
      await watcher.end();
      await db.close();
      await h.close();
    }
  }, 90_000);

  it('the reply to COMMIT is lost but the hub committed: mirrored once, never applied twice', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup(cutter);
    try {
      // Another node's rows are ahead on the hub: its AUTO_INCREMENT differs from this file's.
      await h.execute('ALTER TABLE detections AUTO_INCREMENT = 1000');
      cutter.arm = 'after-commit';
      const r = await db.insert('detections', { camera: 'cut after commit' });
      expect(cutter.cuts).toBe(1);
      expect(r).toMatchObject({ committed: 'mysql+sqlite', queued: false, failedOver: false, lastInsertId: 1000n });
      expect(db.all('SELECT id, camera FROM detections')).toEqual([{ id: 1000n, camera: 'cut after commit' }]);
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT id, camera FROM detections')).toEqual([{ id: '1000', camera: 'cut after commit' }]);
      expect(db.service.syncer.state.pendingPush(true).count).toBe(0);
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });

  it('the reply to COMMIT is lost, the key given: the hub’s row is read back by it and mirrored once', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup(cutter);
    try {
      // The hub stores something else than sent: the mirror can only be the row read back.
      await h.execute(
        'CREATE TRIGGER detections_upper BEFORE INSERT ON detections FOR EACH ROW SET NEW.camera = UPPER(NEW.camera)',
      );
      cutter.arm = 'after-commit';
      const r = await db.insert('detections', { id: 7, camera: 'given key' });
      expect(cutter.cuts).toBe(1);
      expect(r).toMatchObject({ committed: 'mysql+sqlite', queued: false, failedOver: false });
      expect(db.all('SELECT id, camera FROM detections')).toEqual([{ id: 7n, camera: 'GIVEN KEY' }]);
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT id, camera FROM detections')).toEqual([{ id: '7', camera: 'GIVEN KEY' }]);
      expect(db.service.syncer.state.pendingPush(true).count).toBe(0);
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });

  it('the connection is cut before the hub commits: the write fails over to SQLite and reaches the hub once', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup(cutter);
    try {
      cutter.arm = 'before-commit';
      const r = await db.insert('detections', { camera: 'cut before commit' });
      expect(cutter.cuts).toBe(1);
      expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: true });
      expect(await h.query('SELECT camera FROM detections')).toEqual([]);
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT camera FROM detections')).toEqual([{ camera: 'cut before commit' }]);
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });
  /** Write-token rows, and the log's tokens of `detections` (every row's: NULL where none). */
  async function tokens(h: MysqlHub): Promise<{ rows: number; logged: (string | null)[] }> {
    const [r] = await h.query<{ n: string }>('SELECT COUNT(*) AS n FROM _dualdb_write_tokens');
    const logged = await h.query<{ token: string | null }>(
      "SELECT token FROM _dualdb_changes WHERE tbl = 'detections' ORDER BY seq",
    );
    return { rows: Number(r?.n), logged: logged.map((l) => l.token) };
  }

  it('the reply is lost: the token is found in the hub log, where the insert’s capture logged it; mirrored once', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup(cutter);
    try {
      await h.execute('ALTER TABLE detections AUTO_INCREMENT = 500');
      cutter.arm = 'after-commit';
      const r = await db.insert('detections', { camera: 'token in the log' });
      expect(cutter.cuts).toBe(1);
      expect(r).toMatchObject({ committed: 'mysql+sqlite', queued: false, failedOver: false, lastInsertId: 500n });
      // No token row: only the log row, the one the outcome was read from, holds the token.
      const t = await tokens(h);
      expect(t.rows).toBe(0);
      expect(t.logged).toHaveLength(1);
      expect(t.logged[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(db.all('SELECT id, camera FROM detections')).toEqual([{ id: 500n, camera: 'token in the log' }]);
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT id, camera FROM detections')).toEqual([{ id: '500', camera: 'token in the log' }]);
      expect(db.service.syncer.state.pendingPush(true).count).toBe(0);
      // An acknowledged write of the same path: its token logged too, still no token row.
      await db.insert('detections', { camera: 'acknowledged' });
      expect(await tokens(h)).toMatchObject({ rows: 0, logged: [expect.any(String), expect.any(String)] });
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });

  it('the log look-up waits for the write’s transaction: its uncommitted log row is not taken for a commit', async () => {
    const { h, db } = await setup();
    const writer = await hub.admin(h.config.database);
    try {
      for (const end of ['ROLLBACK', 'COMMIT'] as const) {
        const token = `${end === 'COMMIT' ? 'c' : 'r'}`.repeat(32);
        // What the one-row insert does before it commits: its token logged by the capture trigger.
        await writer.query(
          "SET @dualdb_origin = 'other', @dualdb_token_tbl = CONCAT(DATABASE(), '.detections'), @dualdb_token = ?, autocommit = 0",
          [token],
        );
        await writer.query("INSERT INTO detections (camera) VALUES ('open')");
        let settled = false;
        const outcome = committedInLog(h, token, 0n, undefined, 10_000).finally(() => {
          settled = true;
        });
        await new Promise((r) => setTimeout(r, 500));
        // The row is visible to the look-up's first read, but its outcome waits for the transaction.
        expect(settled).toBe(false);
        await writer.query(end);
        const found = await outcome;
        if (end === 'COMMIT') expect(found).toMatchObject({ outcome: 'committed', table: 'detections' });
        else expect(found).toEqual({ outcome: 'rolled-back' });
        if (found.key !== undefined)
          expect(await h.query('SELECT camera FROM detections WHERE id = ?', [found.key])).toEqual([{ camera: 'open' }]);
      }
    } finally {
      await writer.end();
      await db.close();
      await h.close();
    }
  });

  it('a same-named captured table in another hub database, written by a trigger of this one, never takes the token', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    const { h, db } = await setup(cutter);
    const otherConfig = await hub.freshDatabase('other');
    const other = await MysqlHub.connect(otherConfig);
    const admin = await hub.admin(h.config.database);
    try {
      // Another hub database with dualdb's capture (version 2) on its own `detections` table.
      await other.execute(MYSQL_DDL);
      await installMysqlMeta(other);
      await installMysqlTableCapture(other, 'detections', [{ name: 'id', type: 'integer' }]);
      // This hub's own trigger copies every new row there, set off before dualdb's.
      const [ours] = (await admin.query(
        "SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'detections' AND EVENT_MANIPULATION = 'INSERT'",
      )) as unknown as [{ n: string }[]];
      await admin.query(
        `CREATE TRIGGER detections_copy AFTER INSERT ON detections FOR EACH ROW PRECEDES \`${ours[0]?.n}\`
         INSERT INTO \`${otherConfig.database}\`.detections (id, camera) VALUES (NEW.id, NEW.camera)`,
      );
      cutter.arm = 'after-commit';
      const r = await db.insert('detections', { camera: 'copied elsewhere' });
      expect(cutter.cuts).toBe(1);
      expect(r).toMatchObject({ committed: 'mysql+sqlite', failedOver: false });
      expect((await tokens(h)).logged).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);
      await db.service.syncer.syncOnce();
      expect(await h.query('SELECT camera FROM detections')).toEqual([{ camera: 'copied elsewhere' }]);
      expect(db.all('SELECT camera FROM detections')).toEqual([{ camera: 'copied elsewhere' }]);
    } finally {
      await admin.end();
      await other.close();
      await db.close();
      await h.close();
      await cutter.close();
    }
  });

  it('a hub whose triggers predate token logging still works by the token row (a lost reply too); init brings them up to date', async () => {
    const target = hub.server ? { host: '127.0.0.1', port: (await hub.freshDatabase('probe')).port } : undefined;
    if (!target) return;
    const cutter = await CommitCutter.start(target);
    let { config, h, db } = await setup(cutter);
    try {
      // The hub as an older dualdb left it: version 1 triggers, no token column in the log.
      for (const ddl of mysqlTriggerDdl('detections', [{ name: 'id', type: 'integer' }], 1))
        await h.execute(ddl.replace(/^CREATE TRIGGER/, 'CREATE OR REPLACE TRIGGER'));
      await h.execute("UPDATE _dualdb_tables SET capture_version = 1 WHERE tbl = 'detections'");
      await h.execute('ALTER TABLE _dualdb_changes DROP COLUMN token');
      // The first write finds the old trigger (nothing committed) and goes the token row's way.
      expect(await db.insert('detections', { camera: 'old hub' })).toMatchObject({ committed: 'mysql+sqlite', queued: false });
      const [{ n } = { n: '' }] = await h.query<{ n: string }>('SELECT COUNT(*) AS n FROM _dualdb_write_tokens');
      expect(Number(n)).toBe(1);
      // A lost reply on that way is resolved by the token row, as before.
      cutter.arm = 'after-commit';
      expect(await db.insert('detections', { camera: 'old hub, cut' })).toMatchObject({
        committed: 'mysql+sqlite',
        failedOver: false,
      });
      expect(cutter.cuts).toBe(1);
      await db.service.syncer.syncOnce();
      const both = [{ camera: 'old hub' }, { camera: 'old hub, cut' }];
      expect(await h.query('SELECT camera FROM detections ORDER BY id')).toEqual(both);
      expect(db.all('SELECT camera FROM detections ORDER BY id')).toEqual(both);
      expect(db.service.syncer.state.pendingPush(true).count).toBe(0);
      // init upgrades the hub in place: the column added, the triggers replaced (version 2).
      await db.close();
      await initNode(config);
      expect(await h.query("SELECT capture_version AS v FROM _dualdb_tables WHERE tbl = 'detections'")).toEqual([{ v: 2 }]);
      db = await DualDatabase.open({ config, sync: false, hubWriteTimeoutMs: 10_000 });
      await db.insert('detections', { camera: 'upgraded' });
      const t = await tokens(h);
      expect(t.rows).toBe(2);
      expect(t.logged.filter((l) => l !== null)).toHaveLength(1);
      expect(await h.query('SELECT camera FROM detections ORDER BY id')).toEqual([...both, { camera: 'upgraded' }]);
    } finally {
      await db.close();
      await h.close();
      await cutter.close();
    }
  });
});
