/**
 * TLS diagnoses (issue 15, item 4) against a private MariaDB that serves TLS with a
 * self-signed certificate made here: an account created with REQUIRE SSL and DB_SSL=false,
 * DB_SSL_CA naming a missing file, and the working combination.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findServerBinaries, LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { sslCaProblem } from '../src/engines/mysql/tls.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const PASSWORD = 'Tls-Pa55-word';
const tmp = tempDir('dualdb-tls-');
const cert = path.join(tmp.dir, 'cert.pem');
const key = path.join(tmp.dir, 'key.pem');

describe.skipIf(!findServerBinaries())('TLS', () => {
  let server: LocalMysqlServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = await LocalMysqlServer.start({
      durable: false,
      user: 'plain_user',
      database: 'tls_db',
      extraArgs: [`--ssl-cert=${cert}`, `--ssl-key=${key}`],
    });
    const admin = await server.rootConnection();
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ? REQUIRE SSL', ['tls_user', host, PASSWORD]);
        await admin.query('GRANT ALL PRIVILEGES ON `tls_db`.* TO ?@?', ['tls_user', host]);
      }
    } finally {
      await admin.end();
    }
    openSqlite(path.join(tmp.dir, 'node.db'), { create: true }).close();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NO_COLOR: '1',
      SQLITE_DB_PATH: path.join(tmp.dir, 'node.db'),
      DB_HOST: '127.0.0.1',
      DB_PORT: String(server.config().port),
      DB_USER: 'tls_user',
      DB_PASSWORD: PASSWORD,
      DB_NAME: 'tls_db',
      DB_CONNECT_TIMEOUT: '5',
    };
  });
  afterAll(async () => {
    await server?.destroy();
    tmp.cleanup();
  });

  it('an account with REQUIRE SSL and DB_SSL=false is told that the account requires TLS, and to set DB_SSL=true', () => {
    const r = runCli(['health'], { ...env, DB_SSL: 'false' }, { cwd: tmp.dir });
    const all = r.stdout + r.stderr;
    expect(r.code).toBe(EXIT.MYSQL_UNAVAILABLE);
    expect(all).toContain('MySQL account "tls_user" at 127.0.0.1');
    expect(all).toContain('requires TLS (REQUIRE SSL), and DB_SSL=false connects without it');
    expect(all).toContain('set DB_SSL=true');
    expect(all).not.toContain('wrong user name or password');
    expect(all).not.toContain(PASSWORD);
  });

  it('a wrong password is still a wrong password', () => {
    const r = runCli(['health'], { ...env, DB_SSL: 'false', DB_PASSWORD: 'not-it' }, { cwd: tmp.dir });
    expect(r.stdout + r.stderr).toContain('wrong user name or password');
  });

  it('DB_SSL_CA naming a missing file names the variable and the path', () => {
    const missing = path.join(tmp.dir, 'no-such-ca.pem');
    const r = runCli(['health'], { ...env, DB_SSL: 'true', DB_SSL_CA: missing }, { cwd: tmp.dir });
    const all = r.stdout + r.stderr;
    expect(r.code).not.toBe(EXIT.OK);
    expect(all).toContain(`DB_SSL_CA names ${missing}, which does not exist`);
    expect(all).not.toContain('ENOENT');
    expect(all).not.toContain('see the message above');
  });

  it('DB_SSL=true with the CA file works', () => {
    const r = runCli(['health'], { ...env, DB_SSL: 'true', DB_SSL_CA: cert }, { cwd: tmp.dir });
    expect(r.stdout + r.stderr).not.toMatch(/requires TLS|DB_SSL_CA names/);
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.OK);
  });

  it('the checks the wizard shares: missing, a folder, not a certificate, a good one', () => {
    const notPem = path.join(tmp.dir, 'notes.txt');
    writeFileSync(notPem, 'not a certificate\n');
    expect(sslCaProblem(path.join(tmp.dir, 'x.pem'))).toMatch(/which does not exist$/);
    expect(sslCaProblem(tmp.dir)).toMatch(/is a folder/);
    expect(sslCaProblem(notPem)).toMatch(/holds no PEM certificate/);
    expect(sslCaProblem(cert)).toBeUndefined();
  });
});
