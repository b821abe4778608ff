/**
 * A private MariaDB/MySQL server run from the installed `mariadbd`/`mysqld`
 * binary with its own data folder, on a loopback port. Used by the test suite
 * (isolation, and stop/kill/restart for failover tests), by the setup wizard
 * ("start a local server") and by `dualdb demo`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../config/config.js';
import { DualdbError } from '../../util/errors.js';
import { quoteMysqlId } from './quote.js';

const execFileAsync = promisify(execFile);

const SEARCH_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/mysql/bin', '/opt/homebrew/bin'];

function which(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...SEARCH_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const p = path.join(dir, name);
      if (dir && existsSync(p)) return p;
    }
  }
  return undefined;
}

export interface ServerBinaries {
  server: string;
  flavor: 'mariadb' | 'mysql';
  installDb: string | undefined;
}

/** The server binary installed on this machine, if any. */
export function findServerBinaries(): ServerBinaries | undefined {
  const mariadbd = which(['mariadbd']);
  if (mariadbd)
    return {
      server: mariadbd,
      flavor: 'mariadb',
      installDb: which(['mariadb-install-db', 'mysql_install_db']),
    };
  const mysqld = which(['mysqld']);
  if (!mysqld) return undefined;
  const installDb = which(['mariadb-install-db', 'mysql_install_db']);
  return {
    server: mysqld,
    flavor: installDb && /mariadb/.test(installDb) ? 'mariadb' : 'mysql',
    installDb,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LocalServerOptions {
  /** Folder for data, socket, pid and error log. Default: a new temp folder. */
  dir?: string;
  port?: number;
  /** The non-root user and database to create (with a generated password unless given). */
  user?: string;
  password?: string;
  database?: string;
  /** false (tests): flush the redo log once a second instead of at every commit; a process kill still loses nothing. */
  durable?: boolean;
  /** Extra server options, e.g. ['--local-infile=0']. */
  extraArgs?: string[];
  /**
   * Leave the server running when this process exits (`dualdb server start`, the
   * setup wizard's private server): own process group, no exit hook. Stop it with
   * `LocalMysqlServer.stopInDir(dir)`.
   */
  detached?: boolean;
  /**
   * The server fills its empty data folder itself (a Galera joiner receives it by state
   * transfer from a donor): no initialisation and no user creation here. Default false.
   */
  receivesState?: boolean;
  /** How long to wait for the server to answer, ms (default 30 000; a joiner waits for its state transfer). */
  startTimeoutMs?: number;
}

export class LocalMysqlServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private cleanupHook = () => this.child?.kill('SIGKILL');

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    readonly database: string,
    private readonly binaries: ServerBinaries,
    private readonly options: LocalServerOptions,
  ) {}

  get socket(): string {
    return LocalMysqlServer.socketIn(this.dir);
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Connection settings for the created non-root user. */
  config(): MysqlConfig {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: this.user,
      password: this.password,
      database: this.database,
      ssl: false,
      sslCa: undefined,
      connectTimeoutMs: 3000,
    };
  }

  /** Root over the private socket (no password; the socket is only reachable from this machine). */
  async rootConnection(database?: string): Promise<mysql.Connection> {
    return LocalMysqlServer.rootConnectionIn(this.dir, database);
  }

  /** The unix socket of a server started in `dir` (by any process). */
  static socketIn(dir: string): string {
    return path.join(dir, 'mysqld.sock');
  }

  /** Root over the socket of a running server started in `dir` by any process (no password, as above). */
  static async rootConnectionIn(dir: string, database?: string): Promise<mysql.Connection> {
    return mysql.createConnection({
      socketPath: LocalMysqlServer.socketIn(dir),
      user: 'root',
      password: '',
      charset: 'UTF8MB4_UNICODE_CI',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      ...(database ? { database } : {}),
    });
  }

  static async start(options: LocalServerOptions = {}): Promise<LocalMysqlServer> {
    const binaries = findServerBinaries();
    if (!binaries) {
      throw new DualdbError('NO_SERVER_BINARY', 'no MariaDB/MySQL server binary (mariadbd or mysqld) is installed', {
        hint: 'install one, e.g. `apt-get install mariadb-server` on Debian/Ubuntu',
      });
    }
    const dir = options.dir ?? path.join(os.tmpdir(), `dualdb-mysql-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const port = options.port ?? (await freePort());
    const password = options.password ?? randomBytes(18).toString('base64url');
    const server = new LocalMysqlServer(
      dir,
      port,
      options.user ?? 'dualdb',
      password,
      options.database ?? 'dualdb',
      binaries,
      options,
    );
    const fresh = !options.receivesState && !existsSync(path.join(server.dataDir, 'mysql'));
    if (fresh) await server.initialise();
    await server.launch();
    if (fresh) await server.createUserAndDatabase();
    if (options.durable ?? true) await server.closeRootToOthers();
    return server;
  }

  /**
   * A site's own server (`setup --local-server`, `dualdb server start`) is used by the dualdb user
   * alone, with its password. The data folder's initialisation gives root (and anonymous users)
   * empty passwords on every host, TCP included: any local user could log in on the port as root.
   * So, at every start (servers made by earlier versions too): root keeps only its socket login, the
   * socket's folder becomes the owner's alone (no one else reaches the socket), and the TCP root and
   * anonymous accounts go.
   */
  private async closeRootToOthers(): Promise<void> {
    chmodSync(this.dir, 0o700);
    const c = await this.rootConnection();
    try {
      const [rows] = await c.query(
        "SELECT User AS u, Host AS h FROM mysql.user WHERE (User = 'root' AND Host <> 'localhost') OR User = ''",
      );
      for (const r of rows as { u: string; h: string }[]) await c.query('DROP USER IF EXISTS ?@?', [r.u, r.h]);
    } finally {
      await c.end();
    }
  }

  private commonArgs(): string[] {
    return [
      '--no-defaults',
      `--user=${os.userInfo().username}`,
      `--datadir=${this.dataDir}`,
      // Its own temp folder: servers sharing /tmp have lost each other's on-disk temp tables.
      `--tmpdir=${path.join(this.dir, 'tmp')}`,
      '--innodb-log-file-size=16M',
    ];
  }

  private async initialise(): Promise<void> {
    const { installDb, flavor, server } = this.binaries;
    mkdirSync(this.dataDir, { recursive: true });
    try {
      if (flavor === 'mariadb' && installDb) {
        await execFileAsync(installDb, [
          ...this.commonArgs(),
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          `--basedir=/usr`,
        ]);
      } else {
        await execFileAsync(server, [...this.commonArgs(), '--initialize-insecure']);
      }
    } catch (e) {
      throw new DualdbError('SERVER_INIT_FAILED', `could not initialise a data folder in ${this.dataDir}`, {
        hint: 'check free disk space and permissions of the folder',
        cause: e,
      });
    }
  }

  private async launch(): Promise<void> {
    const durable = this.options.durable ?? true;
    const args = [
      ...this.commonArgs(),
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${path.join(this.dir, 'mysqld.pid')}`,
      `--log-error=${path.join(this.dir, 'error.log')}`,
      '--skip-name-resolve',
      '--local-infile=1',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      '--max-allowed-packet=64M',
      '--innodb-buffer-pool-size=128M',
      ...(durable ? [] : ['--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0']),
      ...(this.options.extraArgs ?? []),
    ];
    const detached = this.options.detached ?? false;
    const child = spawn(this.binaries.server, args, {
      stdio: 'ignore',
      detached,
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (detached) child.unref();
    else process.once('exit', this.cleanupHook);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        const c = await this.rootConnection();
        await c.end();
        return;
      } catch (e) {
        lastError = e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const log = existsSync(path.join(this.dir, 'error.log'))
      ? readFileSync(path.join(this.dir, 'error.log'), 'utf8').slice(-2000)
      : '';
    child.kill('SIGKILL');
    throw new DualdbError('SERVER_START_FAILED', `the local MySQL server did not start on port ${this.port}`, {
      hint: `see ${path.join(this.dir, 'error.log')}`,
      cause: lastError,
      context: { log },
    });
  }

  private async createUserAndDatabase(): Promise<void> {
    const c = await this.rootConnection();
    try {
      await LocalMysqlServer.createUserAndDatabaseWith(c, this.user, this.password, this.database);
    } finally {
      await c.end();
    }
  }

  private static async createUserAndDatabaseWith(
    c: mysql.Connection,
    user: string,
    password: string,
    database: string,
  ): Promise<void> {
    await c.query(`CREATE DATABASE IF NOT EXISTS ${quoteMysqlId(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, host, password]);
      await c.query(`GRANT ALL PRIVILEGES ON ${quoteMysqlId(database)}.* TO ?@?`, [user, host]);
      // PROCESS lets the puller prove that a sequence gap belongs to no open transaction.
      await c.query('GRANT PROCESS ON *.* TO ?@?', [user, host]);
    }
  }

  /**
   * Gives `user` a new password on the running server started in `dir` (by any
   * process), as root over its socket: every host entry of the user is altered.
   * A user that is missing (its creation was interrupted) is created with its
   * database and grants, as on a first start. Returns the hosts changed.
   */
  static async setUserPasswordIn(dir: string, user: string, password: string, database: string): Promise<string[]> {
    const c = await LocalMysqlServer.rootConnectionIn(dir);
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]);
      const hosts = rows.map((r) => String(r.host));
      if (hosts.length === 0) {
        await LocalMysqlServer.createUserAndDatabaseWith(c, user, password, database);
        return ['127.0.0.1', 'localhost', '::1'];
      }
      for (const host of hosts) await c.query('ALTER USER ?@? IDENTIFIED BY ?', [user, host, password]);
      // ALTER USER takes effect at once; the flush only matters for grant tables edited by hand.
      await c.query('FLUSH PRIVILEGES');
      return hosts;
    } finally {
      await c.end();
    }
  }

  /** Creates another database the user may use fully (test isolation). */
  async createDatabase(name: string): Promise<MysqlConfig> {
    const c = await this.rootConnection();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${quoteMysqlId(name)}`);
      await c.query(`CREATE DATABASE ${quoteMysqlId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      for (const host of ['127.0.0.1', 'localhost', '::1']) {
        await c.query(`GRANT ALL PRIVILEGES ON ${quoteMysqlId(name)}.* TO ?@?`, [this.user, host]);
      }
    } finally {
      await c.end();
    }
    return { ...this.config(), database: name };
  }

  /** The pid file a server started in `dir` writes (also for one started by another process). */
  static pidFileIn(dir: string): string {
    return path.join(dir, 'mysqld.pid');
  }

  /** The pid of a live server started in `dir` (by any process), if there is one. */
  static runningPidIn(dir: string): number | undefined {
    const file = LocalMysqlServer.pidFileIn(dir);
    if (!existsSync(file)) return undefined;
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      process.kill(pid, 0);
      return pid;
    } catch (e) {
      // EPERM: alive but not ours to signal; ESRCH: a stale pid file after a crash.
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
    }
  }

  /** Clean shutdown (SIGTERM) of the server started in `dir` by any process; false when none was running. */
  static async stopInDir(dir: string, timeoutMs = 60_000): Promise<boolean> {
    const pid = LocalMysqlServer.runningPidIn(dir);
    if (pid === undefined) return false;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new DualdbError(
      'SERVER_STOP_TIMEOUT',
      `the local MySQL server (pid ${pid}) did not stop within ${timeoutMs / 1000} s`,
      {
        hint: `see ${path.join(dir, 'error.log')}; kill it with \`kill ${pid}\` if it hangs`,
      },
    );
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Clean shutdown (SIGTERM), waiting until the process has exited. */
  async stop(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGTERM');
    await this.exited;
    process.removeListener('exit', this.cleanupHook);
  }

  /** Crash (SIGKILL): no shutdown, as a power cut or an OOM kill would leave it. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
    process.removeListener('exit', this.cleanupHook);
  }

  /** Start again on the same port with the same data. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  /** Stop and delete the data folder. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
