/**
 * What `dualdb` with no arguments opens: the setup wizard when there is no
 * usable configuration (no .env and no SQLITE_DB_PATH/DB_* in the environment,
 * or the SQLite file is missing), otherwise the monitor.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { loadConfig } from '../../config/load.js';

export type StartScreen = { screen: 'wizard'; reason: string; initial?: Partial<Config> } | { screen: 'monitor'; config: Config };

export interface DecideOptions {
  envFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Whether anything configures dualdb here: a .env file, or the old system's variables. */
export function hasConfigSource(options: DecideOptions = {}): boolean {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const envFile = path.resolve(cwd, options.envFile ?? env.DUALDB_ENV_FILE ?? '.env');
  if (existsSync(envFile)) return true;
  return Object.keys(env).some((k) => k === 'SQLITE_DB_PATH' || k.startsWith('DB_'));
}

/** Throws the ConfigError of an invalid configuration (nothing starts half-configured). */
export function decideStartScreen(options: DecideOptions = {}): StartScreen {
  if (!hasConfigSource(options)) return { screen: 'wizard', reason: 'no configuration (.env or DB_* variables) found' };
  const config = loadConfig({
    envFile: options.envFile,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (!existsSync(config.sqlitePath)) {
    return { screen: 'wizard', reason: `the SQLite file ${config.sqlitePath} does not exist yet`, initial: config };
  }
  return { screen: 'monitor', config };
}
