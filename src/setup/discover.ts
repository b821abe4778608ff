/**
 * What the setup finds before asking anything: the SQLite file (size, tables,
 * rows), an existing `.env` (values, with the password masked), a private local
 * server, and an interrupted migration to resume.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { readEnvFile } from '../config/load.js';
import { SETTINGS } from '../config/schema.js';
import { listSqliteViews, sqliteTableStats } from '../engines/sqlite/introspect.js';
import { openSqlite } from '../engines/sqlite/open.js';
import { type DualdbError, isDualdbError, messageOf } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { localServerBinary, localServerDir, localServerStatus } from './local-server.js';
import { readSetupState, type SetupState } from './state.js';

export interface SqliteDiscovery {
  path: string;
  exists: boolean;
  bytes: number | null;
  tables: { name: string; rows: number }[];
  views: string[];
  totalRows: number;
  /** The file exists but cannot be used (not a database, locked, unreadable). */
  error?: { message: string; hint: string | undefined };
}

export interface EnvDiscovery {
  file: string;
  exists: boolean;
  /** Values as read (the password included: the caller decides what to show; see maskEnvValues). */
  values: Record<string, string>;
  /** File mode, e.g. 0o600; null when missing. */
  mode: number | null;
}

export interface Discovery {
  sqlite: SqliteDiscovery;
  env: EnvDiscovery;
  localServer: { binary: string | undefined; dir: string; exists: boolean; running: boolean };
  state: SetupState;
}

/** Names of variables whose values are secret (shown masked). */
export const SECRET_VARIABLES = new Set([
  ...Object.values(SETTINGS)
    .filter((s) => 'secret' in s && s.secret)
    .map((s) => s.env),
  'DUALDB_ADMIN_PASSWORD',
]);

/** The same map with every secret replaced by a mask of fixed length (the length is not shown either). */
export function maskEnvValues(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = SECRET_VARIABLES.has(k) ? maskSecret(v) : v;
  return out;
}

export function maskSecret(value: string | undefined): string {
  return value ? '••••••••' : '(empty)';
}

export function discoverSqlite(file: string): SqliteDiscovery {
  const abs = path.resolve(file);
  const out: SqliteDiscovery = { path: abs, exists: existsSync(abs), bytes: null, tables: [], views: [], totalRows: 0 };
  if (!out.exists) return out;
  out.bytes = statSync(abs).size;
  try {
    const db = openSqlite(abs, { readonly: true });
    try {
      out.tables = sqliteTableStats(db).map((t) => ({ name: t.name, rows: t.rows }));
      out.views = listSqliteViews(db);
      out.totalRows = out.tables.reduce((a, t) => a + t.rows, 0);
    } finally {
      db.close();
    }
  } catch (e) {
    out.error = { message: messageOf(e), hint: isDualdbError(e) ? (e as DualdbError).hint : undefined };
  }
  return out;
}

export function discoverEnv(file: string): EnvDiscovery {
  const abs = path.resolve(file);
  if (!existsSync(abs)) return { file: abs, exists: false, values: {}, mode: null };
  const values = readEnvFile(abs);
  registerSecret(values.DB_PASSWORD);
  return { file: abs, exists: true, values, mode: statSync(abs).mode & 0o777 };
}

/**
 * Everything at once. The SQLite path is, in order: the one given, SQLITE_DB_PATH
 * of the .env (relative to its folder), the default.
 */
export function discover(options: { envFile: string; sqlitePath?: string | undefined }): Discovery {
  const env = discoverEnv(options.envFile);
  const baseDir = path.dirname(env.file);
  const sqlitePath = path.resolve(
    baseDir,
    options.sqlitePath ?? env.values.SQLITE_DB_PATH ?? (SETTINGS.sqlitePath.default as string),
  );
  const dir = localServerDir(env.file);
  const status = localServerStatus(dir);
  return {
    sqlite: discoverSqlite(sqlitePath),
    env,
    localServer: { binary: localServerBinary()?.server, dir, exists: status.exists, running: status.running },
    state: readSetupState(env.file),
  };
}
