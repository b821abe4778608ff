/** The `mariadb` command-line client, as an operator's script runs it against the hub. */
import type { MysqlConfig } from '../../src/config/config.js';
import { type ProcessResult, runProcess } from './run-process.js';

/** One statement batch (the password through MYSQL_PWD, never argv); tab-separated rows, no column names. */
export async function mariadbClient(m: MysqlConfig, sql: string, timeoutMs = 20_000): Promise<ProcessResult> {
  const args = ['--no-defaults', '--default-character-set=utf8mb4', '-h', m.host, '-P', String(m.port), '-u', m.user];
  const r = await runProcess('mariadb', [...args, '--connect-timeout=3', '-N', '-B', m.database, '-e', sql], {
    env: { PATH: process.env.PATH, MYSQL_PWD: m.password },
    timeoutMs,
  });
  return { ...r, out: r.out.trim(), err: r.err.trim() };
}
