/**
 * Operator trial, finding 2 (rekey-hub): another node's move of a hub row commits between a
 * push's read of the hub moves (push start) and its read of the hub rows (readHubFacts). The
 * push then sees its own row, moved onto a key of its batch, as somebody else's: it moved it once
 * more, and the move it learned later left a copy waiting for a key nothing ever frees (a pull
 * parked for good). A hub connection wrapper (as in sync-collisions-races.test.ts) runs b's push
 * just before a's lock read; nothing in the product is mocked.
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { PushRaceError, pushBatch } from '../src/sync/push.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

/** The hub, except that `hook` runs once just before the first statement matching `match`. */
function interceptHub(hub: MysqlHub, match: RegExp, hook: () => Promise<void>): MysqlHub {
  let fired = false;
  const wrapConn = (conn: object) =>
    new Proxy(conn, {
      get(c, p) {
        const v = Reflect.get(c, p);
        if (p !== 'query') return typeof v === 'function' ? v.bind(c) : v;
        return async (...args: unknown[]) => {
          const sql = typeof args[0] === 'string' ? args[0] : String((args[0] as { sql?: string })?.sql ?? '');
          if (!fired && match.test(sql)) {
            fired = true;
            await hook();
          }
          return (v as (...a: unknown[]) => unknown).apply(c, args);
        };
      },
    });
  return new Proxy(hub, {
    get(h, p) {
      const v = Reflect.get(h, p);
      if (p === 'withConnection')
        return (fn: (conn: unknown) => Promise<unknown>) => h.withConnection((conn) => fn(wrapConn(conn)));
      if (p === 'pool')
        return new Proxy(wrapConn(v as object), {
          get(pool, q) {
            if (q !== 'getConnection') return Reflect.get(pool, q);
            return async () => wrapConn(await (v as { getConnection: () => Promise<object> }).getConnection());
          },
        });
      return typeof v === 'function' ? v.bind(h) : v;
    },
  });
}

async function pushWith(w: SyncWorld, node: string, match: RegExp, hook: () => Promise<void>): Promise<void> {
  await w.node(node).syncer.withContext((ctx) => pushBatch({ ...ctx, hub: interceptHub(ctx.hub, match, hook) }));
}

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a move another node commits inside a push', () => {
  const fixture = syncWorlds({
    prefix: 'rhunl',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });

  it('a’s own row, moved onto a key of its batch after it read the moves, is not taken for another’s', async () => {
    const w = await fixture.world();
    const [a, b] = [w.node('a'), w.node('b')];
    a.db.prepare("INSERT INTO items (name) VALUES ('a-first')").run(); // 1
    await a.syncer.syncOnce({ pull: false });
    b.db.prepare("INSERT INTO items (name) VALUES ('b-first')").run(); // 1 too: b has not pulled
    a.db.prepare("INSERT INTO items (name) VALUES ('a-second')").run(); // 2
    // a read the hub's moves; now b's push moves a's row 1 to the hub's next key (2), then a locks key 2.
    // (The push may give the batch back, as a race the syncer retries: nothing decided on stale moves.)
    await pushWith(w, 'a', /FROM `items` WHERE .* FOR UPDATE$/, async () => {
      await b.syncer.syncOnce({ pull: false });
    }).catch((e: unknown) => {
      if (!(e instanceof PushRaceError)) throw e;
    });
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, ['items'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    expect(names).toEqual(['a-first', 'a-second', 'b-first']);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
  }, 120_000);
});
