/**
 * One syncer per node (issue 12 item 5): the single-instance lock is held by the
 * operating system for the life of the holder, not guessed from a ping. A syncer
 * whose event loop does not run (here: stopped with SIGSTOP, as a long synchronous
 * batch would hold it) keeps the node; two syncers started meanwhile both refuse,
 * and the first one's control socket still answers afterwards. When the holder is
 * killed, the lock is free at once and the next syncer starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../src/sync/control.js';
import { envOf, type RunningCli, runCli, spawnCli, until, within } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

/** Waits for a child to exit, or gives up (and kills it) after `ms`: null then. */
async function exitWithin(c: RunningCli, ms: number): Promise<number | null> {
  const code = await within(c.exited, ms);
  if (code !== 'unsettled') return code;
  c.child.kill('SIGKILL');
  await c.exited;
  return null;
}

describe.skipIf(!HUB_AVAILABLE)('single instance', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startSyncTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('two syncers started while the first cannot answer (event loop blocked) both refuse; exactly one runs', async () => {
    const m = await hub.freshDatabase('one');
    const config = nodeConfig(tmp.dir, 'one', m, { NODE_ID: 'ONE' });
    createSqlite(config, ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)']).close();
    const admin = await hub.admin(m.database);
    await admin.query('CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20))');
    await admin.end();
    expect(runCli(['init'], envOf(config)).code).toBe(0);

    const first = spawnCli(['sync', '--watch'], envOf(config));
    const pid = first.child.pid as number;
    await until(
      async () => ((await sendControl(config.sqlitePath, 'ping', 1000)) as { pid: number }).pid === pid,
      'the first syncer to answer',
    );
    process.kill(pid, 'SIGSTOP');
    let others: RunningCli[] = [];
    try {
      others = [spawnCli(['sync', '--watch'], envOf(config)), spawnCli(['sync', '--watch'], envOf(config))];
      const codes = await Promise.all(others.map((o) => exitWithin(o, 30_000)));
      expect(codes, others.map((o) => o.output()).join('\n')).toEqual([1, 1]);
      for (const o of others) expect(o.output()).toMatch(/a dualdb syncer is already running for/);
    } finally {
      process.kill(pid, 'SIGCONT');
      for (const o of others) if (o.child.exitCode === null) o.child.kill('SIGKILL');
    }
    // The first one still owns the node and its control socket.
    const now = runCli(['sync', '--now', '--json'], envOf(config));
    expect([0, 10], now.stderr).toContain(now.code);
    expect(((await sendControl(config.sqlitePath, 'ping', 5000)) as { pid: number }).pid).toBe(pid);

    // Killed outright: the operating system drops the lock; the next syncer starts.
    first.child.kill('SIGKILL');
    await first.exited;
    const next = spawnCli(['sync', '--watch'], envOf(config));
    try {
      await until(
        async () => ((await sendControl(config.sqlitePath, 'ping', 1000)) as { pid: number }).pid === next.child.pid,
        'the next syncer to answer',
      );
    } finally {
      next.child.kill('SIGTERM');
      expect(await exitWithin(next, 30_000)).toBe(0);
    }
  });
});
