/**
 * SIGTERM to `sync --watch` while the hub is frozen (SIGSTOP: a hung VM, a stalled network path).
 * Operator trial (2026-12-07): a watcher stopped during hub trouble stayed alive 15 minutes. The
 * batch in flight waited on a hub that never answered, and mysql2's polite close (COM_QUIT, then a
 * half-close waiting for the server's FIN) never completes against a frozen server either. The
 * watcher must end while the hub is still frozen, and lose nothing: what it had not confirmed is
 * sent at the next start.
 */
import { describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { envOf, spawnCli, until } from './helpers/cli.js';
import { HUB_CRASHABLE } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_CRASHABLE)('stopping the watcher while the hub is frozen', () => {
  const hub = privateHub();

  it('ends while the hub is still frozen, and the row it had not confirmed arrives once after a restart', async () => {
    const server = hub.testHub.server;
    if (!server?.pid) throw new Error('needs the private server');
    const m = await hub.testHub.freshDatabase('frozen');
    const setup = await MysqlHub.connect(m);
    await setup.execute('CREATE TABLE readings (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20) NOT NULL)');
    const config = nodeConfig(hub.dir, 'frozen', m, { LOG_LEVEL: 'info' });
    createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, v TEXT NOT NULL)']).close();
    await initNode(config);

    const watch = spawnCli(['sync', '--watch'], envOf(config));
    const pid = server.pid;
    let frozen = false;
    try {
      await until(() => /online/i.test(watch.output()), 'the watcher to come online', 30_000);
      process.kill(pid, 'SIGSTOP');
      frozen = true;
      const db = openSqlite(config.sqlitePath);
      db.prepare("INSERT INTO readings (v) VALUES ('while frozen')").run();
      db.close();
      await new Promise((r) => setTimeout(r, 500)); // the push is on its way to the frozen hub
      watch.child.kill('SIGTERM');
      // Liveness, not speed: before the fix it waited for as long as the hub stayed frozen.
      const ended = await Promise.race([
        watch.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 45_000)),
      ]);
      expect(ended, `the watcher did not end while the hub was frozen:\n${watch.output()}`).toBe(true);
    } finally {
      if (frozen) process.kill(pid, 'SIGCONT');
      watch.child.kill('SIGKILL');
    }

    const again = spawnCli(['sync', '--watch'], envOf(config));
    try {
      await until(
        async () => {
          const rows = await setup.query<{ n: number }>("SELECT COUNT(*) AS n FROM readings WHERE v = 'while frozen'");
          return Number(rows[0]?.n) === 1;
        },
        'the row to reach the hub after the restart',
        60_000,
      );
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
    const rows = await setup.query<{ n: number }>('SELECT COUNT(*) AS n FROM readings');
    expect(Number(rows[0]?.n)).toBe(1);
    await setup.close();
  }, 180_000);
});
