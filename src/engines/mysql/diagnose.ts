/**
 * The one place where driver and server errors become diagnoses: what went
 * wrong, in one line, and what to do about it. The wizard, `health`, the sync
 * state machine and the CLI all go through here.
 */
import type { MysqlConfig } from '../../config/config.js';
import { MysqlError, type MysqlFailureKind } from '../../util/errors.js';
import { REQUIRED_PRIVILEGES } from './privileges.js';

interface DriverError {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  message?: string;
  fatal?: boolean;
}

const NETWORK_LOST = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'EPIPE',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_NET_READ_ERROR',
  'ER_NET_ERROR_ON_WRITE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ER_CLIENT_INTERACTION_TIMEOUT',
]);

/** True for errors after which the connection is gone and the hub may be down. */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof MysqlError) return e.isUnreachable;
  const err = e as DriverError;
  const code = err?.code ?? '';
  return (
    NETWORK_LOST.has(code) ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'ETIMEDOUT' ||
    code === 'POOL_CLOSED' ||
    (err?.fatal === true && !code.startsWith('ER_')) ||
    /Connection lost|closed state|Pool is closed|Can't add new command/i.test(err?.message ?? '')
  );
}

/** Server refusals of one statement for lack of a privilege (the account itself is fine). */
export const PRIVILEGE_REFUSED = new Set([
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
  'ER_PROCACCESS_DENIED_ERROR',
]);

