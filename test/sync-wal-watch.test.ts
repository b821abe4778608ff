/**
 * Commit → hub without polling: the sync service watches the SQLite WAL
 * (inotify) and pushes a commit made by another program (the `sqlite3` shell,
 * a separate process) with its change-log poll and its pulls an hour apart, so
 * only the watch can have seen it. With SYNC_WATCH=false the poll backstop
 * still pushes such a commit. The other way, a hub client's commit reaches the
 * node through the hub probe (one indexed read), with pulls an hour apart; the
 * probe leaves the node's own rows out, so its pushes set off no pull. On MariaDB the probe waits on
 * the hub (one statement per wait instead of one per period); without that (MySQL) it asks every period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncService } from '../src/sync/service.js';
import { HAVE_SQLITE3, sqlite3Shell } from './helpers/node.js';
import { makeWorld, type SyncWorld, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)'];
const HOUR_MS = 3_600_000;

const HAVE_TOOLS = HAVE_SQLITE3 && HUB_AVAILABLE;

describe.skipIf(!HAVE_TOOLS)('a foreign commit reaches the hub through the WAL watch', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'walwatch',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['watched', 'polled'],
      env: { SYNC_INTERVAL: '3600' },
      nodeEnv: { polled: { SYNC_WATCH: 'false' } },
    });
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  const hubNames = async (ids: number[]) =>
    (await world.hub.query<{ name: string }>('SELECT name FROM workers WHERE id IN (?) ORDER BY id', [ids])).map((r) => r.name);

  async function online(service: SyncService): Promise<void> {
    service.start();
    await waitFor(() => service.state === 'online', 'the service online');
  }

  it('pushes commits of another process with the poll and the pulls an hour apart', async () => {
    const node = world.node('watched');
    const service = new SyncService(node.config, { syncer: node.syncer, pollMs: HOUR_MS, backstopMs: HOUR_MS });
    try {
      await online(service);
      expect(service.watching).toBe(true);
      sqlite3Shell(node.config.sqlitePath, "INSERT INTO workers VALUES (1, 'Ana');");
      await waitFor(async () => (await hubNames([1])).length === 1, 'the first commit on the hub', 20_000);
      // Commits in a row, one per process: each is seen, none is left behind.
      for (let id = 2; id <= 4; id++) sqlite3Shell(node.config.sqlitePath, `INSERT INTO workers VALUES (${id}, 'w${id}');`);
      sqlite3Shell(node.config.sqlitePath, "UPDATE workers SET name = 'Ana B' WHERE id = 1;");
      await waitFor(async () => (await hubNames([1, 2, 3, 4])).join() === 'Ana B,w2,w3,w4', 'every commit on the hub', 20_000);
    } finally {
      await service.stop();
    }
  });

  it('with SYNC_WATCH=false the poll backstop still pushes them', async () => {
    const node = world.node('polled');
    expect(node.config.sync.watch).toBe(false);
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      await online(service);
      expect(service.watching).toBe(false);
      sqlite3Shell(node.config.sqlitePath, "INSERT INTO workers VALUES (10, 'Bea');");
      await waitFor(async () => (await hubNames([10])).length === 1, 'the commit on the hub', 20_000);
    } finally {
      await service.stop();
    }
  });

  it("a hub client's commit reaches the node through the probe, with pulls an hour apart", async () => {
    const node = world.node('watched');
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      await online(service);
      await world.hub.execute("INSERT INTO workers VALUES (20, 'Hub')");
      const local = () => node.db.prepare('SELECT name FROM workers WHERE id = 20').get() as { name: string } | undefined;
      await waitFor(() => local()?.name === 'Hub', 'the hub commit in the node file', 20_000);
      await world.hub.execute("UPDATE workers SET name = 'Hub 2' WHERE id = 20");
      await waitFor(() => local()?.name === 'Hub 2', 'the second hub commit in the node file', 20_000);
    } finally {
      await service.stop();
    }
  });

  it("the probe leaves the node's own pushes out: a push sets off no pull, a hub client's commit still does", async () => {
    const node = world.node('watched');
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      await online(service);
      await waitFor(() => node.syncer.lastPullAt !== undefined, 'the first pull');
      const pulledAt = node.syncer.lastPullAt;
      sqlite3Shell(node.config.sqlitePath, "INSERT INTO workers VALUES (30, 'Own');");
      await waitFor(async () => (await hubNames([30])).length === 1, 'the own commit on the hub', 20_000);
      // Many probe periods (100 ms after activity): the own row on the hub log is no news to pull.
      await new Promise((r) => setTimeout(r, 1500));
      expect(node.syncer.lastPullAt).toBe(pulledAt);
      await world.hub.execute("INSERT INTO workers VALUES (31, 'Other')");
      const local = () => node.db.prepare('SELECT name FROM workers WHERE id = 31').get() as { name: string } | undefined;
      await waitFor(() => local()?.name === 'Other', 'the hub commit in the node file', 20_000);
      // The pull's time is set after its SQLite commit and its position report to the hub.
      await waitFor(() => node.syncer.lastPullAt !== pulledAt, 'the pull recorded', 5_000);
    } finally {
      await service.stop();
    }
  });

  /** A node's heartbeat count on the hub. */
  const hubBeat = async (nodeId: string) =>
    Number(
      (await world.hub.query<{ beat: string | number }>('SELECT beat FROM _dualdb_heartbeats WHERE node_id = ?', [nodeId]))[0]
        ?.beat ?? 0,
    );

  /** Probes on the hub for over 1 s: the server shows the block's statement of the moment, timed from the block's start. */
  const waitingProbes = async () =>
    Number(
      (
        await world.hub.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND TIME_MS > 1000 AND (INFO LIKE 'DO SLEEP(%' OR INFO LIKE 'SELECT COUNT(CASE WHEN tbl%')",
        )
      )[0]?.n ?? 0,
    );

  it('an idle probe waits on the hub (MariaDB) and still brings a hub commit at once', async (t) => {
    const node = world.node('watched');
    await node.syncer.connectHub();
    if (!node.syncer.hubCompound) t.skip(); // a MySQL hub: the probe asks every period
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      await online(service);
      // The probe's one statement stays on the server while nothing moves (the old probe was one short read every 250 ms).
      await waitFor(async () => (await waitingProbes()) === 1, 'a probe waiting on the hub for over 1 s', 20_000);
      await world.hub.execute("INSERT INTO workers VALUES (40, 'Waited')");
      const local = () => node.db.prepare('SELECT name FROM workers WHERE id = 40').get() as { name: string } | undefined;
      await waitFor(() => local()?.name === 'Waited', 'the hub commit in the node file', 20_000);
    } finally {
      await service.stop();
    }
  });

  it('a hub without waiting statements (MySQL) is probed every period instead', async () => {
    const node = world.node('watched');
    await node.syncer.connectHub();
    const compound = node.syncer.hubCompound;
    node.syncer.hubCompound = false;
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      await online(service);
      await world.hub.execute("INSERT INTO workers VALUES (41, 'Asked')");
      const local = () => node.db.prepare('SELECT name FROM workers WHERE id = 41').get() as { name: string } | undefined;
      await waitFor(() => local()?.name === 'Asked', 'the hub commit in the node file', 20_000);
      expect(await waitingProbes()).toBe(0);
    } finally {
      await service.stop();
      node.syncer.hubCompound = compound;
    }
  });

  it('an idle node on a waiting probe sends its heartbeat every 10 s, with no full pull for it', async (t) => {
    const node = world.node('watched');
    await node.syncer.connectHub();
    if (!node.syncer.hubCompound) t.skip();
    const service = new SyncService(node.config, { syncer: node.syncer });
    const beat = () => hubBeat(node.syncer.nodeId);
    try {
      await online(service);
      await waitFor(() => node.syncer.lastPullAt !== undefined, 'the first pull');
      const pulledAt = node.syncer.lastPullAt;
      const first = await beat();
      // Full pulls are hours apart here (SYNC_INTERVAL=3600): the heartbeat goes up on its own.
      await waitFor(async () => (await beat()) > first, 'the next heartbeat on the hub', 25_000);
      expect(node.syncer.lastPullAt).toBe(pulledAt);
    } finally {
      await service.stop();
    }
  }, 40_000);

  it("other nodes' heartbeats set off no pull of their own: they come with the node's own heartbeat, with no lag sample", async () => {
    const node = world.node('watched');
    const other = world.node('polled');
    const service = new SyncService(node.config, { syncer: node.syncer });
    const otherBeat = () => hubBeat(other.syncer.nodeId);
    const localBeat = () =>
      Number(
        (
          node.db.prepare('SELECT beat FROM _dualdb_heartbeats WHERE node_id = ?').get(other.syncer.nodeId) as
            | { beat: number }
            | undefined
        )?.beat ?? 0,
      );
    let restore = () => {};
    try {
      node.syncer.heartbeat(true); // this node's own next heartbeat 10 s away, past the window below
      await online(service);
      await waitFor(() => node.syncer.lastPullAt !== undefined, 'the first pull');
      const pulledAt = node.syncer.lastPullAt;
      // The pull lags recorded from here on (a rolling count would also lose old samples meanwhile).
      const metrics = node.syncer.metrics;
      const record = metrics.recordLags.bind(metrics);
      const pullLags: number[] = [];
      metrics.recordLags = (direction, lags, now) => {
        if (direction === 'pull') pullLags.push(...lags);
        record(direction, lags, now);
      };
      restore = () => {
        metrics.recordLags = record;
      };
      // In a fleet every node's heartbeat is a hub commit: N nodes, N / 10 a second.
      for (let i = 0; i < 3; i++) {
        other.syncer.heartbeat(true);
        await other.syncer.syncOnce({ pull: false });
        await new Promise((r) => setTimeout(r, 300));
      }
      const sent = await otherBeat();
      await new Promise((r) => setTimeout(r, 1000));
      expect(node.syncer.lastPullAt).toBe(pulledAt);
      // This node's heartbeat cycle (every 10 s) pulls them.
      await waitFor(() => node.syncer.lastPullAt !== pulledAt, "this node's heartbeat cycle, with a pull", 25_000);
      expect(localBeat()).toBe(sent);
      // Up to 10 s late by design: no lag sample of the data path.
      expect(pullLags).toEqual([]);
    } finally {
      await service.stop();
      restore();
    }
  }, 40_000);
});
