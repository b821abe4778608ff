/**
 * Status without connecting (`collectStatus(syncer, { connect: false })`, what
 * the monitor asks of an in-process sync): until the syncer holds a hub
 * connection, the hub shows as not reached and no connection is opened, while
 * the node's own figures are all there; once the syncer is connected, the
 * same call reports the hub through that connection. Also: the lag it reports
 * comes from heartbeat rows that travel the data path (docs/SYNC-CONTRACT.md,
 * invariant 12).
 */
import { describe, expect, it } from 'vitest';
import { collectStatus } from '../src/sync/status.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

describe.skipIf(!HUB_AVAILABLE)('sync status', () => {
  const worlds = syncWorlds({
    prefix: 'status',
    sqliteDdl: ['CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)'],
    mysqlDdl: ['CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NULL)'],
  });

  it('connect: false reports a hub not yet reached without connecting; connected, it reports through the open connection', async () => {
    const w = await worlds.world();
    const A = w.node('A');
    A.db.prepare("INSERT INTO notes (id, body) VALUES (1, 'queued')").run();
    expect(A.syncer.hubConnected).toBe(false);

    const offline = await collectStatus(A.syncer, { connect: false });
    expect(offline.hub).toMatchObject({ enabled: true, reachable: false, error: { code: 'HUB_NOT_CONNECTED' } });
    expect(offline.queue.push).toBe(1);
    expect(offline.queue.pull).toBeNull();
    expect(A.syncer.hubConnected).toBe(false);

    // The default connects (as `dualdb status` does).
    const online = await collectStatus(A.syncer);
    expect(online.hub).toMatchObject({ reachable: true, error: null });
    expect(A.syncer.hubConnected).toBe(true);

    const attached = await collectStatus(A.syncer, { connect: false });
    expect(attached.hub).toMatchObject({ reachable: true, error: null });
    expect(attached.queue.pull).toBe(0);
    expect(attached.tables.map((t) => [t.table, t.state, t.pendingPush])).toEqual([['notes', 'syncing', 1]]);
  });

  it('lag is measured end to end by heartbeat rows on the data path, with no user writes at all', async () => {
    const w = await worlds.world({ nodes: ['A', 'B'] });
    const A = w.node('A');
    const B = w.node('B');
    A.syncer.heartbeat(true);
    await A.syncer.syncOnce();
    expect(A.syncer.metrics.lag('push').samples).toBeGreaterThan(0);
    // B has written nothing and nobody wrote user rows: what it pulls is A's heartbeat.
    await B.syncer.syncOnce();
    const status = await collectStatus(B.syncer);
    expect(status.lag.pull.samples).toBeGreaterThan(0);
    expect(status.tables.map((t) => t.table)).toEqual(['notes']);
  });

  it("the pull queue counts changes of synced tables, not the other nodes' heartbeats (it read 1 with every table at 0)", async () => {
    const w = await worlds.world({ nodes: ['A', 'B'] });
    const A = w.node('A');
    const B = w.node('B');
    await B.syncer.syncOnce();
    A.syncer.heartbeat(true);
    await A.syncer.syncOnce();
    // B has not pulled A's heartbeat yet: nothing of a synced table waits for it.
    const quiet = await collectStatus(B.syncer);
    expect(quiet.tables.map((t) => [t.table, t.pendingPull])).toEqual([['notes', 0]]);
    expect(quiet.queue.pull).toBe(0);
    // A real change still counts.
    A.db.prepare("INSERT INTO notes (id, body) VALUES (7, 'from A')").run();
    await A.syncer.syncOnce();
    const waiting = await collectStatus(B.syncer);
    expect(waiting.queue.pull).toBe(1);
  });
});
