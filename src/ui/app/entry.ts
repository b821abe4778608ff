/**
 * What `dualdb` with no arguments opens: the setup wizard when there is no
 * usable configuration (no .env and no SQLITE_DB_PATH/DB_* in the environment,
 * or the SQLite file is missing), otherwise the monitor.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { loadConfig } from '../../config/load.js';

export type StartScreen =
  | { screen: 'wizard'; reason: string; initial: Partial<Config> & { envFile: string } }
  | { screen: 'monitor'; config: Config };

export interface DecideOptions {
  envFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The .env file this run reads (and the wizard writes): --env-file, DUALDB_ENV_FILE or ./.env. */
export function envFileOf(options: DecideOptions = {}): string {
  const env = options.env ?? process.env;
  return path.resolve(options.cwd ?? process.cwd(), options.envFile ?? env.DUALDB_ENV_FILE ?? '.env');
}

/** Whether anything configures dualdb here: a .env file, or the old system's variables. */
export function hasConfigSource(options: DecideOptions = {}): boolean {
  const env = options.env ?? process.env;
  if (existsSync(envFileOf(options))) return true;
  return Object.keys(env).some((k) => k === 'SQLITE_DB_PATH' || k.startsWith('DB_'));
}

/**
 * Throws the ConfigError of an invalid configuration (nothing starts half-configured).
 * The wizard always carries the .env path to write: the one the user named with
 * --env-file (or DUALDB_ENV_FILE) even when it does not exist yet, else ./.env.
 */
export function decideStartScreen(options: DecideOptions = {}): StartScreen {
  const env = options.env ?? process.env;
  const envFile = envFileOf(options);
  const named = options.envFile ?? env.DUALDB_ENV_FILE;
  if (named !== undefined && !existsSync(envFile)) {
    // A file the user named but that is not there yet: the wizard creates it, there.
    return { screen: 'wizard', reason: `the env file ${envFile} does not exist yet`, initial: { envFile } };
  }
  if (!hasConfigSource(options)) {
    return { screen: 'wizard', reason: 'no configuration (.env or DB_* variables) found', initial: { envFile } };
  }
  const config = loadConfig({
    envFile: options.envFile,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (!existsSync(config.sqlitePath)) {
    return {
      screen: 'wizard',
      reason: `the SQLite file ${config.sqlitePath} does not exist yet`,
      initial: { ...config, envFile: config.envFile ?? envFile },
    };
  }
  return { screen: 'monitor', config };
}
