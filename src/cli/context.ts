/** What every command receives: the validated configuration and output mode. */
import { type Config, loadConfig } from '../config/index.js';

export interface GlobalOptions {
  envFile?: string;
}

export function configFrom(global: GlobalOptions, overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({ envFile: global.envFile, overrides });
}
