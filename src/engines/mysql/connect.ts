/**
 * The hub connection: a mysql2 pool set up for exact values (BIGINT and DECIMAL
 * as strings, DATETIME as strings with no time-zone shift, utf8mb4, JSON as
 * text), and helpers for pinned sessions so that session variables (capture
 * suppression, origin) never leak to another pool user.
 */

import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../config/config.js';
import { DualdbError, MysqlError } from '../../util/errors.js';
import { diagnoseMysqlError, isConnectionError, PRIVILEGE_REFUSED, tlsRequiredError } from './diagnose.js';
import { connectionCutter } from './pool-cut.js';
import { readSslCa } from './tls.js';

export type MysqlRow = Record<string, unknown>;
export type MysqlParams = unknown[];
export type PoolConnection = mysql.PoolConnection;

export interface ServerInfo {
  version: string;
  flavor: 'mariadb' | 'mysql';
  /** Galera or Group Replication: sequence gaps across members are normal. */
  clustered: boolean;
  /** `INSERT … RETURNING` (MariaDB 10.5+; MySQL has none). */
  returning: boolean;
  /** Anonymous compound statements, `BEGIN NOT ATOMIC … END` (MariaDB 10.1.1+, taken from 10.2; MySQL has none). */
  compound: boolean;
}

function typeCast(field: { type: string; string: (enc?: string) => string | null }, next: () => unknown): unknown {
  // JSON arrives parsed by default; keep its exact text so it round-trips (MySQL's JSON type; MariaDB's,
  // a LONGTEXT the driver only knows from extended metadata, is `jsonStrings` in poolOptions).
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

/**
 * mysql2's own statement formatting, less one scan: mysql2 formats every `query()` (values or
 * none, `[]` when none), and its formatter walks the whole statement to the first placeholder
 * before it looks at how many values there are. A push's multi-row INSERT (megabytes of row
 * text, values already escaped in it: mysql-io.ts) was read character by character for nothing:
 * 3–5 % of the node's CPU in a bulk push (docs/PERFORMANCE.md). With no values the
 * statement is returned as it is, which is what the formatter returns for it too; with values,
 * the same call mysql2 makes (its default `stringifyObjects`, false, and the session's time zone).
 */
export function queryFormat(sql: string, values: unknown, timezone?: string): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as never, false, timezone as never);
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
    // JSON as its text: MySQL's JSON type, and MariaDB's (LONGTEXT with a JSON check, which mysql2
    // recognises from MariaDB's extended metadata and parsed into an object, past the typeCast below).
    jsonStrings: true,
    timezone: 'Z',
    connectTimeout: m.connectTimeoutMs,
    connectionLimit: 6,
    maxIdle: 2,
    idleTimeout: 30_000,
    enableKeepAlive: true,
    multipleStatements: false,
    typeCast: typeCast as mysql.PoolOptions['typeCast'],
    queryFormat: queryFormat as mysql.PoolOptions['queryFormat'],
    ...(m.ssl
      ? {
          ssl: {
            rejectUnauthorized: true,
            ...(m.sslCa ? { ca: readSslCa(m.sslCa) } : {}),
          },
        }
      : {}),
    ...extra,
  };
}

/**
 * Whether the server lets these credentials in over TLS: an account created with REQUIRE SSL
 * is refused without TLS with the same error as a wrong password (1045). Only asked after
 * that refusal with DB_SSL=false, to tell the two apart; the certificate is not checked here
 * (nothing is exchanged but the login the plain attempt already made).
 */
async function acceptsOverTls(m: MysqlConfig, extra: Partial<mysql.PoolOptions>): Promise<boolean> {
  const pool = mysql.createPool({ ...poolOptions(m, extra), ssl: { rejectUnauthorized: false }, connectionLimit: 1 });
  (pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await pool.end().catch(() => {});
  }
}

/**
 * The GRANT suggested for a database the account may not use names the account the server
 * matched (CURRENT_USER(), asked without a database), not '%': 'none'@'%' is another account
 * than 'none'@'127.0.0.1' and the GRANT would fail (ERROR 1133).
 */
