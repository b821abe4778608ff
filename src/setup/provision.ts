/**
 * Provisioning on the hub with admin credentials that are used once and never
 * stored: the database, and a dedicated least-privilege user with a generated
 * password. Names and passwords travel as placeholders (`CREATE USER ?@?
 * IDENTIFIED BY ?`) and identifiers are quoted with quoteMysqlId; nothing is
 * built by pasting user input into SQL.
 */
import { randomInt } from 'node:crypto';
import type { MysqlConfig } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { OPTIONAL_GLOBAL_PRIVILEGES, REQUIRED_PRIVILEGES } from '../engines/mysql/privileges.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { registerSecret } from '../util/redact.js';

/** Admin login used for provisioning only. The password is never written anywhere. */
export interface AdminCredentials {
  host: string;
  port: number;
  user: string;
  password: string;
  ssl: boolean;
  sslCa: string | undefined;
  connectTimeoutMs: number;
}

export type ExistingUserPolicy = 'fail' | 'keep-password' | 'reset-password';

export interface ProvisionRequest {
  admin: AdminCredentials;
  database: string;
  /** The dedicated user dualdb will use. */
  user: string;
  /** Where it may connect from: '%' (anywhere), 'localhost', a subnet pattern… */
  userHost: string;
  /** Also grant PROCESS globally (exact late-commit detection). Default true. */
  grantProcess?: boolean;
  /** When the user exists already. Default 'fail'. */
  existingUser?: ExistingUserPolicy;
}

export interface ProvisionResult {
  databaseCreated: boolean;
  userCreated: boolean;
  passwordReset: boolean;
  /** The privileges granted on the database, and globally. */
  granted: { database: string[]; global: string[] };
  /** The new credentials; the password is undefined when an existing user kept its own. */
  user: string;
  password: string | undefined;
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
/** Symbols that need no quoting in .env files, shells or URLs' user info. */
const SYMBOLS = '-_.+';

/**
 * A strong password from the OS CSPRNG: `length` characters (≥ 16) with at least
 * one lower-case letter, upper-case letter, digit and symbol (so that validate_password
 * policies accept it), without look-alike characters.
 */
export function generatePassword(length = 32): string {
  const n = Math.max(16, length);
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  const pick = (set: string) => set[randomInt(set.length)] as string;
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < n) chars.push(pick(all));
  // Fisher–Yates with the CSPRNG, so the guaranteed classes are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  const password = chars.join('');
  registerSecret(password);
  return password;
}

/**
 * A database name as a database-level GRANT pattern: `_` and `%` are wildcards
 * there, so they are escaped, or `epi_db` would also cover `epiXdb`.
 */
export function grantDatabasePattern(database: string): string {
  return quoteMysqlId(database.replace(/[\\_%]/g, (c) => `\\${c}`));
}

function adminConfig(admin: AdminCredentials): MysqlConfig {
  return { ...admin, database: '' };
}

async function connectAdmin(admin: AdminCredentials): Promise<MysqlHub> {
  registerSecret(admin.password);
  return MysqlHub.connect(adminConfig(admin), { connectionLimit: 1 });
}

