/**
 * The connection test of the setup: connect, read the server version, check the
 * grants. A failure comes back as a Diagnosis — the engine's diagnosis (what
 * went wrong, from engines/mysql/diagnose.ts, the one place errors are mapped)
 * plus what the setup can do about it: the fix in words and the ways on.
 */
import type { MysqlConfig } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { diagnoseMysqlError, missingPrivilegesError } from '../engines/mysql/diagnose.js';
import { checkPrivileges, OPTIONAL_GLOBAL_PRIVILEGES, type PrivilegeReport } from '../engines/mysql/privileges.js';
import type { MysqlError, MysqlFailureKind } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';

/** What the user can do next after a failed (or partly failed) test. */
export type SetupAction =
  | 'retry'
  | 'edit'
  | 'create-database'
  | 'provision'
  | 'local-server'
  | 'sqlite-only'
  | 'enable-tls'
  | 'disable-tls'
  | 'continue';

export const ACTION_LABELS: Record<SetupAction, string> = {
  retry: 'Test again',
  edit: 'Edit the connection settings',
  'create-database': 'Create the database',
  provision: 'Create the database and a dedicated user (admin credentials, not stored)',
  'local-server': 'Start a private local MariaDB/MySQL server',
  'sqlite-only': 'Continue SQLite-only (changes are queued until a hub is reachable)',
  'enable-tls': 'Turn TLS on and test again',
  'disable-tls': 'Turn TLS off and test again',
  continue: 'Continue anyway',
};

export interface Diagnosis {
  kind: MysqlFailureKind;
  /** What went wrong, one line (from the engine's diagnosis). */
  message: string;
  /** The engine's hint (names the .env variables). */
  hint: string | undefined;
  /** What to do about it, in setup terms. */
  fix: string;
  /** Ways on, best first. */
  actions: SetupAction[];
  /** No server answered: host not found, refused, timeout. */
  unreachable: boolean;
  /** missing-privileges: the privileges, by name. */
  missing?: string[];
  /** missing-privileges: true when only optional ones are missing (the setup can go on). */
  optionalOnly?: boolean;
}

export interface ConnectionCheck {
  ok: boolean;
  endpoint: string;
  version?: string;
  flavor?: 'mariadb' | 'mysql';
  privileges?: PrivilegeReport;
  /** Set when ok is false, or when only optional privileges are missing (ok stays true). */
  diagnosis?: Diagnosis;
}

const UNREACHABLE = new Set<MysqlFailureKind>([
  'host-not-found',
  'connection-refused',
  'timeout',
  'connection-lost',
  'too-many-connections',
]);

