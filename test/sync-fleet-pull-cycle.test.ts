/**
 * The fleet's commonest cycle (issue 16, 50 nodes on one machine): a node with nothing of its own to
 * push pulls another node's commit. Every commit is pulled by every other node, so this cycle's fixed
 * cost is paid N − 1 times per commit. (1) Its push, finding nothing logged here, sends nothing: the
 * pull reconciles with the hub itself first (invariant 17) and applies the hub's moves from its own
 * read (Syncer.nothingToPush). (2) Under the sync service the pull position is reported at most
 * once per floor (Syncer.pullReportFloorMs), a report put off sent later (flushPullReport); the
 * hub's record is never ahead of the node (it only lets the hub prune).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { safePruneBound } from '../src/sync/holes.js';
import { makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

describe.skipIf(!HUB_AVAILABLE)("a fleet node's pull of another node's commit", () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'fleetpull',
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

  const fenceReads = (calls: unknown[][]) => calls.filter((c) => /FROM _dualdb_nodes WHERE node_id/.test(String(c[0]))).length;
  const hubPullUpto = async (node: string) =>
    BigInt(
      (await world.hub.query<{ p: string | number }>('SELECT pull_upto AS p FROM _dualdb_nodes WHERE node_id = ?', [node]))[0]
        ?.p ?? -1,
    );

  it('with nothing to push, the cycle reads its fence row once (the pull’s), and still pulls', async () => {
    const a = world.node('a');
    const b = world.node('b');
    await a.syncer.syncOnce();
    await b.syncer.syncOnce();
    a.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'ana')").run();
    await a.syncer.syncOnce();
    // b's heartbeat sent just now, so that none is due in the cycle below: b's log is empty.
    b.syncer.heartbeat(true);
    await b.syncer.push();
    const hub = await b.syncer.connectHub();
    const query = vi.spyOn(hub, 'query');
    try {
      const r = await b.syncer.syncOnce();
      expect(r.pull.applied).toBeGreaterThanOrEqual(1);
      expect(fenceReads(query.mock.calls)).toBe(1);
    } finally {
      query.mockRestore();
    }
    expect(b.db.prepare('SELECT name FROM workers WHERE id = 1').pluck().get()).toBe('ana');

    // With a change of its own logged, the push runs as before (here the one-row push: its fence
    // read rides in its own multi-statement query).
    b.db.prepare("INSERT INTO workers (id, name) VALUES (2, 'bo')").run();
    expect((await b.syncer.syncOnce()).push.applied).toBeGreaterThanOrEqual(1);
    expect((await world.hub.query('SELECT id FROM workers WHERE id = 2')).length).toBe(1);
  });

  it('the pull position is reported at most once per floor; a report put off is sent by flushPullReport', async () => {
    const a = world.node('a');
    const b = world.node('b');
    await b.syncer.syncOnce(); // no floor (`sync --once`, direct calls): reported after the pull
    const first = safePruneBound(b.syncer.state.pullState());
    expect(await hubPullUpto('b')).toBe(first);
    expect(b.syncer.pullReportDueAt).toBe(Number.POSITIVE_INFINITY);
    b.syncer.pullReportFloorMs = 3_600_000;
    try {
      a.db.prepare("INSERT INTO workers (id, name) VALUES (11, 'di')").run();
      await a.syncer.syncOnce();
      await b.syncer.syncOnce(); // pulled, its report put off: the hub's record stays behind, never ahead
      const second = safePruneBound(b.syncer.state.pullState());
      expect(second).toBeGreaterThan(first);
      expect(await hubPullUpto('b')).toBe(first);
      expect(b.syncer.pullReportDueAt).toBeLessThan(Number.POSITIVE_INFINITY);

      await b.syncer.flushPullReport();
      expect(await hubPullUpto('b')).toBe(second);
      expect(b.syncer.pullReportDueAt).toBe(Number.POSITIVE_INFINITY);
    } finally {
      b.syncer.pullReportFloorMs = 0;
    }
  });
});
