/**
 * Invariant 8 of docs/SYNC-CONTRACT.md after an outage: the node was degraded while its private
 * MariaDB was stopped (its retry count, which drives the backoff and the "retry N" of the log and
 * the monitor, grew with the outage); the hub comes back while the application holds the SQLite
 * write lock past busy_timeout (another process, as test/watch-app-holds-lock.test.ts does), so the
 * first cycle fails for another reason. That failure is the first of its kind (attempt 1: retried
 * soon, not after the outage's long backoff), and the node is `recovering` with the lock as its
 * last error, not `degraded` saying the hub is down. Once the lock goes, the queue drains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { type LogEntry, SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { SyncService } from '../src/sync/service.js';
import { type AppLock, holdWriteLock } from './helpers/app-lock.js';
import { until } from './helpers/cli.js';
import { HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

interface Entry {
  event?: string;
  attempt?: number;
  to?: string;
  msg?: string;
}

describe.skipIf(!HUB_CRASHABLE)('retry state after a hub outage', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('a SQLite lock met once the hub is back is attempt 1 and leaves the node recovering, not degraded', async () => {
    const m = await hub.freshDatabase('outage');
    const setup = await MysqlHub.connect(m);
    await setup.execute('CREATE TABLE readings (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)');
    await setup.close();
    const config = nodeConfig(tmp.dir, 'outage', m, { SYNC_INTERVAL: '0.3', DB_CONNECT_TIMEOUT: '1', LOG_LEVEL: 'info' });
    createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, v TEXT NOT NULL)']).close();
    await initNode(config);
    // The service's own log, in memory: every entry with its fields (event, attempt, to).
    const log = new SyncLog({ level: 'info' });
    const logged: LogEntry[] = [];
    log.on('entry', (e) => logged.push(e));
    const entries = (): Entry[] => logged as Entry[];
    const service = new SyncService(config, { log });
    const states: string[] = [];
    service.on('state', (s) => states.push(s));
    service.start();
    const local = openSqlite(config.sqlitePath);
    let holder: AppLock | undefined;
    try {
      await until(() => service.state === 'online', 'the node online', 30_000);
      await hub.server?.stop();
      await until(() => service.state === 'degraded', 'the node degraded once the hub is stopped', 30_000);
      // A long enough outage: the hub failures counted up to a backoff of seconds.
      await until(
        () => entries().some((e) => e.event === 'retry' && (e.attempt ?? 0) >= 4),
        'four hub retries during the outage',
        90_000,
      );
      local.prepare("INSERT INTO readings (id, v) VALUES (1, 'queued')").run();

      // The application takes the write lock and keeps it while the hub comes back.
      holder = await holdWriteLock(config.sqlitePath, "INSERT INTO readings (id, v) VALUES (2, 'app')");
      const restartedAt = entries().length;
      await hub.server?.restart();

      await until(() => service.state === 'recovering', 'the node recovering (hub back, the file locked)', 120_000).catch(
        (e: Error) => {
          throw new Error(
            `${e.message}; states ${states.join(' → ')}; log after the restart: ${JSON.stringify(entries().slice(restartedAt))}`,
          );
        },
      );
      const after = entries().slice(restartedAt);
      const locked = after.filter((e) => e.event === 'sqlite.locked');
      expect(locked.length, JSON.stringify(after)).toBeGreaterThan(0);
      // The first failure of its kind: the outage's count does not carry over to the lock.
      expect(locked[0]?.attempt).toBe(1);
      expect(after.find((e) => e.event === 'state' && e.to === 'recovering')?.msg).toMatch(
        /hub reachable; the sync failed for another reason: .*locked by another process/,
      );
      const status = await service.status({ connect: false });
      expect(status.state).toBe('recovering');
      expect(status.lastError).toMatch(/locked by another process/);
      expect(status.lastError).not.toContain(m.password);

      holder.release();
      await until(() => service.state === 'online', 'the node online once the lock is released', 60_000);
      const h = await MysqlHub.connect(m);
      try {
        await until(
          async () => (await h.query<{ id: string }>('SELECT id FROM readings ORDER BY id')).map((r) => r.id).join(',') === '1,2',
          'the queued row and the application row on the hub',
          60_000,
        );
      } finally {
        await h.close();
      }
      expect(states).toContain('degraded');
    } finally {
      holder?.stop();
      local.close();
      await service.close();
    }
  }, 300_000);
});
