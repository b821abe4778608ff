/**
 * `dualdb rekeys resolve <id> --rekey node|hub` places the hub's row of a held collision here, as
 * a colliding push does: it needs the push's two guards on that row's parents
 * (docs/SYNC-CONTRACT.md invariant 13).
 *
 * P2: the placed row names a parent the hub deleted and created again, not pulled here yet: here
 *     that key still holds the old parent, whose pulled delete then nulls (or cascades) the placed
 *     row, and its own hub insert counts as placed (seen): nothing writes it again. It waits for the
 *     pull instead (push-hub-read.ts `parentKeysChangedUnseen`).
 * R2: another node's rekey-hub moved the placed row's parent after the resolve learned the hub's
 *     moves and before it read the row: the image names the parent's old key, here still the row
 *     that moved away. The resolve's last read of the moves covers those parent keys and tries again
 *     (push-hub-read.ts `addParentKeys`, `assertNoMovesMeanwhile`).
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import type { Syncer } from '../src/sync/syncer.js';
import { envOf, runCli } from './helpers/cli.js';
import { interceptHub } from './helpers/intercept-hub.js';
import {
  collideUnderRecreatedParents,
  MYSQL_DDL,
  NOTIFICATION_ALERTS as PAIRS,
  SQLITE_DDL,
  TABLES,
} from './helpers/recreated-parents.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

/** Each notification with its alert's text, the same on every side. */
async function notificationsEverywhere(w: SyncWorld): Promise<unknown[]> {
  expect(await divergence(w, TABLES)).toEqual([]);
  const hub = (await w.hub.query<{ ref: string; alert: string | null }>(PAIRS)).map((r) => [r.ref, r.alert]);
  for (const n of w.nodes) expect(n.db.prepare(PAIRS).raw().all()).toEqual(hub);
  return hub;
}

