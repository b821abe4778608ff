/**
 * The answers a setup collects (from the wizard, the plain prompts or the
 * flags), how they become a Config, and how they are saved to the `.env`.
 * Field validation uses the same zod schemas as loadConfig, so the wizard and
 * `dualdb` itself accept exactly the same values.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config, MysqlConfig } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { type ConflictPolicy, type KeyCollisionMode, SETTINGS, type SettingKey, type SyncMode } from '../config/schema.js';
import { formatEnvValue, writeEnvFile } from '../config/write.js';
import { messageOf } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';

export interface SetupAnswers {
  /** The .env file to write (absolute). */
  envFile: string;
  /** The SQLite file (absolute). */
  sqlitePath: string;
  /** false: SQLite only (DUAL_DATABASE=false). The hub settings are still saved for later. */
  dualDatabase: boolean;
  mysql: MysqlConfig;
  /** The hub is the private local server in `.dualdb/mysql/`. */
  localServer: boolean;
  sync: {
    mode: SyncMode;
    intervalSec: number;
    /** undefined: the mode's default (node-wins, or hub-wins for mysql_primary). */
    conflictPolicy: ConflictPolicy | undefined;
    /** SYNC_KEY_COLLISIONS: which row moves when both sides create a row under one generated id. */
    keyCollisions: KeyCollisionMode;
  };
  nodeId?: string | undefined;
}

export const SYNC_MODE_HELP: Record<SyncMode, string> = {
  sqlite_primary: 'writes land in SQLite, go up at once (development)',
  mysql_primary: 'MySQL is the truth, SQLite a read cache (production)',
  both: 'acknowledged once committed on both sides (critical data)',
};

export const CONFLICT_POLICY_HELP: Record<ConflictPolicy, string> = {
  'hub-wins': 'the MySQL version is kept; the local one is saved in the conflicts table',
  'node-wins': 'the local version is kept; the hub one is saved in the conflicts table',
  'newest-wins': 'the later change wins (timestamps; the hub breaks ties)',
  manual: 'both are kept; the row waits for `dualdb conflicts resolve`',
};

export const KEY_COLLISIONS_HELP: Record<KeyCollisionMode, string> = {
  'rekey-node': "the node's new row takes a new id from the hub (default)",
  'rekey-hub': "the hub's row takes a new id; the node's keeps its own",
  manual: 'both rows held apart until `dualdb rekeys resolve`',
};

/** The defaults a fresh setup starts from, taken from the settings table. */
export function defaultAnswers(envFile: string, sqlitePath?: string): SetupAnswers {
  const env = path.resolve(envFile);
  const d = (k: SettingKey) => SETTINGS[k].default as string;
  return {
    envFile: env,
    sqlitePath: path.resolve(path.dirname(env), sqlitePath ?? d('sqlitePath')),
    dualDatabase: true,
    mysql: {
      host: d('mysqlHost'),
      port: Number(d('mysqlPort')),
      user: d('mysqlUser'),
      password: '',
      database: d('mysqlDatabase'),
      ssl: false,
      sslCa: undefined,
      connectTimeoutMs: Number(d('mysqlConnectTimeout')) * 1000,
    },
    localServer: false,
    sync: {
      mode: 'sqlite_primary',
      intervalSec: Number(d('syncInterval')),
      conflictPolicy: undefined,
      keyCollisions: d('keyCollisions') as KeyCollisionMode,
    },
  };
}

/** Answers pre-filled from a Config (an existing .env, the app shell's partial config). */
export function answersFromConfig(base: SetupAnswers, c: Partial<Config>): SetupAnswers {
  return {
    ...base,
    envFile: c.envFile ?? base.envFile,
    sqlitePath: c.sqlitePath ?? base.sqlitePath,
    dualDatabase: c.dualDatabase ?? base.dualDatabase,
    mysql: { ...base.mysql, ...(c.mysql ?? {}) },
    sync: {
      mode: c.sync?.mode ?? base.sync.mode,
      intervalSec: c.sync ? c.sync.intervalMs / 1000 : base.sync.intervalSec,
      conflictPolicy: c.sync?.conflictPolicyExplicit ? c.sync.conflictPolicy : base.sync.conflictPolicy,
      keyCollisions: c.sync?.keyCollisions ?? base.sync.keyCollisions,
    },
    nodeId: c.nodeId ?? base.nodeId,
  };
}

