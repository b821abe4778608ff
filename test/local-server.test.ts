import { statSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { HUB_AVAILABLE, HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

describe.skipIf(!HUB_AVAILABLE)('private MariaDB harness', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => hub?.close());

  it('serves a password-protected non-root user', async () => {
    const cfg = await hub.freshDatabase();
    expect(cfg.user).not.toBe('root');
    expect(cfg.password.length).toBeGreaterThan(8);
    const h = await MysqlHub.connect(cfg);
    const rows = await h.query<{ u: string }>('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toMatch(/^dualdb_test@/);
    await h.close();
    await expect(MysqlHub.connect({ ...cfg, password: 'wrong-password' })).rejects.toMatchObject({ kind: 'access-denied' });
  });

  it.skipIf(!HUB_CRASHABLE)('keeps data across kill and restart', async () => {
    const cfg = await hub.freshDatabase();
    let h = await MysqlHub.connect(cfg);
    await h.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))');
    await h.query("INSERT INTO t VALUES (1, 'a')");
    await h.close();
    await hub.server?.kill();
    await expect(MysqlHub.connect(cfg)).rejects.toMatchObject({ kind: 'connection-refused' });
    await hub.server?.restart();
    h = await MysqlHub.connect(cfg);
    expect(await h.query('SELECT * FROM t')).toEqual([{ id: 1, v: 'a' }]);
    await hub.server?.stop();
    await hub.server?.restart();
    await h.close();
  });
});

describe.skipIf(!HUB_CRASHABLE)("a site's own server (setup --local-server)", () => {
  const tmp = tempDir();
  let server: LocalMysqlServer | undefined;
  afterAll(async () => {
    await server?.destroy();
    tmp.cleanup();
  });

  it('root logs in over its socket only, no account without a password on the port, the folder is the owner’s alone', async () => {
    // Operator tryout (2026-12-08): `mariadb -h 127.0.0.1 -P <port> -u root` logged in, no password.
    server = await LocalMysqlServer.start({ dir: path.join(tmp.dir, 'site-server'), durable: true });
    const tcp = (user: string) =>
      mysql.createConnection({ host: '127.0.0.1', port: server?.config().port, user, password: '', connectTimeout: 3000 });
    await expect(tcp('root')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
    await expect(tcp('')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
    const root = await server.rootConnection();
    const [rows] = await root.query("SELECT User AS u, Host AS h FROM mysql.user WHERE User IN ('root', '') ORDER BY Host");
    await root.end();
    expect(rows).toEqual([{ u: 'root', h: 'localhost' }]);
    expect(statSync(path.join(tmp.dir, 'site-server')).mode & 0o777).toBe(0o700);
    const h = await MysqlHub.connect(server.config());
    expect(await h.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await h.close();
    // A restart keeps it so (and closes a server an earlier version made).
    await server.stop();
    await server.restart();
    await expect(tcp('root')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
  });
});
