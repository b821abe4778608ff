/** Running the real `dualdb` CLI as a separate process, as users and services do. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config/config.js';
import { compiledCliMain } from './cli-build.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
/**
 * tsx looks for tsconfig.json in the working directory only: from anywhere else it compiles
 * .tsx with the classic JSX runtime (`React is not defined` as soon as the app renders).
 */
const TSCONFIG = path.join(ROOT, 'tsconfig.json');

/**
 * node arguments that run the CLI from source (any cwd, with an environment from `cliEnv`):
 * the run's compiled copy of src/ (cli-build.ts), or src/ itself through tsx.
 */
export function cliArgs(args: string[]): string[] {
  const compiled = compiledCliMain();
  return compiled ? ['--', compiled, ...args] : tsArgs(MAIN, args);
}

/**
 * node arguments that run a TypeScript file of this project from source. The `--` is the
 * installed bin's launcher line too: without it Node 20 claims `--env-file` for itself.
 */
export function tsArgs(script: string, args: string[] = []): string[] {
  return ['--import', `file://${LOADER}`, '--', script, ...args];
}

/** The environment plus what running from source needs whatever the cwd (the project's tsconfig for tsx). */
export function cliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.TSX_TSCONFIG_PATH ? env : { ...env, TSX_TSCONFIG_PATH: TSCONFIG };
}

/** The environment that makes the CLI use this node's configuration (no .env needed). */
export function envOf(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TZ: process.env.TZ,
    SQLITE_DB_PATH: config.sqlitePath,
    DB_HOST: config.mysql.host,
    DB_PORT: String(config.mysql.port),
    DB_USER: config.mysql.user,
    DB_PASSWORD: config.mysql.password,
    DB_NAME: config.mysql.database,
    DB_CONNECT_TIMEOUT: String(config.mysql.connectTimeoutMs / 1000),
    NODE_ID: config.nodeId ?? '',
    SYNC_MODE: config.sync.mode,
    SYNC_INTERVAL: String(config.sync.intervalMs / 1000),
    SYNC_BATCH_SIZE: String(config.sync.batchSize),
    CONFLICT_POLICY: config.sync.conflictPolicy,
    LOG_FILE: config.log.file,
    PID_FILE: config.pidFile,
    DUAL_DATABASE: String(config.dualDatabase),
    NO_COLOR: '1',
    TSX_TSCONFIG_PATH: TSCONFIG,
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { cwd?: string; timeoutMs?: number; input?: string } = {},
): CliResult {
  const r = spawnSync(process.execPath, cliArgs(args), {
    env: cliEnv(env),
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    input: options.input ?? '',
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface RunningCli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, cliArgs(args), {
    env: cliEnv(env),
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return running(child);
}

/** A child process with its output collected and its exit awaited. */
export function running(child: ChildProcess): RunningCli {
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Polls `cond` until true or the deadline passes. */
export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

/** Settles with the promise's value, or 'unsettled' when it has not settled within `ms` (it is not awaited further). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'unsettled'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<'unsettled'>((r) => {
      timer = setTimeout(() => r('unsettled'), ms);
    }),
  ]);
}
