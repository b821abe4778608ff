/**
 * An idle node's push carries only its heartbeat row, into dualdb's own `_dualdb_heartbeats`,
 * whose schema never drifts: it reads no hub schema fingerprint (`information_schema.COLUMNS`,
 * one statement and one pooled connection less every 10 s), while a push with user rows still
 * checks the hub's schema before writing them. Its reads go one after the other (nobody waits for a
 * heartbeat), and a pull of heartbeat rows alone checks no schema either: the whole idle cycle needs
 * one pooled connection besides the kept push connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { pushBatch } from '../src/sync/push.js';
import { makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

/** The hub, with every statement sent through `hub.query` recorded. */
function recording(hub: MysqlHub, seen: string[]): MysqlHub {
  return new Proxy(hub, {
    get(h, p) {
      const v = Reflect.get(h, p);
      if (p === 'query')
        return (sql: string, ...rest: unknown[]) => {
          seen.push(sql);
          return (v as (...a: unknown[]) => unknown).apply(h, [sql, ...rest]);
        };
      return typeof v === 'function' ? v.bind(h) : v;
    },
  });
}

describe.skipIf(!HUB_AVAILABLE)("an idle node's heartbeat push", () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'idlepush',
      sqliteDdl: ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'],
      mysqlDdl: ['CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)'],
      nodes: ['a', 'b'],
    });
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  it('reads no schema fingerprint for a heartbeat alone, and still checks it for user rows', async () => {
    const a = world.node('a');
    await a.syncer.syncOnce(); // plan, schema stamp, registration
    const fingerprints = (seen: string[]) => seen.filter((sql) => /information_schema\.COLUMNS/.test(sql)).length;

    a.syncer.heartbeat(true);
    const beat: string[] = [];
    const r1 = await a.syncer.withContext((ctx) => pushBatch({ ...ctx, hub: recording(ctx.hub, beat) }));
    expect(r1.changes).toBe(1);
    expect(fingerprints(beat)).toBe(0);
    expect((await world.hub.query('SELECT node_id FROM _dualdb_heartbeats')).length).toBe(1);

    a.db.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
    const user: string[] = [];
    await a.syncer.withContext((ctx) => pushBatch({ ...ctx, hub: recording(ctx.hub, user) }));
    expect(fingerprints(user)).toBe(1);
    expect(await world.hub.query('SELECT name FROM workers')).toEqual([{ name: 'Ana' }]);
  }, 60_000);

  it("an idle node's heartbeat cycle (its own pushed, another node's pulled) needs one pooled connection besides the push's", async () => {
    const a = world.node('a');
    const b = world.node('b');
    await a.syncer.syncOnce();
    await b.syncer.syncOnce();
    await a.syncer.dropHub(); // a fresh pool: the connections below are the cycle's alone
    b.syncer.heartbeat(true);
    await b.syncer.syncOnce({ pull: false });
    a.syncer.heartbeat(true);
    const report = await a.syncer.syncOnce();
    expect(report.push.changes).toBe(1);
    expect(report.pull.perTable.get('_dualdb_heartbeats')?.upserts).toBeGreaterThan(0);
    const hub = await a.syncer.connectHub();
    // The kept push connection and one for the reads: reads side by side opened a third (and a pool
    // keeps what it used within its idle timeout, so an idle node held 4 connections with the probe).
    const core = (hub.pool as unknown as { pool: { _allConnections: { length: number } } }).pool;
    expect(core._allConnections.length).toBe(2);
  }, 60_000);

  it('after a pull of user rows, the heartbeat cycles that follow use one pooled connection, so the spare ages out', async () => {
    // A pull of user rows checks the schema beside its read (a second pooled connection for a
    // moment). The heartbeat cycles after it reported the pull position while the read's connection
    // was still in its reset, on the spare: both stayed in use, the pool never let the spare go, and
    // an idle node held 4 hub connections (probe, push, two pooled) instead of 3.
    const a = world.node('a');
    const b = world.node('b');
    await a.syncer.syncOnce();
    await a.syncer.dropHub();
    b.db.prepare("INSERT INTO workers VALUES (200, 'from b')").run();
    await b.syncer.syncOnce({ pull: false });
    a.syncer.heartbeat(true);
    await a.syncer.syncOnce(); // the user row pulled; the push connection kept from here on
    const hub = await a.syncer.connectHub();
    const pool = hub.pool as unknown as { getConnection: () => Promise<{ threadId: number }> };
    const get = pool.getConnection.bind(pool);
    const used = new Set<number>();
    pool.getConnection = async () => {
      const c = await get();
      used.add(c.threadId);
      return c;
    };
    for (let i = 0; i < 4; i++) {
      b.syncer.heartbeat(true);
      await b.syncer.syncOnce({ pull: false });
      a.syncer.heartbeat(true);
      const report = await a.syncer.syncOnce();
      expect(report.pull.perTable.get('_dualdb_heartbeats')?.upserts).toBeGreaterThan(0);
    }
    expect(used.size).toBe(1);
  }, 60_000);

  it('a pull that looks at a sequence hole, then reads its batch, still needs one pooled connection besides the push', async () => {
    // An idle fleet's heartbeats land side by side, so pulls meet holes: the hole check's connection
    // was still in its reset when the batch read asked for one, and a second stayed in the pool.
    const a = world.node('a');
    const b = world.node('b');
    await a.syncer.syncOnce();
    const open = await world.hub.pool.getConnection();
    try {
      await open.query('START TRANSACTION');
      await open.query("INSERT INTO workers VALUES (100, 'held')"); // a hub log seq, not committed yet
      b.syncer.heartbeat(true);
      await b.syncer.syncOnce({ pull: false }); // a later seq, committed: a hole below it
      await a.syncer.syncOnce();
      expect(a.syncer.state.pullState().holes.size).toBe(1);
      await a.syncer.dropHub(); // a fresh pool: the connections below are the cycle's alone
      a.syncer.heartbeat(true);
      await a.syncer.syncOnce();
      const hub = await a.syncer.connectHub();
      const core = (hub.pool as unknown as { pool: { _allConnections: { length: number } } }).pool;
      expect(core._allConnections.length).toBe(2);
    } finally {
      await open.query('ROLLBACK');
      open.release();
    }
  }, 60_000);
});
