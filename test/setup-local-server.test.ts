/**
 * The private server of `dualdb setup` when its password is lost: a setup
 * cancelled after it started the server and before it wrote the .env used to
 * leave a running server whose generated password nobody knew, and every later
 * setup failed with "MySQL refused user dualdb". Starting it again without a
 * password now gives its user a new one (as root over the server's socket),
 * whether the server is still running or was stopped; a password that works is
 * kept; `dualdb server start` changes nothing. And a cancelled setup says what
 * it left behind instead of "nothing was saved".
 */
import path from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import {
  localServerBinary,
  localServerDir,
  localServerStatus,
  startLocalServer,
  stopLocalServer,
} from '../src/setup/local-server.js';
import { cancelledMessage, SetupSession } from '../src/setup/session.js';
import { redact } from '../src/util/redact.js';
import { tempDir } from './helpers/tmp.js';

const BINARY = localServerBinary() !== undefined;
if (!BINARY) process.stderr.write('\n*** PRIVATE SERVER TESTS SKIPPED: no mariadbd/mysqld installed. ***\n');

/** A real login and real work with these credentials: who we are, and a table created, written and read. */
async function works(m: MysqlConfig): Promise<void> {
  const h = await MysqlHub.connect(m);
  try {
    const who = await h.query<{ u: string; d: string }>('SELECT CURRENT_USER() AS u, DATABASE() AS d');
    expect(who[0]?.u).toMatch(/^dualdb@/);
    expect(who[0]?.d).toBe(m.database);
    await h.query('CREATE TABLE IF NOT EXISTS probe (id INT PRIMARY KEY)');
    await h.query('REPLACE INTO probe VALUES (1)');
    expect(await h.query('SELECT id FROM probe')).toEqual([{ id: 1 }]);
  } finally {
    await h.close();
  }
}

async function refused(m: MysqlConfig): Promise<void> {
  await expect(MysqlHub.connect(m)).rejects.toMatchObject({ kind: 'access-denied' });
}

describe.skipIf(!BINARY)('the private server after a setup that lost its password', () => {
  let dir: string;
  let cleanup: () => void;
  let envFile: string;
  let first: MysqlConfig;

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir('dualdb-lost-'));
    envFile = path.join(dir, '.env');
    // What setup does first: create and start the server with a generated password…
    const r = await startLocalServer({ envFile, database: 'epi_detection_db' });
    expect(r.created).toBe(true);
    first = r.mysql;
    await works(first);
    // …and then it is cancelled: no .env, the password is gone.
  }, 180_000);

  afterAll(async () => {
    // A server started here must not outlive the test file.
    if (dir) await LocalMysqlServer.stopInDir(localServerDir(path.join(dir, '.env'))).catch(() => undefined);
    cleanup?.();
  });

  it('running: started again without a password, its user gets a new one that works', async () => {
    expect(localServerStatus(localServerDir(envFile)).running).toBe(true);
    const r = await startLocalServer({ envFile, database: 'epi_detection_db' });
    // The credentials returned work (what setup writes to the .env).
    await works(r.mysql);
    expect(r.created).toBe(false);
    expect(r.alreadyRunning).toBe(true);
    expect(r.passwordReset).toBe(true);
    expect(r.mysql.password).toHaveLength(32);
    expect(r.mysql.password).not.toBe(first.password);
    expect(r.mysql.port).toBe(first.port);
    // Every host entry of the user has the new password, none kept the lost one.
    await refused(first);
    const root = await LocalMysqlServer.rootConnectionIn(localServerDir(envFile));
    try {
      const [rows] = await root.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS n, COUNT(DISTINCT authentication_string) AS k FROM mysql.user WHERE User = ?',
        ['dualdb'],
      );
      expect([Number(rows[0]?.n), Number(rows[0]?.k)]).toEqual([3, 1]);
    } finally {
      await root.end();
    }
    // A secret like any other: never in a log line.
    expect(redact(`password ${r.mysql.password}`)).not.toContain(r.mysql.password);
    first = r.mysql;
  });

  it('stopped: started again without a password, it starts and its user gets a new one that works', async () => {
    expect(await stopLocalServer(envFile)).toBe(true);
    expect(localServerStatus(localServerDir(envFile)).running).toBe(false);
    const r = await startLocalServer({ envFile, database: 'epi_detection_db' });
    await works(r.mysql);
    expect(r.created).toBe(false);
    expect(r.alreadyRunning).toBe(false);
    expect(r.passwordReset).toBe(true);
    expect(r.mysql.password).not.toBe(first.password);
    await refused(first);
    first = r.mysql;
  });

  it('a password that works (the .env’s) is kept, running or stopped', async () => {
    let r = await startLocalServer({ envFile, database: 'epi_detection_db', password: first.password });
    expect(r.passwordReset).toBe(false);
    expect(r.mysql.password).toBe(first.password);
    await stopLocalServer(envFile);
    r = await startLocalServer({ envFile, database: 'epi_detection_db', password: first.password });
    expect(r.alreadyRunning).toBe(false);
    expect(r.passwordReset).toBe(false);
    expect(r.mysql.password).toBe(first.password);
    await works(r.mysql);
  });

  it('a password the server refuses is replaced; `dualdb server start` (keepPassword) changes nothing', async () => {
    const wrong = await startLocalServer({ envFile, database: 'epi_detection_db', password: 'not-the-password' });
    expect(wrong.passwordReset).toBe(true);
    await works(wrong.mysql);
    await stopLocalServer(envFile);
    const kept = await startLocalServer({ envFile, database: 'epi_detection_db', keepPassword: true });
    expect(kept.passwordReset).toBe(false);
    expect(kept.alreadyRunning).toBe(false);
    await works(wrong.mysql);
    first = wrong.mysql;
  });

  it('a new setup without the .env reuses the server and connects; a cancel says what is still there', async () => {
    const s = new SetupSession({ envFile });
    try {
      expect(s.discovery.localServer.running).toBe(true);
      // The server ran before this setup and it did nothing yet: nothing of its own is left behind.
      expect(s.leftBehind()).toEqual([]);
      expect(cancelledMessage(s.leftBehind())).toBe('setup cancelled; nothing was saved');
      const r = await s.startLocalServer();
      const c = await s.testConnection();
      expect(c.ok).toBe(true);
      expect(r.passwordReset).toBe(true);
      expect(s.answers.mysql.password).toBe(r.mysql.password);
      const left = s.leftBehind();
      const flavor = localServerStatus(localServerDir(envFile)).marker?.flavor === 'mysql' ? 'MySQL' : 'MariaDB';
      expect(left).toEqual([
        `the private ${flavor} server in ${localServerDir(envFile)} (running; \`dualdb server stop --env-file ${envFile}\` stops it, running setup again reuses it)`,
      ]);
      expect(cancelledMessage(left)).toBe(`setup cancelled; no .env was written. Still there: ${left[0]}`);
    } finally {
      await s.close();
    }
  });
});
