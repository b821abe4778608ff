/** Building blocks for sync tests: a node (SQLite file + config) bound to a hub database. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Config, MysqlConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { openSqlite, type SqliteDb } from '../../src/engines/sqlite/open.js';

export function nodeConfig(dir: string, name: string, mysql: MysqlConfig, env: Record<string, string> = {}): Config {
  const cfg = loadConfig({
    env: {
      SQLITE_DB_PATH: path.join(dir, `${name}.db`),
      DB_HOST: mysql.host,
      DB_PORT: String(mysql.port),
      DB_USER: mysql.user,
      DB_PASSWORD: mysql.password,
      DB_NAME: mysql.database,
      NODE_ID: name,
      LOG_FILE: path.join(dir, `${name}.log`),
      ...env,
    },
    envFile: undefined,
    cwd: dir,
  });
  return cfg;
}

export function createSqlite(config: Config, ddl: string[]): SqliteDb {
  const db = openSqlite(config.sqlitePath, { create: true });
  for (const s of ddl) db.exec(s);
  return db;
}

/** Whether the `sqlite3` shell is installed (a writer in another process). */
export const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

/** Runs SQL through the `sqlite3` shell: another process writing the file. */
export function sqlite3Shell(file: string, sql: string): void {
  const r = spawnSync('sqlite3', ['-bail', file], { input: `.timeout 10000\n${sql}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr}`);
}
