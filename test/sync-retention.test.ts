/**
 * Hub log retention (docs/SYNC-CONTRACT.md, invariant 8, last part). With
 * SYNC_LOG_RETENTION_HOURS=0, `pruneHubLog()` deletes the entries every active
 * node has pulled (and nothing any active node still needs, holes included); a
 * node whose cursor fell behind a prune gets ResyncNeededError and the status
 * `resync-needed` with a clear message, and is not fed a partial history. With
 * the default retention nothing young is pruned.
 */
import { describe, expect, it } from 'vitest';
import { ResyncNeededError } from '../src/sync/pull.js';
import { collectStatus } from '../src/sync/status.js';
import { envOf, runCli } from './helpers/cli.js';
import { hubLog, type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE logs (id INTEGER PRIMARY KEY, msg TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE logs (id BIGINT PRIMARY KEY, msg VARCHAR(100) NOT NULL)'];

describe.skipIf(!HUB_AVAILABLE)('hub log retention', () => {
  const worlds = syncWorlds({ prefix: 'retention', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
  const world = (retentionHours: string) => worlds.world({ env: { SYNC_LOG_RETENTION_HOURS: retentionHours } });

  const ids = (w: SyncWorld, name: string) =>
    (w.node(name).db.prepare('SELECT id FROM logs ORDER BY id').all() as { id: bigint }[]).map((r) => Number(r.id));

  it('prunes what every active node has pulled; a node left behind must resync and gets nothing partial', async () => {
    const w = await world('0');
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute("INSERT INTO logs VALUES (1, 'one'), (2, 'two')");
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    const pulled = await hubLog(w.hub, 'logs');
    expect(pulled).toHaveLength(2);

    const first = await A.syncer.pruneHubLog();
    expect(first.deleted).toBeGreaterThanOrEqual(2);
    expect(await hubLog(w.hub, 'logs')).toEqual([]);
    // Both nodes still pull on as normal.
    await w.hub.execute("INSERT INTO logs VALUES (3, 'three')");
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    expect(ids(w, 'B')).toEqual([1, 2, 3]);

    // B stays away; A keeps pulling; the prune (retention 0: B is no longer active) passes B by.
    await w.hub.execute("INSERT INTO logs VALUES (4, 'four'), (5, 'five')");
    await w.hub.execute("UPDATE logs SET msg = 'ONE' WHERE id = 1");
    await A.syncer.syncOnce();
    const second = await A.syncer.pruneHubLog();
    expect(second.deleted).toBeGreaterThanOrEqual(3);
    expect(second.prunedUpto).toBe(A.syncer.state.pullState().upto);
    await w.hub.execute("INSERT INTO logs VALUES (6, 'six')"); // still in the log

    const before = B.db.prepare('SELECT id, msg FROM logs ORDER BY id').all();
    const pushBefore = A.syncer.state.pullState();
    await expect(B.syncer.pull()).rejects.toBeInstanceOf(ResyncNeededError);
    await expect(B.syncer.syncOnce()).rejects.toThrow(/pruned its change log up to/);
    // Not fed a partial history: not even row 6, whose entry is still there.
    expect(B.db.prepare('SELECT id, msg FROM logs ORDER BY id').all()).toEqual(before);
    expect(B.syncer.state.pullState().upto).toBeLessThan(pushBefore.upto);
    const status = await collectStatus(B.syncer);
    expect(status.state).toBe('resync-needed');
    expect(status.resyncNeeded).toMatch(/pruned its change log/);
    const cli = runCli(['status'], envOf(B.config));
    expect(cli.code).toBe(13);
    expect(cli.stdout).toMatch(/resync-needed/);
    expect(cli.stdout).toMatch(/repair/);
    const sync = runCli(['sync', '--once'], envOf(B.config));
    expect(sync.code).toBe(13);
    expect(sync.stderr).toMatch(/dualdb repair --from mysql/);

    // A, which pulled everything, carries on.
    await A.syncer.syncOnce();
    expect(ids(w, 'A')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('never prunes a hole a node still waits for', async () => {
    const w = await world('0');
    const A = w.node('A');
    const slow = await worlds.testHub.admin(w.mysql.database);
    try {
      await w.hub.execute("INSERT INTO logs VALUES (90, 'old'), (91, 'old')");
      await slow.query('START TRANSACTION');
      await slow.query("INSERT INTO logs VALUES (100, 'late')");
      await w.hub.execute("INSERT INTO logs VALUES (101, 'early'), (102, 'early')");
      await A.syncer.syncOnce();
      await w.node('B').syncer.syncOnce();
      expect(A.syncer.state.pullState().holes.size).toBe(1);
      const pruned = await A.syncer.pruneHubLog();
      expect(pruned.deleted).toBe(2); // the two entries below the hole, not one more
      await slow.query('COMMIT');
      // The late entry is still there for A (and B) to pull.
      await A.syncer.syncOnce();
      await w.node('B').syncer.syncOnce();
      expect(ids(w, 'A')).toEqual([90, 91, 100, 101, 102]);
      expect(ids(w, 'B')).toEqual([90, 91, 100, 101, 102]);
    } finally {
      await slow.end();
    }
  });

  it('with the default retention, young entries stay whatever the nodes pulled', async () => {
    const w = await world('168');
    const A = w.node('A');
    await w.hub.execute("INSERT INTO logs VALUES (1, 'one')");
    await A.syncer.syncOnce();
    await w.node('B').syncer.syncOnce();
    expect(await A.syncer.pruneHubLog()).toEqual({ deleted: 0, prunedUpto: 0n });
    expect(await hubLog(w.hub, 'logs')).toHaveLength(1);
  });
});
