/**
 * A change written on a node is on the hub, in the queue or parked: never dropped (docs/SYNC-CONTRACT.md
 * invariants 11 and 17). Each step of an operator trial that lost rows, alone: `init --take-over`
 * with unsynced changes, with changes parked for a paused table, `parked retry` of such changes,
 * and a copied file with parked changes that syncs under a NODE_ID of its own.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';
import { nodeConfig } from './helpers/node.js';
import type { SyncWorld } from './helpers/sync.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)'];

const put = (db: SqliteDb, ...ids: number[]) => {
  for (const id of ids) db.prepare('INSERT INTO workers (id, name) VALUES (?, ?)').run(id, `w${id}`);
};
const hubIds = async (world: SyncWorld) =>
  (await world.hub.query<{ id: string }>('SELECT id FROM workers ORDER BY id')).map((r) => Number(r.id));
/** Every local row is on the hub, or still queued or parked. */
const unsent = (s: Syncer) => ({ queued: s.state.pendingPush(true).count, parked: s.state.parked('push').length });

describe.skipIf(!HUB_AVAILABLE)('unsent changes survive take-over, copies and parked retries', () => {
  const worlds = syncWorlds({ prefix: 'queue', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['F', 'G'] });

  /** A copy of a node's file (as `cp` of a quiet file gives) that syncs as `nodeId`. */
  const copyOf = (db: SqliteDb, world: SyncWorld, nodeId: string): Config => {
    const config = nodeConfig(worlds.dir, `copy-${nodeId}-${path.basename(world.mysql.database)}`, world.mysql, {
      NODE_ID: nodeId,
    });
    db.exec(`VACUUM INTO '${config.sqlitePath.replaceAll("'", "''")}'`);
    return config;
  };

  /** F's workers table paused by drift (a column only in F's file), with a change of F's parked. */
  const pausedWithParked = async (world: SyncWorld) => {
    const F = world.node('F');
    put(F.db, 1, 2);
    await F.syncer.syncOnce();
    await world.node('G').syncer.syncOnce();
    F.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
    put(F.db, 3);
    await F.syncer.syncOnce();
    expect(F.syncer.state.parked('push').map((p) => p.pk)).toEqual(['3']);
    return F;
  };
  const fixDrift = (world: SyncWorld) => world.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
  const syncAll = async (s: Syncer) => {
    s.state.retryParked();
    for (let i = 0; i < 3; i++) await s.syncOnce();
  };

  it('`parked retry` of changes parked while their table was paused: they reach the hub', async () => {
    const world = await worlds.world();
    const F = await pausedWithParked(world);
    put(F.db, 4);
    await F.syncer.syncOnce();
    await fixDrift(world);
    await syncAll(F.syncer);
    expect(await hubIds(world)).toEqual([1, 2, 3, 4]);
    expect(unsent(F.syncer)).toEqual({ queued: 0, parked: 0 });
  });

  it('`init --take-over` with unsynced changes in the log: they reach the hub', async () => {
    const world = await worlds.world();
    const F = world.node('F');
    put(F.db, 1);
    await F.syncer.syncOnce();
    await world.node('G').syncer.syncOnce();
    put(F.db, 2);
    const copy = copyOf(F.db, world, 'G');
    let g = Syncer.open(copy, { planTtlMs: 0 });
    put(g.db, 5, 6);
    await expect(g.syncOnce()).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
    await g.close();
    await initNode(copy, { takeOver: true });
    g = Syncer.open(copy, { planTtlMs: 0 });
    try {
      await syncAll(g);
      expect(await hubIds(world)).toEqual([1, 2, 5, 6]);
      expect(unsent(g)).toEqual({ queued: 0, parked: 0 });
    } finally {
      await g.close();
    }
  });

  it('a hub insert a pull parked while the table was paused, and a local insert under that key: both rows kept', async () => {
    const world = await worlds.world();
    const F = await pausedWithParked(world);
    // Another node creates a row under the same generated key; F's pull parks it (paused table).
    const G = world.node('G');
    G.db.prepare("INSERT INTO workers (id, name) VALUES (3, 'g3')").run();
    await G.syncer.syncOnce();
    await F.syncer.syncOnce();
    expect(F.syncer.state.parked('pull').map((p) => [p.pk, p.firstOp])).toEqual([['3', 'I']]);
    await fixDrift(world);
    G.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
    await syncAll(F.syncer);
    await G.syncer.syncOnce();
    await F.syncer.syncOnce();
    // Two rows created under one key: a key collision (one of them moves), never one overwriting the other.
    const names = async () =>
      (await world.hub.query<{ name: string }>('SELECT name FROM workers ORDER BY name')).map((r) => r.name);
    expect(await names()).toEqual(['w1', 'w2', 'w3', 'g3'].sort());
    for (const s of [F.syncer, G.syncer])
      expect((s.db.prepare('SELECT name FROM workers ORDER BY name').all() as { name: string }[]).map((r) => r.name)).toEqual(
        await names(),
      );
  });

  for (const id of ['G', 'H'] as const) {
    const how = id === 'G' ? 'taken over (`init --take-over`)' : 'a NODE_ID of its own, new to the hub';
    it(`a copy of a file with parked changes, ${how}: the parked and the new rows reach the hub`, async () => {
      const world = await worlds.world();
      const F = await pausedWithParked(world);
      const copy = copyOf(F.db, world, id);
      let g = Syncer.open(copy, { planTtlMs: 0 });
      put(g.db, 5, 6);
      if (id === 'G') {
        await expect(g.syncOnce()).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
        await g.close();
        await initNode(copy, { takeOver: true });
        g = Syncer.open(copy, { planTtlMs: 0 });
      }
      try {
        await g.syncOnce();
        // Paused in the copy too: nothing of workers moved, nothing dropped.
        expect(await hubIds(world)).toEqual([1, 2]);
        expect(new Set(g.state.parked('push').map((p) => p.pk))).toEqual(new Set(['3', '5', '6']));
        put(g.db, 7);
        await g.syncOnce();
        await fixDrift(world);
        await syncAll(g);
        expect(await hubIds(world)).toEqual([1, 2, 3, 5, 6, 7]);
        expect(unsent(g)).toEqual({ queued: 0, parked: 0 });
      } finally {
        await g.close();
      }
    });
  }
});

