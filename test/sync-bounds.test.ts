/**
 * Growth without bound and silent failures (issue 12 item 7):
 *  - a subscriber that stops reading (a suspended monitor) gets at most
 *    SUBSCRIBER_BUFFER_BYTES queued by the syncer, however many events follow,
 *    and learns how many it missed when it reads again;
 *  - a peer that sends a line without end is cut off instead of growing a buffer;
 *  - the report of the pull position (what lets the hub prune its log) says so
 *    when it fails, in the log once and in `status` until it works again;
 *  - `SyncService.syncNow` settles when the loop is not running.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer, controlSocketPath, SUBSCRIBER_BUFFER_BYTES } from '../src/sync/control.js';
import { SyncService } from '../src/sync/service.js';
import { collectStatus } from '../src/sync/status.js';
import { until, within } from './helpers/cli.js';
import { makeWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** What the server keeps queued for its subscribers (read from outside, as a heap profile would). */
function queued(control: ControlServer): number {
  const subs = (control as unknown as { subscribers: Set<net.Socket> }).subscribers;
  let n = 0;
  for (const s of subs) n += s.writableLength;
  return n;
}

describe('control socket bounds', () => {
  it('a subscriber that stops reading costs the syncer a bounded queue, flat as the events grow', async () => {
    const file = path.join(tmp.dir, 'bounded.db');
    const control = await ControlServer.listen(file, async () => null);
    const client = net.createConnection(controlSocketPath(file));
    try {
      let received = '';
      client.setEncoding('utf8');
      client.on('data', (d: string) => {
        received += d;
      });
      await new Promise((r) => client.once('connect', r));
      client.write(`${JSON.stringify({ id: 1, cmd: 'subscribe' })}\n`);
      await until(() => received.includes('"id":1'), 'the subscription');
      client.pause(); // suspended: reads nothing from now on

      const payload = 'x'.repeat(1000);
      const send = (n: number, from: number) => {
        for (let i = from; i < from + n; i++) control.broadcast('log', { i, payload });
      };
      send(5_000, 0);
      const afterFew = queued(control);
      send(50_000, 5_000);
      const afterMany = queued(control);
      expect(afterFew).toBeLessThanOrEqual(SUBSCRIBER_BUFFER_BYTES);
      expect(afterMany).toBeLessThanOrEqual(SUBSCRIBER_BUFFER_BYTES);

      // Reading again: the subscriber is told what it missed, and the stream goes on.
      received = '';
      client.resume();
      await until(() => received.includes('"event":"dropped"'), 'the dropped notice');
      control.broadcast('state', { state: 'online', prev: 'degraded' });
      await until(() => received.includes('"event":"state"'), 'the next event');
      const notice = received.split('\n').find((l) => l.includes('"event":"dropped"')) as string;
      expect((JSON.parse(notice) as { data: { events: number } }).data.events).toBeGreaterThan(40_000);
    } finally {
      client.destroy();
      await control.close();
    }
  });

  it('a request line without end is cut off, not buffered; the syncer goes on serving', async () => {
    const file = path.join(tmp.dir, 'longline.db');
    const control = await ControlServer.listen(file, async () => 'pong');
    const client = net.createConnection(controlSocketPath(file));
    try {
      let closed = false;
      client.on('close', () => {
        closed = true;
      });
      client.on('error', () => {});
      await new Promise((r) => client.once('connect', r));
      const chunk = 'y'.repeat(16 * 1024);
      for (let i = 0; i < 64 && !closed; i++) client.write(chunk);
      await until(() => closed, 'the server to cut the endless line', 20_000);
      const { sendControl } = await import('../src/sync/control.js');
      expect(await sendControl(file, 'ping', 5000)).toBe('pong');
    } finally {
      client.destroy();
      await control.close();
    }
  });
});

describe.skipIf(!HUB_AVAILABLE)('sync service bounds', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startSyncTestHub();
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('syncNow settles when the loop is not running (never started, or stopped)', async () => {
    const w = await makeWorld(hub, tmp.dir, {
      prefix: 'now',
      sqliteDdl: ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'],
      mysqlDdl: ['CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20))'],
      nodes: ['N'],
    });
    const node = w.node('N');
    const service = new SyncService(node.config, { syncer: node.syncer });
    try {
      node.db.prepare("INSERT INTO t VALUES (1, 'a')").run();
      const r = await within(service.syncNow(), 30_000);
      expect(r).not.toBe('unsettled');
      expect(await w.hub.query('SELECT id, v FROM t')).toEqual([{ id: '1', v: 'a' }]);
      service.start();
      await service.stop();
      const again = await within(service.syncNow(), 30_000);
      expect(again).not.toBe('unsettled');
    } finally {
      await w.close();
    }
  });

  it('a failing report of the pull position is logged once and shown by status until it works again', async () => {
    const w = await makeWorld(hub, tmp.dir, {
      prefix: 'report',
      sqliteDdl: ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'],
      mysqlDdl: ['CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20))'],
      nodes: ['R'],
    });
    const node = w.node('R');
    const admin = await hub.admin(w.mysql.database);
    try {
      await admin.query(`CREATE TRIGGER refuse_pull_report BEFORE UPDATE ON _dualdb_nodes FOR EACH ROW
        IF NOT (NEW.pull_upto <=> OLD.pull_upto) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'pull report refused'; END IF`);
      for (let i = 1; i <= 3; i++) {
        await w.hub.execute('INSERT INTO t VALUES (?, ?)', [i, `hub ${i}`]);
        await node.syncer.syncOnce();
      }
      // The data path is untouched; the failure is visible, once in the log.
      expect(node.db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3n });
      const failed = node.syncer.log.recent(500).filter((e) => e.event === 'hub.report-failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]?.msg).toMatch(/could not tell the hub how far this node pulled.*pull report refused/);
      expect((await collectStatus(node.syncer)).pruneReportError).toMatch(/pull report refused/);

      await admin.query('DROP TRIGGER refuse_pull_report');
      await node.syncer.syncOnce();
      expect((await collectStatus(node.syncer)).pruneReportError).toBeNull();
      const [row] = await w.hub.query<{ pull_upto: string }>("SELECT pull_upto FROM _dualdb_nodes WHERE node_id = 'R'");
      expect(BigInt(row?.pull_upto ?? 0)).toBeGreaterThan(0n);
    } finally {
      await admin.end();
      await w.close();
    }
  });
});
