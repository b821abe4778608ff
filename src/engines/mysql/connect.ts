/**
 * The hub connection: a mysql2 pool set up for exact values (BIGINT and DECIMAL
 * as strings, DATETIME as strings with no time-zone shift, utf8mb4, JSON as
 * text), and helpers for pinned sessions so that session variables (capture
 * suppression, origin) never leak to another pool user.
 */
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../config/config.js';
import { diagnoseMysqlError } from './diagnose.js';

export type MysqlRow = Record<string, unknown>;
export type MysqlParams = unknown[];
export type PoolConnection = mysql.PoolConnection;

export interface ServerInfo {
  version: string;
  flavor: 'mariadb' | 'mysql';
  /** Galera or Group Replication: sequence gaps across members are normal. */
  clustered: boolean;
}

function typeCast(field: { type: string; string: (enc?: string) => string | null }, next: () => unknown): unknown {
  // JSON arrives parsed by default; keep its exact text so it round-trips.
  if (field.type === 'JSON') return field.string('utf8');
  // mysql2 parses DOUBLE/FLOAT text of up to 17 characters digit by digit, which is one ulp off
  // for values such as 90.28571428571429; Number() of the server's text is exact (text protocol:
  // MysqlHub only uses query(), never execute()).
  if (field.type === 'DOUBLE' || field.type === 'FLOAT') {
    const text = field.string('ascii');
    return text === null ? null : Number(text);
  }
  return next();
}

export function poolOptions(m: MysqlConfig, extra: Partial<mysql.PoolOptions> = {}): mysql.PoolOptions {
  return {
    host: m.host,
    port: m.port,
    user: m.user,
    password: m.password,
    database: m.database,
    charset: 'UTF8MB4_UNICODE_CI',
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    timezone: 'Z',
    connectTimeout: m.connectTimeoutMs,
    connectionLimit: 6,
    maxIdle: 2,
    idleTimeout: 30_000,
    enableKeepAlive: true,
    multipleStatements: false,
    typeCast: typeCast as mysql.PoolOptions['typeCast'],
    ...(m.ssl
      ? {
          ssl: {
            rejectUnauthorized: true,
            ...(m.sslCa ? { ca: readFileSync(m.sslCa, 'utf8') } : {}),
          },
        }
      : {}),
    ...extra,
  };
}

export class MysqlHub {
  private constructor(
    readonly pool: mysql.Pool,
    readonly config: MysqlConfig,
  ) {}

  /** Opens a pool and proves it works with one round trip; failures are diagnosed. */
  static async connect(m: MysqlConfig, extra: Partial<mysql.PoolOptions> = {}): Promise<MysqlHub> {
    const pool = mysql.createPool(poolOptions(m, extra));
    // A dead pool emits 'error' on idle connections; swallow here, callers see query errors.
    (pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
    const hub = new MysqlHub(pool, m);
    try {
      await hub.query('SELECT 1');
    } catch (e) {
      await pool.end().catch(() => {});
      throw diagnoseMysqlError(e, m);
    }
    return hub;
  }

  async query<T = MysqlRow>(sql: string, params?: MysqlParams, timeoutMs?: number): Promise<T[]> {
    try {
      const [rows] = await this.pool.query({ sql, ...(timeoutMs ? { timeout: timeoutMs } : {}) }, params as never);
      return rows as T[];
    } catch (e) {
      throw diagnoseIfConnection(e, this.config);
    }
  }

  async execute(sql: string, params?: MysqlParams): Promise<mysql.ResultSetHeader> {
    try {
      const [res] = await this.pool.query(sql, params as never);
      return res as mysql.ResultSetHeader;
    } catch (e) {
      throw diagnoseIfConnection(e, this.config);
    }
  }

  /**
   * Runs `fn` on one connection of its own. Session variables set inside are
   * reset before the connection goes back to the pool; if that fails the
   * connection is destroyed instead, so no state can leak.
   */
  async withConnection<T>(fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    let conn: mysql.PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw diagnoseMysqlError(e, this.config);
    }
    let healthy = true;
    try {
      return await fn(conn);
    } catch (e) {
      healthy = false;
      throw diagnoseIfConnection(e, this.config);
    } finally {
      if (healthy) {
        try {
          await conn.query('SET @dualdb_origin = NULL, @dualdb_capture_off = NULL');
          conn.release();
        } catch {
          conn.destroy();
        }
      } else {
        // After an error we do not know the session state (open transaction, variables).
        conn.destroy();
      }
    }
  }

  /** A transaction on a pinned connection; rolled back on any error. */
  async transaction<T>(fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    return this.withConnection(async (conn) => {
      await conn.beginTransaction();
      try {
        const out = await fn(conn);
        await conn.commit();
        return out;
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      }
    });
  }

  async serverInfo(): Promise<ServerInfo> {
    const rows = await this.query<{ v: string; wsrep: string | null }>(
      "SELECT VERSION() AS v, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'WSREP_ON') AS wsrep",
    ).catch(async () => this.query<{ v: string; wsrep: string | null }>('SELECT VERSION() AS v, NULL AS wsrep'));
    const v = rows[0]?.v ?? '';
    let clustered = (rows[0]?.wsrep ?? '').toUpperCase() === 'ON';
    if (!clustered && !/mariadb/i.test(v)) {
      const gr = await this.query<{ n: string | number }>(
        "SELECT COUNT(*) AS n FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE'",
      ).catch(() => [{ n: 0 }]);
      clustered = Number(gr[0]?.n ?? 0) > 1;
    }
    return {
      version: v,
      flavor: /mariadb/i.test(v) ? 'mariadb' : 'mysql',
      clustered,
    };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}

/** Connection failures become diagnosed MysqlErrors; SQL errors stay as they are (they carry the statement's problem). */
export function diagnoseIfConnection(e: unknown, m: MysqlConfig): unknown {
  const code = (e as { code?: string }).code ?? '';
  if (
    !code.startsWith('ER_') ||
    code === 'ER_ACCESS_DENIED_ERROR' ||
    code === 'ER_BAD_DB_ERROR' ||
    code === 'ER_DBACCESS_DENIED_ERROR' ||
    code === 'ER_SERVER_SHUTDOWN' ||
    code === 'ER_CONNECTION_KILLED'
  ) {
    return diagnoseMysqlError(e, m);
  }
  return e;
}