async function withAccountHost(diagnosis: MysqlError, m: MysqlConfig, extra: Partial<mysql.PoolOptions>): Promise<MysqlError> {
  const pool = mysql.createPool({ ...poolOptions(m, extra), database: undefined, connectionLimit: 1 });
  (pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
  try {
    const [rows] = await pool.query('SELECT CURRENT_USER() AS u');
    const u = String((rows as { u?: string }[])[0]?.u ?? '');
    const at = u.lastIndexOf('@');
    if (at < 0 || !diagnosis.hint) return diagnosis;
    const hint = diagnosis.hint.replace(`'${m.user}'@'%'`, `'${m.user}'@'${u.slice(at + 1)}'`);
    return new MysqlError(diagnosis.kind, diagnosis.message, { hint, cause: diagnosis.cause, exitCode: diagnosis.exitCode });
  } catch {
    return diagnosis;
  } finally {
    await pool.end().catch(() => {});
  }
}

/** mysql2's core (callback) connection: one query at a time, no promise wrapper per query. */
export interface CoreConnection {
  query(options: { sql: string; rowsAsArray: boolean; values: unknown[] }, cb: (err: Error | null, rows: unknown) => void): void;
  on(event: 'error', listener: (err: unknown) => void): void;
  destroy(): void;
}

/** Options of the pool only: a single connection warns about them. */
const POOL_ONLY = ['connectionLimit', 'maxIdle', 'idleTimeout', 'queueLimit', 'waitForConnections'] as const;

/**
 * One hub connection of its own, outside any pool (the sync service's change probe, which waits on
 * the server: in a pool, closing the pool would wait for it). Same session settings as the pool's;
 * its errors are diagnosed like the pool's, and a fatal error later is left to the next query.
 */
export async function openCoreConnection(m: MysqlConfig): Promise<CoreConnection> {
  const options: Record<string, unknown> = { ...poolOptions(m) };
  for (const k of POOL_ONLY) delete options[k];
  try {
    const conn = await mysql.createConnection(options as mysql.ConnectionOptions);
    const core = (conn as unknown as { connection: CoreConnection }).connection;
    core.on('error', () => {}); // a connection lost between queries: the next query fails instead
    return core;
  } catch (e) {
    throw diagnoseMysqlError(e, m);
  }
}

/** ER_OPTION_PREVENTS_STATEMENT (read-only server), ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE. */
const READ_ONLY_ERRNOS = new Set([1290, 1792, 1836]);

export class MysqlHub {
  /** Connection resets in flight (withConnection), finished before the pool closes. */
  private readonly resets = new Set<Promise<void>>();
  private readonly cutConnections: () => void;
  private aborted = false;

  private constructor(
    readonly pool: mysql.Pool,
    readonly config: MysqlConfig,
  ) {
    this.cutConnections = connectionCutter(pool);
  }

  /**
   * Destroys every connection's socket at once (queries in flight fail as lost connections): for
   * a process that must stop while the hub does not answer. `close()` still ends the pool.
   */
  abort(): void {
    this.aborted = true;
    this.cutConnections();
  }

  /** A pooled connection; none once aborted (a new one would only wait on the same hub). */
  async pooledConnection(): Promise<mysql.PoolConnection> {
    if (this.aborted) throw new DualdbError('STOPPED', 'the hub connections were cut: the process is stopping');
    return this.pool.getConnection();
  }

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
      const diagnosis = diagnoseMysqlError(e, m);
      if (diagnosis.kind === 'access-denied' && !m.ssl && (await acceptsOverTls(m, extra))) throw tlsRequiredError(m, e);
      if (diagnosis.kind === 'database-access-denied') throw await withAccountHost(diagnosis, m, extra);
      throw diagnosis;
    }
    return hub;
  }

  async query<T = MysqlRow>(sql: string, params?: MysqlParams, timeoutMs?: number): Promise<T[]> {
    try {
      const [rows] = await this.lend((c) => c.query({ sql, ...(timeoutMs ? { timeout: timeoutMs } : {}) }, params as never));
      return rows as T[];
    } catch (e) {
      throw diagnoseIfConnection(e, this.config);
    }
  }

  async execute(sql: string, params?: MysqlParams): Promise<mysql.ResultSetHeader> {
    try {
      const [res] = await this.lend((c) => c.query(sql, params as never));
      return res as mysql.ResultSetHeader;
    } catch (e) {
      throw diagnoseIfConnection(e, this.config);
    }
  }

  /**
   * Runs `fn` (statements that leave no session state behind) on a pooled connection, given back
   * before the caller goes on. mysql2's own `pool.query` gives it back only after the caller's next
   * step has started, and a connection in reset (withConnection) is not free yet either: a statement
   * right after another then opened a second connection, which the pool kept (an idle node held 4
   * hub connections instead of 3). A connection in reset is back within a round trip, cheaper
   * than a new one: waited for (afterResets). Errors are the driver's, undiagnosed.
   */
  async lend<T>(fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    await this.afterResets();
    const conn = await this.pooledConnection();
    let out: T;
    try {
      out = await fn(conn);
    } catch (e) {
      // As the pool does: a broken or read-only connection (a failed-over primary) is not reused.
      const err = e as { fatal?: boolean; errno?: number };
      if (err?.fatal || READ_ONLY_ERRNOS.has(err?.errno ?? 0)) conn.destroy();
      else conn.release();
      throw e;
    }
    conn.release();
    return out;
  }

  /**
   * Waits for a connection in reset (one round trip) rather than taking a free one, unless more
   * connections are free than in reset. The pool hands out its most recently used connection
   * first, so a spare left from a burst ages out (idle timeout) only if nothing takes it: an idle
   * node reported its pull position while the pull's connection was in reset, on the spare, every
   * cycle, and held 4 hub connections instead of 3 for good.
   */
  private async afterResets(): Promise<void> {
    if (this.resets.size > 0 && this.freeConnections() <= this.resets.size) await Promise.race(this.resets);
  }

  /** Free connections in the pool now (unknown: 1, so nobody waits on a guess). */
  private freeConnections(): number {
    const core = (this.pool as unknown as { pool?: { _freeConnections?: { length: number } } }).pool;
    return core?._freeConnections?.length ?? 1;
  }

  /**
   * Runs `fn` on one connection of its own. Session variables set inside (and
   * autocommit, which a hub-first write turns off instead of a BEGIN round trip) are
   * reset before the connection goes back to the pool; if that fails the
   * connection is destroyed instead, so no state can leak.
   *
   * `driverDecode`: the results read inside are decoded by mysql2's own row parser, without the
   * typeCast callback (which costs a closure and two calls per value: ~40 % of a pull's decode CPU,
   * ~60 % of its allocations, bench/pull-parse-probe.ts). Every value decodes as through the callback
   * except DOUBLE and FLOAT, which mysql2 reads digit by digit (one ulp off for some values): the
   * caller reads those columns as the server's text (CAST … AS CHAR, MysqlTableIO.readList) and
   * takes Number() of it, as the callback does. The setting is the connection's own and put back
   * before the connection is; with mysql2 sharing one settings object between connections, the
   * callback stays (the same values, at its cost). mysql2's global cache of row parsers keeps the
   * two apart: the pool's same statement afterwards still goes through the callback (tested).
   */
  async withConnection<T>(fn: (conn: mysql.PoolConnection) => Promise<T>, options: { driverDecode?: boolean } = {}): Promise<T> {
    let conn: mysql.PoolConnection;
    try {
      // As in lend: a connection in reset is waited for rather than a new one opened (a pull that
      // looks at sequence holes, then reads its batch, held a second pooled connection for good).
      await this.afterResets();
      conn = await this.pooledConnection();
    } catch (e) {
      throw diagnoseMysqlError(e, this.config);
    }
    const own = options.driverDecode ? this.ownSettings(conn) : undefined;
    if (own) own.typeCast = true;
    let healthy = true;
    try {
      return await fn(conn);
    } catch (e) {
      healthy = false;
      throw diagnoseIfConnection(e, this.config);
    } finally {
      if (own) own.typeCast = typeCast;
      if (healthy) {
        // Not awaited: the caller's result does not depend on it (a write is acknowledged one
        // round trip sooner), and the connection only goes back to the pool once reset.
        const reset: Promise<void> = conn
          .query('SET @dualdb_origin = NULL, @dualdb_capture_off = NULL, autocommit = DEFAULT')
          .then(
            () => conn.release(),
            () => conn.destroy(),
          )
          .finally(() => this.resets.delete(reset));
        this.resets.add(reset);
      } else {
        // After an error we do not know the session state (open transaction, variables).
        conn.destroy();
      }
    }
  }

  /**
   * The settings of this pooled connection alone, which mysql2 reads as each result's columns
   * arrive (3.x copies the pool's settings per connection); undefined when they are the pool's
   * own object, shared with every other connection (then nothing is changed on it).
   */
  private ownSettings(conn: mysql.PoolConnection): { typeCast: unknown } | undefined {
    const settings = (conn as unknown as { connection?: { config?: { typeCast?: unknown } } }).connection?.config;
    const shared = (this.pool as unknown as { pool?: { config?: { connectionConfig?: unknown } } }).pool?.config
      ?.connectionConfig;
    return settings && shared && settings !== shared && settings.typeCast === typeCast
      ? (settings as { typeCast: unknown })
      : undefined;
  }

  /** `withConnection(fn, { driverDecode: true })`: the pull's snapshot reads (sync/pull-read.ts). */
  withDriverDecode<T>(fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    return this.withConnection(fn, { driverDecode: true });
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
    const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(v) ?? []).slice(1).map(Number);
    const mariadb = /mariadb/i.test(v);
    return {
      version: v,
      flavor: mariadb ? 'mariadb' : 'mysql',
      clustered,
      returning: mariadb && (major > 10 || (major === 10 && minor >= 5)),
      compound: mariadb && (major > 10 || (major === 10 && minor >= 2)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.resets);
    if (this.aborted) this.cutConnections(); // any opened since: end() would wait for each one's goodbye
    await this.pool.end().catch(() => {});
  }
}

