/**
 * Provisioning with admin credentials: the database and a dedicated user with a
 * generated password and exactly the listed grants (checked with SHOW GRANTS),
 * names passed as placeholders (a quote in a user name stays a quote), the
 * database name escaped in the grant pattern, and the admin password written
 * nowhere (.env, log).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { OPTIONAL_GLOBAL_PRIVILEGES, parseGrantLine, REQUIRED_PRIVILEGES } from '../src/engines/mysql/privileges.js';
import { quoteMysqlId } from '../src/engines/mysql/quote.js';
import { generatePassword, grantDatabasePattern, provisionHub } from '../src/setup/provision.js';
import { SetupSession } from '../src/setup/session.js';
import { isDualdbError } from '../src/util/errors.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const ADMIN = { user: 'prov_admin', password: 'Prov-Admin-Secret-42' };

describe('generated passwords', () => {
  it('are 32 characters from the CSPRNG, with every class, different each time, .env-safe', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(32);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[-_.+]/);
      expect(p).toMatch(/^[A-Za-z0-9_.+-]+$/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });

  it('database grant patterns escape the wildcards', () => {
    expect(grantDatabasePattern('epi_detection_db')).toBe('`epi\\_detection\\_db`');
    expect(grantDatabasePattern('a%b')).toBe('`a\\%b`');
  });
});

describe.skipIf(!HUB_AVAILABLE)('provisioning on a private MariaDB', () => {
  let hub: TestHub;
  let port: number;
  let dir: string;
  let cleanup: () => void;
  const admin = () => ({ host: '127.0.0.1', port, ...ADMIN, ssl: false, sslCa: undefined, connectTimeoutMs: 5000 });

  beforeAll(async () => {
    hub = await startTestHub();
    port = hub.server?.port ?? 3306;
    const c = await hub.admin();
    await c.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN.user, '%', ADMIN.password]);
    await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [ADMIN.user, '%']);
    await c.end();
  });
  afterAll(async () => hub?.close());
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('dualdb-prov-'));
  });
  afterEach(() => cleanup());

  async function grantsOf(user: string, host = '%'): Promise<string[]> {
    const c = await hub.admin();
    const [rows] = await c.query('SHOW GRANTS FOR ?@?', [user, host]);
    await c.end();
    return (rows as Record<string, string>[]).map((r) => String(Object.values(r)[0]));
  }

  it('creates the database and a user with exactly the listed grants', async () => {
    const database = `prov_db_${Date.now()}`;
    const r = await provisionHub({ admin: admin(), database, user: 'epi_prov', userHost: '%' });
    expect(r).toMatchObject({ databaseCreated: true, userCreated: true, passwordReset: false, user: 'epi_prov' });
    expect(r.password).toHaveLength(32);

    const lines = await grantsOf('epi_prov');
    expect(lines).toHaveLength(2);
    const parsed = lines.map((l) => parseGrantLine(l));
    const global = parsed.find((g) => g && g !== 'role' && g.database === '*');
    const onDb = parsed.find((g) => g && g !== 'role' && g.database !== '*');
    if (!global || global === 'role' || !onDb || onDb === 'role') throw new Error(`unexpected grants: ${lines.join('\n')}`);
    expect([...global.privileges].sort()).toEqual([...OPTIONAL_GLOBAL_PRIVILEGES].sort());
    expect([...onDb.privileges].sort()).toEqual([...REQUIRED_PRIVILEGES].sort());
    // The database name is escaped in the grant: `prov\_db\_…`, not a pattern.
    expect(onDb.database).toBe(database.replaceAll('_', '\\_'));

    // The new user works with the generated password, and only on its database.
    const h = await MysqlHub.connect({ ...admin(), user: 'epi_prov', password: r.password as string, database });
    await h.execute('CREATE TABLE t (id INT PRIMARY KEY)');
    await h.execute('CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW SET @x = 1');
    await h.close();
    const lookAlike = database.replace('_db_', 'XdbX');
    const c = await hub.admin();
    await c.query(`CREATE DATABASE ${quoteMysqlId(lookAlike)}`);
    await c.end();
    await expect(
      MysqlHub.connect({ ...admin(), user: 'epi_prov', password: r.password as string, database: lookAlike }),
    ).rejects.toMatchObject({ kind: 'database-access-denied' });
  });

  it('without PROCESS when declined; names travel as placeholders (a quote stays a quote)', async () => {
    const database = `prov_np_${Date.now()}`;
    const odd = "o'brien\\x";
    const r = await provisionHub({ admin: admin(), database, user: odd, userHost: '%', grantProcess: false });
    expect(r.userCreated).toBe(true);
    const lines = await grantsOf(odd);
    expect(lines.join('\n')).not.toContain('PROCESS');
    expect(lines.some((l) => l.startsWith('GRANT USAGE ON *.*'))).toBe(true);
    const c = await hub.admin();
    const [rows] = await c.query('SELECT User FROM mysql.user WHERE User = ?', [odd]);
    await c.end();
    expect(rows).toEqual([{ User: odd }]);
  });

  it('an existing user: refused by default, kept (grants only) or given a new password on request', async () => {
    const database = `prov_ex_${Date.now()}`;
    const first = await provisionHub({ admin: admin(), database, user: 'epi_again', userHost: '%' });
    const again = provisionHub({ admin: admin(), database, user: 'epi_again', userHost: '%' });
    await expect(again).rejects.toMatchObject({ code: 'USER_EXISTS' });
    const kept = await provisionHub({
      admin: admin(),
      database,
      user: 'epi_again',
      userHost: '%',
      existingUser: 'keep-password',
    });
    expect(kept).toMatchObject({ userCreated: false, passwordReset: false, password: undefined, databaseCreated: false });
    const reset = await provisionHub({
      admin: admin(),
      database,
      user: 'epi_again',
      userHost: '%',
      existingUser: 'reset-password',
    });
    expect(reset.passwordReset).toBe(true);
    expect(reset.password).not.toBe(first.password);
    const login = { ...admin(), user: 'epi_again', database };
    await expect(MysqlHub.connect({ ...login, password: first.password as string })).rejects.toMatchObject({
      kind: 'access-denied',
    });
    const h = await MysqlHub.connect({ ...login, password: reset.password as string });
    await h.close();
  });

  it('refuses to "provision" root or the admin account itself', async () => {
    for (const user of ['root', ADMIN.user]) {
      await expect(provisionHub({ admin: admin(), database: 'prov_root', user, userHost: '%' })).rejects.toMatchObject({
        code: 'USER_NOT_DEDICATED',
      });
    }
  });

  it('a wrong admin password: one line naming the step, the password nowhere in it', async () => {
    const err = await provisionHub({
      admin: { ...admin(), password: 'Not-The-Admin-Pw-7' },
      database: 'prov_x',
      user: 'epi_x',
      userHost: '%',
    }).catch((e: unknown) => e);
    expect(isDualdbError(err)).toBe(true);
    expect((err as Error).message).toContain(`MySQL refused user "${ADMIN.user}"`);
    expect(JSON.stringify({ m: (err as Error).message, h: (err as { hint?: string }).hint })).not.toContain('Not-The-Admin-Pw-7');
  });

  it('through a setup session: the .env (0600) holds the generated password; the admin password is written nowhere', async () => {
    const database = `prov_sess_${Date.now()}`;
    const s = new SetupSession({ envFile: path.join(dir, '.env') });
    s.setMysql({ host: '127.0.0.1', port, user: 'epi_sess', password: '', database });
    const r = await s.provision({ admin: { user: ADMIN.user, password: ADMIN.password } });
    const check = await s.testConnection();
    expect(check.ok).toBe(true);
    expect(check.diagnosis).toBeUndefined();
    await s.installCapture();
    const config = s.save();
    await s.close();
    expect(config.mysql.user).toBe('epi_sess');
    expect(config.mysql.password).toBe(r.password);
    const env = readFileSync(path.join(dir, '.env'), 'utf8');
    expect(statSync(path.join(dir, '.env')).mode & 0o777).toBe(0o600);
    expect(env).toContain(`DB_PASSWORD=${r.password}`);
    expect(env).not.toContain(ADMIN.password);
    const log = readFileSync(config.log.file, 'utf8');
    expect(log).toContain('setup: provisioned new database');
    expect(log).not.toContain(ADMIN.password);
    expect(log).not.toContain(r.password as string);
  });
});
