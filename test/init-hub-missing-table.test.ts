/**
 * `dualdb init` against a hub that lacks a table this node captures (trial finding 7): the node's
 * capture stays, so writes made meanwhile wait (parked) instead of never being captured, and init
 * names the tables and the fix. After `schema apply --yes` and `init`, the row reaches the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { Syncer } from '../src/sync/syncer.js';
import { envOf, runCli } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

describe.skipIf(!HUB_AVAILABLE)('init against a hub without the table', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('keeps the local capture, warns with the fix, and the row written meanwhile syncs once the hub has the table', async () => {
    const m = await testHub.freshDatabase('emptyhub');
    const config = nodeConfig(tmp.dir, 'emptyhub-a', m, { NODE_ID: 'EA' });
    createSqlite(config, ['CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)']).close();
    // Captured while no hub was configured (the copied, already captured node file of the trial).
    const local = runCli(['init'], envOf(config, { DUAL_DATABASE: 'false' }));
    expect(local.code, local.stderr).toBe(0);
    const env = envOf(config);

    const first = runCli(['init'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toMatch(/workers\s+removed/);
    expect(first.stdout).toMatch(/hub has no table workers.*`dualdb schema apply --yes`, then `dualdb init`/);

    const { openSqlite } = await import('../src/engines/sqlite/open.js');
    const db = openSqlite(config.sqlitePath);
    db.prepare("INSERT INTO workers (name) VALUES ('written before the hub had it')").run();
    db.close();
    const early = Syncer.open(config);
    await early.syncOnce(); // the change waits: the table is not synced yet
    await early.close();

    const applied = runCli(['schema', 'apply', '--yes'], env);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const again = runCli(['init'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/hub has no table/);
    const s = Syncer.open(config);
    await s.syncOnce();
    await s.syncOnce();
    await s.close();
    const h = await MysqlHub.connect(m);
    try {
      expect(await h.query('SELECT name FROM workers')).toEqual([{ name: 'written before the hub had it' }]);
    } finally {
      await h.close();
    }
  });
});