/** CREATE DATABASE IF NOT EXISTS (utf8mb4) through an open connection; true when it was created. */
async function ensureDatabase(hub: MysqlHub, database: string): Promise<boolean> {
  const before = await hub.query<{ n: number | string }>(
    'SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [database],
  );
  if (Number(before[0]?.n ?? 0) > 0) return false;
  await hub.execute(`CREATE DATABASE IF NOT EXISTS ${quoteMysqlId(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  return true;
}

function provisionFailure(step: string, e: unknown, admin: AdminCredentials): DualdbError {
  if (e instanceof DualdbError) return e;
  const code = (e as { code?: string }).code ?? '';
  const denied = /DENIED|ER_SPECIFIC_ACCESS|ER_CANT_CREATE_USER|ER_PASSWORD_NO_MATCH/.test(code);
  return new DualdbError(
    'PROVISION_FAILED',
    `could not ${step} as "${admin.user}": ${(e as { sqlMessage?: string }).sqlMessage ?? messageOf(e)}`,
    {
      hint: denied
        ? `"${admin.user}" needs CREATE, CREATE USER and GRANT OPTION (an administrator account such as root)`
        : 'check the admin account and the server log',
      cause: e,
      exitCode: EXIT.MYSQL_UNAVAILABLE,
    },
  );
}

/** Creates the database with any account that may (the hub user itself, when it holds CREATE). */
export async function createDatabaseWith(login: MysqlConfig, database: string): Promise<boolean> {
  registerSecret(login.password);
  const hub = await MysqlHub.connect({ ...login, database: '' }, { connectionLimit: 1 });
  try {
    return await ensureDatabase(hub, database);
  } catch (e) {
    throw new DualdbError('CREATE_DATABASE_FAILED', `"${login.user}" may not create database "${database}"`, {
      hint: 'create it with admin credentials instead (setup offers to), or ask an administrator',
      cause: e,
      exitCode: EXIT.MYSQL_UNAVAILABLE,
    });
  } finally {
    await hub.close();
  }
}

/** Whether user@host exists (admin connection). */
async function userExists(hub: MysqlHub, user: string, host: string): Promise<boolean> {
  const rows = await hub.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = ?', [
    user,
    host,
  ]);
  return Number(rows[0]?.n ?? 0) > 0;
}

/**
 * Creates (if missing) the database and the dedicated user, and grants exactly
 * REQUIRED_PRIVILEGES on the database (plus PROCESS globally unless declined).
 */
export async function provisionHub(req: ProvisionRequest): Promise<ProvisionResult> {
  if (req.user === 'root' || req.user === req.admin.user) {
    throw new DualdbError(
      'USER_NOT_DEDICATED',
      `"${req.user}" is not a dedicated user: it is ${req.user === 'root' ? 'the superuser' : 'the admin account'}`,
      {
        hint: 'name a user for dualdb alone, e.g. epi_sync',
        exitCode: EXIT.CONFIG,
      },
    );
  }
  const hub = await connectAdmin(req.admin);
  const policy = req.existingUser ?? 'fail';
  const grantProcess = req.grantProcess ?? true;
  try {
    let step = `create database "${req.database}"`;
    try {
      const databaseCreated = await ensureDatabase(hub, req.database);
      step = `create user "${req.user}"@"${req.userHost}"`;
      const exists = await userExists(hub, req.user, req.userHost);
      let password: string | undefined;
      let userCreated = false;
      let passwordReset = false;
      if (!exists) {
        password = generatePassword();
        await hub.execute('CREATE USER ?@? IDENTIFIED BY ?', [req.user, req.userHost, password]);
        userCreated = true;
      } else if (policy === 'reset-password') {
        password = generatePassword();
        await hub.execute('ALTER USER ?@? IDENTIFIED BY ?', [req.user, req.userHost, password]);
        passwordReset = true;
      } else if (policy === 'fail') {
        throw new DualdbError('USER_EXISTS', `MySQL user "${req.user}"@"${req.userHost}" exists already`, {
          hint: 'choose another user name, keep its password (only grant), or reset its password',
          exitCode: EXIT.CONFIG,
          context: { user: req.user, host: req.userHost },
        });
      }
      step = `grant privileges to "${req.user}"@"${req.userHost}"`;
      await hub.execute(`GRANT ${REQUIRED_PRIVILEGES.join(', ')} ON ${grantDatabasePattern(req.database)}.* TO ?@?`, [
        req.user,
        req.userHost,
      ]);
      const global: string[] = [];
      if (grantProcess) {
        await hub.execute(`GRANT ${OPTIONAL_GLOBAL_PRIVILEGES.join(', ')} ON *.* TO ?@?`, [req.user, req.userHost]);
        global.push(...OPTIONAL_GLOBAL_PRIVILEGES);
      }
      return {
        databaseCreated,
        userCreated,
        passwordReset,
        granted: { database: [...REQUIRED_PRIVILEGES], global },
        user: req.user,
        password,
      };
    } catch (e) {
      throw provisionFailure(step, e, req.admin);
    }
  } finally {
    await hub.close();
  }
}
