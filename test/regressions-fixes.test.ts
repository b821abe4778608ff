/**
 * Regressions, each against real SQLite files and the private MariaDB:
 *  - Syncer.connectHub called twice at once opens one pool, not two (one leaked);
 *    a failed connect is not remembered, the next call tries again;
 *  - MysqlHub keeps DualdbErrors, SQLite errors and programming errors thrown inside
 *    withConnection as they are (only driver/network failures become MysqlErrors);
 *  - repair --from sqlite never uses ON DUPLICATE KEY UPDATE for a key the hub lacks
 *    (it would land on another row sharing a unique value), captures nothing and
 *    leaves no session variable in the pool;
 *  - the monitor's in-process sync says it is the monitor (ping, log, lock message)
 *    and writes no daemon pid file;
 *  - `dualdb --env-file x.env` with x.env missing opens the wizard set to write x.env;
 *  - the CLI run from source by the test helpers compiles .tsx the same from any cwd.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareNode, planOptionsOf } from '../src/compare/compare.js';
import { repairDatabases } from '../src/compare/repair.js';
import { diagnoseIfConnection, MysqlHub } from '../src/engines/mysql/connect.js';
import { freePort } from '../src/engines/mysql/local-server.js';
import { InProcessSource } from '../src/monitor/source.js';
import { SetupSession } from '../src/setup/session.js';
import { AlreadyRunningError, ControlServer, sendControl } from '../src/sync/control.js';
import { decideStartScreen } from '../src/ui/app/entry.js';
import { ConfigError, DualdbError, MysqlError } from '../src/util/errors.js';
import { cliEnv } from './helpers/cli.js';
import { makeWorld, type SyncWorld, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, qty INTEGER)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT PRIMARY KEY, code VARCHAR(40) NOT NULL, qty BIGINT NULL, UNIQUE KEY items_code (code))',
  'CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NULL)',
];

/** Ids of the connections the test user holds on this database. */
async function connectionIds(testHub: TestHub, database: string): Promise<Set<string>> {
  const admin = await testHub.admin();
  try {
    const [rows] = await admin.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND USER = ?', [
      database,
      'dualdb_test',
    ]);
    return new Set((rows as { id: string | number }[]).map((r) => String(r.id)));
  } finally {
    await admin.end();
  }
}

