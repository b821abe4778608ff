/**
 * What a previous setup run left behind (no secrets): whether an initial
 * migration was started and not finished, so that the next run offers to
 * resume it. Kept in `.dualdb/setup-state.json` beside the `.env`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MigrationDirection } from '../migrate/types.js';

export type { MigrationDirection };

export interface SetupState {
  migration?: {
    status: 'running' | 'interrupted' | 'failed' | 'done';
    direction: MigrationDirection;
    /** Hub endpoint (host:port/db) the copy went to, to offer resume only for the same hub. */
    endpoint: string;
    sqlitePath: string;
    updatedAt: string;
    error?: string;
  };
}

export function setupStateFile(envFile: string): string {
  return path.join(path.dirname(path.resolve(envFile)), '.dualdb', 'setup-state.json');
}

export function readSetupState(envFile: string): SetupState {
  const file = setupStateFile(envFile);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SetupState;
  } catch {
    return {};
  }
}

export function writeSetupState(envFile: string, state: SetupState): void {
  const file = setupStateFile(envFile);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** An interrupted migration of this SQLite file to this hub that can be resumed. */
export function resumableMigration(state: SetupState, sqlitePath: string, endpoint: string): SetupState['migration'] | undefined {
  const m = state.migration;
  if (!m || m.status === 'done') return undefined;
  if (path.resolve(m.sqlitePath) !== path.resolve(sqlitePath) || m.endpoint !== endpoint) return undefined;
  return m;
}
