/**
 * The privileges dualdb needs on the hub, and a check of what the connected user
 * holds (from SHOW GRANTS, never by trying things out). Provisioning grants
 * exactly REQUIRED_PRIVILEGES on the database, plus OPTIONAL_GLOBAL_PRIVILEGES.
 */
import type { MysqlError } from '../../util/errors.js';
import type { MysqlHub } from './connect.js';
import { missingPrivilegesError } from './diagnose.js';

/**
 * On the hub database: data (SELECT … DELETE), schema (CREATE, ALTER, INDEX, DROP,
 * REFERENCES for foreign keys), capture (TRIGGER), the EPI views (CREATE VIEW) and
 * procedures (CREATE ROUTINE; ALTER ROUTINE because sql/mysql/epi_procedures.sql
 * starts with DROP PROCEDURE IF EXISTS, which the server checks against ALTER ROUTINE
 * even when the procedure does not exist).
 */
export const REQUIRED_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'ALTER',
  'INDEX',
  'DROP',
  'TRIGGER',
  'REFERENCES',
  'CREATE VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
] as const;

/** Global, optional: PROCESS lets the puller read INNODB_TRX to prove a sequence gap dead (exact late-commit detection). */
export const OPTIONAL_GLOBAL_PRIVILEGES = ['PROCESS'] as const;

export const PRIVILEGE_PURPOSE: Record<string, string> = {
  SELECT: 'read rows',
  INSERT: 'write rows',
  UPDATE: 'write rows',
  DELETE: 'write rows',
  CREATE: 'create tables',
  ALTER: 'change tables',
  INDEX: 'create indexes',
  DROP: 'replace views, remove capture',
  TRIGGER: 'change capture',
  REFERENCES: 'foreign keys',
  'CREATE VIEW': 'EPI views',
  'CREATE ROUTINE': 'EPI procedures',
  'ALTER ROUTINE': 'EPI procedures (replace)',
  PROCESS: 'exact late-commit detection',
};

/** Everything that ALL PRIVILEGES covers at database level, for the check. */
const ALL_DB_LEVEL = new Set<string>([
  ...REQUIRED_PRIVILEGES,
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'SHOW VIEW',
  'EVENT',
  'DELETE HISTORY',
]);

export interface PrivilegeReport {
  /** Required privileges the user lacks on the database (empty when all are there). */
  missing: string[];
  /** Optional global privileges it lacks (PROCESS). */
  missingOptional: string[];
  /** Roles were granted: their privileges are not listed by SHOW GRANTS, so "missing" may be wrong. */
  viaRoles: boolean;
}

interface Grant {
  privileges: Set<string>;
  /** Database name pattern (unquoted, escapes kept), or '*'. */
  database: string;
  /** Table name, or '*' for database level. */
  table: string;
}

/** Strips one level of backtick quoting (`a``b` → a`b); unquoted names are returned as they are. */
function unquote(name: string): string {
  const t = name.trim();
  if (t.startsWith('`') && t.endsWith('`')) return t.slice(1, -1).replaceAll('``', '`');
  return t;
}

/** Splits `db`.`table` at the dot outside backticks. */
function splitObject(obj: string): [string, string] {
  let inQuote = false;
  for (let i = 0; i < obj.length; i++) {
    const c = obj[i];
    if (c === '`') inQuote = !inQuote;
    else if (c === '.' && !inQuote) return [unquote(obj.slice(0, i)), unquote(obj.slice(i + 1))];
  }
  return [unquote(obj), '*'];
}

