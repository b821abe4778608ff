/**
 * `dualdb setup --quick` as scripts run it (a separate process, flags and
 * environment, no terminal): end to end to a working node (schema on the hub,
 * capture on both sides, .env 0600, `dualdb health` exit 0), the private local
 * server and `dualdb server start|stop|status`, one line per problem with a
 * non-zero exit, secrets nowhere, and the no-terminal behaviour of the
 * interactive forms.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SETUP_NEEDS_TTY } from '../src/cli/commands/setup.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { loadMigration } from '../src/setup/migration.js';
import { cliArgs, cliEnv, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const ADMIN = { user: 'quick_admin', password: 'Quick-Admin-Secret-99' };

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-quick-'));
});
afterEach(async () => {
  // A private server started by a test must not outlive it.
  await LocalMysqlServer.stopInDir(path.join(dir, '.dualdb', 'mysql')).catch(() => undefined);
  cleanup();
});

/** A clean environment: nothing from the developer's shell leaks into the setup. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...extra };
}

const cli = (args: string[], extra: Record<string, string> = {}, timeoutMs = 120_000) =>
  runCli(args, env(extra), { cwd: dir, timeoutMs });

describe('no terminal', () => {
  it('`dualdb setup` and `--plain` refuse at once with the way out, exit 2', () => {
    for (const args of [['setup'], ['setup', '--plain']]) {
      const t0 = Date.now();
      const r = cli(args, {}, 15_000);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(SETUP_NEEDS_TTY);
      expect(r.stdout).toBe('');
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('`--plain` with a stdin pipe held open (no terminal, nothing ever typed) refuses instead of waiting', async () => {
    const child = spawn(process.execPath, cliArgs(['setup', '--plain']), {
      env: cliEnv(env()),
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    // A hang is killed here and shows as a null exit code; the stdin pipe is never written to nor closed.
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(guard);
    child.stdin.destroy();
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(SETUP_NEEDS_TTY);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('--quick refuses bad input before touching anything', () => {
  it('one line per problem, exit 2, secrets not echoed, nothing written', () => {
    const r = cli(
      [
        'setup',
        '--quick',
        '--port',
        'abc',
        '--mode',
        'fast',
        '--schema',
        'everything',
        '--key-collisions',
        'sideways',
        '--password',
        'Hunter2-secret',
        '--local-server',
        '--sqlite-only',
      ],
      { SYNC_INTERVAL: 'soon' },
    );
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      'dualdb setup: --password is not accepted: secrets never go in process arguments; set DB_PASSWORD in the environment',
      'dualdb setup: --port "abc" is not valid: accepted: a whole number from 1 to 65535',
      'dualdb setup: --mode "fast" is not valid: accepted: sqlite_primary, mysql_primary, both',
      'dualdb setup: --key-collisions "sideways" is not valid: accepted: rekey-node, rekey-hub, manual',
      'dualdb setup: --schema "everything" is not valid: accepted: auto, epi, none',
      'dualdb setup: SYNC_INTERVAL="soon" in the environment is not valid: accepted: seconds, a number from 0.1 to 86400',
      'dualdb setup: --local-server and --sqlite-only exclude each other: choose one',
      'dualdb setup: --local-server runs its own server on 127.0.0.1: leave out --host and --port',
    ]);
    expect(r.stderr + r.stdout).not.toContain('Hunter2-secret');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--admin-user without DUALDB_ADMIN_PASSWORD, and hub flags with --sqlite-only', () => {
    const r = cli(['setup', '--quick', '--admin-user', 'root', '--sqlite-only', '--migrate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'dualdb setup: --admin-user needs the admin password in the environment variable DUALDB_ADMIN_PASSWORD (never a flag)\n',
    );
    expect(r.stderr).toContain(
      'dualdb setup: --admin-user creates a dedicated user: name it with --user (e.g. --user epi_sync), not root nor the admin account\n',
    );
    expect(r.stderr).toContain('dualdb setup: --admin-user needs a hub, but --sqlite-only has none: leave out one of them\n');
    expect(r.stderr).toContain('dualdb setup: --migrate needs a hub, but --sqlite-only has none: leave out one of them\n');
  });

  it('a password the .env cannot hold: said before any work, exit 2, nothing written', () => {
    const r = cli(['setup', '--quick', '--host', 'nonexistent.invalid'], { DB_PASSWORD: 'it\'s "odd" `x` #1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dualdb setup: DB_PASSWORD cannot be written to the \.env: .*; nothing was changed\n$/);
    expect(r.stderr).not.toContain('odd');
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unreachable hub: one line with the diagnosis and the fix, exit 3, nothing written', () => {
    const r = cli(['setup', '--quick', '--host', 'nonexistent.invalid']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([
      'dualdb setup: Test the connection failed: MySQL host "nonexistent.invalid" was not found — Check the host name "nonexistent.invalid" (spelling, DNS, /etc/hosts), or use an IP address.',
    ]);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('--quick, SQLite only', () => {
  it('DUAL_DATABASE=false, EPI schema locally, capture installed, health 0', () => {
    const r = cli(['setup', '--quick', '--sqlite-only', '--schema', 'epi', '--key-collisions', 'rekey-hub']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✔ Install change capture: node ');
    expect(r.stdout).toContain('SQLite only: changes queue until a hub is configured');
    const envText = readFileSync(path.join(dir, '.env'), 'utf8');
    expect(envText).toContain('DUAL_DATABASE=false');
    expect(envText).toMatch(/^SYNC_KEY_COLLISIONS=rekey-hub$/m);
    expect(statSync(path.join(dir, '.env')).mode & 0o777).toBe(0o600);
    const db = openSqlite(path.join(dir, 'instance', 'epi_detection.db'), { readonly: true });
    const triggers = db
      .prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'detections'")
      .get() as {
      n: bigint;
    };
    db.close();
    expect(Number(triggers.n)).toBeGreaterThan(0);
    expect(cli(['health']).code).toBe(0);
  });
});

describe.skipIf(!HUB_AVAILABLE)('--quick against a private MariaDB', () => {
  let hub: TestHub;
  let port: number;
  beforeAll(async () => {
    hub = await startTestHub();
    port = hub.server?.port ?? 3306;
    const c = await hub.admin();
    await c.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN.user, '%', ADMIN.password]);
    await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [ADMIN.user, '%']);
    await c.end();
  });
  afterAll(async () => hub?.close());

  it('an existing site, provisioned with admin credentials: a working node, the admin password nowhere', async () => {
    const sqlitePath = path.join(dir, 'site.db');
    const db = openSqlite(sqlitePath, { create: true });
    db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT NOT NULL, score REAL, seen_at DATETIME)');
    db.exec('CREATE TABLE alerts (id INTEGER PRIMARY KEY, detection_id INTEGER REFERENCES detections(id), note TEXT)');
    const ins = db.prepare("INSERT INTO detections (label, score, seen_at) VALUES (?, ?, '2026-01-02 03:04:05.123456')");
    for (let i = 0; i < 300; i++) ins.run(`vest-${i}`, i / 7);
    db.prepare('INSERT INTO alerts (detection_id, note) VALUES (1, ?)').run('no helmet 🪖');
    // Not synced (no primary key): its rows are not copied, and not counted as copied.
    db.exec("CREATE TABLE settings (k TEXT, v TEXT); INSERT INTO settings VALUES ('theme', 'dark'), ('lang', 'pt')");
    db.close();
    // The migration library is part of this build: setup must copy the data.
    expect(await loadMigration()).toBeDefined();
    const database = `quick_${Date.now()}`;
    const r = cli(
      [
        'setup',
        '--quick',
        '--sqlite',
        sqlitePath,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--admin-user',
        ADMIN.user,
        '--user',
        'epi_quick',
        '--database',
        database,
        '--mode',
        'mysql_primary',
        '--migrate',
      ],
      { DUALDB_ADMIN_PASSWORD: ADMIN.password },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `✔ Create the database and a dedicated user: database created; user epi_quick created; granted SELECT`,
    );
    expect(r.stdout).toContain(`✔ Test the connection: 127.0.0.1:${port}/${database}`);
    expect(r.stdout).toContain('✔ Create the schema: 3 tables to create on the hub');
    expect(r.stdout).toContain('✔ Copy the existing data: 301 rows SQLite → MySQL');
    expect(r.stdout).toContain('✔ Install change capture: node ');
    expect(r.stdout).toMatch(/2 tables captured \(generated keys: (alerts, detections|detections, alerts)\)/);
    expect(r.stdout).toContain('✔ setup done');

    const envFile = path.join(dir, '.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const envText = readFileSync(envFile, 'utf8');
    expect(envText).toContain('DB_USER=epi_quick');
    expect(envText).toContain(`DB_NAME=${database}`);
    expect(envText).toContain('SYNC_MODE=mysql_primary');
    const password = /^DB_PASSWORD=(.+)$/m.exec(envText)?.[1] ?? '';
    expect(password).toHaveLength(32);

    // The hub: user tables and dualdb's capture; the node: capture too.
    const h = await MysqlHub.connect({
      host: '127.0.0.1',
      port,
      user: 'epi_quick',
      password,
      database,
      ssl: false,
      sslCa: undefined,
      connectTimeoutMs: 5000,
    });
    const tables = (
      await h.query<{ t: string }>(
        'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1',
      )
    ).map((x) => x.t);
    expect(tables).toEqual(expect.arrayContaining(['alerts', 'detections', '_dualdb_changes', '_dualdb_nodes']));
    const triggers = await h.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'detections'",
    );
    expect(Number(triggers[0]?.n)).toBe(3);
    const rows = await h.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM detections');
    expect(Number(rows[0]?.n)).toBe(300);
    const alerts = await h.query<{ note: string }>('SELECT note FROM alerts');
    expect(alerts).toEqual([{ note: 'no helmet 🪖' }]);
    await h.close();

    // A working node: health says so, from the .env alone.
    const health = cli(['health']);
    expect(health.code).toBe(0);
    expect(health.stdout).toContain(`✔ MySQL  127.0.0.1:${port}/${database}`);

    // The admin password is written nowhere; the hub password not printed.
    const logFile = path.join(dir, 'dualdb.log');
    expect(existsSync(logFile)).toBe(true);
    for (const text of [envText, readFileSync(logFile, 'utf8'), r.stdout, r.stderr, health.stdout, health.stderr]) {
      expect(text).not.toContain(ADMIN.password);
    }
    for (const text of [readFileSync(logFile, 'utf8'), r.stdout, r.stderr, health.stdout]) expect(text).not.toContain(password);
  });

  it('a brand-new site with the EPI schema, the hub password only from DB_PASSWORD', async () => {
    const m = await hub.freshDatabase('quick');
    const r = cli(
      [
        'setup',
        '--quick',
        '--host',
        m.host,
        '--port',
        String(m.port),
        '--user',
        m.user,
        '--database',
        m.database,
        '--schema',
        'epi',
        '--create-database',
      ],
      { DB_PASSWORD: m.password },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('EPI schema from sql/: 14 tables to create, views and procedures on the hub');
    expect(r.stdout).toContain('  table created in MySQL: detections');
    expect(r.stdout).not.toContain(m.password);
    const h = await MysqlHub.connect(m);
    const views = await h.query<{ n: string | number }>(
      'SELECT COUNT(*) AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()',
    );
    const procs = await h.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE'",
    );
    await h.close();
    expect(Number(views[0]?.n)).toBe(3);
    expect(Number(procs[0]?.n)).toBe(2);
    expect(cli(['health']).code).toBe(0);
  });

  it('refused before any trigger (join guard): "Still there" names only what is there, not capture', async () => {
    const m = await hub.freshDatabase('quickrefused');
    const h = await MysqlHub.connect(m);
    await h.execute('CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL)');
    await h.execute("INSERT INTO workers (id, name) VALUES (1, 'Ana'), (2, 'Bia')");
    await h.close();
    const sqlitePath = path.join(dir, 'site.db');
    const db = openSqlite(sqlitePath, { create: true });
    db.exec('CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    db.exec("INSERT INTO workers (id, name) VALUES (1, 'Zeca'), (2, 'Yara')");
    db.close();
    const r = cli(
      ['setup', '--quick', '--sqlite', sqlitePath, '--host', m.host, '--port', String(m.port), '--user', m.user].concat([
        '--database',
        m.database,
        '--schema',
        'none',
      ]),
      { DB_PASSWORD: m.password },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/workers: 2 of this file's 2 row\(s\) are not on the hub as they are/);
    expect(r.stderr).toContain(
      `no .env was written. Still there: dualdb's bookkeeping tables (_dualdb_*, no capture triggers) on the SQLite file and the hub ${m.host}:${m.port}/${m.database}`,
    );
    expect(r.stderr).not.toMatch(/Still there:.*change capture/);
    const check = openSqlite(sqlitePath, { readonly: true });
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'trigger'").get()).toEqual({ n: 0n });
    check.close();
  });

  it('--local-server: a private server beside the .env, then `dualdb server status|stop|start`', async () => {
    const r = cli(['setup', '--quick', '--local-server', '--schema', 'epi'], {}, 180_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const serverDir = path.join(dir, '.dualdb', 'mysql');
    expect(r.stdout).toContain(`✔ Start the private MySQL server: created in ${serverDir}, port `);
    expect(r.stdout).toContain('later: dualdb server start');
    const envText = readFileSync(path.join(dir, '.env'), 'utf8');
    expect(envText).toContain('DB_HOST=127.0.0.1');
    expect(envText).toContain('DB_USER=dualdb');
    expect(envText).toMatch(/^DB_PASSWORD=.{32}$/m);

    expect(cli(['server', 'status']).code).toBe(0);
    expect(cli(['health']).code).toBe(0);
    const stop = cli(['server', 'stop']);
    expect(stop.stdout).toContain('private server stopped');
    const stopped = cli(['server', 'status']);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toContain('stopped');
    expect(cli(['health']).code).toBe(3);
    const start = cli(['server', 'start']);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('private server started on 127.0.0.1:');
    expect(cli(['health']).code).toBe(0);
    expect(cli(['server', 'stop']).code).toBe(0);
  });
});

describe('server command without a server', () => {
  it('says there is none here and how to create one', () => {
    const r = cli(['server', 'start']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('there is no private server in');
    expect(r.stderr).toContain('dualdb setup --quick --local-server');
    expect(cli(['server', 'status']).code).toBe(2);
  });
});
