/**
 * The monitor's domain model (src/monitor/model.ts) against a real SQLite
 * file and the private MariaDB: it runs the sync in-process and holds the
 * control socket (so `dualdb sync --now` reaches it and no second syncer can
 * start), gathers health, counts side by side, throughput and the log; `s`,
 * `p` and `c` work; a second model attaches to the first instead of syncing
 * twice, and takes over when the first goes away; a hub outage shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { MonitorModel } from '../src/monitor/model.js';
import { tailLogFile } from '../src/monitor/source.js';
import { type MonitorSnapshot, mergeLog } from '../src/monitor/view.js';
import { AlreadyRunningError, ControlServer, sendControl } from '../src/sync/control.js';
import { initNode } from '../src/sync/init.js';
import { HUB_AVAILABLE, HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { waitFor } from './helpers/sync.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT NOT NULL, n INTEGER NOT NULL)'];
const MYSQL_DDL = 'CREATE TABLE events (id BIGINT PRIMARY KEY, source VARCHAR(20) NOT NULL, n BIGINT NOT NULL)';

const FAST = { statusEveryMs: 200, healthEveryMs: 250, countsEveryMs: 250 };

function table(s: MonitorSnapshot, name: string) {
  return s.tables.find((t) => t.table === name);
}

describe.skipIf(!HUB_AVAILABLE)('MonitorModel', () => {
  let hub: TestHub;
  const tmp = tempDir();
  let config: Config;
  let central: MysqlHub;
  const models: MonitorModel[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    const m = await hub.freshDatabase('monitor');
    config = nodeConfig(tmp.dir, 'mon', m, { SYNC_INTERVAL: '0.3', DB_CONNECT_TIMEOUT: '1' });
    createSqlite(config, SQLITE_DDL).close();
    central = await MysqlHub.connect(m);
    await central.execute(MYSQL_DDL);
    await initNode(config);
  });

  afterAll(async () => {
    for (const m of models) await m.close();
    await central?.close();
    await hub?.close();
    tmp.cleanup();
  });

  function model(): MonitorModel {
    const m = new MonitorModel({ config, ...FAST });
    models.push(m);
    return m;
  }

  it('runs the sync in-process, holds the control socket and shows both sides', async () => {
    const a = model();
    await a.start();
    const s0 = a.getSnapshot();
    expect(s0.source).toEqual({ kind: 'in-process', pid: process.pid });
    await waitFor(() => a.getSnapshot().state === 'online', 'the node to come online');
    // The lock: a daemon for the same file cannot start, and `dualdb sync --now` reaches the monitor.
    await expect(ControlServer.listen(config.sqlitePath, async () => null)).rejects.toBeInstanceOf(AlreadyRunningError);
    const status = (await sendControl(config.sqlitePath, 'status')) as { nodeId: string };
    expect(status.nodeId).toBe('mon');
    await waitFor(() => a.getSnapshot().sqlite.up === true && a.getSnapshot().mysql.up === true, 'both health probes');
    const s = a.getSnapshot();
    expect(s.nodeId).toBe('mon');
    expect(s.hubEndpoint).toBe(`${config.mysql.user}@${config.mysql.host}:${config.mysql.port}/${config.mysql.database}`);
    expect(JSON.stringify(s)).not.toContain(config.mysql.password);
    expect(s.sqlite.version).toMatch(/^3\./);
    expect(s.sqlite.integrity).toBe('ok');
    expect(s.sqlite.since).not.toBeNull();
    expect(s.mysql.version).toMatch(/\d+\.\d+/);
    expect(s.mysql.latencyMs).not.toBeNull();
    expect(s.updatedAt).not.toBeNull();
    expect(s.log.some((e) => e.msg.includes('started'))).toBe(true);
    expect(table(s, 'events')).toMatchObject({ state: 'syncing', pendingPush: 0 });
  });

  it('shows a local write reaching the hub: counts side by side, throughput, the log; `s` logs its result', async () => {
    const a = models[0] as MonitorModel;
    const app = openSqlite(config.sqlitePath); // another writer, as the site's application would be
    app.prepare("INSERT INTO events (id, source, n) VALUES (1, 'app', 1), (2, 'app', 2)").run();
    app.close();
    await a.syncNow();
    const [row] = await central.query<{ c: number }>('SELECT COUNT(*) AS c FROM events');
    expect(Number(row?.c)).toBe(2);
    expect(a.getSnapshot().log.some((e) => e.msg.startsWith('sync now:'))).toBe(true);
    await waitFor(() => {
      const t = table(a.getSnapshot(), 'events');
      return t?.sqliteRows === 2 && t.mysqlRows === 2 && t.diff === 0;
    }, 'the counts to show 2 on both sides');
    // A central write comes down.
    await central.execute("INSERT INTO events (id, source, n) VALUES (100, 'hub', 100)");
    await waitFor(() => table(a.getSnapshot(), 'events')?.sqliteRows === 3, 'the hub row to arrive locally', 10_000);
    const s = a.getSnapshot();
    expect(s.session.pushed).toBeGreaterThanOrEqual(2);
    expect(s.session.pulled).toBeGreaterThanOrEqual(1);
    expect(s.throughput).toHaveLength(60);
    expect(s.throughput.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(3);
    expect(table(s, 'events')?.lastSyncAt).not.toBeNull();
    expect(s.lastPushAt).not.toBeNull();
    expect(s.log.some((e) => /synced: ↑\d+ ↓\d+/.test(e.msg))).toBe(true);
  });

  it('shows a difference while the hub is behind, then compares to equal', async () => {
    const a = models[0] as MonitorModel;
    await a.togglePause();
    await waitFor(() => a.getSnapshot().state === 'paused', 'the pause');
    expect(((await sendControl(config.sqlitePath, 'status')) as { state: string }).state).toBe('paused');
    const app = openSqlite(config.sqlitePath);
    app.prepare("INSERT INTO events (id, source, n) VALUES (3, 'app', 3)").run();
    app.close();
    await a.refreshCounts();
    await a.refreshStatus();
    const t = table(a.getSnapshot(), 'events');
    expect(t).toMatchObject({ sqliteRows: 4, mysqlRows: 3, diff: 1, pendingPush: 1 });
    await a.compare();
    const differing = a.getSnapshot().activity.compare;
    expect(differing).toMatchObject({ running: false, method: 'row checksums', done: 1, total: 1 });
    expect(differing?.rows).toEqual([
      {
        table: 'events',
        sqliteRows: 4,
        mysqlRows: 3,
        equal: false,
        differences: 1,
        detail: '1 missing in MySQL (first: id=3)',
        error: null,
        // The row is a local change the paused sync has not pushed: on its way, not damage.
        syncing: 1,
      },
    ]);
    await a.togglePause();
    await waitFor(() => a.getSnapshot().state === 'online', 'the resume');
    await a.syncNow();
    expect(a.getSnapshot().activity.lastSyncNow).toMatchObject({ ok: true });
    await a.compare();
    expect(a.getSnapshot().activity.compare?.rows[0]).toMatchObject({ equal: true, sqliteRows: 4, mysqlRows: 4, differences: 0 });
    expect(a.getSnapshot().log.some((e) => e.msg.startsWith('compare (row checksums): 1 table(s) identical, 0 differ'))).toBe(
      true,
    );
    a.dismissCompare();
    expect(a.getSnapshot().activity.compare).toBeNull();
  });

  it('a second monitor attaches to the running syncer instead of syncing twice, and drives it', async () => {
    const a = models[0] as MonitorModel;
    const b = model();
    await b.start();
    expect(b.getSnapshot().source).toEqual({ kind: 'attached', pid: process.pid });
    await waitFor(() => b.getSnapshot().state === 'online', 'the attached status');
    // Its history comes from the log file; new entries arrive over the socket.
    expect(b.getSnapshot().log.some((e) => e.msg.includes('started'))).toBe(true);
    await b.togglePause();
    await waitFor(() => a.getSnapshot().state === 'paused', 'the first monitor to be paused through the socket');
    await b.togglePause();
    await waitFor(() => a.getSnapshot().state !== 'paused', 'the resume through the socket');
    const app = openSqlite(config.sqlitePath);
    app.prepare("INSERT INTO events (id, source, n) VALUES (4, 'app', 4)").run();
    app.close();
    await b.syncNow();
    await waitFor(() => b.getSnapshot().log.some((e) => /synced: ↑1/.test(e.msg)), 'the daemon’s log line over the socket');
    expect(b.getSnapshot().log.some((e) => e.msg.startsWith('sync now:'))).toBe(true);
    // The first one goes away: the second takes over the sync.
    await a.close();
    await waitFor(() => b.getSnapshot().source.kind === 'in-process', 'the takeover', 10_000);
    expect(b.getSnapshot().log.some((e) => e.msg.includes('went away; taking over'))).toBe(true);
    await waitFor(() => b.getSnapshot().state === 'online', 'the new syncer online');
  });

  it.skipIf(!HUB_CRASHABLE)(
    'shows the hub going down (degraded, queue growing) and coming back',
    async () => {
      const b = models[1] as MonitorModel;
      await hub.server?.kill();
      const app = openSqlite(config.sqlitePath);
      app.prepare("INSERT INTO events (id, source, n) VALUES (5, 'app', 5)").run();
      app.close();
      await waitFor(() => b.getSnapshot().mysql.up === false, 'the hub to show down', 15_000);
      await waitFor(() => b.getSnapshot().state === 'degraded', 'the degraded state', 15_000);
      await waitFor(() => (b.getSnapshot().queue?.push ?? 0) >= 1, 'the queued change', 15_000);
      expect(b.getSnapshot().mysql.error?.message).toBeTruthy();
      await hub.server?.restart();
      await waitFor(() => b.getSnapshot().mysql.up === true, 'the hub back up', 20_000);
      await waitFor(() => b.getSnapshot().state === 'online' && b.getSnapshot().queue?.push === 0, 'the queue drained', 20_000);
      await b.refreshCounts();
      expect(table(b.getSnapshot(), 'events')).toMatchObject({ sqliteRows: 6, mysqlRows: 6, diff: 0 });
    },
    90_000,
  );

  it('closes cleanly: the lock is released for the next syncer', async () => {
    for (const m of models) await m.close();
    const lock = await ControlServer.listen(config.sqlitePath, async () => null);
    await lock.close();
  });
});

describe('log helpers', () => {
  it('reads the tail of a JSON-lines log, skipping garbage and partial lines', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { writeFileSync } = await import('node:fs');
      const file = `${dir}/x.log`;
      const lines = [
        '{"time":"t1","level":"info","msg":"one"}',
        'not json',
        '{"time":"t2","level":"warn","msg":"two"}',
        '{"time":"t3","level":"error","msg":"three"}',
      ];
      writeFileSync(file, `${lines.join('\n')}\n`);
      expect(tailLogFile(file, 2).map((e) => e.msg)).toEqual(['two', 'three']);
      expect(tailLogFile(`${dir}/missing.log`, 5)).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it('merges a replayed history without duplicates, in time order', () => {
    const e = (time: string, msg: string) => ({ time, level: 'info' as const, msg });
    expect(mergeLog([e('1', 'a'), e('2', 'b')], [e('2', 'b'), e('3', 'c')], 10).map((x) => x.msg)).toEqual(['a', 'b', 'c']);
    expect(mergeLog([e('1', 'a')], [e('2', 'b'), e('3', 'c')], 2).map((x) => x.msg)).toEqual(['b', 'c']);
  });
});
