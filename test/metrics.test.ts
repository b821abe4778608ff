/**
 * Prometheus metrics of `dualdb sync --daemon` (issue 15, item 9): the real daemon in its own
 * process, scraped over HTTP during a sync and after the hub is killed; `--watch --metrics`
 * without METRICS_PORT is refused.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, type RunningCli, runCli, spawnCli, until } from './helpers/cli.js';
import { makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_CRASHABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE cams (id INTEGER PRIMARY KEY, label TEXT NOT NULL)', 'CREATE TABLE notes (body TEXT)'];
const MYSQL_DDL = ['CREATE TABLE cams (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL)'];

/** The value of one sample (`name{labels} value`), undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe.skipIf(!HUB_CRASHABLE)('Prometheus metrics of the daemon', () => {
  let testHub: TestHub;
  const tmp = tempDir('dualdb-metrics-');
  let world: SyncWorld;
  let daemon: RunningCli;
  let url: string;
  const scrape = async () => (await fetch(url)).text();

  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, { prefix: 'metrics', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
    await world.node('A').syncer.close();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    daemon = spawnCli(
      ['sync', '--daemon'],
      envOf(world.node('A').config, { METRICS_PORT: String(port), DB_CONNECT_TIMEOUT: '1', SYNC_INTERVAL: '0.2' }),
    );
    await until(async () => (await fetch(url)).ok, `metrics at ${url}\n${daemon.output()}`, 60_000);
  });
  afterAll(async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    await world?.hub.close().catch(() => {});
    await testHub?.close();
    tmp.cleanup();
  });

  it('during a sync: rows moved, queue, lag, per-table state, hub up, last sync time, re-keys at 0', async () => {
    const db = openSqlite(world.node('A').config.sqlitePath);
    const insert = db.prepare('INSERT INTO cams VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 25; i++) insert.run(i, `cam ${i}`);
    })();
    db.close();
    let text = '';
    await until(
      async () => {
        text = await scrape();
        // The queue is read at the start of a scrape, the counters at its end: a scrape that
        // overlaps the end of the cycle can show the rows moved and still queued. The next one agrees.
        return (
          (sample(text, 'dualdb_rows_moved_total', { direction: 'push' }) ?? 0) >= 25 &&
          sample(text, 'dualdb_queue_depth', { direction: 'push' }) === 0
        );
      },
      'the 25 rows to be counted as moved and the push queue empty',
      60_000,
    );
    expect(sample(text, 'dualdb_hub_up')).toBe(1);
    expect(sample(text, 'dualdb_queue_depth', { direction: 'push' })).toBe(0);
    expect(sample(text, 'dualdb_queue_depth', { direction: 'pull' })).toBe(0);
    expect(sample(text, 'dualdb_rekeys_total')).toBe(0);
    expect(sample(text, 'dualdb_conflicts_total')).toBe(0);
    expect(sample(text, 'dualdb_parked', { direction: 'push' })).toBe(0);
    expect(sample(text, 'dualdb_resync_needed')).toBe(0);
    expect(sample(text, 'dualdb_table_state', { table: 'cams', state: 'syncing' })).toBe(1);
    // A table without a primary key is not synced, and says so.
    expect(sample(text, 'dualdb_table_state', { table: 'notes', state: 'syncing' })).not.toBe(1);
    expect(sample(text, 'dualdb_node_state', { state: 'online' })).toBe(1);
    const last = sample(text, 'dualdb_last_sync_timestamp_seconds') ?? 0;
    expect(last).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(text).toMatch(/^dualdb_lag_seconds\{.*direction="push".*quantile="0.5".*\} [\d.e+-]+$/m);
    expect(text).toContain('# TYPE dualdb_rows_moved_total counter');
  });

  it('after a hub kill: hub down, node degraded, the local change queued with its age', async () => {
    await testHub.server?.kill();
    const db = openSqlite(world.node('A').config.sqlitePath);
    db.prepare("INSERT INTO cams VALUES (100, 'while the hub is away')").run();
    db.close();
    let text = '';
    await until(
      async () => {
        text = await scrape();
        return (
          sample(text, 'dualdb_hub_up') === 0 &&
          sample(text, 'dualdb_node_state', { state: 'degraded' }) === 1 &&
          (sample(text, 'dualdb_queue_depth', { direction: 'push' }) ?? 0) >= 1
        );
      },
      'the hub to be reported down, the node degraded and the change queued',
      60_000,
    );
    expect(sample(text, 'dualdb_queue_oldest_age_seconds', { direction: 'push' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'dualdb_rows_moved_total', { direction: 'push' })).toBeGreaterThanOrEqual(25);
  });

  it('status (item 7): the last error with its time while the hub is away, cleared once the hub is back (kept in the log)', async () => {
    const env = envOf(world.node('A').config);
    const down = runCli(['status'], env);
    expect(down.stdout).toMatch(/last error \(\d\d:\d\d:\d\d, \d+ (s|min) ago\): .*MySQL/);
    await testHub.server?.restart();
    await until(
      async () => {
        const text = await scrape();
        return sample(text, 'dualdb_hub_up') === 1 && sample(text, 'dualdb_node_state', { state: 'online' }) === 1;
      },
      'the node back online',
      60_000,
    );
    const up = runCli(['status'], env);
    expect(up.stdout).not.toContain('last error');
    expect(readFileSync(world.node('A').config.log.file, 'utf8')).toMatch(/refused|unreachable|MySQL/);
  });

  it('`sync --watch --metrics` without METRICS_PORT is refused (exit 2), naming the variable', () => {
    const r = runCli(['sync', '--watch', '--metrics'], envOf(world.node('A').config));
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toContain('--metrics needs a port: METRICS_PORT is not set');
  });
});
