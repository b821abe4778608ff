/**
 * A hub COMMIT lost in process: the server rolls the transaction back (the hub killed before its
 * COMMIT took effect) or commits it (only its reply lost), and the caller sees the connection
 * dropped, as mysql2 reports it. The lost-COMMIT tests each carried a copy of this hook (the
 * parked retries, the rekey-hub moves, the manual resolves); one copy keeps them losing the COMMIT
 * the same way. For a COMMIT cut on the wire, see commit-cutter.ts.
 *
 * Every hub connection is taken from `hub.pool.getConnection` (the push's kept one, `withConnection`,
 * `transaction`, `lend`), so the hook wraps the connections the pool hands out from here on. The
 * push's kept connection (push-connection.ts) is given back first: the next push opens one
 * through the hook.
 */
import type { MysqlHub, PoolConnection } from '../../src/engines/mysql/connect.js';
import { releasePushConnection } from '../../src/sync/push-connection.js';
import type { Syncer } from '../../src/sync/syncer.js';

export interface LostCommitOptions {
  /** 'rollback': the COMMIT never takes effect; 'commit': it does, only its reply is lost. */
  server: 'rollback' | 'commit';
  /** Armed from the start (default); else set `armed` when the COMMIT to lose is next. */
  armed?: boolean;
  /** Only the first matching COMMIT is lost (default); false: every one while armed. */
  once?: boolean;
  /** Which COMMIT: asked on its connection, inside its transaction, just before it (default: any). */
  when?: (conn: PoolConnection) => Promise<boolean>;
}

export interface LostCommit {
  /** Whether the next matching COMMIT is lost; `once` disarms it after one. */
  armed: boolean;
  /** COMMITs lost so far. */
  lost: number;
  /** The pool as it was; connections handed out meanwhile commit normally from here on. */
  restore(): void;
}

/** The driver's error for a connection the server closed (mysql2: fatal, PROTOCOL_CONNECTION_LOST). */
export function connectionLost(): Error {
  return Object.assign(new Error('Connection lost: The server closed the connection.'), {
    code: 'PROTOCOL_CONNECTION_LOST',
    fatal: true,
  });
}

/** Loses the hub COMMITs of `target` (a syncer's hub pool, or a hub) as `options` say. */
export async function loseHubCommit(target: Syncer | MysqlHub, options: LostCommitOptions): Promise<LostCommit> {
  const hub = 'connectHub' in target ? await target.connectHub() : target;
  const pool = hub.pool;
  const getConnection = pool.getConnection;
  let live = true;
  const state: LostCommit = {
    armed: options.armed ?? true,
    lost: 0,
    restore: () => {
      live = false;
      pool.getConnection = getConnection;
      releasePushConnection(hub);
    },
  };
  releasePushConnection(hub);
  pool.getConnection = (async () => {
    const conn = (await getConnection.call(pool)) as PoolConnection;
    const commit = conn.commit.bind(conn);
    conn.commit = (async () => {
      if (live && state.armed && (!options.when || (await options.when(conn)))) {
        if (options.once ?? true) state.armed = false;
        state.lost++;
        await (options.server === 'commit' ? commit() : conn.rollback());
        throw connectionLost();
      }
      return commit();
    }) as typeof conn.commit;
    return conn;
  }) as typeof pool.getConnection;
  return state;
}
