/**
 * The hub connection the sync loop lends to the one-row push (push-one.ts) when a watched commit
 * leaves exactly one insert to push: that push is one multi-statement query ending in its COMMIT, so its
 * connection needs `multipleStatements`, which the hub pool (connect.ts) keeps off. It runs only
 * the statements push-one.ts builds, every value escaped by mysql2.
 *
 * Opened on the first such push, not before: an idle node (heartbeats only, which never take this
 * path) holds no extra hub connection, and one left unused for IDLE_MS is closed (an unref'd
 * timer: it keeps no process alive), before the server's wait_timeout could close it under us.
 */
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config/config.js';
import { diagnoseIfConnection, poolOptions } from '../engines/mysql/connect.js';
import { connectionCutter } from '../engines/mysql/pool-cut.js';
import type { MultiStatementLease } from './push-one.js';

/** The connection is closed after this long unused (the node went quiet). */
const IDLE_MS = 60_000;

export class OneRowLease {
  private pool: mysql.Pool | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private cut: (() => void) | undefined;

  constructor(private readonly m: MysqlConfig) {}

  /** A connection for one push; `done(false)` destroys it (its session state is then unknown). */
  async lease(): Promise<MultiStatementLease> {
    clearTimeout(this.idleTimer);
    if (!this.pool) {
      // One connection, kept (maxIdle = connectionLimit: no pool timer waking an idle node every second).
      this.pool = mysql.createPool(poolOptions(this.m, { multipleStatements: true, connectionLimit: 1, maxIdle: 1 }));
      // A dead pool emits 'error' on idle connections; the push sees its own query's error.
      (this.pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
      this.cut = connectionCutter(this.pool);
    }
    let conn: mysql.PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    }
    return {
      conn: conn as unknown as MultiStatementLease['conn'],
      done: (healthy) => {
        if (healthy) conn.release();
        else conn.destroy();
        this.idleTimer = setTimeout(() => void this.close(), IDLE_MS);
        this.idleTimer.unref();
      },
    };
  }

  /** Whether a connection was opened (tests look). */
  get opened(): boolean {
    return this.pool !== undefined;
  }

  /** Cuts the connection at once (a push in flight fails as a lost connection): see MysqlHub.abort. */
  abort(): void {
    this.cut?.();
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => {});
  }
}
