/**
 * SYNC_KEY_COLLISIONS=manual, operator trial 3 (findings F, G, H):
 * F. a node that resolves `--rekey hub` keeps its own row under the key; the hub row's children it
 *    already holds (pulled, or parked while the parent was held apart) must follow the hub row to
 *    its new key on this node too (invariant 13), not stay on the node's own row.
 * G. `rekeys resolve` beside the site's running `sync --watch` (two processes, one SQLite file) is
 *    the same node: the push-token fence must not refuse it as another file (NODE_ID_IN_USE).
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { resolveAllRekeys } from '../src/sync/rekey-resolve-all.js';
import { Syncer } from '../src/sync/syncer.js';
import { divergence, makeWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

type Pair = { note: string; badge: string | null };

async function hubPairs(hub: MysqlHub): Promise<Pair[]> {
  return (await hub.query(
    'SELECT a.note, w.badge FROM attendance a LEFT JOIN workers w ON w.id = a.worker_id ORDER BY a.note',
  )) as Pair[];
}

function nodePairs(syncer: Syncer): Pair[] {
  return syncer.db
    .prepare('SELECT a.note, w.badge FROM attendance a LEFT JOIN workers w ON w.id = a.worker_id ORDER BY a.note')
    .all() as Pair[];
}

describe.skipIf(!HUB_AVAILABLE)('manual key collisions, operator trial 3', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  for (const ownChild of ['none', 'deleted', 'kept'] as const)
    it(`F: resolve --rekey hub moves the hub row’s children this node already holds to the new key (own child ${ownChild})`, async () => {
      const w = await makeWorld(fx.testHub, fx.dir, {
        prefix: 'trial3f',
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['s2', 's3'],
        env: { SYNC_KEY_COLLISIONS: 'manual' },
      });
      try {
        const s2 = w.node('s2');
        const s3 = w.node('s3');
        // site3: a worker and its attendance row in one transaction, pushed first.
        s3.db.transaction(() => {
          s3.db.prepare('INSERT INTO workers (id, badge) VALUES (1, ?)').run('s3-w');
          s3.db.prepare('INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, ?)').run('s3-w');
        })();
        await s3.syncer.syncOnce();
        // site2: its own worker under the same key, same second; no child of its own.
        s2.db.prepare('INSERT INTO workers (id, badge) VALUES (1, ?)').run('s2-w');
        if (ownChild !== 'none') s2.db.prepare('INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, ?)').run('s2-w');
        await s2.syncer.syncOnce();
        await s2.syncer.syncOnce();
        if (ownChild === 'deleted') {
          s2.db.prepare('DELETE FROM attendance WHERE id = 1').run();
          await s2.syncer.syncOnce();
          await s2.syncer.syncOnce();
        }
        const held = s2.syncer.rekeys.list({ status: 'held', limit: 100 });
        expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
        await resolveRekey(s2.syncer, held[0]?.id as number, 'hub');
        await syncUntilQuiet(w.nodes);
        // A child of its own under the key collides itself once the parent is settled: settled too.
        await resolveAllRekeys(s2.syncer, 'hub');
        await syncUntilQuiet(w.nodes);
        expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
        for (const pairs of [await hubPairs(w.hub), nodePairs(s2.syncer), nodePairs(s3.syncer)])
          for (const p of pairs) expect(p.badge).toBe(p.note);
      } finally {
        await w.close();
      }
    }, 120_000);

  /** The hub pool a Syncer uses (opened by its first context). */
  async function hubOf(syncer: Syncer): Promise<MysqlHub> {
    return syncer.withContext(async (ctx) => ctx.hub);
  }

  it('F: resolve --rekey hub beside the running watcher (two processes, one file): the hub row’s child pulled meanwhile follows it', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'trial3fw',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s2', 's3'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    // The operator's `dualdb rekeys resolve` process, beside the watcher (s2.syncer), same file.
    const resolver = Syncer.open(w.node('s2').config, { planTtlMs: 0 });
    try {
      const s2 = w.node('s2');
      const s3 = w.node('s3');
      s3.db.transaction(() => {
        s3.db.prepare('INSERT INTO workers (id, badge) VALUES (1, ?)').run('s3-w');
        s3.db.prepare('INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, ?)').run('s3-w');
      })();
      await s3.syncer.syncOnce();
      s2.db.prepare('INSERT INTO workers (id, badge) VALUES (1, ?)').run('s2-w');
      await s2.syncer.syncOnce();
      await s2.syncer.syncOnce();
      const held = s2.syncer.rekeys.list({ status: 'held', limit: 100 });
      expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
      // The watcher syncs between the resolve's SQLite commit and its hub commit (the trial's timing).
      const hub = await hubOf(resolver);
      const withConnection = hub.withConnection.bind(hub);
      let armed = true;
      hub.withConnection = ((fn: (conn: never) => Promise<unknown>) =>
        withConnection(async (conn) => {
          const commit = conn.commit.bind(conn);
          conn.commit = (async () => {
            if (armed) {
              armed = false;
              s2.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0').run();
              await s2.syncer.syncOnce();
            }
            return commit();
          }) as typeof conn.commit;
          try {
            return await fn(conn as never);
          } finally {
            conn.commit = commit;
          }
        })) as typeof hub.withConnection;
      await resolveRekey(resolver, held[0]?.id as number, 'hub');
      expect(armed).toBe(false);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      for (const pairs of [await hubPairs(w.hub), nodePairs(s2.syncer), nodePairs(s3.syncer)])
        for (const p of pairs) expect(p.badge).toBe(p.note);
    } finally {
      await resolver.close();
      await w.close();
    }
  }, 120_000);

  it('G: a resolve beside the watcher is the same node: a push by the watcher between its fence reads is no NODE_ID_IN_USE', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'trial3g',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s3'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    const resolver = Syncer.open(w.node('s3').config, { planTtlMs: 0 });
    try {
      const s3 = w.node('s3');
      // A collision held apart, and a child of the node's row that waits for it (parked push):
      // the watcher's pushes then retry the parked row only, rotating the token, cursor unmoved.
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-w1')");
      s3.db.prepare('INSERT INTO workers (id, badge) VALUES (1, ?)').run('s3-w1');
      s3.db.prepare('INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, ?)').run('s3-w1');
      await s3.syncer.syncOnce();
      await s3.syncer.syncOnce();
      expect(s3.syncer.rekeys.statusCounts().held).toBe(1);
      await resolver.syncOnce();
      // The watcher pushes right after the resolve read the hub's token, before it reads the file's.
      const hub = await hubOf(resolver);
      const query = hub.query.bind(hub);
      let armed = true;
      hub.query = (async (sql: string, params?: unknown[]) => {
        const r = await query(sql as never, params as never);
        if (armed && sql.includes('SELECT push_cursor, push_token FROM _dualdb_nodes')) {
          armed = false;
          s3.db.prepare("UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE direction = 'push'").run();
          await s3.syncer.syncOnce();
        }
        return r;
      }) as typeof hub.query;
      // `rekeys resolve --all` syncs between its rounds (rekey-resolve-all.ts): the same fence.
      await resolver.syncOnce();
      expect(armed).toBe(false);
      await resolveAllRekeys(resolver, 'node');
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    } finally {
      await resolver.close();
      await w.close();
    }
  }, 120_000);

  it('H: resolve --rekey node while the application takes keys: the hub’s sequence is moved past them, the resolve succeeds', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'trial3h',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    const resolver = Syncer.open(w.node('s1').config, { planTtlMs: 0 });
    try {
      const s1 = w.node('s1');
      await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-w1')");
      for (let i = 1; i <= 5; i++) s1.db.prepare('INSERT INTO workers (badge) VALUES (?)').run(`s1-w${i}`);
      await syncUntilQuiet(w.nodes);
      const held = s1.syncer.rekeys.list({ status: 'held', limit: 100 });
      expect(held.map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
      // The application writes all along: each time the hub hands the resolve a new key, the
      // application has just taken the node's next one (SQLite's max + 1).
      const hub = await hubOf(resolver);
      const withConnection = hub.withConnection.bind(hub);
      let taken = 0;
      hub.withConnection = ((fn: (conn: never) => Promise<unknown>) =>
        withConnection(async (conn) => {
          const query = conn.query.bind(conn);
          conn.query = (async (...args: unknown[]) => {
            const r = await (query as (...a: unknown[]) => Promise<unknown>)(...args);
            if (typeof args[0] === 'string' && args[0].startsWith('INSERT INTO `workers`'))
              s1.db.prepare('INSERT INTO workers (badge) VALUES (?)').run(`s1-app-${++taken}`);
            return r;
          }) as typeof conn.query;
          try {
            return await fn(conn as never);
          } finally {
            conn.query = query;
          }
        })) as typeof hub.withConnection;
      const e = await resolveRekey(resolver, held[0]?.id as number, 'node');
      expect(e?.moved).toBe('node');
      expect(taken).toBeGreaterThan(1);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers'])).toEqual([]);
      const [n] = (await w.hub.query('SELECT count(*) AS n FROM workers')) as { n: number | string }[];
      expect(Number(n?.n)).toBe(6 + taken);
    } finally {
      await resolver.close();
      await w.close();
    }
  }, 120_000);
});
