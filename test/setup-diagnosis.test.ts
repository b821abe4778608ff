/**
 * The setup's connection test: each diagnosis comes from a real failure (a name
 * that cannot resolve, a port nobody listens on, a wrong password, a missing
 * database, a user without TRIGGER) with its fix and its ways on; the grants
 * check reads SHOW GRANTS correctly (ALL, wildcards, escapes, roles).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { diagnoseMysqlError } from '../src/engines/mysql/diagnose.js';
import { freePort } from '../src/engines/mysql/local-server.js';
import {
  grantPatternMatches,
  parseGrantLine,
  privilegesFromGrants,
  REQUIRED_PRIVILEGES,
} from '../src/engines/mysql/privileges.js';
import { quoteMysqlId } from '../src/engines/mysql/quote.js';
import { testConnection } from '../src/setup/connection.js';
import { EXIT } from '../src/util/exit-codes.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';

const base: MysqlConfig = {
  host: '127.0.0.1',
  port: 3306,
  user: 'u',
  password: 'Pw-never-shown-1',
  database: 'd',
  ssl: false,
  sslCa: undefined,
  connectTimeoutMs: 3000,
};

describe('grants check (SHOW GRANTS parsing)', () => {
  it('reads privileges, the object, and role grants', () => {
    const g = parseGrantLine('GRANT SELECT, INSERT, CREATE VIEW ON `epi\\_db`.* TO `u`@`%`');
    expect(g).not.toBe('role');
    if (g && g !== 'role') {
      expect([...g.privileges]).toEqual(['SELECT', 'INSERT', 'CREATE VIEW']);
      expect(g.database).toBe('epi\\_db');
      expect(g.table).toBe('*');
    }
    expect(parseGrantLine('GRANT `app_role`@`%` TO `u`@`%`')).toBe('role');
    expect(parseGrantLine("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'")).toMatchObject({ database: '*' });
    const tbl = parseGrantLine('GRANT SELECT ON `d`.`t` TO `u`@`%`');
    expect(tbl !== 'role' && tbl?.table).toBe('t');
  });

  it('matches database patterns the way the server does: _ and % wildcards, \\_ literal', () => {
    expect(grantPatternMatches('epi\\_db', 'epi_db')).toBe(true);
    expect(grantPatternMatches('epi\\_db', 'epiXdb')).toBe(false);
    expect(grantPatternMatches('epi_db', 'epiXdb')).toBe(true);
    expect(grantPatternMatches('site\\_%', 'site_north')).toBe(true);
    expect(grantPatternMatches('site\\_%', 'other')).toBe(false);
    expect(grantPatternMatches('*', 'anything')).toBe(true);
  });

  it('ALL PRIVILEGES covers everything; table-level grants do not count; roles make "missing" uncertain', () => {
    expect(privilegesFromGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION'], 'x')).toMatchObject({
      missing: [],
      missingOptional: [],
    });
    expect(privilegesFromGrants(['GRANT ALL PRIVILEGES ON `x`.* TO `u`@`%`'], 'x')).toMatchObject({
      missing: [],
      missingOptional: ['PROCESS'],
    });
    const onTable = privilegesFromGrants(['GRANT ALL PRIVILEGES ON `x`.`t` TO `u`@`%`'], 'x');
    expect(onTable.missing).toEqual([...REQUIRED_PRIVILEGES]);
    const partial = privilegesFromGrants(
      ['GRANT SELECT, INSERT, UPDATE, DELETE ON `x`.* TO `u`@`%`', 'GRANT `r`@`%` TO `u`@`%`'],
      'x',
    );
    expect(partial.missing).toContain('TRIGGER');
    expect(partial.viaRoles).toBe(true);
    // A grant on another database is not a grant on ours.
    expect(privilegesFromGrants(['GRANT ALL PRIVILEGES ON `other`.* TO `u`@`%`'], 'x').missing).toEqual([...REQUIRED_PRIVILEGES]);
  });
});

describe('diagnoses without a server', () => {
  it('host not found (nonexistent.invalid): unreachable, the fix names the host, two ways on', async () => {
    const c = await testConnection({ ...base, host: 'nonexistent.invalid' });
    expect(c.ok).toBe(false);
    expect(c.diagnosis).toMatchObject({ kind: 'host-not-found', unreachable: true });
    expect(c.diagnosis?.message).toBe('MySQL host "nonexistent.invalid" was not found');
    expect(c.diagnosis?.fix).toContain('Check the host name "nonexistent.invalid"');
    expect(c.diagnosis?.actions).toEqual(expect.arrayContaining(['local-server', 'sqlite-only', 'edit']));
    expect(JSON.stringify(c)).not.toContain(base.password);
  });

  it('connection refused on a free port: "no server is listening", start it', async () => {
    const port = await freePort();
    const c = await testConnection({ ...base, port });
    expect(c.diagnosis).toMatchObject({ kind: 'connection-refused', unreachable: true });
    expect(c.diagnosis?.message).toBe(`connection to MySQL at 127.0.0.1:${port} was refused: no server is listening there`);
    expect(c.diagnosis?.fix).toContain('Start it (e.g. `sudo systemctl start mariadb`)');
    expect(c.diagnosis?.actions).toEqual(expect.arrayContaining(['local-server', 'sqlite-only']));
  });
});

describe.skipIf(!HUB_AVAILABLE)('diagnoses from a private MariaDB', () => {
  let hub: TestHub;
  let m: MysqlConfig;
  beforeAll(async () => {
    hub = await startTestHub();
    m = await hub.freshDatabase('diag');
  });
  afterAll(async () => hub?.close());

  async function user(name: string, password: string, grants: string, on: string): Promise<MysqlConfig> {
    const c = await hub.admin();
    await c.query('DROP USER IF EXISTS ?@?', [name, '%']);
    await c.query('CREATE USER ?@? IDENTIFIED BY ?', [name, '%', password]);
    await c.query(`GRANT ${grants} ON ${on === '*' ? '*' : quoteMysqlId(on)}.* TO ?@?`, [name, '%']);
    await c.end();
    return { ...m, user: name, password };
  }

  it('a user with everything connects with no diagnosis', async () => {
    const c = await testConnection(m); // the test user has ALL on its database and PROCESS
    expect(c).toMatchObject({ ok: true, flavor: 'mariadb' });
    expect(c.diagnosis).toBeUndefined();
    expect(c.privileges).toEqual({ missing: [], missingOptional: [], viaRoles: false });
  });

  it('wrong password: access denied; fix the credentials or create a user', async () => {
    const c = await testConnection({ ...m, password: 'Wrong-password-9' });
    expect(c.diagnosis).toMatchObject({ kind: 'access-denied', unreachable: false });
    expect(c.diagnosis?.message).toBe(`MySQL refused user "${m.user}" at 127.0.0.1:${m.port}: wrong user name or password`);
    expect(c.diagnosis?.actions).toEqual(['edit', 'provision', 'enable-tls', 'sqlite-only']);
    expect(JSON.stringify(c)).not.toContain('Wrong-password-9');
  });

  it('unknown database (a user that may see every database): offer to create it', async () => {
    const wide = await user('diag_wide', 'Wide-pass-1', 'ALL PRIVILEGES', '*');
    const c = await testConnection({ ...wide, database: 'diag_missing_db' });
    expect(c.diagnosis).toMatchObject({ kind: 'unknown-database' });
    expect(c.diagnosis?.message).toBe(`MySQL database "diag_missing_db" does not exist on 127.0.0.1:${m.port}`);
    expect(c.diagnosis?.actions[0]).toBe('create-database');
  });

  it('a database the user may not use: said so, with provisioning offered', async () => {
    const c = await testConnection({ ...m, database: 'diag_not_mine' });
    expect(c.diagnosis).toMatchObject({ kind: 'database-access-denied' });
    expect(c.diagnosis?.actions[0]).toBe('provision');
  });

  it('a user lacking TRIGGER: missing privileges, named', async () => {
    const noTrigger = REQUIRED_PRIVILEGES.filter((p) => p !== 'TRIGGER').join(', ');
    const u = await user('diag_notrig', 'No-trig-pass-1', noTrigger, m.database);
    const c = await testConnection(u);
    expect(c.ok).toBe(false);
    expect(c.privileges?.missing).toEqual(['TRIGGER']);
    expect(c.privileges?.missingOptional).toEqual(['PROCESS']);
    expect(c.diagnosis).toMatchObject({ kind: 'missing-privileges', missing: ['TRIGGER', 'PROCESS'], optionalOnly: false });
    expect(c.diagnosis?.message).toBe(`user "diag_notrig" lacks TRIGGER on database "${m.database}" and PROCESS globally`);
    expect(c.diagnosis?.hint).toContain(`GRANT TRIGGER ON \`${m.database}\`.* TO 'diag_notrig'@'%'`);
    expect(c.diagnosis?.actions[0]).toBe('provision');
  });

  it('only PROCESS missing: connected, with an optional warning', async () => {
    const u = await user('diag_noproc', 'No-proc-pass-1', REQUIRED_PRIVILEGES.join(', '), m.database);
    const c = await testConnection(u);
    expect(c.ok).toBe(true);
    expect(c.diagnosis).toMatchObject({ kind: 'missing-privileges', missing: ['PROCESS'], optionalOnly: true });
    expect(c.diagnosis?.actions[0]).toBe('continue');
  });
});

describe('a statement refused for lack of a privilege (a SELECT-only sync user)', () => {
  it('names the missing privilege and the GRANT that fixes it, as a hub problem (exit 3)', () => {
    const err = Object.assign(new Error('INSERT command denied'), {
      code: 'ER_TABLEACCESS_DENIED_ERROR',
      sqlMessage: "INSERT command denied to user 'ro'@'127.0.0.1' for table `epi`.`_dualdb_nodes`",
    });
    const d = diagnoseMysqlError(err, { host: '127.0.0.1', port: 3306, user: 'ro', database: 'epi' });
    expect(d.message).toMatch(/user "ro" lacks INSERT on database "epi"/);
    expect(d.hint).toContain("GRANT INSERT ON `epi`.* TO 'ro'@'127.0.0.1'");
    expect(d.exitCode).toBe(EXIT.MYSQL_UNAVAILABLE);
  });
});