describe.skipIf(!HUB_AVAILABLE)('a child row parked by the hub (its parent waits) meets another node’s row under its key', () => {
  const worlds = syncWorlds({
    prefix: 'queuefk',
    sqliteDdl: [
      'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
      'CREATE TABLE detections (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers (id), cam TEXT NOT NULL)',
    ],
    mysqlDdl: [
      'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL)',
      `CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT, cam VARCHAR(50) NOT NULL,
         FOREIGN KEY (worker_id) REFERENCES workers (id))`,
    ],
    nodes: ['F', 'A'],
  });
  /** A worker and two detections of it, under the file's next generated keys. */
  const add = (db: SqliteDb, name: string) => {
    const id = db.prepare('INSERT INTO workers (name) VALUES (?)').run(name).lastInsertRowid;
    for (const cam of ['c0', 'c1']) db.prepare('INSERT INTO detections (worker_id, cam) VALUES (?, ?)').run(id, `${name}-${cam}`);
  };
  const cams = (db: SqliteDb) =>
    (db.prepare('SELECT cam FROM detections ORDER BY cam').all() as { cam: string }[]).map((r) => r.cam);

  it('both rows kept (a key collision), never the parked one written over the other', async () => {
    const world = await worlds.world();
    const F = world.node('F');
    const A = world.node('A');
    add(F.db, 'f1');
    await F.syncer.syncOnce();
    await A.syncer.syncOnce();
    // F's workers paused (drift): its new worker waits, so the hub refuses its detections (FK): parked.
    F.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
    add(F.db, 'drift');
    await F.syncer.syncOnce();
    expect(F.syncer.state.parked('push').filter((p) => p.tbl === 'detections')).toHaveLength(2);
    // A creates a worker and detections under the same generated keys; F pulls them.
    add(A.db, 'a5');
    await A.syncer.syncOnce();
    await F.syncer.syncOnce();
    await world.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
    A.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
    F.syncer.state.retryParked();
    for (let i = 0; i < 3; i++) {
      await F.syncer.syncOnce();
      await A.syncer.syncOnce();
    }
    const hub = (await world.hub.query<{ cam: string }>('SELECT cam FROM detections ORDER BY cam')).map((r) => r.cam);
    expect(hub).toEqual(['a5-c0', 'a5-c1', 'drift-c0', 'drift-c1', 'f1-c0', 'f1-c1']);
    expect(cams(F.db)).toEqual(hub);
    expect(cams(A.db)).toEqual(hub);
    expect(F.syncer.state.parked()).toEqual([]);
  });
});
