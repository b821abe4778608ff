/**
 * The application holds the SQLite write lock longer than busy_timeout while `sync --watch` has a
 * hub change to apply. Operator trial (2026-12-07): the pull waited 5 s, failed "database is
 * locked", and recording that failure in the same file waited and threw again, out of the loop:
 * an uncaught SqliteError, a stack trace, exit 1, syncing stopped. The watcher must say whose lock
 * it is, keep running, and apply the change once the application lets go.
 */
import { describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { type AppLock, holdWriteLock } from './helpers/app-lock.js';
import { envOf, spawnCli, until } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_AVAILABLE)('the application holds the write lock while the watcher has a change to apply', () => {
  const hub = privateHub();

  it('the watcher names the holder, keeps running, and applies the change after the lock is released', async () => {
    const m = await hub.testHub.freshDatabase('applock');
    const setup = await MysqlHub.connect(m);
    await setup.execute('CREATE TABLE readings (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20) NOT NULL)');
    const config = nodeConfig(hub.dir, 'applock', m, { LOG_LEVEL: 'info' });
    createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, v TEXT NOT NULL)']).close();
    await initNode(config);
    const before = openSqlite(config.sqlitePath);
    before.prepare("INSERT INTO readings (v) VALUES ('before')").run();
    before.close();

    const watch = spawnCli(['sync', '--watch'], envOf(config));
    let holder: AppLock | undefined;
    try {
      await until(() => /watching|synced|idle|online/i.test(watch.output()), 'the watcher to start', 30_000);
      // The application: a write transaction held open until its stdin closes (Python's sqlite3).
      holder = await holdWriteLock(config.sqlitePath, "UPDATE readings SET v = 'app' WHERE v = 'before'");
      // The control room's insert (a client of its own, not dualdb's connection).
      const room = await hub.testHub.admin();
      await room.query(`INSERT INTO \`${m.database}\`.readings (v) VALUES ('hub')`);
      await room.end();

      await until(
        () => /is locked by another process/.test(watch.output()),
        'the watcher to say the file is locked',
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; it printed: ${watch.output()}`);
      });
      // Whose lock, and still running through at least one more wait.
      expect(watch.output()).toContain(`process ${holder.child.pid} (python3)`);
      expect(watch.output()).toContain('the sync tries again in');
      await new Promise((r) => setTimeout(r, 6_000));
      expect(watch.child.exitCode, watch.output()).toBeNull();
      expect(watch.output()).not.toMatch(/at LocalState|Uncaught|SqliteError:/);

      holder.release();
      const app = openSqlite(config.sqlitePath);
      try {
        await until(
          () => {
            const vs = (app.prepare('SELECT v FROM readings ORDER BY v').all() as { v: string }[]).map((r) => r.v);
            return vs.join(',') === 'app,hub';
          },
          "the hub's row applied once the application committed",
          60_000,
        );
      } finally {
        app.close();
      }
      await until(
        async () =>
          (await setup.query<{ v: string }>('SELECT v FROM readings ORDER BY v')).map((r) => r.v).join(',') === 'app,hub',
        "the application's row on the hub",
        60_000,
      );
      expect(watch.child.exitCode).toBeNull();
      expect(watch.output()).not.toContain(m.password);
    } finally {
      holder?.stop();
      watch.child.kill('SIGTERM');
      await watch.exited;
      await setup.close();
    }
  }, 180_000);
});
