/**
 * The MySQL side of the test suite: a private MariaDB per test file (started
 * from the installed mariadbd, temp datadir, free loopback port, a real
 * password-protected user), or the server named by MYSQL_URL when set.
 * When neither is possible the MySQL tests are skipped loudly, except under
 * CI=true, where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../src/config/config.js';
import { findServerBinaries, LocalMysqlServer } from '../../src/engines/mysql/local-server.js';
import { quoteMysqlId } from '../../src/engines/mysql/quote.js';
import { TEST_DATABASE, TEST_USER, templateDataDir } from './hub-template.js';

const url = process.env.MYSQL_URL;
const binaries = findServerBinaries();

/** Whether MySQL tests can run here. */
export const HUB_AVAILABLE = Boolean(url || binaries);
/** Whether the server is ours to stop, kill and restart (not with MYSQL_URL). */
export const HUB_CRASHABLE = !url && Boolean(binaries);

if (!HUB_AVAILABLE) {
  const msg =
    '\n*** MySQL TESTS SKIPPED: no mariadbd/mysqld binary and no MYSQL_URL. Install mariadb-server or set MYSQL_URL. ***\n';
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(msg);
}

export interface TestHub {
  /** The private server (undefined with MYSQL_URL). */
  server: LocalMysqlServer | undefined;
  /** A new, empty database for one test, usable by the test user. */
  freshDatabase(prefix?: string): Promise<MysqlConfig>;
  /** Root-level connection for test setup and inspection. */
  admin(database?: string): Promise<mysql.Connection>;
  close(): Promise<void>;
}

function configFromUrl(u: string): MysqlConfig {
  const p = new URL(u);
  return {
    host: p.hostname,
    port: Number(p.port || 3306),
    user: decodeURIComponent(p.username),
    password: decodeURIComponent(p.password),
    database: p.pathname.replace(/^\//, '') || 'test',
    ssl: false,
    sslCa: undefined,
    connectTimeoutMs: 3000,
  };
}

export async function startTestHub(): Promise<TestHub> {
  if (url) {
    const base = configFromUrl(url);
    const admin = (database?: string) =>
      mysql.createConnection({
        host: base.host,
        port: base.port,
        user: base.user,
        password: base.password,
        charset: 'UTF8MB4_UNICODE_CI',
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        ...(database ? { database } : {}),
      });
    return {
      server: undefined,
      admin,
      async freshDatabase(prefix = 't') {
        const name = `${prefix}_${randomBytes(4).toString('hex')}`;
        const c = await admin();
        await c.query(`CREATE DATABASE ${quoteMysqlId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
        await c.end();
        return { ...base, database: name };
      },
      async close() {},
    };
  }
  const server = await startPrivateServer();
  return {
    server,
    admin: (database?: string) => server.rootConnection(database),
    freshDatabase: (prefix = 't') => server.createDatabase(`${prefix}_${randomBytes(4).toString('hex')}`),
    close: () => server.destroy(),
  };
}

/**
 * The private server of a test file: a copy of the run's template data folder (hub-template.ts)
 * started in `dir` (default: a new temp folder) with the test user given a new random password,
 * or, without a template, a server initialised from scratch.
 */
export async function startPrivateServer(options: { dir?: string; extraArgs?: string[] } = {}): Promise<LocalMysqlServer> {
  const base = { durable: false, user: TEST_USER, database: TEST_DATABASE, extraArgs: options.extraArgs };
  const template = await templateDataDir();
  if (!template) return LocalMysqlServer.start({ ...base, ...(options.dir ? { dir: options.dir } : {}) });
  const dir = options.dir ?? path.join(os.tmpdir(), `dualdb-mysql-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  cpSync(template, path.join(dir, 'data'), { recursive: true });
  const password = randomBytes(18).toString('base64url');
  const server = await LocalMysqlServer.start({ ...base, dir, password });
  try {
    await LocalMysqlServer.setUserPasswordIn(dir, TEST_USER, password, TEST_DATABASE);
  } catch (e) {
    await server.destroy();
    throw e;
  }
  return server;
}
