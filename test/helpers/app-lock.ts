/**
 * The application holding the SQLite write lock, as a Flask request in a long transaction does: a
 * Python `sqlite3` process that begins (`IMMEDIATE` by default), runs `sql`, says so, and ends its
 * transaction only when released (its stdin closes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { until } from './cli.js';

export interface AppLock {
  child: ChildProcess;
  /** Ends the transaction (COMMIT, or ROLLBACK with `rollback`) and lets the process exit. */
  release(): void;
  /** Release and kill (for `finally` blocks). */
  stop(): void;
}

export async function holdWriteLock(
  file: string,
  sql: string,
  options: { begin?: 'IMMEDIATE' | 'EXCLUSIVE'; rollback?: boolean; extraArgs?: string[] } = {},
): Promise<AppLock> {
  const child = spawn(
    'python3',
    [
      '-c',
      [
        'import sqlite3, sys',
        `c = sqlite3.connect(${JSON.stringify(file)}, isolation_level=None)`,
        `c.execute('BEGIN ${options.begin ?? 'IMMEDIATE'}')`,
        `c.execute(${JSON.stringify(sql)})`,
        "print('locked', flush=True)",
        'sys.stdin.read()',
        `c.execute('${options.rollback ? 'ROLLBACK' : 'COMMIT'}')`,
      ].join('\n'),
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let ready = '';
  child.stdout?.on('data', (d) => {
    ready += String(d);
  });
  const release = () => {
    child.stdin?.end();
  };
  try {
    await until(() => ready.includes('locked'), 'the application to take the write lock');
  } catch (e) {
    child.kill();
    throw e;
  }
  return {
    child,
    release,
    stop() {
      release();
      child.kill();
    },
  };
}
