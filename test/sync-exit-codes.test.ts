/**
 * Exit codes of `dualdb sync` (the real CLI in its own process), which scripts
 * and service managers rely on: 0 changes moved, 10 nothing to do, 11
 * conflicts recorded, 12 changes parked, 3 hub down — and `--json` says what moved.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleSummary } from '../src/sync/summary.js';
import { envOf, runCli } from './helpers/cli.js';
import { makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_CRASHABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE cams (id INTEGER PRIMARY KEY, label TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE cams (id BIGINT PRIMARY KEY, label VARCHAR(12) NOT NULL)'];

describe.skipIf(!HUB_CRASHABLE)('exit codes of `dualdb sync`', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, { prefix: 'exit', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
    // The CLI is the only syncer of this file here.
    await world.node('A').syncer.close();
  });
  afterAll(async () => {
    await world?.hub.close();
    await testHub?.close();
    tmp.cleanup();
  });

  const sync = (...args: string[]) => {
    const r = runCli(['sync', ...args], envOf(world.node('A').config, { DB_CONNECT_TIMEOUT: '1' }));
    return { ...r, summary: r.stdout.trim().startsWith('{') ? (JSON.parse(r.stdout) as CycleSummary) : undefined };
  };
  const local = () => world.node('A').config.sqlitePath;

  it('10 when there is nothing to do (heartbeats do not count)', () => {
    const r = sync('--once', '--json');
    expect(r.code, r.stderr).toBe(10);
    expect(r.summary).toMatchObject({ pushed: 0, pulled: 0, conflicts: 0, parked: 0 });
  });

  it('0 when changes moved, either way', async () => {
    const { openSqlite } = await import('../src/engines/sqlite/open.js');
    const db = openSqlite(local());
    db.prepare("INSERT INTO cams VALUES (1, 'gate'), (2, 'dock')").run();
    db.close();
    const up = sync('--json');
    expect(up.code, up.stderr).toBe(0);
    expect(up.summary).toMatchObject({ pushed: 2, pulled: 0 });
    await world.hub.execute("INSERT INTO cams VALUES (3, 'yard')");
    const down = sync('--pull', '--json');
    expect(down.code).toBe(0);
    expect(down.summary).toMatchObject({ pushed: 0, pulled: 1 });
    expect(sync().code).toBe(10);
  });

  it('11 when a conflict was recorded', async () => {
    await world.hub.execute("UPDATE cams SET label = 'hub' WHERE id = 1");
    const { openSqlite } = await import('../src/engines/sqlite/open.js');
    const db = openSqlite(local());
    db.prepare("UPDATE cams SET label = 'node' WHERE id = 1").run();
    db.close();
    const r = sync('--json');
    expect(r.code, r.stderr).toBe(11);
    expect(r.summary?.conflicts).toBe(1);
    // A one-shot sync (a cron-run site) leaves the same record in LOG_FILE as a daemon.
    const logged = readFileSync(world.node('A').config.log.file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string; table?: string; pk?: string });
    expect(logged).toContainEqual(expect.objectContaining({ event: 'conflict', table: 'cams', pk: '1' }));
    expect(logged).toContainEqual(expect.objectContaining({ event: 'cycle', conflicts: 1 }));
  });

  it('12 when a change was parked', async () => {
    const { openSqlite } = await import('../src/engines/sqlite/open.js');
    const db = openSqlite(local());
    db.prepare("INSERT INTO cams VALUES (4, 'a label far too long for the hub')").run();
    db.close();
    const r = sync('--json');
    expect(r.code, r.stderr).toBe(12);
    expect(r.summary?.parked).toBe(1);
  });

  it('3 when the hub is down, with one line saying so; the change stays queued', async () => {
    const { openSqlite } = await import('../src/engines/sqlite/open.js');
    const db = openSqlite(local());
    db.prepare("INSERT INTO cams VALUES (5, 'queued')").run();
    // The change parked by the previous test is retried 5 s after it was parked; stopping and
    // restarting the hub and three CLI runs can take longer than that on a busy machine, and
    // its retry would then (rightly) end the last sync with 12. Not this test's subject: due later.
    db.prepare('UPDATE _dualdb_parked SET next_retry_ms = ? WHERE next_retry_ms IS NOT NULL').run(Date.now() + 3_600_000);
    db.close();
    await testHub.server?.stop();
    try {
      const r = sync('--once');
      expect(r.code).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/MySQL|hub/i);
      expect(r.stderr).not.toContain(world.mysql.password);
    } finally {
      await testHub.server?.restart();
    }
    const again = sync('--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.summary?.pushed).toBe(1);
    expect((await world.hub.query('SELECT id FROM cams WHERE id = 5')).length).toBe(1);
  });

  /** An account of the given grants at the hosts a local client comes from, never '%' (the trial's `none@127.0.0.1`). */
  const account = async (user: string, grant?: string) => {
    const admin = await testHub.admin();
    try {
      for (const host of ['127.0.0.1', 'localhost', '::1']) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, 'acct-secret-1']);
        if (grant) await admin.query(`GRANT ${grant} ON \`${world.mysql.database}\`.* TO ?@?`, [user, host]);
      }
    } finally {
      await admin.end();
    }
    return { DB_USER: user, DB_PASSWORD: 'acct-secret-1' };
  };

  it('3 for a SELECT-only account, naming every missing grant (as init does) for the account’s real host', async () => {
    const env = await account(`ro_sync_${process.pid}`, 'SELECT');
    const r = runCli(['sync', '--once'], envOf(world.node('A').config, env));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/lacks INSERT, UPDATE, DELETE, CREATE, TRIGGER on database/);
    expect(r.stderr).toMatch(
      new RegExp(
        `GRANT INSERT, UPDATE, DELETE, CREATE, TRIGGER ON \`${world.mysql.database}\`\\.\\* TO 'ro_sync_\\d+'@'(127\\.0\\.0\\.1|localhost|::1)'`,
      ),
    );
    expect(r.stderr).not.toContain('acct-secret-1');
  });

  it('3 for an account without grants: the suggested GRANT names its real user@host, not %', async () => {
    const env = await account(`none_${process.pid}`);
    const r = runCli(['sync', '--once'], envOf(world.node('A').config, env));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/TO 'none_\d+'@'(127\.0\.0\.1|localhost|::1)'/);
    expect(r.stderr).not.toContain("@'%'");
  });
});
