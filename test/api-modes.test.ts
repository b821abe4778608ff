/**
 * Write semantics of each SYNC_MODE through the library (issue: modes, failover),
 * against a real SQLite file and the private MariaDB — including the hub going
 * away (killed) and coming back.
 */
import { describe, expect, it } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { initNode } from '../src/sync/init.js';
import { until } from './helpers/cli.js';
import { HUB_AVAILABLE, HUB_CRASHABLE } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { privateHub } from './helpers/private-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL, confidence REAL, seen_at TEXT)',
];
const MYSQL_DDL =
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, camera VARCHAR(50) NOT NULL, confidence DOUBLE, seen_at DATETIME(6))';

describe.skipIf(!HUB_AVAILABLE)('library write modes', () => {
  const fixture = privateHub();

  async function setup(mode: string, extra: Record<string, string> = {}) {
    const m: MysqlConfig = await fixture.testHub.freshDatabase('mode');
    const name = `${mode}-${Math.random().toString(36).slice(2, 8)}`;
    const config = nodeConfig(fixture.dir, name, m, { SYNC_MODE: mode, SYNC_INTERVAL: '0.2', DB_CONNECT_TIMEOUT: '1', ...extra });
    createSqlite(config, SQLITE_DDL).close();
    const h = await MysqlHub.connect(m);
    await h.execute(MYSQL_DDL);
    await initNode(config);
    return { config, h };
  }

  it('sqlite_primary: commits locally at once, then the syncer pushes', async () => {
    const { config, h } = await setup('sqlite_primary');
    const db = await DualDatabase.open({ config });
    try {
      const r = await db.insert('detections', { camera: 'cam-1', confidence: 0.9 });
      expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: false, changes: 1 });
      expect(db.all('SELECT camera FROM detections')).toEqual([{ camera: 'cam-1' }]);
      await until(async () => (await h.query('SELECT * FROM detections')).length === 1, 'the push');
    } finally {
      await db.close();
      await h.close();
    }
  });

  // RETURNING (MariaDB 10.5+) gives an insert's image at once; without it (MySQL) it is read back.
  it.each([
    ['INSERT … RETURNING', true],
    ['a read of the image (MySQL)', false],
  ])('mysql_primary: writes the hub first, mirrors locally with the hub’s key, no echo (%s)', async (_how, returning) => {
    const { config, h } = await setup('mysql_primary');
    const db = await DualDatabase.open({ config });
    try {
      await db.service.syncer.connectHub();
      if (!returning) db.service.syncer.hubReturning = false;
      const r = await db.insert('detections', { camera: 'cam-2', confidence: 0.5, seen_at: '2026-01-02 03:04:05.123456' });
      expect(r).toMatchObject({ committed: 'mysql+sqlite', queued: false, failedOver: false });
      const hubRows = await h.query<{ id: string }>('SELECT id FROM detections');
      expect(hubRows).toHaveLength(1);
      expect(r.lastInsertId).toBe(BigInt(hubRows[0]?.id ?? -1));
      expect(db.all('SELECT id, camera, seen_at FROM detections')).toEqual([
        { id: BigInt(hubRows[0]?.id ?? -1), camera: 'cam-2', seen_at: '2026-01-02 03:04:05.123456' },
      ]);
      // The mirror was not captured: nothing waits to be pushed back.
      expect(db.service.syncer.state.pendingPush(true).count).toBe(0);
      await db.update('detections', { id: r.lastInsertId }, { confidence: 0.75 });
      expect((await h.query<{ confidence: number }>('SELECT confidence FROM detections'))[0]?.confidence).toBe(0.75);
      expect(db.get<{ confidence: number }>('SELECT confidence FROM detections')?.confidence).toBe(0.75);
      await db.delete('detections', { id: r.lastInsertId });
      expect(await h.query('SELECT * FROM detections')).toHaveLength(0);
      expect(db.all('SELECT * FROM detections')).toHaveLength(0);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it('both: returns after the hub has the write', async () => {
    const { config, h } = await setup('both');
    const db = await DualDatabase.open({ config });
    try {
      const r = await db.transaction((tx) => {
        tx.insert('detections', { id: 10, camera: 'a' });
        tx.insert('detections', { id: 11, camera: 'b' });
      });
      expect(r).toMatchObject({ committed: 'both', queued: false, changes: 2 });
      expect(await h.query('SELECT id, camera FROM detections ORDER BY id')).toEqual([
        { id: '10', camera: 'a' },
        { id: '11', camera: 'b' },
      ]);
    } finally {
      await db.close();
      await h.close();
    }
  });

  it.skipIf(!HUB_CRASHABLE)(
    'hub down: both queues (or throws when strict), mysql_primary fails over; recovery drains the queue',
    async () => {
      const { config, h } = await setup('both');
      await h.close();
      const db = await DualDatabase.open({ config });
      const strictDb = await DualDatabase.open({
        config: { ...config, sqlitePath: config.sqlitePath },
        sync: false,
        strict: true,
      });
      try {
        await db.insert('detections', { id: 1, camera: 'before' });
        await fixture.testHub.server?.kill();
        const t0 = Date.now();
        const r = await db.insert('detections', { id: 2, camera: 'during' });
        expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: true });
        expect(r.hubError).toBeTruthy();
        await until(() => db.state === 'degraded', 'degraded state');
        // Once degraded, local writes do not wait for the hub at all.
        const t1 = Date.now();
        const r3 = await db.insert('detections', { id: 3, camera: 'during-2' });
        expect(r3.failedOver).toBe(true);
        expect(Date.now() - t1).toBeLessThan(Math.max(1000, t1 - t0));
        await expect(strictDb.insert('detections', { id: 4, camera: 'strict' })).rejects.toThrow(/queued|hub|refused|connect/i);
        expect((await db.status()).queue.push).toBeGreaterThanOrEqual(2);

        await fixture.testHub.server?.restart();
        const h2 = await MysqlHub.connect(config.mysql);
        await until(async () => (await h2.query('SELECT id FROM detections')).length === 4, 'the queue to drain', 30_000);
        await until(() => db.state === 'online', 'online again', 30_000);
        expect((await h2.query<{ id: string }>('SELECT id FROM detections ORDER BY id')).map((x) => x.id)).toEqual([
          '1',
          '2',
          '3',
          '4',
        ]);
        await h2.close();
      } finally {
        await strictDb.close();
        await db.close();
      }
    },
  );

  it.skipIf(!HUB_CRASHABLE)('mysql_primary: fails over while the hub is down and recovers', async () => {
    const { config, h } = await setup('mysql_primary');
    await h.close();
    const db = await DualDatabase.open({ config });
    try {
      await fixture.testHub.server?.kill();
      const r = await db.insert('detections', { id: 100, camera: 'offline' });
      expect(r).toMatchObject({ committed: 'sqlite', queued: true, failedOver: true });
      expect(db.all('SELECT id FROM detections')).toEqual([{ id: 100n }]);
      await fixture.testHub.server?.restart();
      const h2 = await MysqlHub.connect(config.mysql);
      await until(
        async () => (await h2.query('SELECT id FROM detections')).length === 1,
        'the queued write to reach the hub',
        30_000,
      );
      await until(() => db.state === 'online', 'online again', 30_000);
      const back = await db.insert('detections', { id: 101, camera: 'online' });
      expect(back.committed).toBe('mysql+sqlite');
      await h2.close();
    } finally {
      await db.close();
    }
  });
});