/**
 * Codes the driver produces itself: server errors (ER_*), mysql2's protocol, handshake, pool and
 * auth errors, and Node's network and TLS errors. Anything else (SQLITE_*, ERR_INVALID_ARG_TYPE…)
 * comes from our own code or another library and is none of the hub's business.
 */
const DRIVER_CODE =
  /^(?:ER_|WARN_|PROTOCOL_|HANDSHAKE_|POOL_|AUTH_SWITCH_|MYSQL_|ERR_TLS_|ERR_SSL_|ERR_SOCKET_|UNABLE_TO_)|CERT|^E(?:CONN[A-Z]+|NOTFOUND|AI_AGAIN|TIMEDOUT|HOSTUNREACH|HOSTDOWN|NETUNREACH|NETDOWN|NETRESET|PIPE|ADDRNOTAVAIL)$/;

/** Server errors that mean the session (not the statement) failed. */
const SESSION_LOST = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  // A new session refused at the server's or the account's connection limit (the pool opens
  // sessions mid-sync too): the hub is full, not the statement wrong.
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_USER_LIMIT_REACHED',
]);

/** Whether `e` comes from mysql2 or the network beneath it, rather than from our code or SQLite. */
function isDriverError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: unknown; sqlState?: unknown };
  if (typeof err.sqlState === 'string') return true; // a server error, even one mysql2 has no code name for
  if (typeof err.code === 'string' && err.code !== '') return DRIVER_CODE.test(err.code);
  // mysql2's own code-less errors: "Pool is closed.", "Can't add new command when connection is in closed state".
  return isConnectionError(e);
}

/**
 * Connection failures become diagnosed MysqlErrors; SQL errors stay as they are (they carry the
 * statement's problem), and so does everything that did not come from the driver: a DualdbError
 * keeps its type and exit code, a SQLite or programming error its own message and stack.
 */
export function diagnoseIfConnection(e: unknown, m: MysqlConfig): unknown {
  if (e instanceof DualdbError || !isDriverError(e)) return e;
  const err = e as { code?: string; sqlState?: unknown };
  const code = err.code ?? '';
  if (SESSION_LOST.has(code) || PRIVILEGE_REFUSED.has(code)) return diagnoseMysqlError(e, m);
  if (code.startsWith('ER_') || typeof err.sqlState === 'string') return e;
  return diagnoseMysqlError(e, m);
}
