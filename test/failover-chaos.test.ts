/**
 * Invariant 8 of docs/SYNC-CONTRACT.md under abuse: `dualdb sync --watch` runs as a real process
 * while local writers (this process and a separate `sqlite3` CLI process) keep
 * writing and the private MariaDB is SIGKILLed and restarted several times. At
 * the end every row is on both sides exactly once and the queue is empty.
 * Also: SIGTERM in the middle of a large batch never half-applies it, and a
 * second daemon for the same SQLite file refuses to start.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { LocalState } from '../src/sync/local-state.js';
import { SyncService } from '../src/sync/service.js';
import { envOf, runCli, spawnCli, until } from './helpers/cli.js';
import { HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const DDL = 'CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT NOT NULL, n INTEGER NOT NULL, note TEXT)';
const HUB_DDL = 'CREATE TABLE events (id BIGINT PRIMARY KEY, source VARCHAR(20) NOT NULL, n BIGINT NOT NULL, note TEXT)';

describe.skipIf(!HUB_CRASHABLE)('failover and the sync process', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  async function node(name: string, env: Record<string, string> = {}): Promise<Config> {
    const m = await hub.freshDatabase('chaos');
    const config = nodeConfig(tmp.dir, name, m, { SYNC_INTERVAL: '0.3', DB_CONNECT_TIMEOUT: '1', ...env });
    createSqlite(config, [DDL]).close();
    const h = await MysqlHub.connect(m);
    await h.execute(HUB_DDL);
    await h.close();
    await initNode(config);
    return config;
  }

  it('loses nothing and duplicates nothing while the hub is killed and restarted under `sync --watch`', async () => {
    const config = await node('chaos');
    const watch = spawnCli(['sync', '--watch'], envOf(config));
    // A second writer process, as the Python app would be: one sqlite3 shell fed over time.
    const shell = spawn('sqlite3', [config.sqlitePath], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    shell.stdin.write('.timeout 10000\n');
    const local = openSqlite(config.sqlitePath);
    let hubConn: MysqlHub | undefined;
    let nextLocal = 1;
    let nextShell = 1_000_000;
    let nextHub = 2_000_000;
    const hubIds: number[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        local
          .prepare('INSERT INTO events (id, source, n, note) VALUES (?, ?, ?, ?)')
          .run(nextLocal, 'lib', nextLocal, `émoji 🚧 ${nextLocal}`);
        nextLocal++;
        if (nextLocal % 3 === 0) {
          shell.stdin.write(
            `BEGIN; INSERT INTO events VALUES (${nextShell}, 'cli', ${nextShell}, 'x'); INSERT INTO events VALUES (${nextShell + 1}, 'cli', ${nextShell + 1}, 'y'); COMMIT;\n`,
          );
          nextShell += 2;
        }
        if (nextLocal % 10 === 0) local.prepare('UPDATE events SET n = n + 1000 WHERE id = ?').run(nextLocal - 5);
        if (nextLocal % 7 === 0 && hub.server?.running) {
          try {
            hubConn ??= await MysqlHub.connect(config.mysql);
            await hubConn.execute("INSERT INTO events VALUES (?, 'hub', ?, 'central')", [nextHub, nextHub]);
            hubIds.push(nextHub);
            nextHub++;
          } catch {
            await hubConn?.close();
            hubConn = undefined;
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 700 + Math.random() * 600));
        await hub.server?.kill();
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 800));
        await hub.server?.restart();
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      writing = false;
      await writer;
      shell.stdin.end('.quit\n');
      await new Promise((r) => shell.once('exit', r));
      await hubConn?.close();
    }
    const expected = local.prepare('SELECT count(*) AS c FROM events').get() as { c: bigint };
    expect(Number(expected.c)).toBeGreaterThan(100);
    const h = await MysqlHub.connect(config.mysql);
    try {
      await until(
        async () => {
          const [r] = await h.query<{ c: string }>('SELECT COUNT(*) AS c FROM events');
          const state = new LocalState(local);
          return (
            Number(r?.c) === Number((local.prepare('SELECT count(*) AS c FROM events').get() as { c: bigint }).c) &&
            state.pendingPush(true).count === 0
          );
        },
        'the hub and the node to converge',
        60_000,
      );
      const localRows = local.prepare('SELECT id, source, n, note FROM events ORDER BY id').all() as {
        id: bigint;
        source: string;
        n: bigint;
        note: string;
      }[];
      const hubRows = await h.query<{ id: string; source: string; n: string; note: string }>(
        'SELECT id, source, n, note FROM events ORDER BY id',
      );
      expect(hubRows.map((r) => [r.id, r.source, r.n, r.note])).toEqual(
        localRows.map((r) => [String(r.id), r.source, String(r.n), r.note]),
      );
      // Every central write arrived locally too, once.
      for (const id of hubIds) expect(local.prepare('SELECT count(*) AS c FROM events WHERE id = ?').get(id)).toEqual({ c: 1n });
      expect(readFileSync(config.log.file, 'utf8')).toMatch(/"to":"degraded"/);
    } finally {
      await h.close();
      local.close();
      watch.child.kill('SIGTERM');
      expect(await watch.exited).toBe(0);
    }
  }, 120_000);

  it('an idle node (its probe waiting on the hub, its connections kept) sees the hub killed and back, and then its commits', async () => {
    const config = await node('idle-away');
    const service = new SyncService(config);
    const states: string[] = [];
    service.on('state', (s) => states.push(s));
    service.start();
    try {
      await until(() => service.state === 'online', 'the idle node online', 20_000);
      // Idle past the first cycles: the probe waits on the hub, the push and pooled connections are kept.
      await new Promise((r) => setTimeout(r, 1500));
      await hub.server?.kill();
      await until(() => service.state === 'degraded', 'the idle node degraded once the hub is gone', 20_000);
      await hub.server?.restart();
      await until(() => service.state === 'online', 'the idle node online again', 30_000);
      const h = await MysqlHub.connect(config.mysql);
      try {
        await h.execute("INSERT INTO events VALUES (7, 'hub', 7, 'after the restart')");
      } finally {
        await h.close();
      }
      const local = openSqlite(config.sqlitePath);
      try {
        await until(
          () => local.prepare('SELECT 1 FROM events WHERE id = 7').get() !== undefined,
          'the hub commit on the node',
          20_000,
        );
      } finally {
        local.close();
      }
      expect(states).toContain('degraded');
    } finally {
      await service.close();
    }
  }, 90_000);

  it('SIGTERM in the middle of a large batch applies it whole or not at all; a restart completes it', async () => {
    const config = await node('term', { SYNC_BATCH_SIZE: '20000' });
    const db = openSqlite(config.sqlitePath);
    const N = 20_000;
    db.transaction(() => {
      const ins = db.prepare("INSERT INTO events VALUES (?, 'bulk', ?, 'some text to make the batch heavier')");
      for (let i = 1; i <= N; i++) ins.run(i, i);
    })();
    db.close();
    const h = await MysqlHub.connect(config.mysql);
    try {
      const daemon = spawnCli(['sync', '--daemon'], envOf(config));
      await until(
        () => existsSync(config.log.file) && readFileSync(config.log.file, 'utf8').includes('"event":"start"'),
        'the daemon to start',
        20_000,
      );
      await new Promise((r) => setTimeout(r, 150));
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      const [after] = await h.query<{ c: string }>('SELECT COUNT(*) AS c FROM events');
      expect([0, N]).toContain(Number(after?.c));
      expect(existsSync(config.pidFile)).toBe(false);
      const once = runCli(['sync', '--once'], envOf(config));
      expect([0, 10]).toContain(once.code);
      const [final] = await h.query<{ c: string }>('SELECT COUNT(*) AS c FROM events');
      expect(Number(final?.c)).toBe(N);
    } finally {
      await h.close();
    }
  }, 120_000);

  it('a second daemon on the same SQLite file refuses; `sync --now` reaches the running one', async () => {
    const config = await node('twice');
    const first = spawnCli(['sync', '--daemon'], envOf(config));
    try {
      await until(() => existsSync(config.pidFile), 'the pid file');
      expect(readFileSync(config.pidFile, 'utf8').trim()).toBe(String(first.child.pid));
      const second = runCli(['sync', '--daemon'], envOf(config), { timeoutMs: 20_000 });
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(/already running/);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      const db = openSqlite(config.sqlitePath);
      db.prepare("INSERT INTO events VALUES (1, 'now', 1, NULL)").run();
      db.close();
      const now = runCli(['sync', '--now', '--json'], envOf(config));
      expect([0, 10]).toContain(now.code);
      const h = await MysqlHub.connect(config.mysql);
      await until(async () => (await h.query('SELECT * FROM events')).length === 1, 'the row on the hub');
      await h.close();
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    // A crashed daemon leaves a stale socket behind; the next one starts anyway.
    const again = spawnCli(['sync', '--daemon'], envOf(config));
    await until(
      () => existsSync(config.pidFile) && readFileSync(config.pidFile, 'utf8').trim() === String(again.child.pid),
      'the restarted daemon',
    );
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 90_000);
});
