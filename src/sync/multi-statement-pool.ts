/**
 * A small pool of hub connections with `multipleStatements` on, for the one-row push (push-one.ts)
 * the sync loop runs for a single foreign insert (the application's commit seen by the WAL watch).
 * It runs only statements built by push-one.ts, every value escaped by mysql2. Its connections keep
 * the push's session (autocommit off, the origin): each push sets it again in its first statement.
 */
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config/config.js';
import { diagnoseIfConnection, poolOptions } from '../engines/mysql/connect.js';
import type { MultiStatementLease } from './push-one.js';

export class MultiStatementPool {
  private pool: mysql.Pool | undefined;

  constructor(private readonly m: MysqlConfig) {}

  /** A connection lent for one push; connection errors diagnosed. */
  async lease(): Promise<MultiStatementLease> {
    if (!this.pool) {
      this.pool = mysql.createPool(poolOptions(this.m, { multipleStatements: true, connectionLimit: 1, maxIdle: 1 }));
      // A dead pool emits 'error' on idle connections; the push sees its own query's error.
      (this.pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
    }
    let conn: mysql.PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    }
    return {
      conn: conn as unknown as MultiStatementLease['conn'],
      done: (healthy) => (healthy ? conn.release() : conn.destroy()),
    };
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => {});
    this.pool = undefined;
  }
}
