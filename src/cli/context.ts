/** What every command receives: the validated configuration and output mode. */
import { type Config, loadConfig } from '../config/index.js';
import { color, err } from './output.js';

export interface GlobalOptions {
  envFile?: string;
}

const warned = new Set<string>();

/** Once per process: a command may read its configuration more than once. */
export function warnOnce(line: string): void {
  if (warned.has(line)) return;
  warned.add(line);
  err(`${color.yellow('dualdb:')} ${line}`);
}

let sqlitePath: string | undefined;

/** The SQLite file of the configuration this command read, to name it in a failure raised without it. */
export function currentSqlitePath(): string | undefined {
  return sqlitePath;
}

export function configFrom(global: GlobalOptions, overrides: Record<string, string | undefined> = {}): Config {
  const config = loadConfig({ envFile: global.envFile, overrides, onWarning: warnOnce });
  sqlitePath = config.sqlitePath;
  return config;
}
