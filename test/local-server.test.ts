import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { HUB_AVAILABLE, HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';

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
