/**
 * "No MySQL anywhere? Run a private one": a MariaDB/MySQL server from the
 * installed binary, data in `.dualdb/mysql/` beside the `.env`, listening on
 * 127.0.0.1 only. Its credentials go into the `.env` like any hub's; a small
 * marker file (no secrets) remembers the port and database so that
 * `dualdb server start|stop|status` can manage it later.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { MysqlConfig } from '../config/config.js';
import { findServerBinaries, freePort, LocalMysqlServer, type ServerBinaries } from '../engines/mysql/local-server.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { registerSecret } from '../util/redact.js';
import { generatePassword } from './provision.js';

export interface LocalServerMarker {
  port: number;
  database: string;
  user: string;
  flavor: 'mariadb' | 'mysql';
  createdAt: string;
}

export interface LocalServerStatus {
  dir: string;
  /** The data folder exists (the server was created here). */
  exists: boolean;
  running: boolean;
  pid: number | undefined;
  marker: LocalServerMarker | undefined;
}

export interface LocalServerStart {
  dir: string;
  mysql: MysqlConfig;
  /** Created now (false: an existing server was started again). */
  created: boolean;
  /** Was running already. */
  alreadyRunning: boolean;
  /** The command that starts it again later. */
  startCommand: string;
}

const MARKER = 'dualdb-server.json';

/** Where the private server lives for a given .env file. */
export function localServerDir(envFile: string): string {
  return path.join(path.dirname(path.resolve(envFile)), '.dualdb', 'mysql');
}

/** The server binary found on this machine, if any (the wizard offers the option only then). */
export function localServerBinary(): ServerBinaries | undefined {
  return findServerBinaries();
}

export function readMarker(dir: string): LocalServerMarker | undefined {
  const file = path.join(dir, MARKER);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalServerMarker;
  } catch {
    return undefined;
  }
}

export function localServerStatus(dir: string): LocalServerStatus {
  const pid = LocalMysqlServer.runningPidIn(dir);
  return {
    dir,
    exists: existsSync(path.join(dir, 'data', 'mysql')),
    running: pid !== undefined,
    pid,
    marker: readMarker(dir),
  };
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function startCommandFor(envFile: string): string {
  const abs = path.resolve(envFile);
  const rel = path.relative(process.cwd(), abs);
  if (rel === '.env') return 'dualdb server start';
  return `dualdb server start --env-file ${rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel}`;
}

/**
 * Starts the private server for this .env (creating it on first use, with a
 * generated password for its user). It keeps running after this process exits.
 * On later starts the user and password of the .env are the ones that work.
 */
export async function startLocalServer(options: {
  envFile: string;
  database: string;
  user?: string;
  /** Known credentials (from the .env) when the server exists already. */
  password?: string;
}): Promise<LocalServerStart> {
  const dir = localServerDir(options.envFile);
  const binaries = findServerBinaries();
  if (!binaries) {
    throw new DualdbError('NO_SERVER_BINARY', 'no MariaDB/MySQL server binary (mariadbd or mysqld) is installed', {
      hint: 'install one (Debian/Ubuntu: `sudo apt-get install mariadb-server`), or continue SQLite-only',
      exitCode: EXIT.CONFIG,
    });
  }
  const status = localServerStatus(dir);
  const marker = status.marker;
  const user = marker?.user ?? options.user ?? 'dualdb';
  const database = marker?.database ?? options.database;
  const base = (port: number, password: string): MysqlConfig => ({
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    ssl: false,
    sslCa: undefined,
    connectTimeoutMs: 5000,
  });
  if (status.exists && status.running && marker) {
    return {
      dir,
      mysql: base(marker.port, options.password ?? ''),
      created: false,
      alreadyRunning: true,
      startCommand: startCommandFor(options.envFile),
    };
  }
  if (status.exists && !options.password && !marker) {
    throw new DualdbError('LOCAL_SERVER_UNKNOWN', `${dir} holds a server dualdb did not create`, {
      hint: 'move that folder away, or use its server as an ordinary hub',
      exitCode: EXIT.CONFIG,
    });
  }
  let port = marker?.port;
  if (port !== undefined && !(await portFree(port))) {
    throw new DualdbError('PORT_IN_USE', `port ${port} of the private server is taken by another program`, {
      hint: `stop that program, or edit "port" in ${path.join(dir, MARKER)} and DB_PORT in the .env`,
      exitCode: EXIT.CONFIG,
    });
  }
  port ??= await freePort();
  const created = !status.exists;
  const password = created ? generatePassword() : (options.password ?? '');
  registerSecret(password);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await LocalMysqlServer.start({ dir, port, user, password, database, durable: true, detached: true });
  if (created || !marker) {
    const m: LocalServerMarker = { port, database, user, flavor: binaries.flavor, createdAt: new Date().toISOString() };
    writeFileSync(path.join(dir, MARKER), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
  }
  return { dir, mysql: base(port, password), created, alreadyRunning: false, startCommand: startCommandFor(options.envFile) };
}

/** Stops the private server of this .env; false when it was not running. */
export async function stopLocalServer(envFile: string): Promise<boolean> {
  return LocalMysqlServer.stopInDir(localServerDir(envFile));
}
