/**
 * Trial finding 9: `schema diff` names a table without a primary key as not synced (not under
 * "natural keys"), and `schema fit --yes` on a node that already syncs points at
 * `dualdb parked retry` (the changes that did not fit wait parked), not at setup or migrate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { envOf, runCli } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

describe.skipIf(!HUB_AVAILABLE)('schema diff and fit hints', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('diff lists a table without a primary key as not synced; fit on a syncing node points at `dualdb parked retry`', async () => {
    const m = await testHub.freshDatabase('hints');
    const config = nodeConfig(tmp.dir, 'hints', m, { NODE_ID: 'H' });
    createSqlite(config, [
      'CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)',
      'CREATE TABLE notes (body TEXT)',
      "INSERT INTO tags VALUES ('a', 'a label longer than five')",
    ]).close();
    const h = await MysqlHub.connect(m);
    try {
      await h.execute('CREATE TABLE tags (code VARCHAR(20) PRIMARY KEY, label VARCHAR(5))');
      await h.execute('CREATE TABLE notes (body TEXT)');
    } finally {
      await h.close();
    }
    const env = envOf(config);
    const diff = runCli(['schema', 'diff'], env);
    expect(diff.stdout).toContain('● natural keys: tags');
    expect(diff.stdout).not.toMatch(/natural keys: .*notes/);
    expect(diff.stdout).toContain('no primary key: not synced: notes');

    const init = runCli(['init'], env);
    expect(init.code, init.stderr).toBe(0);
    const fit = runCli(['schema', 'fit', '--yes'], env);
    expect(fit.code, fit.stderr + fit.stdout).toBe(0);
    expect(fit.stdout).toMatch(/tags: widened/);
    expect(fit.stdout).toContain('`dualdb parked retry`');
    expect(fit.stdout).not.toContain('`dualdb setup` or `dualdb migrate`');
  });
});