describe.skipIf(!HUB_AVAILABLE)('rekeys resolve: the push’s guards on the parents of the hub row it places', () => {
  const fx = syncWorlds({
    prefix: 'rsguard',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['site1', 'site2'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });

  for (const side of ['node', 'hub'] as const)
    it(`P2, --rekey ${side}: site2's notification placed on site1 keeps its alert once site1 pulls the re-created parents`, async () => {
      const w = await fx.world();
      const s1 = w.node('site1');
      const s2 = w.node('site2');
      // Site1's own notification held apart; resolved before site1 pulls the re-created parents.
      await collideUnderRecreatedParents(s1, s2);
      const [held] = s1.syncer.rekeys.list({ status: 'held' });
      expect([held?.tbl, held?.oldKey]).toEqual(['notifications', '1']);
      await resolveRekey(s1.syncer, held?.id as number, side);
      await syncUntilQuiet(w.nodes);

      expect(await notificationsEverywhere(w)).toEqual([
        ['n-site1', null],
        ['n-site2', 'a-new'],
      ]);
      for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
    }, 120_000);

  const WORKERS_SQLITE = [
    'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
    `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
       wname TEXT NOT NULL)`,
  ];
  const WORKERS_MYSQL = [
    'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
    `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, wname VARCHAR(80) NOT NULL,
       CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  ];

  /** The resolve's hub, except that `hook` runs once just before its first statement matching `match`. */
  async function resolveWith(syncer: Syncer, id: number, side: 'node' | 'hub', match: RegExp, hook: () => Promise<void>) {
    const s = syncer as unknown as { hub: MysqlHub };
    const hub = await syncer.connectHub();
    s.hub = interceptHub(hub, match, hook);
    try {
      return await resolveRekey(syncer, id, side);
    } finally {
      s.hub = hub;
    }
  }

  for (const side of ['node', 'hub'] as const)
    it(`R2, --rekey ${side}: the hub's child placed here keeps the parent another node's move put under its key meanwhile`, async () => {
      const w = await fx.world({
        sqliteDdl: WORKERS_SQLITE,
        mysqlDdl: WORKERS_MYSQL,
        nodes: ['a', 'b'],
        nodeEnv: { b: { SYNC_KEY_COLLISIONS: 'rekey-hub' } },
      });
      const [a, b] = [w.node('a'), w.node('b')];
      // b's worker 2 and its child, attendance 1, on the hub; the control room's worker 1 (h1).
      b.db.prepare("INSERT INTO workers (id, name) VALUES (2, 'b2')").run();
      b.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 2, 'b-child')").run();
      await b.syncer.syncOnce();
      await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'h1')");
      // a's own worker 5 and attendance 1: held apart from b's child; a holds h1 under 1.
      a.db.prepare("INSERT INTO workers (id, name) VALUES (5, 'a5')").run();
      a.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 5, 'a-child')").run();
      await a.syncer.syncOnce();
      await a.syncer.syncOnce();
      const [held] = a.syncer.rekeys.list({ status: 'held' });
      expect([held?.tbl, held?.oldKey]).toEqual(['attendance', '1']);
      // b, not having pulled h1: its own worker 1, and its child moved onto it.
      b.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'b1')").run();
      b.db.prepare("UPDATE attendance SET worker_id = 1, wname = 'b-child1' WHERE id = 1").run();
      // a learnt the hub's moves; then b's push moves h1 1 -> 3, puts b1 under 1 and its child on it.
      await resolveWith(a.syncer, held?.id as number, side, /FROM `attendance` WHERE .* FOR UPDATE$/, async () => {
        await b.syncer.syncOnce({ pull: false });
      });
      await syncUntilQuiet(w.nodes, 10);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      const pairs = 'SELECT a.wname, w.name FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.wname';
      const hub = (await w.hub.query<{ wname: string; name: string }>(pairs)).map((r) => [r.wname, r.name]);
      expect(hub).toEqual([
        ['a-child', 'a5'],
        ['b-child1', 'b1'],
      ]);
      for (const n of w.nodes) expect(n.db.prepare(pairs).raw().all()).toEqual(hub);
      for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
    }, 120_000);

  it('a hub row kept locked by another transaction: retried, then one line naming the cause and the fix', async () => {
    const w = await fx.world({ sqliteDdl: WORKERS_SQLITE, mysqlDdl: WORKERS_MYSQL, nodes: ['a'] });
    const a = w.node('a');
    a.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'a1')").run();
    await w.hub.execute("INSERT INTO workers (id, name) VALUES (1, 'h1')");
    await a.syncer.syncOnce();
    const [held] = a.syncer.rekeys.list({ status: 'held' });
    expect([held?.tbl, held?.oldKey]).toEqual(['workers', '1']);
    const env = envOf(a.config);
    // The resolving process's sessions wait 1 s for a row lock (this file's private hub only).
    const admin = await fx.testHub.admin();
    await admin.query('SET GLOBAL innodb_lock_wait_timeout = 1');
    try {
      await w.hub.withConnection(async (conn) => {
        await conn.beginTransaction();
        await conn.query('SELECT * FROM workers WHERE id = 1 FOR UPDATE');
        try {
          const r = runCli(['rekeys', 'resolve', String(held?.id), '--rekey', 'node'], env);
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
          expect(r.stderr).toContain(`key collision #${held?.id} (workers 1) not resolved`);
          expect(r.stderr).toContain('another transaction on the hub kept the rows locked (lock wait timeout, 4 tries');
          expect(r.stderr).toContain('information_schema.INNODB_TRX');
          expect(r.stderr).not.toContain('try restarting transaction');
          expect(r.code).toBe(1);
        } finally {
          await conn.rollback();
        }
      });
    } finally {
      await admin.query('SET GLOBAL innodb_lock_wait_timeout = DEFAULT');
      await admin.end();
    }
    expect(a.syncer.rekeys.get(held?.id as number)?.status).toBe('held');
    // The lock gone, the same command resolves it.
    const ok = runCli(['rekeys', 'resolve', String(held?.id), '--rekey', 'node'], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    await syncUntilQuiet(w.nodes);
    expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
  }, 120_000);
});