/** Parses one SHOW GRANTS line; role grants and proxy grants return undefined. */
export function parseGrantLine(line: string): Grant | 'role' | undefined {
  const m =
    /^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?: BODY)?)\s+)?((?:`(?:[^`]|``)*`|[^\s.`]+)(?:\.(?:`(?:[^`]|``)*`|[^\s.`]+|\*))?|\*\.\*|\*)\s+TO\s/i.exec(
      line.trim(),
    );
  if (!m) {
    // MySQL 8 / MariaDB role grants: GRANT `role`@`%` TO `user`@`%` (no ON clause).
    if (/^GRANT\s+[`'"]?[^\s]+[`'"]?(@\S+)?\s+TO\s/i.test(line.trim()) && !/\sON\s/i.test(line)) return 'role';
    return undefined;
  }
  if (/^PROXY$/i.test(m[1] ?? '')) return undefined;
  const privileges = new Set<string>();
  // Column-level grants carry a column list in parentheses: SELECT (a, b) — they do not count at database level.
  const privText = (m[1] ?? '').replace(/\([^)]*\)/g, '(cols)');
  for (const raw of privText.split(',')) {
    const p = raw.trim().toUpperCase().replace(/\s+/g, ' ');
    if (p.includes('(COLS)')) continue;
    if (p === 'ALL' || p === 'ALL PRIVILEGES') {
      for (const x of ALL_DB_LEVEL) privileges.add(x);
      privileges.add('ALL');
    } else privileges.add(p);
  }
  const [database, table] = splitObject(m[2] ?? '*.*');
  return { privileges, database, table };
}

/** Does a database-level grant pattern (`epi\_db`, `site_%`) cover this database name? */
export function grantPatternMatches(pattern: string, database: string): boolean {
  if (pattern === '*') return true;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      re += (pattern[i + 1] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    } else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  // Database names compare case-sensitively on Linux (lower_case_table_names=0); patterns follow.
  return new RegExp(`${re}$`).test(database);
}

/** What SHOW GRANTS lines give on `database`: the privileges held at global or database level. */
export function privilegesFromGrants(lines: readonly string[], database: string): PrivilegeReport & { held: Set<string> } {
  const held = new Set<string>();
  const global = new Set<string>();
  let viaRoles = false;
  for (const line of lines) {
    const g = parseGrantLine(line);
    if (g === 'role') {
      viaRoles = true;
      continue;
    }
    if (g?.table !== '*') continue;
    if (g.database === '*') {
      for (const p of g.privileges) {
        held.add(p);
        global.add(p);
      }
      if (g.privileges.has('ALL')) global.add('PROCESS');
    } else if (grantPatternMatches(g.database, database)) {
      for (const p of g.privileges) held.add(p);
    }
  }
  return {
    held,
    missing: REQUIRED_PRIVILEGES.filter((p) => !held.has(p)),
    missingOptional: OPTIONAL_GLOBAL_PRIVILEGES.filter((p) => !global.has(p)),
    viaRoles,
  };
}

/** Reads the connected user's grants and compares them with what dualdb needs on its database. */
export async function checkPrivileges(hub: MysqlHub): Promise<PrivilegeReport> {
  const rows = await hub.query<Record<string, string>>('SHOW GRANTS');
  // The column is named "Grants for user@host"; the lines carry password hashes, so they never leave this function.
  const lines = rows.map((r) => String(Object.values(r)[0] ?? ''));
  const { missing, missingOptional, viaRoles } = privilegesFromGrants(lines, hub.config.database);
  return { missing, missingOptional, viaRoles };
}

/** What installing capture and syncing do on the hub: its own tables and rows, and triggers. */
export const CAPTURE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'TRIGGER'] as const;

/**
 * The host part of the account the server matched (`CURRENT_USER()`), which a GRANT must name:
 * 'none'@'%' is another account than the 'none'@'127.0.0.1' that logged in (ERROR 1133).
 */
export async function accountHost(hub: MysqlHub): Promise<string> {
  const [me] = await hub.query<{ u: string }>('SELECT CURRENT_USER() AS u');
  const u = me?.u ?? '';
  const at = u.lastIndexOf('@');
  return at >= 0 ? u.slice(at + 1) : '%';
}

/**
 * Every capture privilege the connected account lacks, as one error naming them all with the
 * GRANT for its real user@host; undefined when none is missing or grants come through roles
 * (not listed by SHOW GRANTS: then the server decides). `init`, `sync` and `health` share it.
 */
export async function capturePrivilegeProblem(hub: MysqlHub): Promise<MysqlError | undefined> {
  const report = await checkPrivileges(hub);
  if (report.viaRoles) return undefined;
  const missing = CAPTURE_PRIVILEGES.filter((p) => report.missing.includes(p));
  if (missing.length === 0) return undefined;
  return missingPrivilegesError(hub.config, missing, { host: await accountHost(hub) });
}
