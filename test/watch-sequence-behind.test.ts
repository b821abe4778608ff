/**
 * Operator tryout of 2026-12-08, rekey-node: the watchers printed 13 times `✖ sync failed: the
 * hub's AUTO_INCREMENT of alerts is behind this node's keys (up to 402); retry in 25.5 s` — a
 * condition the sync fixes by itself (it moves the hub's sequence) counted as failures of the sync,
 * each one doubling the backoff (pull lag p99 8.8 s).
 *
 * Here the application takes every key the hub hands a moved row (it fills the node's table up to
 * that key, each time), for two whole cycles: each cycle moves the sequence 4 times and gives up.
 * The watcher must say so as a retry, attempt 1 every time (no backoff earned), naming the
 * `ALTER TABLE … AUTO_INCREMENT` that gives the hub room; then, the application calmer, the next
 * cycle goes through and every row is kept. No timing asserted: the retry count is.
 */
import { describe, expect, it } from 'vitest';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { type LogEntry, SyncLog } from '../src/log/sync-log.js';
import { SyncService } from '../src/sync/service.js';
import type { Syncer } from '../src/sync/syncer.js';
import { until } from './helpers/cli.js';
import { makeWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE alerts (id INTEGER PRIMARY KEY, note TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB'];

/**
 * After a hub INSERT into alerts that leaves the key to the hub's AUTO_INCREMENT (a moved row),
 * the application inserts rows on the node up to the key the hub handed out, `fills` times.
 */
function appTakesEveryKey(syncer: Syncer, db: SqliteDb, fills: number): Promise<{ done: () => number }> {
  let done = 0;
  const wrapped = new WeakSet<object>();
  const insert = db.prepare('INSERT INTO alerts (note) VALUES (?)');
  const fillTo = db.transaction((key: bigint) => {
    for (let id = BigInt((db.prepare('SELECT max(id) AS m FROM alerts').get() as { m: number | bigint }).m); id < key; id++)
      insert.run(`app-${done}`);
  });
  const wrap = <C extends object>(conn: C): C => {
    if (wrapped.has(conn)) return conn;
    wrapped.add(conn);
    const c = conn as unknown as { query: (...a: unknown[]) => Promise<unknown> };
    const query = c.query.bind(conn);
    c.query = async (...args: unknown[]) => {
      const r = await query(...args);
      const sql = typeof args[0] === 'string' ? args[0] : '';
      const cols = /^INSERT INTO `alerts` \(([^)]*)\)/.exec(sql);
      const id = (r as [{ insertId?: number }])[0]?.insertId;
      if (cols && !cols[1]?.includes('`id`') && id && done < fills) {
        fillTo(BigInt(id));
        done++;
      }
      return r;
    };
    return conn;
  };
  return syncer.withContext(async (ctx) => {
    const hub = ctx.hub;
    type Lender = (fn: (conn: object) => Promise<unknown>, ...rest: unknown[]) => Promise<unknown>;
    const methods = hub as unknown as Record<'withConnection' | 'lend' | 'withDriverDecode', Lender>;
    for (const name of ['withConnection', 'lend', 'withDriverDecode'] as const) {
      const orig = methods[name].bind(hub);
      methods[name] = (fn, ...rest) => orig((conn) => fn(wrap(conn)), ...rest);
    }
    const pooled = hub.pooledConnection.bind(hub);
    hub.pooledConnection = (async () => wrap(await pooled())) as typeof hub.pooledConnection;
    return { done: () => done };
  });
}

interface Entry {
  event?: string;
  attempt?: number;
  msg?: string;
}

describe.skipIf(!HUB_AVAILABLE)('the watcher and a hub sequence behind the node’s keys', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('is retried at once, attempt 1 each time, naming the ALTER; no failed cycle, no backoff; all rows kept', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'seqwatch',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1'],
      env: { SYNC_INTERVAL: '0.2', LOG_LEVEL: 'info' },
    });
    const log = new SyncLog({ level: 'info' });
    const logged: LogEntry[] = [];
    log.on('entry', (e) => logged.push(e));
    const entries = (): Entry[] => logged as Entry[];
    const s1 = w.node('s1');
    const service = new SyncService(s1.config, { log });
    try {
      await w.hub.execute("INSERT INTO alerts (id, note) VALUES (1, 'control room')");
      for (let i = 1; i <= 3; i++) s1.db.prepare('INSERT INTO alerts (note) VALUES (?)').run(`site-${i}`);
      // Two whole cycles' worth of moves (4 each, and the first try), every key taken.
      const app = await appTakesEveryKey(service.syncer, s1.db, 10);
      service.start();
      await until(
        async () => {
          const [n] = (await w.hub.query('SELECT count(*) AS n FROM alerts')) as { n: number | string }[];
          const here = Number((s1.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number | bigint }).n);
          return app.done() >= 10 && Number(n?.n) === here && here > 4;
        },
        'every row on the hub once the application is calmer',
        180_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; log: ${JSON.stringify(entries().filter((x) => /sync\.|rekey/.test(x.event ?? '')))}`);
      });
      const failed = entries().filter((e) => e.event === 'sync.failed');
      expect(failed, JSON.stringify(failed)).toEqual([]);
      const retried = entries().filter((e) => e.event === 'sync.retry');
      expect(retried.length).toBeGreaterThanOrEqual(2);
      expect(retried.map((e) => e.attempt)).toEqual(retried.map(() => 1));
      expect(retried[0]?.msg).toMatch(/the application took each new key the hub handed out for alerts/);
      expect(retried[0]?.msg).toMatch(/ALTER TABLE alerts AUTO_INCREMENT = \d+/);
      // Every row kept: the site's three (one moved), the control room's, the application's.
      const [c] = (await w.hub.query("SELECT count(*) AS n FROM alerts WHERE note = 'control room' OR note LIKE 'site-%'")) as {
        n: number | string;
      }[];
      expect(Number(c?.n)).toBe(4);
    } finally {
      await service.close();
      await w.close();
    }
  }, 300_000);
});