/** Answers pre-filled from the values of an existing .env (invalid values are left at their defaults). */
export function answersFromEnvValues(base: SetupAnswers, values: Record<string, string>): SetupAnswers {
  const ok = <K extends SettingKey>(k: K): boolean => {
    const v = values[SETTINGS[k].env];
    return v !== undefined && validateSetting(k, v) === undefined;
  };
  const v = (k: SettingKey) => values[SETTINGS[k].env] as string;
  const dir = path.dirname(base.envFile);
  const a: SetupAnswers = structuredClone(base);
  if (ok('sqlitePath')) a.sqlitePath = path.resolve(dir, v('sqlitePath'));
  if (ok('dualDatabase')) a.dualDatabase = parseBool(v('dualDatabase'));
  if (ok('mysqlHost')) a.mysql.host = v('mysqlHost').trim();
  if (ok('mysqlPort')) a.mysql.port = Number(v('mysqlPort'));
  if (ok('mysqlUser')) a.mysql.user = v('mysqlUser').trim();
  if (values.DB_PASSWORD !== undefined) {
    a.mysql.password = values.DB_PASSWORD;
    registerSecret(a.mysql.password);
  }
  if (ok('mysqlDatabase')) a.mysql.database = v('mysqlDatabase').trim();
  if (ok('mysqlSsl')) a.mysql.ssl = parseBool(v('mysqlSsl'));
  if (ok('mysqlSslCa') && v('mysqlSslCa').trim()) a.mysql.sslCa = path.resolve(dir, v('mysqlSslCa').trim());
  if (ok('syncMode')) a.sync.mode = v('syncMode').trim() as SyncMode;
  if (ok('syncInterval')) a.sync.intervalSec = Number(v('syncInterval'));
  if (ok('conflictPolicy')) a.sync.conflictPolicy = v('conflictPolicy').trim() as ConflictPolicy;
  if (ok('keyCollisions')) a.sync.keyCollisions = v('keyCollisions').trim() as KeyCollisionMode;
  if (ok('nodeId')) a.nodeId = v('nodeId').trim();
  return a;
}

function parseBool(v: string): boolean {
  return ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase());
}

/** The message for an invalid value of a setting (the same words loadConfig uses), or undefined when valid. */
export function validateSetting(key: SettingKey, value: string): string | undefined {
  const spec = SETTINGS[key];
  const r = spec.schema.safeParse(value);
  if (r.success) return undefined;
  return r.error.issues[0]?.message ?? 'invalid value';
}

/** A password must survive the .env round trip; the message never contains it. */
export function validatePassword(value: string): string | undefined {
  try {
    formatEnvValue(value);
    return undefined;
  } catch (e) {
    return messageOf(e).replace(/^a \.env value/, 'a password');
  }
}

/** MySQL account host part: '%', a name, an IP or a pattern; at most 255 characters. */
export function validateUserHost(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return "accepted: '%' (anywhere), localhost, a host name, an IP address or a pattern such as 10.0.%";
  if (v.length > 255 || /[\s'"`]/.test(v)) return 'accepted: up to 255 characters without spaces or quotes';
  return undefined;
}

/** MySQL account name: 1-80 characters (MariaDB 80, MySQL 32: keep to 32 to work on both). */
export function validateUserName(value: string): string | undefined {
  const v = value.trim();
  if (v === '' || v.length > 32) return 'accepted: a user name of 1-32 characters';
  if (/[\s'"`]/.test(v)) return 'accepted: a user name without spaces or quotes';
  return undefined;
}

/** The variables the setup writes. Paths under the .env folder are written relative to it. */
export function envValuesOf(a: SetupAnswers): Record<string, string | undefined> {
  const dir = path.dirname(a.envFile);
  const rel = (p: string) => {
    const r = path.relative(dir, p);
    return r.startsWith('..') || path.isAbsolute(r) ? p : r;
  };
  return {
    SQLITE_DB_PATH: rel(a.sqlitePath),
    DUAL_DATABASE: String(a.dualDatabase),
    DB_HOST: a.mysql.host,
    DB_PORT: String(a.mysql.port),
    DB_USER: a.mysql.user,
    DB_PASSWORD: a.mysql.password,
    DB_NAME: a.mysql.database,
    DB_SSL: String(a.mysql.ssl),
    DB_SSL_CA: a.mysql.sslCa ? rel(a.mysql.sslCa) : undefined,
    SYNC_MODE: a.sync.mode,
    SYNC_INTERVAL: String(a.sync.intervalSec),
    CONFLICT_POLICY: a.sync.conflictPolicy,
    SYNC_KEY_COLLISIONS: a.sync.keyCollisions,
    ...(a.nodeId ? { NODE_ID: a.nodeId } : {}),
  };
}

/**
 * The Config these answers give: the existing .env's other settings (LOG_FILE…)
 * with the answers on top, validated by loadConfig. The process environment is
 * left out on purpose: the .env being written must stand on its own.
 */
export function configOf(a: SetupAnswers): Config {
  registerSecret(a.mysql.password);
  const config = loadConfig({
    envFile: existsSync(a.envFile) ? a.envFile : undefined,
    env: {},
    overrides: Object.fromEntries(Object.entries(envValuesOf(a)).map(([k, v]) => [k, v ?? ''])),
    cwd: path.dirname(a.envFile),
  });
  // The connect timeout is not asked; keep the one in force.
  return { ...config, envFile: a.envFile, mysql: { ...config.mysql, connectTimeoutMs: a.mysql.connectTimeoutMs } };
}

/** Writes the .env (mode 0600, atomic, other variables kept) and returns the Config read back from it. */
export function saveAnswers(a: SetupAnswers): Config {
  writeEnvFile(a.envFile, envValuesOf(a), 'Written by dualdb setup (mode 0600: it holds the hub password)');
  return loadConfig({ envFile: a.envFile, env: {} });
}
