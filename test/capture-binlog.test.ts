/**
 * MySQL 8 (binary log on by default) and Galera refuse CREATE TRIGGER from an
 * account without SUPER unless log_bin_trust_function_creators is on. The capture
 * installer must say that in one line with the fix, not pass errno 1419 through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyColumn } from '../src/capture/keys.js';
import { installMysqlMeta, installMysqlTableCapture } from '../src/capture/mysql-capture.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { MysqlError } from '../src/util/errors.js';
import { HUB_CRASHABLE } from './helpers/hub.js';

// Needs a private server of its own (binary log on), not a shared MYSQL_URL one.
describe.skipIf(!HUB_CRASHABLE)('capture install on a hub with binary logging', () => {
  let server: LocalMysqlServer;
  beforeAll(async () => {
    server = await LocalMysqlServer.start({ durable: false, extraArgs: ['--log-bin=binlog', '--server-id=1'] });
  });
  afterAll(async () => server?.destroy());

  it('explains the refusal and succeeds once the server trusts trigger creators', async () => {
    const hub = await MysqlHub.connect(server.config());
    try {
      await hub.execute('CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))');
      await installMysqlMeta(hub);
      const key: KeyColumn[] = [{ name: 'id', type: 'integer' }];
      const err = await installMysqlTableCapture(hub, 'items', key).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MysqlError);
      expect((err as MysqlError).kind).toBe('missing-privileges');
      expect((err as MysqlError).message).toMatch(/binary logging/);
      expect((err as MysqlError).hint).toMatch(/log_bin_trust_function_creators/);

      const root = await server.rootConnection();
      await root.query('SET GLOBAL log_bin_trust_function_creators = 1');
      await root.end();
      await expect(installMysqlTableCapture(hub, 'items', key)).resolves.toBe('installed');
      await hub.execute("INSERT INTO items VALUES (1, 'a')");
      expect(await hub.query('SELECT tbl, op FROM _dualdb_changes')).toEqual([{ tbl: 'items', op: 'I' }]);
    } finally {
      await hub.close();
    }
  });
});
