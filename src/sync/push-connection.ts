/**
 * The hub connection a push's transaction runs on, kept between pushes with its session set once
 * (capture origin, autocommit off, READ COMMITTED): a single small push saves the two SET round
 * trips per batch and the reset after it. Its session serves pushes only; the syncer serialises
 * them, so it is never shared. Any failure destroys it (its session state is then unknown); a new
 * hub pool (reconnect) gets a new one, and closing the pool closes it.
 */
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import { diagnoseIfConnection } from '../engines/mysql/connect.js';
import { diagnoseMysqlError } from '../engines/mysql/diagnose.js';

interface Kept {
  conn: PoolConnection;
  nodeId: string;
  usedAt: number;
}

/** A connection idle longer is opened afresh: the server may have timed it out (wait_timeout). */
const KEEP_IDLE_MS = 60_000;

const kept = new WeakMap<MysqlHub, Kept>();

async function open(hub: MysqlHub, nodeId: string): Promise<Kept> {
  let conn: PoolConnection;
  try {
    conn = await hub.pooledConnection();
  } catch (e) {
    throw diagnoseMysqlError(e, hub.config);
  }
  try {
    await conn.query('SET @dualdb_origin = ?, autocommit = 0', [nodeId]);
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  } catch (e) {
    conn.destroy();
    throw diagnoseIfConnection(e, hub.config);
  }
  return { conn, nodeId, usedAt: Date.now() };
}

/**
 * Whether the driver already knows the kept connection is dead (the hub restarted or closed it
 * while it sat idle): mysql2 refuses every command on it then ("closed state"), so a push would
 * fail once for nothing. Not knowing is fine: the push fails, the connection is dropped.
 */
function isGone(conn: PoolConnection): boolean {
  const core = (
    conn as unknown as { connection?: { _closing?: boolean; _fatalError?: unknown; stream?: { destroyed?: boolean } } }
  ).connection;
  return Boolean(core?._closing || core?._fatalError || core?.stream?.destroyed);
}

/** Runs one push transaction on the kept connection; `fn` commits or rolls back itself. */
export async function withPushConnection<T>(hub: MysqlHub, nodeId: string, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
  let k = kept.get(hub);
  kept.delete(hub);
  if (k && (k.nodeId !== nodeId || Date.now() - k.usedAt > KEEP_IDLE_MS || isGone(k.conn))) {
    k.conn.destroy();
    k = undefined;
  }
  k ??= await open(hub, nodeId);
  try {
    const out = await fn(k.conn);
    k.usedAt = Date.now();
    kept.set(hub, k);
    return out;
  } catch (e) {
    k.conn.destroy();
    throw diagnoseIfConnection(e, hub.config);
  }
}

/** Gives the kept connection back (the syncer closes, or drops the hub). */
export function releasePushConnection(hub: MysqlHub): void {
  const k = kept.get(hub);
  kept.delete(hub);
  k?.conn.destroy();
}
