/**
 * The setup wizard against a private MariaDB: the diagnoses a real server gives
 * (wrong password, unknown database with "create it", a user lacking TRIGGER),
 * provisioning from the wizard with admin credentials that never show, the
 * schema applied on the hub, and the migration screen (progress, cancel,
 * resume) up to onDone. The migration itself is a stand-in that speaks the
 * library's contract (src/migrate is not needed for these screens).
 */
import { EventEmitter } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config, MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { freePort, LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { REQUIRED_PRIVILEGES } from '../src/engines/mysql/privileges.js';
import { quoteMysqlId } from '../src/engines/mysql/quote.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { type MigrateOptions, setMigrationFactory, type TableProgress } from '../src/setup/migration.js';
import { readSetupState } from '../src/setup/state.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';
import { KEY, renderWizard, type WizardDriver } from './helpers/wizard.js';

let hub: TestHub;
let dir: string;
let cleanup: () => void;
let w: WizardDriver | undefined;
const ADMIN = { user: 'wizard_admin', password: 'Adm1n-Pa55-word' };

beforeAll(async () => {
  if (!HUB_AVAILABLE) return;
  hub = await startTestHub();
  const c = await hub.admin();
  await c.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN.user, '%', ADMIN.password]);
  await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [ADMIN.user, '%']);
  await c.end();
});
afterAll(async () => hub?.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-wizard-hub-'));
});
afterEach(async () => {
  w?.unmount();
  w = undefined;
  setMigrationFactory(undefined);
  await LocalMysqlServer.stopInDir(path.join(dir, '.dualdb', 'mysql')).catch(() => undefined);
  cleanup();
});

const envFile = () => path.join(dir, '.env');
/** A frame with its line breaks (and the indentation after them) folded, for text that wraps. */
const flat = (f: string) => f.replace(/\s*\n\s*/g, ' ');

/** Fills the connection form (step 2) and runs the test (step 3). */
async function connectWith(d: WizardDriver, m: Pick<MysqlConfig, 'host' | 'port' | 'user' | 'password' | 'database'>) {
  await d.waitFor('step 1 of 9');
  await d.press(KEY.enter);
  await d.waitFor('step 2 of 9');
  for (const v of [m.host, String(m.port), m.user, m.password, m.database]) {
    await d.press(KEY.ctrlU);
    await d.type(v);
    await d.press(KEY.tab);
  }
  await d.press(KEY.enter);
  await d.waitFor('step 3 of 9');
  return d.waitGone('connecting to', 20_000);
}

async function userWith(name: string, password: string, grants: string, database: string): Promise<void> {
  const c = await hub.admin();
  await c.query('DROP USER IF EXISTS ?@?', [name, '%']);
  await c.query('CREATE USER ?@? IDENTIFIED BY ?', [name, '%', password]);
  await c.query(`GRANT ${grants} ON ${database === '*' ? '*' : quoteMysqlId(database)}.* TO ?@?`, [name, '%']);
  await c.end();
}

