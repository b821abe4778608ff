/**
 * Messages an operator met while trying the product (operator trial of 2026-12-07), against a
 * private MariaDB and real SQLite files:
 * - `dualdb schema apply` as a hub account without CREATE said "fix the statement … and run it
 *   again", although the statement was right and the fix is a GRANT;
 * - a SQLite table without a primary key, not yet on the hub, was reported "only in SQLite: create
 *   it on the hub", which sent the operator to create a copy that could never sync either.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql } from '../src/engines/mysql/introspect.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SqlStatementError } from '../src/schema/errors.js';
import { runSql } from '../src/schema/runner.js';
import { buildSyncPlan } from '../src/sync/plan.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const PASSWORD = 'Narrow-Pa55-word';

describe.skipIf(!HUB_AVAILABLE)('operator trial messages', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  }, 120_000);
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('a statement refused for lack of a privilege names the GRANT, not "fix the statement"', async () => {
    const cfg = await hub.freshDatabase('priv');
    const admin = await hub.admin();
    try {
      for (const host of ['%', 'localhost', '127.0.0.1']) {
        await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', ['narrow_op', host, PASSWORD]);
        await admin.query(`GRANT SELECT, INSERT ON \`${cfg.database}\`.* TO ?@?`, ['narrow_op', host]);
      }
    } finally {
      await admin.end();
    }
    const narrow = await MysqlHub.connect({ ...cfg, user: 'narrow_op', password: PASSWORD });
    try {
      const err = await runSql('CREATE TABLE `workers` (`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY)', {
        engine: 'mysql',
        hub: narrow,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SqlStatementError);
      const e = err as SqlStatementError;
      expect(e.serverCode).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(e.hint).not.toMatch(/fix the statement/);
      expect(e.hint).toMatch(new RegExp(`GRANT CREATE ON \`${cfg.database}\`\\.\\* TO 'narrow_op'@'`));
      expect(`${e.message} ${e.hint}`).not.toContain(PASSWORD);
    } finally {
      await narrow.close();
    }
  });

  it('a SQLite table without a primary key, absent from the hub, is reported as keyless, not "create it on the hub"', async () => {
    const cfg = await hub.freshDatabase('nopk');
    const mysql = await MysqlHub.connect(cfg);
    const db = openSqlite(path.join(tmp.dir, 'nopk.db'), { create: true });
    try {
      db.exec('CREATE TABLE cam_log (cam TEXT, ts TEXT); CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT)');
      const plan = buildSyncPlan(introspectSqlite(db), await introspectMysql(mysql));
      const camLog = plan.skipped.find((s) => s.table === 'cam_log');
      expect(camLog?.reason).toMatch(/no primary key/);
      expect(camLog?.reason).not.toMatch(/create it on the hub/);
      // A table with a key that only SQLite has keeps its advice.
      expect(plan.skipped.find((s) => s.table === 'workers')?.reason).toMatch(/create it on the hub/);
    } finally {
      db.close();
      await mysql.close();
    }
  });
});
