/**
 * A sync cycle's push of one foreign insert (issue 16, row "commit → hub"): when another
 * connection committed exactly one insert of a user table, the cycle sends it by the one-row push
 * (push-one.ts: one multi-statement query and a COMMIT) on a connection of its own
 * (one-row-lease.ts), with the generic push's guarantees: the node's origin on the hub log, the
 * push cursor moved in the same transaction, no echo. Whatever it does not settle alone (several
 * entries, an update, a key the hub changed unseen) goes to the generic push with nothing written;
 * an idle node (heartbeats only) never opens its connection. Real SQLite file, private MariaDB.
 */
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { OneRowLease } from '../src/sync/one-row-lease.js';
import { SyncService } from '../src/sync/service.js';
import { makeWorld, type SyncWorld, syncWorlds, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)'];

describe.skipIf(!HUB_AVAILABLE)('a cycle pushes one foreign insert by the one-row push', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  async function world(): Promise<SyncWorld> {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'cycle_one',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a'],
      env: { SYNC_INTERVAL: '3600' },
    });
    await w.node('a').syncer.syncOnce(); // registers the node, plans, learns the hub's flavour
    return w;
  }

  /** The application's own connection to the node's file (not the syncer's). */
  function app(w: SyncWorld) {
    return openSqlite(w.node('a').config.sqlitePath);
  }

  it('opens nothing for a heartbeat; a foreign insert goes up in one query and a COMMIT: origin, cursor, no echo', async () => {
    const w = await world();
    const { syncer } = w.node('a');
    const other = app(w);
    try {
      syncer.heartbeat(true);
      await syncer.syncOnce({ pull: false });
      expect(syncer.oneRowPushes).toBe(0);
      expect(syncer.oneRowLease?.opened ?? false).toBe(false);

      other.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
      const r = await syncer.syncOnce({ pull: false });
      expect(r.push).toMatchObject({ changes: 1, applied: 1 });
      expect(syncer.oneRowPushes).toBe(1);
      expect(syncer.oneRowLease?.opened).toBe(true);
      expect(await w.hub.query('SELECT id, name FROM workers')).toEqual([{ id: '1', name: 'Ana' }]);
      expect(await w.hub.query("SELECT pk, op, origin FROM _dualdb_changes WHERE tbl = 'workers'")).toEqual([
        { pk: '1', op: 'I', origin: syncer.nodeId },
      ]);
      const [n] = await w.hub.query<{ push_cursor: string }>('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ?', [
        syncer.nodeId,
      ]);
      expect(BigInt(n?.push_cursor ?? -1)).toBe(syncer.state.pushedUpto());
      expect(syncer.state.pendingPush().count).toBe(0);
      // No echo: the next full cycle moves nothing either way.
      const again = await syncer.syncOnce();
      expect(again.push.applied + again.pull.applied).toBe(0);
      expect(other.prepare('SELECT name FROM workers').all()).toEqual([{ name: 'Ana' }]);
    } finally {
      other.close();
    }
  });

  it('several entries, an update, or a key the hub changed unseen: the generic push, as before', async () => {
    const w = await world();
    const { syncer } = w.node('a');
    const other = app(w);
    try {
      other.transaction(() => {
        other.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
        other.prepare("INSERT INTO workers VALUES (2, 'Bea')").run();
      })();
      await syncer.syncOnce({ pull: false });
      other.prepare("UPDATE workers SET name = 'Ana B' WHERE id = 1").run();
      await syncer.syncOnce({ pull: false });
      expect(syncer.oneRowPushes).toBe(0);
      expect(await w.hub.query('SELECT id, name FROM workers ORDER BY id')).toEqual([
        { id: '1', name: 'Ana B' },
        { id: '2', name: 'Bea' },
      ]);
      // A hub client wrote id 3 first, not pulled yet: the one-row push's guard sends it to the
      // generic push, which sees the collision (two rows created under one id) and settles it.
      await w.hub.execute("INSERT INTO workers VALUES (3, 'Hub')");
      other.prepare("INSERT INTO workers VALUES (3, 'Node')").run();
      const r = await syncer.syncOnce({ pull: false });
      expect(syncer.oneRowPushes).toBe(0);
      expect(r.push.changes).toBe(1);
      expect(syncer.state.pendingPush().count).toBe(0);
      const hubNames = (await w.hub.query<{ name: string }>('SELECT name FROM workers ORDER BY name')).map((x) => x.name);
      expect(hubNames).toEqual(['Ana B', 'Bea', 'Hub', 'Node']);
    } finally {
      other.close();
    }
  });

  it('its connection refused (a connection limit): the generic push goes on, nothing lost', async () => {
    const w = await world();
    const { syncer } = w.node('a');
    const other = app(w);
    // A port nobody listens on: the lease's connect is refused, as a full hub's would be.
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    syncer.oneRowLease = new OneRowLease({ ...w.node('a').config.mysql, host: '127.0.0.1', port: closed });
    try {
      other.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
      const r = await syncer.syncOnce({ pull: false });
      expect(r.push).toMatchObject({ changes: 1, applied: 1 });
      expect(syncer.oneRowPushes).toBe(0);
      expect(await w.hub.query('SELECT id, name FROM workers')).toEqual([{ id: '1', name: 'Ana' }]);
      expect(syncer.state.pendingPush().count).toBe(0);
      expect(syncer.hubConnected).toBe(true);
    } finally {
      other.close();
    }
  });

  it('the running service pushes a watched commit by it, and the poll backstop too (no watch)', async () => {
    for (const watch of [true, false]) {
      const w = await world();
      const node = w.node('a');
      const other = app(w);
      const service = new SyncService(node.config, { syncer: node.syncer, watch });
      try {
        service.start();
        await waitFor(() => service.state === 'online', 'the service online');
        expect(service.watching).toBe(watch);
        for (let id = 1; id <= 3; id++) {
          other.prepare('INSERT INTO workers VALUES (?, ?)').run(id, `w${id}`);
          await waitFor(
            async () => (await w.hub.query('SELECT 1 FROM workers WHERE id = ?', [id])).length === 1,
            `row ${id} on the hub`,
          );
        }
        expect(node.syncer.oneRowPushes).toBeGreaterThan(0);
      } finally {
        await service.stop();
        other.close();
      }
    }
  });
});