describe.skipIf(!HUB_AVAILABLE)('wizard against a private MariaDB', () => {
  it('wrong password: access denied, the fix, and "create a dedicated user"', async () => {
    const m = await hub.freshDatabase('wz');
    w = renderWizard({ envFile: envFile() });
    const f = await connectWith(w, { ...m, password: 'not-the-password' });
    expect(f).toContain(`MySQL refused user "${m.user}" at 127.0.0.1:${m.port}: wrong user name or password`);
    expect(f).toContain(`Fix: Check the user name and password of "${m.user}"`);
    expect(f).toContain('Create the database and a dedicated user (admin credentials, not stored)');
    expect(f).not.toContain('not-the-password');
    expect(f).toContain('with password ••••••••');
  });

  it('unknown database: offered, created with the user’s own rights, then connected', async () => {
    await userWith('wz_wide', 'Wide-pass-1', 'ALL PRIVILEGES', '*');
    const name = `wz_new_${Date.now()}`;
    w = renderWizard({ envFile: envFile() });
    let f = await connectWith(w, {
      host: '127.0.0.1',
      port: hub.server?.port ?? 3306,
      user: 'wz_wide',
      password: 'Wide-pass-1',
      database: name,
    });
    expect(f).toContain(`MySQL database "${name}" does not exist`);
    expect(f).toContain(`Fix: The database "${name}" does not exist yet: create it`);
    expect(f).toContain(`1. Create the database "${name}"`);
    await w.press(KEY.enter);
    f = await w.waitFor('connected:', 20_000);
    expect(f).toContain('MariaDB');
    const c = await hub.admin();
    const [rows] = await c.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    await c.end();
    expect(rows).toHaveLength(1);
  });

  it('a user lacking TRIGGER: named as missing, with what it is for and the grant to run', async () => {
    const m = await hub.freshDatabase('wz');
    await userWith(
      'wz_notrig',
      'No-trig-pass-1',
      'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE VIEW, CREATE ROUTINE, ALTER ROUTINE',
      m.database,
    );
    w = renderWizard({ envFile: envFile() });
    const f = await connectWith(w, { ...m, user: 'wz_notrig', password: 'No-trig-pass-1' });
    expect(f).toContain(`user "wz_notrig" lacks TRIGGER on database "${m.database}" and PROCESS globally`);
    expect(f).toContain('missing: TRIGGER (change capture), PROCESS (exact late-commit detection)');
    expect(f).toContain(`Fix: Grant TRIGGER on "${m.database}" to "wz_notrig" (and, optionally, PROCESS globally)`);
    expect(f).toContain('1. Create the database and a dedicated user');
    expect(f).toContain('Continue anyway');
  });

  it('only PROCESS missing: a warning, and the setup goes on', async () => {
    const m = await hub.freshDatabase('wz');
    await userWith('wz_noproc', 'No-proc-pass-1', REQUIRED_PRIVILEGES.join(', '), m.database);
    w = renderWizard({ envFile: envFile() });
    const f = await connectWith(w, { ...m, user: 'wz_noproc', password: 'No-proc-pass-1' });
    expect(f).toContain('connected:');
    expect(f).toContain('▲');
    expect(f).toContain('lacks PROCESS globally');
    expect(f).toContain('Fix: Optional: grant PROCESS globally for exact late-commit detection');
    expect(f).toContain('1. Continue to the schema');
  });

  it('provisioning: admin credentials (masked, never stored) create the database and a least-privilege user', async () => {
    const database = `wz_prov_${Date.now()}`;
    const port = hub.server?.port ?? 3306;
    w = renderWizard({ envFile: envFile() });
    let f = await connectWith(w, { host: '127.0.0.1', port, user: 'epi_wizard', password: 'whatever', database });
    expect(f).toContain('MySQL refused user "epi_wizard"');
    await w.press('2'); // Create the database and a dedicated user
    f = await w.waitFor('step 5 of 9');
    expect(f).toContain('The admin credentials are used once and never stored.');
    expect(f).toMatch(/Admin user\s+root/);
    expect(f).toMatch(/New user\s+epi_wizard/);
    expect(flat(f)).toContain(`Grants: ${REQUIRED_PRIVILEGES.join(', ')} on \`${database}\`; PROCESS globally`);
    await w.press(KEY.ctrlU);
    await w.type(ADMIN.user);
    await w.press(KEY.tab);
    await w.type(ADMIN.password);
    f = w.frame();
    expect(f).not.toContain(ADMIN.password);
    expect(f).toMatch(new RegExp(`Admin pass\\s+•{${ADMIN.password.length}}`));
    await w.press(KEY.enter);
    f = await w.waitFor('user epi_wizard created', 20_000);
    expect(f).toContain(`database ${database} created`);
    expect(f).toContain('generated password: 32 characters, saved in .env only (never shown)');
    await w.press(KEY.enter);
    f = await w.waitFor('connected:', 20_000);
    expect(f).toContain('privileges: everything dualdb needs');
    // Through to the end: the .env holds the generated password, never the admin's.
    await w.press(KEY.enter); // continue to the schema
    await w.waitFor('No tables on either side yet', 20_000);
    await w.press('2'); // create nothing
    await w.waitFor('step 7 of 9');
    // With the migration library: nothing to copy; without it: said so. Either way Enter goes on.
    await w.waitFor(/No rows on either side|not part of this build/, 20_000);
    await w.press(KEY.enter);
    await w.waitFor('step 8 of 9');
    await w.press(KEY.enter);
    await w.waitFor('capture installed', 20_000);
    await w.press(KEY.enter);
    await w.waitFor('saved');
    const env = readFileSync(envFile(), 'utf8');
    expect(env).toContain('DB_USER=epi_wizard');
    expect(env).not.toContain(ADMIN.password);
    expect(env).not.toContain(ADMIN.user);
    const generated = /^DB_PASSWORD=(.*)$/m.exec(env)?.[1] ?? '';
    expect(generated.length).toBe(32);
    for (const frame of w.frames()) {
      expect(frame).not.toContain(ADMIN.password);
      expect(frame).not.toContain(generated);
    }
  });

  it('from nothing to the monitor: EPI schema on the hub, migration with progress, cancel and resume', async () => {
    const m = await hub.freshDatabase('wz');
    // An existing site: a SQLite file with data and no hub tables yet.
    const sqlitePath = path.join(dir, 'site.db');
    const db = openSqlite(sqlitePath, { create: true });
    db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT NOT NULL, score REAL)');
    db.exec('CREATE TABLE alerts (id INTEGER PRIMARY KEY, detection_id INTEGER REFERENCES detections(id), note TEXT)');
    const ins = db.prepare('INSERT INTO detections (label, score) VALUES (?, ?)');
    for (let i = 0; i < 300; i++) ins.run(`helmet-${i}`, i / 3);
    db.close();
    writeFileSync(envFile(), 'SQLITE_DB_PATH=site.db\n');

    // A stand-in for src/migrate: reports progress per table, obeys the abort signal.
    const runs: MigrateOptions[] = [];
    setMigrationFactory((_config: Config, options: MigrateOptions = {}) => {
      runs.push(options);
      const e = new EventEmitter<{ progress: [TableProgress] }>();
      return Object.assign(e, {
        async run() {
          const tables = [
            { table: 'detections', rowsTotal: 300 },
            { table: 'alerts', rowsTotal: 0 },
          ];
          for (const t of tables) e.emit('progress', { ...t, rowsDone: 0, rowsPerSec: 0, etaSec: null, state: 'waiting' });
          for (const t of tables) {
            const start = options.resume ? 200 : 0;
            for (let done = start; done <= t.rowsTotal; done += 50) {
              if (options.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
              e.emit('progress', {
                ...t,
                rowsDone: done,
                rowsPerSec: 1234,
                etaSec: (t.rowsTotal - done) / 1234,
                state: 'copying',
              });
              await new Promise((r) => setTimeout(r, options.resume ? 5 : 120));
            }
            e.emit('progress', { ...t, rowsDone: t.rowsTotal, rowsPerSec: 1234, etaSec: 0, state: 'done' });
          }
          return { tables: tables.length };
        },
      });
    });

    w = renderWizard({ envFile: envFile() });
    let f = await w.waitFor('step 1 of 9');
    expect(f).toMatch(/2 tables · 300 rows/);
    f = await connectWith(w, m);
    expect(f).toContain('connected:');
    await w.press(KEY.enter); // continue anyway (PROCESS is optional)
    f = await w.waitFor('step 6 of 9');
    f = await w.waitFor('to create on the hub', 20_000);
    expect(f).toContain('2 tables to create on the hub');
    expect(f).toContain('+ create on MySQL (2): detections, alerts');
    // The exact DDL is there to read before anything runs.
    expect(f).toContain('the statements that will run (2):');
    expect(f).toMatch(/CREATE TABLE `detections`/);
    expect(f).toContain('1. Apply this schema');
    await w.press(KEY.enter);
    f = await w.waitFor('schema applied', 20_000);
    expect(f).toContain('✔ MySQL  detections');
    const h = await MysqlHub.connect(m);
    const tables = await h.query<{ TABLE_NAME: string }>(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_dualdb\\_%' ORDER BY 1",
    );
    expect(tables.map((t) => t.TABLE_NAME)).toEqual(['alerts', 'detections']);
    await h.close();
    await w.press(KEY.enter);

    // Step 7: copy, watch the bars, cancel with Esc.
    f = await w.waitFor('Copy now: 300 rows SQLite → MySQL', 20_000);
    expect(f).toContain('Check the data first');
    await w.press(KEY.enter);
    f = await w.waitFor('rows/s', 20_000);
    expect(f).toMatch(/detections\s+[█░]+\s+\d+%\s+\d+\/300\s+1,234 rows\/s\s+ETA \d+ s/);
    expect(f).toContain('Esc or Ctrl+C cancels');
    await w.press(KEY.esc);
    f = await w.waitFor('cancelled:', 10_000);
    expect(f).toContain('1. Resume now');
    expect(readSetupState(envFile()).migration?.status).toBe('interrupted');
    expect(runs[0]?.signal?.aborted).toBe(true);

    // Resume now: continues, then done.
    await w.press(KEY.enter);
    f = await w.waitFor('copied and verified', 20_000);
    expect(runs[1]?.resume).toBe(true);
    expect(runs[1]?.direction).toBe('sqlite-to-mysql');
    expect(readSetupState(envFile()).migration?.status).toBe('done');
    await w.press(KEY.enter);

    // Step 8, 9, and the monitor.
    await w.waitFor('step 8 of 9');
    await w.press(KEY.right, 2); // both
    await w.press(KEY.enter);
    f = await w.waitFor('capture installed', 20_000);
    expect(f).toContain('on 2 tables, both sides');
    expect(f).toMatch(/generated keys: (alerts, detections|detections, alerts)/);
    await w.press(KEY.enter);
    f = await w.waitFor('saved');
    expect(f).toContain(`${m.user}@127.0.0.1:${m.port}/${m.database}, password ••••••••`);
    expect(f).toContain('both, pull every 1 s, conflicts: node-wins');
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    await w.press(KEY.enter);
    expect(w.done).toHaveLength(1);
    expect(w.done[0]?.dualDatabase).toBe(true);
    expect(w.done[0]?.sync.mode).toBe('both');
    for (const frame of w.frames()) expect(frame).not.toContain(m.password);
  });

  it('provisioning a user that exists: reset its password (or keep it), never silently', async () => {
    const m = await hub.freshDatabase('wz');
    await userWith('wz_exists', 'Old-pass-1', 'SELECT', m.database);
    w = renderWizard({ envFile: envFile() });
    let f = await connectWith(w, { ...m, user: 'wz_exists', password: 'Old-pass-1' });
    expect(f).toContain('lacks INSERT, UPDATE');
    await w.press(KEY.enter); // create the database and a dedicated user
    await w.waitFor('step 5 of 9');
    await w.press(KEY.ctrlU);
    await w.type(ADMIN.user);
    await w.press(KEY.tab);
    await w.type(ADMIN.password);
    await w.press(KEY.enter);
    f = await w.waitFor('exists already', 20_000);
    expect(f).toContain('MySQL user "wz_exists"@"%" exists already');
    expect(f).toContain('1. Reset its password');
    expect(f).toContain('2. Keep its password, only grant');
    await w.press(KEY.enter);
    f = await w.waitFor('has a new password', 20_000);
    await w.press(KEY.enter);
    f = await w.waitFor('connected:', 20_000);
    expect(f).toContain('privileges: everything dualdb needs');
  });

  it('no server reachable: start a private local server from the wizard, then connected to it', async () => {
    w = renderWizard({ envFile: envFile() });
    let f = await connectWith(w, { host: '127.0.0.1', port: await freePort(), user: 'x', password: 'y', database: 'epi_local' });
    expect(f).toContain('was refused');
    await w.press(KEY.enter);
    await w.waitFor('step 4 of 9');
    await w.press(KEY.enter); // start a private local server
    f = await w.waitFor('private server created, running on 127.0.0.1:', 120_000);
    // Only what is true now: no "No MySQL server answered" above the server that now answers.
    expect(f).not.toContain('No MySQL server answered');
    expect(f).not.toContain('Start a private local server');
    expect(f).toContain('user dualdb, database epi_local');
    expect(f).toContain('To start it again later (after a reboot): dualdb server start');
    await w.press(KEY.enter);
    f = await w.waitFor('connected:', 30_000);
    expect(f).toContain('Testing dualdb@127.0.0.1:');
    expect(f).not.toContain('Continue anyway');
    await LocalMysqlServer.stopInDir(path.join(dir, '.dualdb', 'mysql'));
  });

  it('re-running setup after a cancelled copy offers to resume it', async () => {
    const m = await hub.freshDatabase('wz');
    const sqlitePath = path.join(dir, 'site.db');
    const db = openSqlite(sqlitePath, { create: true });
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.prepare('INSERT INTO t (v) VALUES (?)').run('x');
    db.close();
    writeFileSync(envFile(), 'SQLITE_DB_PATH=site.db\n');
    const { writeSetupState } = await import('../src/setup/state.js');
    writeSetupState(envFile(), {
      migration: {
        status: 'interrupted',
        direction: 'sqlite-to-mysql',
        endpoint: `${m.host}:${m.port}/${m.database}`,
        sqlitePath,
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
    });
    setMigrationFactory(() => Object.assign(new EventEmitter<{ progress: [TableProgress] }>(), { run: async () => ({}) }));
    w = renderWizard({ envFile: envFile() });
    let f = await w.waitFor('step 1 of 9');
    expect(f).toContain('an initial migration was interrupted: step 7 offers to resume it');
    await connectWith(w, m);
    await w.press(KEY.enter);
    await w.waitFor('1 table to create on the hub', 20_000);
    await w.press(KEY.enter);
    await w.waitFor('schema applied', 20_000);
    await w.press(KEY.enter);
    f = await w.waitFor('Resume the interrupted copy (1 row SQLite → MySQL)', 20_000);
    expect(f).toContain('stopped 2026-01-01T00:00:00.000Z');
  });
});
