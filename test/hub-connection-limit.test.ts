/**
 * A hub at its connection limit (MariaDB's default max_connections is 151, and each site keeps
 * up to 6: a hub for a few dozen sites reaches it): the server is up but refuses new sessions.
 * The operator gets one line that names the limit and the fix, the exit code of a hub that is
 * away, and no secret; a site's writes wait in SQLite and reach the hub once a connection frees.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli, spawnCli, until } from './helpers/cli.js';
import { HUB_AVAILABLE, HUB_CRASHABLE } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { privateHub } from './helpers/private-hub.js';

const connectAs = (m: MysqlConfig) =>
  mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, database: m.database });

describe.skipIf(!HUB_AVAILABLE)('a hub at its connection limit', () => {
  const hub = privateHub();

  it('an account at its MAX_USER_CONNECTIONS: `health` says so in one line with the fix, exit 3, no password', async () => {
    const m = await hub.testHub.freshDatabase('userlimit');
    const user = `lim_${randomBytes(3).toString('hex')}`;
    const password = `Lim-${randomBytes(8).toString('hex')}`;
    const admin = await hub.testHub.admin();
    try {
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}' WITH MAX_USER_CONNECTIONS 1`);
      await admin.query(`GRANT ALL ON \`${m.database}\`.* TO '${user}'@'%'`);
    } finally {
      await admin.end();
    }
    const limited: MysqlConfig = { ...m, user, password };
    const holder = await connectAs(limited);
    try {
      await expect(MysqlHub.connect(limited)).rejects.toMatchObject({ kind: 'too-many-connections', isUnreachable: true });
      const config = nodeConfig(hub.dir, 'userlimit', limited);
      createSqlite(config, ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)']).close();
      const r = runCli(['health'], { ...envOf(config), NO_COLOR: '1' }, { timeoutMs: 30_000 });
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(EXIT.MYSQL_UNAVAILABLE);
      expect(out).toMatch(/has reached its own connection limit/);
      expect(out).toMatch(/MAX_USER_CONNECTIONS/);
      expect(out).not.toContain(password);
    } finally {
      await holder.end();
    }
    // The limit is the only thing wrong: with the held connection gone, the same account works.
    const ok = await MysqlHub.connect(limited);
    await ok.close();
  });

  it('an account whose limit is below what a site needs: `sync --once` says so with the fix and exits 3 (not a raw server error)', async () => {
    const m = await hub.testHub.freshDatabase('ownlimit');
    const user = `own_${randomBytes(3).toString('hex')}`;
    const password = `Own-${randomBytes(8).toString('hex')}`;
    const admin = await hub.testHub.admin();
    try {
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}' WITH MAX_USER_CONNECTIONS 1`);
      await admin.query(`GRANT ALL ON \`${m.database}\`.* TO '${user}'@'%'`);
      await admin.query(`CREATE TABLE \`${m.database}\`.readings (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))`);
    } finally {
      await admin.end();
    }
    const config = nodeConfig(hub.dir, 'ownlimit', { ...m, user, password });
    createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, v TEXT)']).close();
    await initNode(config);
    const app = openSqlite(config.sqlitePath);
    app.prepare("INSERT INTO readings (v) VALUES ('queued')").run();
    app.close();
    // The sync's own sessions (its reads side by side) exceed the account's single connection.
    const r = runCli(['sync', '--once'], { ...envOf(config), NO_COLOR: '1' }, { timeoutMs: 60_000 });
    const out = r.stdout + r.stderr;
    expect(out).not.toContain(password);
    expect(r.code, out).toBe(EXIT.MYSQL_UNAVAILABLE);
    expect(out).toMatch(/connection limit/);
    expect(out).toMatch(/MAX_USER_CONNECTIONS/);
  });

  it.skipIf(!HUB_CRASHABLE)(
    'a server at max_connections: a site waits, says why, and its writes reach the hub once a connection frees',
    async () => {
      const m = await hub.testHub.freshDatabase('maxconn');
      const setup = await MysqlHub.connect(m);
      await setup.execute('CREATE TABLE readings (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20) NOT NULL)');
      await setup.close();
      const config = nodeConfig(hub.dir, 'maxconn', m, { LOG_LEVEL: 'info' });
      createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, v TEXT NOT NULL)']).close();
      await initNode(config);

      const admin = await hub.testHub.admin();
      const held: mysql.Connection[] = [];
      const [[{ prev }]] = (await admin.query('SELECT @@GLOBAL.max_connections AS prev')) as unknown as [[{ prev: number }]];
      try {
        // MariaDB's floor is 10; fill what is left with the test account's own sessions (root keeps a spare one).
        await admin.query('SET GLOBAL max_connections = 10');
        for (let i = 0; i < 12; i++) {
          try {
            held.push(await connectAs(m));
          } catch (e) {
            expect((e as { code?: string }).code).toBe('ER_CON_COUNT_ERROR');
            break;
          }
        }
        await expect(MysqlHub.connect(m)).rejects.toMatchObject({ kind: 'too-many-connections' });

        const app = openSqlite(config.sqlitePath);
        app.prepare("INSERT INTO readings (v) VALUES ('while full')").run();
        const watch = spawnCli(['sync', '--watch'], envOf(config));
        try {
          await until(
            () => /max_connections/.test(watch.output()),
            'the watcher to say the hub is at max_connections',
            30_000,
          ).catch((e: Error) => {
            throw new Error(`${e.message}; it printed: ${watch.output()}`);
          });
          expect(watch.child.exitCode).toBeNull();
          expect(watch.output()).not.toContain(m.password);
          for (const c of held.splice(0)) await c.end();
          app.prepare("INSERT INTO readings (v) VALUES ('after')").run();
          await until(
            async () => {
              const [rows] = (await admin.query(`SELECT v FROM \`${m.database}\`.readings ORDER BY id`)) as unknown as [
                { v: string }[],
              ];
              return rows.map((r) => r.v).join(',') === 'while full,after';
            },
            'both rows on the hub once connections are free',
            60_000,
          );
        } finally {
          watch.child.kill('SIGTERM');
          await watch.exited;
          app.close();
        }
      } finally {
        for (const c of held) await c.end().catch(() => {});
        await admin.query(`SET GLOBAL max_connections = ${Number(prev)}`);
        await admin.end();
      }
    },
    120_000,
  );
});
