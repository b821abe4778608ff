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
import { MysqlHub } from '../engines/mysql/connect.js';
import { findServerBinaries, freePort, LocalMysqlServer, type ServerBinaries } from '../engines/mysql/local-server.js';
import { DualdbError, MysqlError } from '../util/errors.js';
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
  /**
   * The user got a new generated password: the caller did not know the old one
   * (lost with a setup cancelled before it wrote the .env) or the server refused it.
   */
  passwordReset: boolean;
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

/** `dualdb server start|stop` as typed from the current folder for this .env. */
export function serverCommandFor(envFile: string, verb: 'start' | 'stop'): string {
  const abs = path.resolve(envFile);
  const rel = path.relative(process.cwd(), abs);
  if (rel === '.env') return `dualdb server ${verb}`;
  return `dualdb server ${verb} --env-file ${rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel}`;
}

/** Does the server at `m` accept this user and password? (Only a refusal counts as no.) */
async function passwordWorks(m: MysqlConfig): Promise<boolean> {
  try {
    const hub = await MysqlHub.connect(m, { connectionLimit: 1 });
    await hub.close();
    return true;
  } catch (e) {
    // Anything else (a timeout, a missing database) is for the setup's connection test to diagnose.
    return !(e instanceof MysqlError && e.kind === 'access-denied');
  }
}

/**
 * Starts the private server for this .env (creating it on first use, with a
 * generated password for its user). It keeps running after this process exits.
 * On later starts the password given (the .env's) is kept when the server
 * accepts it; when none is given, or the server refuses it (a setup cancelled
 * before it wrote the .env lost the generated one), the user gets a new
 * generated password, set as root over the server's socket, and it is returned.
 */
export async function startLocalServer(options: {
  envFile: string;
  database: string;
  user?: string;
  /** Known credentials (from the .env) when the server exists already. */
  password?: string;
  /** Only start it: never change the user's password, even when none is given (`dualdb server start`). */
  keepPassword?: boolean;
}): Promise<LocalServerStart> {
  const dir = localServerDir(options.envFile);
  const binaries = findServerBinaries();
  if (!binaries) {
    throw new DualdbError('NO_SERVER_BINARY', 'no MariaDB/MySQL server binary (mariadbd or mysqld) is installed', {
      hint: 'install one (Debian/Ubuntu: `sudo apt-get install mariadb-server`), or continue SQLite-only',
      exitCode: EXIT.CONFIG,
    });
  }
  registerSecret(options.password);
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
  if (status.exists && !options.password && !marker) {
    throw new DualdbError('LOCAL_SERVER_UNKNOWN', `${dir} holds a server dualdb did not create`, {
      hint: 'move that folder away, or use its server as an ordinary hub',
      exitCode: EXIT.CONFIG,
    });
  }
  const alreadyRunning = status.exists && status.running && marker !== undefined;
  const created = !status.exists;
  let password = created ? generatePassword() : (options.password ?? '');
  registerSecret(password);
  let port: number;
  if (alreadyRunning && marker) port = marker.port;
  else {
    if (marker && !(await portFree(marker.port))) {
      throw new DualdbError('PORT_IN_USE', `port ${marker.port} of the private server is taken by another program`, {
        hint: `stop that program, or edit "port" in ${path.join(dir, MARKER)} and DB_PORT in the .env`,
        exitCode: EXIT.CONFIG,
      });
    }
    port = marker?.port ?? (await freePort());
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created || !marker) {
      // Written before the first start: a setup interrupted while the server is being
      // created leaves a folder that the next run recognises as its own.
      const m: LocalServerMarker = { port, database, user, flavor: binaries.flavor, createdAt: new Date().toISOString() };
      writeFileSync(path.join(dir, MARKER), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
    }
    await LocalMysqlServer.start({
      dir,
      port,
      user,
      ...(password ? { password } : {}),
      database,
      durable: true,
      detached: true,
    });
  }
  let passwordReset = false;
  // Only a server dualdb created (it has the marker) gets a new password; one adopted with its password is left as it is.
  if (!created && marker && !options.keepPassword && !(password && (await passwordWorks(base(port, password))))) {
    password = generatePassword();
    registerSecret(password);
    try {
      await LocalMysqlServer.setUserPasswordIn(dir, user, password, database);
    } catch (e) {
      throw new DualdbError('LOCAL_SERVER_PASSWORD', `could not give user "${user}" of the private server a new password`, {
        hint: `root must be able to log in over ${LocalMysqlServer.socketIn(dir)}; otherwise stop the server (\`dualdb server stop\`) and move ${dir} away to start afresh`,
        cause: e,
        exitCode: EXIT.CONFIG,
      });
    }
    passwordReset = true;
  }
  return {
    dir,
    mysql: base(port, password),
    created,
    alreadyRunning,
    passwordReset,
    startCommand: serverCommandFor(options.envFile, 'start'),
  };
}

/** Stops the private server of this .env; false when it was not running. */
export async function stopLocalServer(envFile: string): Promise<boolean> {
  return LocalMysqlServer.stopInDir(localServerDir(envFile));
}
