/**
 * A hub wrapper for race tests: a hook runs inside a push, just before a chosen hub statement
 * (another writer, a failure). Nothing of the product is replaced; only the timing is chosen.
 */
import type { MysqlHub } from '../../src/engines/mysql/connect.js';
import { pushBatch } from '../../src/sync/push.js';
import type { SyncWorld } from './sync.js';

/** The hub, except that `hook` runs once just before the first statement matching `match` (`commit()` counts as `COMMIT`). */
export function interceptHub(hub: MysqlHub, match: RegExp, hook: () => Promise<void> | void): MysqlHub {
  let fired = false;
  return observeHub(hub, async (sql) => {
    if (!fired && match.test(sql)) {
      fired = true;
      await hook();
    }
  });
}

/** The hub, except that `before` sees every statement (its SQL text) just before it is sent. */
export function observeHub(hub: MysqlHub, before: (sql: string) => Promise<void> | void): MysqlHub {
  const wrapConn = (conn: object) =>
    new Proxy(conn, {
      get(c, p) {
        const v = Reflect.get(c, p);
        if (p !== 'query' && p !== 'commit') return typeof v === 'function' ? v.bind(c) : v;
        return async (...args: unknown[]) => {
          const sql =
            p === 'commit' ? 'COMMIT' : typeof args[0] === 'string' ? args[0] : String((args[0] as { sql?: string })?.sql ?? '');
          await before(sql);
          return (v as (...a: unknown[]) => unknown).apply(c, args);
        };
      },
    });
  return new Proxy(hub, {
    get(h, p) {
      const v = Reflect.get(h, p);
      // withConnection, lend (a pooled connection for one read: the push's moves read since f344b23),
      // and withDriverDecode (the pull's snapshot read, without the typeCast callback).
      if (p === 'withConnection' || p === 'lend' || p === 'withDriverDecode')
        return (fn: (conn: unknown) => Promise<unknown>) => h[p]((conn) => fn(wrapConn(conn)));
      // The push's kept connection (push-connection.ts): a pooled connection of its own.
      if (p === 'pooledConnection') return async () => wrapConn(await h.pooledConnection());
      // One-off reads come from the pool itself.
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

export async function pushWith(w: SyncWorld, node: string, match: RegExp, hook: () => Promise<void> | void): Promise<void> {
  await w.node(node).syncer.withContext((ctx) => pushBatch({ ...ctx, hub: interceptHub(ctx.hub, match, hook) }));
}