export function diagnoseMysqlError(e: unknown, m: Pick<MysqlConfig, 'host' | 'port' | 'user' | 'database'>): MysqlError {
  if (e instanceof MysqlError) return e;
  const err = (e ?? {}) as DriverError;
  const code = err.code ?? '';
  const where = `${m.host}:${m.port}`;
  const make = (kind: MysqlFailureKind, message: string, hint: string) => new MysqlError(kind, message, { hint, cause: e });
  if (PRIVILEGE_REFUSED.has(code)) {
    // "INSERT command denied to user 'ro'@'127.0.0.1' for table …": the account connects but may not
    // do what dualdb needs; name the grant that fixes it.
    const detail = err.sqlMessage ?? err.message ?? '';
    const what = /^(\w+(?: \w+)?) command denied/i.exec(detail)?.[1]?.toUpperCase() ?? 'a privilege';
    const host = /to user '[^']*'@'([^']*)'/.exec(detail)?.[1];
    const refused = missingPrivilegesError(m, [what], host ? { host } : {});
    return new MysqlError('missing-privileges', `${refused.message} (${detail})`, { hint: refused.hint, cause: e });
  }
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make('host-not-found', `MySQL host "${m.host}" was not found`, 'check DB_HOST (spelling, DNS, /etc/hosts)');
    case 'ECONNREFUSED':
      return make(
        'connection-refused',
        `connection to MySQL at ${where} was refused: no server is listening there`,
        'start the MySQL/MariaDB server, or fix DB_HOST/DB_PORT',
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return make(
        'timeout',
        `MySQL at ${where} did not answer in time`,
        'check the network and firewall between this machine and the server, or raise DB_CONNECT_TIMEOUT',
      );
    case 'ER_CON_COUNT_ERROR':
      return make(
        'too-many-connections',
        `MySQL at ${where} refuses new connections: it has reached max_connections`,
        'raise max_connections on the server (each dualdb site keeps up to 6 connections; README, "Many sites on one hub"), or close idle clients; dualdb retries on its own',
      );
    case 'ER_TOO_MANY_USER_CONNECTIONS':
    case 'ER_USER_LIMIT_REACHED':
      return make(
        'too-many-connections',
        `MySQL account "${m.user}" at ${where} has reached its own connection limit (${err.sqlMessage ?? code})`,
        `raise the account's MAX_USER_CONNECTIONS (ALTER USER … WITH MAX_USER_CONNECTIONS n; each dualdb site keeps up to 6), or max_user_connections on the server; dualdb retries on its own`,
      );
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return make(
        'access-denied',
        `MySQL refused user "${m.user}" at ${where}: wrong user name or password`,
        'fix DB_USER/DB_PASSWORD, or create the user (dualdb setup can)',
      );
    case 'ER_BAD_DB_ERROR':
      return make(
        'unknown-database',
        `MySQL database "${m.database}" does not exist on ${where}`,
        `create it (CREATE DATABASE \`${m.database}\`) or run \`dualdb setup\`, which offers to create it`,
      );
    case 'ER_DBACCESS_DENIED_ERROR':
      // The server says this both when the database is missing and when it exists
      // but is not granted: it does not tell users without rights which one.
      return make(
        'database-access-denied',
        `user "${m.user}" cannot use MySQL database "${m.database}" on ${where}: it does not exist, or the user has no access to it`,
        `check DB_NAME; an administrator can create it (CREATE DATABASE \`${m.database}\`) and grant it: GRANT ${REQUIRED_PRIVILEGES.join(', ')} ON \`${m.database}\`.* TO '${m.user}'@'%'`,
      );
    case 'ER_SECURE_TRANSPORT_REQUIRED':
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      return make(
        code === 'HANDSHAKE_NO_SSL_SUPPORT' ? 'tls-failed' : 'tls-required',
        code === 'HANDSHAKE_NO_SSL_SUPPORT'
          ? `MySQL at ${where} does not support TLS but DB_SSL=true`
          : `MySQL at ${where} requires TLS`,
        code === 'HANDSHAKE_NO_SSL_SUPPORT'
          ? 'set DB_SSL=false or enable TLS on the server'
          : 'set DB_SSL=true (and DB_SSL_CA if the CA is private)',
      );
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
    case 'ER_COLUMNACCESS_DENIED_ERROR':
    case 'ER_PROCACCESS_DENIED_ERROR':
      return make(
        'missing-privileges',
        `user "${m.user}" lacks a privilege: ${err.sqlMessage ?? err.message ?? code}`,
        'grant the privilege named above, or let `dualdb setup` create a user with the right grants',
      );
    default:
      break;
  }
  if (/self[- ]signed|certificate|SSL|TLS/i.test(err.message ?? '') && !code.startsWith('ER_')) {
    return make('tls-failed', `TLS to MySQL at ${where} failed: ${err.message}`, 'check DB_SSL_CA, or the server certificate');
  }
  if (isConnectionError(e)) {
    return make(
      'connection-lost',
      `lost the connection to MySQL at ${where} (${code || err.message})`,
      'the server stopped or the network dropped; dualdb retries on its own',
    );
  }
  const detail = err.sqlMessage ?? err.message ?? String(e);
  return make('server-error', `MySQL error${code ? ` ${code}` : ''}: ${detail}`, 'see the message above');
}

/** An account that requires TLS (REQUIRE SSL) while DB_SSL=false: refused like a wrong password by the server. */
export function tlsRequiredError(m: Pick<MysqlConfig, 'host' | 'port' | 'user'>, cause?: unknown): MysqlError {
  return new MysqlError(
    'tls-required',
    `MySQL account "${m.user}" at ${m.host}:${m.port} requires TLS (REQUIRE SSL), and DB_SSL=false connects without it`,
    { hint: 'set DB_SSL=true (and DB_SSL_CA if the server’s certificate comes from a private CA)', cause },
  );
}

/**
 * The diagnosis for a user that connects but lacks privileges dualdb needs,
 * found by a grants check (no server error to map). `missing` names them, e.g.
 * ['TRIGGER', 'CREATE VIEW'] on the database, or 'PROCESS' for the global one.
 */
export function missingPrivilegesError(
  m: Pick<MysqlConfig, 'host' | 'port' | 'user' | 'database'>,
  missing: readonly string[],
  options: { global?: readonly string[] /** The account's host part, when known (else '%'). */; host?: string } = {},
): MysqlError {
  const global = options.global ?? [];
  const who = `'${m.user}'@'${options.host ?? '%'}'`;
  const onDb = missing.filter((p) => !global.includes(p));
  const parts = [
    ...(onDb.length ? [`${onDb.join(', ')} on database "${m.database}"`] : []),
    ...(global.length ? [`${global.join(', ')} globally`] : []),
  ];
  const grants = [
    ...(onDb.length ? [`GRANT ${onDb.join(', ')} ON \`${m.database}\`.* TO ${who}`] : []),
    ...(global.length ? [`GRANT ${global.join(', ')} ON *.* TO ${who}`] : []),
  ];
  return new MysqlError('missing-privileges', `user "${m.user}" lacks ${parts.join(' and ')}`, {
    hint: `an administrator can run: ${grants.join('; ')} — or let \`dualdb setup\` create a dedicated user with these grants`,
    context: { missing: [...missing] },
  });
}