describe.skipIf(!HUB_AVAILABLE)('regressions', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-regress-');
  const worlds: SyncWorld[] = [];

  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });
  afterAll(async () => {
    for (const w of worlds) await w.close().catch(() => {});
    await testHub?.close();
    tmp.cleanup();
  });

  async function world(prefix: string): Promise<SyncWorld> {
    const w = await makeWorld(testHub, tmp.dir, { prefix, sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
    worlds.push(w);
    return w;
  }

  it('connectHub: concurrent callers share one pool, nothing stays open after close, a failure is retried', async () => {
    const w = await world('conn');
    const A = w.node('A');
    const before = await connectionIds(testHub, w.mysql.database);
    const [a, b, c] = await Promise.all([A.syncer.connectHub(), A.syncer.connectHub(), A.syncer.connectHub()]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await A.syncer.connectHub()).toBe(a);
    const syncers = [...(await connectionIds(testHub, w.mysql.database))].filter((id) => !before.has(id));
    expect(syncers.length).toBeGreaterThan(0);
    await A.syncer.close();
    await waitFor(async () => {
      const now = await connectionIds(testHub, w.mysql.database);
      return syncers.every((id) => !now.has(id));
    }, 'every hub connection of the syncer to close');

    // A failed connect (capture missing on the hub) is forgotten: the next call connects.
    const again = await w.addNode('B');
    await w.hub.execute('RENAME TABLE _dualdb_changes TO _dualdb_changes_away');
    const failures = await Promise.allSettled([again.syncer.connectHub(), again.syncer.connectHub()]);
    for (const f of failures) {
      expect(f.status).toBe('rejected');
      expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'CAPTURE_MISSING' });
    }
    expect(again.syncer.hubConnected).toBe(false);
    await w.hub.execute('RENAME TABLE _dualdb_changes_away TO _dualdb_changes');
    const hub = await again.syncer.connectHub();
    expect(again.syncer.hubConnected).toBe(true);
    expect(await again.syncer.connectHub()).toBe(hub);
  });

  it('withConnection passes our own, SQLite and programming errors through; driver failures are diagnosed', async () => {
    const w = await world('diag');
    const own = new DualdbError('HUB_WRITE_FAILED', 'a failure of ours', { exitCode: 7 });
    await expect(
      w.hub.withConnection(async () => {
        throw own;
      }),
    ).rejects.toBe(own);
    const bug = new TypeError('x is not a function');
    await expect(
      w.hub.withConnection(async () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    // A real SQLite error (code SQLITE_CONSTRAINT_UNIQUE) met while a hub connection is pinned.
    const db = w.node('A').db;
    db.prepare("INSERT INTO items VALUES (1, 'dup', 1)").run();
    let sqliteError: unknown;
    try {
      await w.hub.withConnection(async () => {
        db.prepare("INSERT INTO items VALUES (2, 'dup', 1)").run();
      });
    } catch (e) {
      sqliteError = e;
    }
    expect(sqliteError).not.toBeInstanceOf(MysqlError);
    expect((sqliteError as { code?: string }).code).toMatch(/^SQLITE_CONSTRAINT/);
    // A statement's SQL error stays the driver's error.
    await w.hub.execute("INSERT INTO items VALUES (1, 'dup', 1)");
    const dup = await w.hub.execute("INSERT INTO items VALUES (2, 'dup', 1)").catch((e: unknown) => e);
    expect(dup).not.toBeInstanceOf(MysqlError);
    expect((dup as { code?: string }).code).toBe('ER_DUP_ENTRY');
    // A real network failure is still diagnosed.
    const port = await freePort();
    const refused = await mysql
      .createConnection({ host: '127.0.0.1', port, user: 'x', password: 'y', connectTimeout: 2000 })
      .then((c) => c.end())
      .catch((e: unknown) => e);
    const diagnosed = diagnoseIfConnection(refused, { ...w.mysql, port });
    expect(diagnosed).toBeInstanceOf(MysqlError);
    expect((diagnosed as MysqlError).kind).toBe('connection-refused');
    // mysql2's own code-less "Pool is closed." is a connection failure too.
    const closed = await MysqlHub.connect(w.mysql);
    await closed.close();
    const afterClose = await closed.query('SELECT 1').catch((e: unknown) => e);
    expect(afterClose).toBeInstanceOf(MysqlError);
  });

  it('repair --from sqlite: a key the hub lacks is inserted, never upserted onto another row sharing a unique value', async () => {
    const w = await world('rep');
    const A = w.node('A');
    // The node has (1, 'k') and (3, 'c'); the hub has (2, 'k'), a different key with the same
    // unique code, and an outdated (3, 'c').
    A.db.prepare("INSERT INTO items VALUES (1, 'k', 10), (3, 'c', 30)").run();
    await w.hub.execute("INSERT INTO items VALUES (2, 'k', 20), (3, 'c', 99)");
    const logBefore = await w.hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM _dualdb_changes');
    const localBefore = A.db.prepare('SELECT COUNT(*) AS n FROM _dualdb_changes').get() as { n: bigint };
    // A pool of two connections, so the check below sees every connection the repair used.
    const hub = await MysqlHub.connect(w.mysql, { connectionLimit: 2 });
    try {
      const sources = { sqlitePath: A.config.sqlitePath, hub, planOptions: planOptionsOf(A.config) };
      const first = await repairDatabases(sources, { from: 'sqlite', tables: ['items'] });
      const items = first.tables.find((t) => t.table === 'items');
      // The insert of 1 fails on the unique code (2 still holds it) and says so; row 2 was not
      // rewritten into row 1's values and then deleted, which lost row 1 without a word.
      expect(first.ok).toBe(false);
      expect(items?.failures.map((f) => f.key)).toEqual(['1']);
      expect(items?.failures[0]?.error).toMatch(/ER_DUP_ENTRY/);
      expect(items?.updated).toBe(1);
      expect(items?.deleted).toBe(1);
      // Now that 2 is gone, the next repair puts 1 in.
      const second = await repairDatabases(sources, { from: 'sqlite', tables: ['items'] });
      expect(second.ok).toBe(true);
      expect(second.totals).toMatchObject({ inserted: 1, updated: 0, deleted: 0, failures: 0 });
      expect(await w.hub.query('SELECT id, code, qty FROM items ORDER BY id')).toEqual([
        { id: '1', code: 'k', qty: '10' },
        { id: '3', code: 'c', qty: '30' },
      ]);
      expect((await compareNode(A.config, { tables: ['items'] })).match).toBe(true);
      // Nothing captured on either side (no echo), and no capture-off variable left in the pool.
      expect(await w.hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM _dualdb_changes')).toEqual(logBefore);
      expect(A.db.prepare('SELECT COUNT(*) AS n FROM _dualdb_changes').get()).toEqual(localBefore);
      const conns = await Promise.all([hub.pool.getConnection(), hub.pool.getConnection()]);
      for (const c of conns) {
        const [rows] = await c.query('SELECT @dualdb_capture_off AS off, @dualdb_origin AS origin');
        expect(rows).toEqual([{ off: null, origin: null }]);
        c.release();
      }
    } finally {
      await hub.close();
    }
  });

  it('the monitor runs the sync as "monitor": ping, log and lock say so, and it writes no daemon pid file', async () => {
    const w = await world('mon');
    const A = w.node('A');
    await A.syncer.close();
    const source = await InProcessSource.start(A.config);
    try {
      const ping = (await sendControl(A.config.sqlitePath, 'ping', 5000)) as { kind: string; pid: number };
      expect(ping).toMatchObject({ kind: 'monitor', pid: process.pid });
      const second = await ControlServer.listen(A.config.sqlitePath, async () => null).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(AlreadyRunningError);
      expect((second as Error).message).toMatch(/dualdb monitor \(pid \d+\) is already running/);
      await waitFor(
        () => existsSync(A.config.log.file) && readFileSync(A.config.log.file, 'utf8').includes('"event":"start"'),
        'the start line',
      );
      expect(readFileSync(A.config.log.file, 'utf8')).toMatch(/dualdb monitor started for /);
      expect(existsSync(A.config.pidFile)).toBe(false);
    } finally {
      await source.close();
    }
  });
});

describe('dualdb --env-file with a file that does not exist yet', () => {
  const tmp = tempDir('dualdb-regress-env-');
  afterAll(() => tmp.cleanup());

  it('opens the wizard set to write that file, with or without DB_* variables around', () => {
    const named = path.join(tmp.dir, 'site', 'x.env');
    for (const env of [{}, { DB_HOST: 'db.example', DB_USER: 'u' }]) {
      const start = decideStartScreen({ envFile: 'site/x.env', env, cwd: tmp.dir });
      expect(start.screen).toBe('wizard');
      if (start.screen !== 'wizard') continue;
      expect(start.initial.envFile).toBe(named);
      // What the wizard saves to.
      expect(new SetupSession({ initial: start.initial }).answers.envFile).toBe(named);
    }
    // DUALDB_ENV_FILE names it just the same.
    const viaEnv = decideStartScreen({ env: { DUALDB_ENV_FILE: named }, cwd: tmp.dir });
    expect(viaEnv.screen === 'wizard' && viaEnv.initial.envFile).toBe(named);
    // Nothing named and nothing configured: ./.env of the working directory.
    const plain = decideStartScreen({ env: {}, cwd: tmp.dir });
    expect(plain.screen === 'wizard' && plain.initial.envFile).toBe(path.join(tmp.dir, '.env'));
    // A named file that exists and is invalid is still refused in one line (nothing starts half-configured).
    const bad = path.join(tmp.dir, 'bad.env');
    writeFileSync(bad, 'SYNC_MODE=sideways\n');
    expect(() => decideStartScreen({ envFile: bad, env: {}, cwd: tmp.dir })).toThrow(ConfigError);
  });
});

describe('the CLI run from source by the test helpers', () => {
  const tmp = tempDir('dualdb-regress-cwd-');
  afterAll(() => tmp.cleanup());

  it('compiles .tsx with the automatic JSX runtime from any working directory', () => {
    const probe = path.join(tmp.dir, 'probe.mjs');
    writeFileSync(
      probe,
      `const m = await import(${JSON.stringify(path.join(ROOT, 'src/ui/components/Badge.tsx'))});\n` +
        `process.stdout.write(/React\\.createElement/.test(m.Badge.toString()) ? 'classic' : 'automatic');\n`,
    );
    const loader = `file://${path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')}`;
    const r = spawnSync(process.execPath, ['--import', loader, probe], {
      cwd: tmp.dir,
      env: cliEnv({ PATH: process.env.PATH, HOME: process.env.HOME }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('automatic');
  });
});