/** The fix and the ways on for each diagnosis. */
export function diagnosisOf(error: MysqlError, m: Pick<MysqlConfig, 'host' | 'port' | 'user' | 'database' | 'ssl'>): Diagnosis {
  const base = { kind: error.kind, message: error.message, hint: error.hint, unreachable: UNREACHABLE.has(error.kind) };
  const away: SetupAction[] = ['edit', 'retry', 'local-server', 'sqlite-only'];
  switch (error.kind) {
    case 'host-not-found':
      return {
        ...base,
        fix: `Check the host name "${m.host}" (spelling, DNS, /etc/hosts), or use an IP address.`,
        actions: away,
      };
    case 'connection-refused':
      return {
        ...base,
        fix: `No server is running on ${m.host}:${m.port}. Start it (e.g. \`sudo systemctl start mariadb\`), or check the port.`,
        actions: away,
      };
    case 'timeout':
    case 'connection-lost':
      return {
        ...base,
        fix: `Nothing answered from ${m.host}:${m.port}: check the network and the firewall (port ${m.port} must be open).`,
        actions: away,
      };
    case 'too-many-connections':
      return {
        ...base,
        fix: `The server at ${m.host}:${m.port} is at its connection limit: raise its max_connections (each site keeps up to 6), or close idle clients, then retry.`,
        actions: ['retry', 'edit', 'sqlite-only'],
      };
    case 'access-denied':
      return {
        ...base,
        fix: `Check the user name and password of "${m.user}", or create a dedicated user with admin credentials.${
          m.ssl ? '' : ' (MariaDB refuses an account that requires TLS the same way: if it does, turn TLS on.)'
        }`,
        actions: m.ssl ? ['edit', 'provision', 'sqlite-only'] : ['edit', 'provision', 'enable-tls', 'sqlite-only'],
      };
    case 'unknown-database':
      return {
        ...base,
        fix: `The database "${m.database}" does not exist yet: create it (with this user if it may, or with admin credentials).`,
        actions: ['create-database', 'provision', 'edit'],
      };
    case 'database-access-denied':
      return {
        ...base,
        fix: `"${m.user}" may not use "${m.database}" (or it does not exist): create it and grant access with admin credentials, or pick another database.`,
        actions: ['provision', 'edit', 'sqlite-only'],
      };
    case 'tls-required':
      return { ...base, fix: 'The server accepts only TLS connections: turn TLS on.', actions: ['enable-tls', 'edit'] };
    case 'tls-failed':
      return {
        ...base,
        fix: m.ssl
          ? 'TLS could not be set up: turn TLS off if the server has none, or give the CA file in the TLS CA field (DB_SSL_CA).'
          : 'TLS could not be set up.',
        actions: m.ssl ? ['disable-tls', 'edit'] : ['edit'],
      };
    case 'missing-privileges': {
      const missing = (error.context.missing as string[] | undefined) ?? [];
      const isOptional = (p: string) => (OPTIONAL_GLOBAL_PRIVILEGES as readonly string[]).includes(p);
      const required = missing.filter((p) => !isOptional(p));
      const optional = missing.filter(isOptional);
      const optionalOnly = missing.length > 0 && required.length === 0;
      return {
        ...base,
        missing,
        optionalOnly,
        fix: optionalOnly
          ? `Optional: grant ${missing.join(', ')} globally for exact late-commit detection; without it dualdb waits out sequence gaps.`
          : `Grant ${required.join(', ')} on "${m.database}" to "${m.user}"${optional.length ? ` (and, optionally, ${optional.join(', ')} globally)` : ''}, or create a dedicated user with the right grants.`,
        actions: optionalOnly ? ['continue', 'provision', 'retry'] : ['provision', 'retry', 'edit', 'continue'],
      };
    }
    default:
      return {
        ...base,
        fix: 'See the message above; fix the server or the settings and test again.',
        actions: ['retry', 'edit'],
      };
  }
}

/** Connects with these settings, reads the version and checks the grants. Never throws. */
export async function testConnection(m: MysqlConfig): Promise<ConnectionCheck> {
  registerSecret(m.password);
  const endpoint = `${m.host}:${m.port}/${m.database}`;
  let hub: MysqlHub | undefined;
  try {
    hub = await MysqlHub.connect(m);
    const info = await hub.serverInfo();
    const privileges = await checkPrivileges(hub);
    const check: ConnectionCheck = { ok: true, endpoint, version: info.version, flavor: info.flavor, privileges };
    const missingAll = [...privileges.missing, ...privileges.missingOptional];
    if (missingAll.length > 0 && !(privileges.viaRoles && privileges.missing.length > 0)) {
      const d = diagnosisOf(missingPrivilegesError(m, missingAll, { global: privileges.missingOptional }), m);
      check.diagnosis = d;
      check.ok = d.optionalOnly === true;
    }
    return check;
  } catch (e) {
    const err = diagnoseMysqlError(e, m);
    return { ok: false, endpoint, diagnosis: diagnosisOf(err, m) };
  } finally {
    await hub?.close();
  }
}

/** A one-line description of a failed check, for plain output. */
export function describeCheck(c: ConnectionCheck): string {
  if (c.ok) return `connected to ${c.endpoint}${c.version ? ` (${c.version})` : ''}`;
  return c.diagnosis ? c.diagnosis.message : `could not connect to ${c.endpoint}`;
}
