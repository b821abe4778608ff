/**
 * Reads configuration from the environment and a `.env` file (the environment
 * wins, as dotenv does), validates every value and returns a Config, or throws a
 * ConfigError naming the variable and what it accepts. Nothing starts half-configured.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError } from '../util/errors.js';
import { redact, registerSecret } from '../util/redact.js';
import { type Config, defaultConflictPolicy } from './config.js';
import { nearMissWarnings } from './near-miss.js';
import { SETTINGS, type SettingKey } from './schema.js';

export interface LoadOptions {
  /** Path of the .env file; default `.env` in the working directory. */
  envFile?: string | undefined;
  /** The environment to read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values that override both (from CLI flags). Keys are variable names. */
  overrides?: Record<string, string | undefined>;
  cwd?: string;
  /** Told about settings that would otherwise pass silently (a name close to a known one). */
  onWarning?: (line: string) => void;
}

type Values = {
  [K in SettingKey]: ReturnType<(typeof SETTINGS)[K]['schema']['parse']> | undefined;
};

/** Reads a .env file into a plain map (no side effects on process.env). */
export function readEnvFile(file: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(file));
  } catch (e) {
    throw new ConfigError('.env', `cannot read ${file}: ${(e as Error).message}`, {
      hint: 'check the path given with --env-file',
      cause: e,
    });
  }
}

export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const explicitEnvFile = options.envFile ?? env.DUALDB_ENV_FILE;
  const envFile = path.resolve(cwd, explicitEnvFile ?? '.env');
  let fileValues: Record<string, string> = {};
  let usedEnvFile: string | undefined;
  if (existsSync(envFile)) {
    fileValues = readEnvFile(envFile);
    usedEnvFile = envFile;
  } else if (explicitEnvFile) {
    throw new ConfigError('.env', `the env file ${envFile} does not exist`, {
      hint: 'create it with `dualdb setup` or fix --env-file',
    });
  }

  if (options.onWarning) {
    for (const line of nearMissWarnings([
      { where: 'the environment', names: Object.keys(env) },
      ...(usedEnvFile ? [{ where: usedEnvFile, names: Object.keys(fileValues) }] : []),
    ]))
      options.onWarning(line);
  }

  const raw = (name: string): string | undefined => {
    const o = options.overrides?.[name];
    if (o !== undefined) return o;
    const e = env[name];
    if (e !== undefined) return e;
    return fileValues[name];
  };

  // Before any validation: a password that lands in another variable's value
  // (two lines run together in a hand-edited .env) must not reach an error message.
  registerSecret(raw(SETTINGS.mysqlPassword.env));
  const values = {} as Values;
  const explicit = new Set<SettingKey>();
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const spec = SETTINGS[key];
    const given = raw(spec.env);
    const input = given === undefined || (given.trim() === '' && !spec.secret) ? spec.default : given;
    if (given !== undefined && given.trim() !== '') explicit.add(key);
    if (input === undefined) {
      (values as Record<string, unknown>)[key] = undefined;
      continue;
    }
    const result = spec.schema.safeParse(input);
    if (!result.success) {
      const why = result.error.issues[0]?.message ?? 'invalid value';
      const shown = spec.secret ? '' : `=${JSON.stringify(redact(given ?? input))}`;
      throw new ConfigError(spec.env, `${spec.env}${shown} is not valid: ${why}`, {
        hint: usedEnvFile ? `fix it in the environment or in ${usedEnvFile}` : 'fix it in the environment or .env',
      });
    }
    (values as Record<string, unknown>)[key] = result.data;
  }

  const v = values as Required<{ [K in SettingKey]: NonNullable<Values[K]> }> & Values;
  registerSecret(v.mysqlPassword);
  const baseDir = usedEnvFile ? path.dirname(usedEnvFile) : cwd;
  const sqlitePath = path.resolve(baseDir, v.sqlitePath);
  const sqliteDir = path.dirname(sqlitePath);
  const mode = v.syncMode;
  return {
    sqlitePath,
    dualDatabase: v.dualDatabase,
    nodeId: v.nodeId,
    mysql: {
      host: v.mysqlHost,
      port: v.mysqlPort,
      user: v.mysqlUser,
      password: v.mysqlPassword,
      database: v.mysqlDatabase,
      ssl: v.mysqlSsl,
      sslCa: v.mysqlSslCa ? path.resolve(baseDir, v.mysqlSslCa) : undefined,
      connectTimeoutMs: Math.round(v.mysqlConnectTimeout * 1000),
    },
    sync: {
      mode,
      intervalMs: Math.round(v.syncInterval * 1000),
      watch: v.syncWatch,
      conflictPolicy: v.conflictPolicy ?? defaultConflictPolicy(mode),
      conflictPolicyExplicit: explicit.has('conflictPolicy'),
      keyCollisions: v.keyCollisions,
      tables: v.syncTables,
      exclude: v.syncExclude,
      batchSize: v.syncBatchSize,
      batchSizeExplicit: explicit.has('syncBatchSize'),
      logRetentionMs: Math.round(v.logRetentionHours * 3600 * 1000),
      holeTimeoutMs: Math.round(v.holeTimeout * 1000),
      valueForms: v.valueForms,
    },
    log: {
      file: v.logFile ? path.resolve(baseDir, v.logFile) : path.join(sqliteDir, 'dualdb.log'),
      level: v.logLevel,
      maxSizeBytes: v.logMaxSize,
      maxFiles: v.logMaxFiles,
    },
    pidFile: v.pidFile ? path.resolve(baseDir, v.pidFile) : path.join(sqliteDir, 'dualdb.pid'),
    metrics: { port: v.metricsPort, host: v.metricsHost },
    envFile: usedEnvFile,
  };
}
