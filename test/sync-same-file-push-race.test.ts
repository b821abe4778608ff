/**
 * docs/SYNC-CONTRACT.md invariant 17, operator trial 5 (N5): `dualdb rekeys resolve --all` beside
 * the site's `sync --watch` (two processes, one SQLite file, one node) stopped the watcher for good
 * with NODE_ID_IN_USE. Both processes began a push: the file keeps one pending token, so the
 * watcher's overwrote the resolver's. The resolver's hub transaction committed (the hub's token is
 * now the resolver's) and, before the resolver recorded it here, the watcher's reconcile found a
 * hub token that was neither the file's nor its pending one: refused, exit 2. A reconcile that
 * would refuse while a push of this file is pending now waits a moment for the file to change.
 */
import { describe, expect, it } from 'vitest';
import { beginPush, type FenceContext, fenceHubPush, reconcileWithHub, recordPushed } from '../src/sync/node-fence.js';
import { type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

describe.skipIf(!HUB_AVAILABLE)('two processes on one file push at once (operator trial 5, N5)', () => {
  const fx = syncWorlds({
    sqliteDdl: ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'],
    mysqlDdl: ['CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB'],
    nodes: ['site1'],
  });

  /** The resolver's push committed on the hub, not recorded here yet; the watcher's push begun meanwhile. */
  async function resolverCommitted(w: SyncWorld): Promise<{ ctx: FenceContext; token: string; cursor: bigint }> {
    const n = w.node('site1');
    await n.syncer.syncOnce();
    const ctx = { db: n.db, state: n.syncer.state, hub: w.hub, nodeId: 'site1' };
    const cursor = await reconcileWithHub(ctx);
    const token = beginPush(ctx); // the resolver's push: its token pending here
    beginPush(ctx); // the watcher's push begins too, and takes the one pending slot
    const ok = await w.hub.withConnection(async (conn) => {
      await conn.query('START TRANSACTION');
      const r = await fenceHubPush(conn, ctx, token, { from: cursor, to: cursor });
      await conn.query('COMMIT');
      return r;
    });
    expect(ok).toBe(true);
    return { ctx, token, cursor };
  }

  it('the watcher’s reconcile meanwhile is not refused once the resolver records its push', async () => {
    const w = await fx.world();
    const { ctx, token, cursor } = await resolverCommitted(w);
    const recorded = new Promise<void>((resolve) =>
      setTimeout(() => {
        recordPushed(ctx, cursor, token);
        resolve();
      }, 200),
    );
    await expect(reconcileWithHub(ctx)).resolves.toBe(cursor);
    await recorded;
  }, 60_000);

  it('nothing records it (another file took the id): still refused', async () => {
    const w = await fx.world();
    const { ctx } = await resolverCommitted(w);
    await expect(reconcileWithHub(ctx)).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
  }, 60_000);
});
