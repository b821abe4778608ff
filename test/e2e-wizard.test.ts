/**
 * `dualdb setup` in a real terminal (tmux), typed through like a person would:
 * the full-screen wizard from an unconfigured site to the monitor, against a
 * private MariaDB; then `--plain` answered line by line, and Ctrl+C in it.
 * Every screen captured on the way is checked for the password. With
 * DUALDB_SAVE_SCREENS=1 the wizard's screens are written to docs/screens/.
 *
 * Skipped loudly when tmux is missing (a failure under CI=true).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { freePort, LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { loadMigration } from '../src/setup/migration.js';
import { runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const SCREENS = path.join(ROOT, 'docs/screens');
const SAVE = process.env.DUALDB_SAVE_SCREENS === '1';

const TMUX = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
if (!TMUX) {
  const msg = '\n*** E2E WIZARD TESTS SKIPPED: tmux is not installed (apt-get install tmux). ***\n';
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(msg);
}

/** Nothing from the test runner's environment (no DB_* settings): the CLI sees only the folder. */
const cleanEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' });

/** One tmux server of our own (its own socket): other sessions on the machine are never touched. */
class Terminal {
  readonly socket = `dualdb-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly session = 'setup';
  /** Every screen seen, for the secret check. */
  readonly seen: string[] = [];

  private tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  start(cwd: string, args: string[]): void {
    // A clean environment (nothing from the test runner leaks in), CI=false so that Ink is interactive.
    const envs = [
      `PATH=${process.env.PATH}`,
      `HOME=${process.env.HOME}`,
      'TERM=xterm-256color',
      'LANG=C.UTF-8',
      'CI=false',
      // tsx reads tsconfig.json from the working directory; the app runs from a temp folder.
      `TSX_TSCONFIG_PATH=${path.join(ROOT, 'tsconfig.json')}`,
    ];
    const cmd = `cd '${cwd}' && env -i ${envs.map((e) => `'${e}'`).join(' ')} node --import '${LOADER}' '${MAIN}' ${args.join(' ')}; echo EXIT=$?; sleep 600`;
    this.tmux(['new-session', '-d', '-s', this.session, '-x', '100', '-y', '30', cmd]);
  }

  screen(): string {
    const s = this.tmux(['capture-pane', '-p', '-t', this.session]);
    this.seen.push(s);
    return s;
  }

  /** Named keys (Enter, Escape, Tab, BSpace, C-u, Down…), one per call: a burst would arrive as one input. */
  key(name: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.tmux(['send-keys', '-t', this.session, name]);
      spawnSync('sleep', [name === 'Escape' ? '0.15' : '0.05']);
    }
  }

  /** Literal text (typed as a paste: the fields take it whole). */
  type(text: string): void {
    // `--`: a text that begins with '-' (a random password can) is not an option.
    this.tmux(['send-keys', '-t', this.session, '-l', '--', text]);
    spawnSync('sleep', ['0.1']);
  }

  async waitFor(what: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (typeof what === 'string' ? last.includes(what) : what.test(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${String(what)}; screen:\n${last}`);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

/** With DUALDB_SAVE_SCREENS=1: the screen as it settles (spinners aside), for the README. */
async function save(term: Terminal, name: string): Promise<void> {
  if (!SAVE) return;
  await new Promise((r) => setTimeout(r, 300));
  const screen = term.screen();
  mkdirSync(SCREENS, { recursive: true });
  writeFileSync(path.join(SCREENS, `${name}.txt`), `${screen.replace(/[ \t]+$/gm, '').replace(/\n+$/, '')}\n`);
}

describe.skipIf(!TMUX || !HUB_AVAILABLE)('setup in a real terminal', () => {
  let hub: TestHub;
  let dir: string;
  let cleanup: () => void;
  let term: Terminal;
  let m: MysqlConfig;

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => hub?.close());
  beforeEach(async () => {
    ({ dir, cleanup } = tempDir('dualdb-e2e-'));
    term = new Terminal();
    m = await hub.freshDatabase('e2e');
  });
  afterEach(async () => {
    term.kill();
    await LocalMysqlServer.stopInDir(path.join(dir, '.dualdb', 'mysql')).catch(() => undefined);
    cleanup();
  });

  it('the wizard, from an unconfigured site to the monitor', async () => {
    // The application's SQLite file exists with data; nothing else is configured.
    const sqlitePath = path.join(dir, 'instance', 'epi_detection.db');
    mkdirSync(path.dirname(sqlitePath));
    const db = openSqlite(sqlitePath, { create: true });
    db.exec('CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, badge VARCHAR(32) UNIQUE)');
    db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers(id), label TEXT, score REAL)');
    for (let i = 1; i <= 25; i++) db.prepare('INSERT INTO workers (name, badge) VALUES (?, ?)').run(`Worker ${i}`, `B-${i}`);
    for (let i = 1; i <= 500; i++)
      db.prepare('INSERT INTO detections (worker_id, label, score) VALUES (?, ?, ?)').run((i % 25) + 1, 'helmet', i / 500);
    db.close();
    // The migration library is part of this build: the wizard must copy the data.
    expect(await loadMigration()).toBeDefined();
    const wrongPort = await freePort();

    term.start(dir, ['setup']);
    let s = await term.waitFor('step 1 of 9');
    expect(s).toContain('2 tables · 525 rows');
    await save(term, 'wizard-1-found');
    term.key('Enter');

    // Step 2, first with a port nobody listens on.
    await term.waitFor('step 2 of 9');
    for (const v of ['127.0.0.1', String(wrongPort), m.user]) {
      term.key('C-u');
      term.type(v);
      term.key('Tab');
    }
    term.type(m.password);
    term.key('Tab');
    term.key('C-u');
    term.type(m.database);
    s = await term.waitFor(new RegExp(`Database\\s+${m.database}`));
    expect(s).toMatch(new RegExp(`Password\\s+•{${m.password.length}}`));
    term.key('Enter');

    s = await term.waitFor('was refused');
    expect(s).toContain('Fix: No server is running on');
    await save(term, 'wizard-3-test-refused');
    term.key('Enter');
    s = await term.waitFor('step 4 of 9');
    expect(s).toContain('Start a private local server');
    expect(s).toContain('Continue SQLite-only');
    await save(term, 'wizard-4-ways-on');
    term.key('3'); // edit the connection settings

    s = await term.waitFor('step 2 of 9');
    term.key('Tab');
    term.key('C-u');
    term.type(String(m.port));
    s = await term.waitFor(new RegExp(`Port\\s+${m.port}`));
    await save(term, 'wizard-2-connection');
    term.key('Enter');

    s = await term.waitFor('connected:');
    expect(s).toContain('privileges: everything dualdb needs');
    await save(term, 'wizard-3-test-ok');
    term.key('2'); // the optional dedicated user: look, then go back
    s = await term.waitFor('step 5 of 9');
    await save(term, 'wizard-5-provision');
    term.key('Escape');
    await term.waitFor('connected:');
    term.key('Enter');

    s = await term.waitFor('to create on the hub');
    expect(s).toContain('+ create on MySQL (2): workers, detections');
    await save(term, 'wizard-6-schema-plan');
    term.key('Enter');
    s = await term.waitFor('schema applied');
    await save(term, 'wizard-6-schema-applied');
    term.key('Enter');

    s = await term.waitFor('step 7 of 9');
    s = await term.waitFor('Copy now: 525 rows SQLite → MySQL');
    await save(term, 'wizard-7-migration');
    term.key('Enter');
    s = await term.waitFor('copied and verified', 120_000);
    await save(term, 'wizard-7-migration-done');
    term.key('Enter');

    s = await term.waitFor('step 8 of 9');
    await save(term, 'wizard-8-sync');
    term.key('Enter');
    s = await term.waitFor('capture installed');
    await save(term, 'wizard-8-sync-installed');
    term.key('Enter');

    s = await term.waitFor('Enter opens the monitor');
    expect(s).toContain('(mode 0600)');
    await save(term, 'wizard-9-save');
    term.key('Enter');

    // The monitor, then quit.
    s = await term.waitFor(/dualdb monitor|MySQL/i);
    await term.waitFor(/q quit/);
    term.key('q');
    s = await term.waitFor(/EXIT=\d+|quit\?|y\/n|yes/i);
    if (!/EXIT=/.test(s)) term.key('y');
    s = await term.waitFor(/EXIT=\d+/);
    expect(s).toContain('EXIT=0');

    // What the wizard wrote.
    const envFile = path.join(dir, '.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const envText = readFileSync(envFile, 'utf8');
    expect(envText).toContain(`DB_NAME=${m.database}`);
    const h = await MysqlHub.connect(m);
    const tables = (
      await h.query<{ t: string }>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')
    ).map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(['workers', 'detections', '_dualdb_changes']));
    const n = await h.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM detections');
    expect(Number(n[0]?.n)).toBe(500);
    await h.close();

    // The password never reached the screen.
    expect(term.seen.length).toBeGreaterThan(20);
    for (const screen of term.seen) expect(screen).not.toContain(m.password);
  });

  it('--plain, answered line by line', async () => {
    term.start(dir, ['setup', '--plain']);
    await term.waitFor('SQLite file');
    term.key('Enter');
    const answer = async (prompt: string, text: string | undefined) => {
      await term.waitFor(prompt);
      if (text !== undefined) term.type(text);
      term.key('Enter');
    };
    await answer('? Host', '127.0.0.1');
    await answer('? Port', String(m.port));
    await answer('? User', m.user);
    await answer('? Password', m.password);
    await term.waitFor(/Password \**/);
    await answer('? Database', m.database);
    await answer('? Use TLS?', undefined);
    let s = await term.waitFor('connected to');
    await answer('create a dedicated least-privilege user', undefined); // not root: default no
    await answer('No tables on either side yet', undefined); // the EPI schema (first choice)
    s = await term.waitFor('Apply this schema?');
    expect(s).toContain('EPI schema from sql/: 14 tables to create');
    term.key('Enter');
    await answer('? Sync mode', undefined);
    await answer('? Pull interval', undefined);
    await answer('? Conflict policy', undefined);
    // SYNC_KEY_COLLISIONS as the wizard asks it: rekey-node first (the default), each explained; rekey-hub chosen.
    s = await term.waitFor('? Same new id');
    expect(s).toMatch(/❯ rekey-node/);
    expect(s).toContain("the node's new row takes a new id from the hub (default)");
    term.key('Down');
    s = await term.waitFor(/❯ rekey-hub/);
    expect(s).toContain("the hub's row takes a new id; the node's keeps its own");
    term.key('Enter');
    s = await term.waitFor(/EXIT=\d+/, 60_000);
    expect(s).toContain('saved');
    expect(s).toContain('same new id: rekey-hub');
    expect(s).toContain('EXIT=0');
    await save(term, 'setup-plain');
    expect(statSync(path.join(dir, '.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(dir, '.env'), 'utf8')).toMatch(/^SYNC_KEY_COLLISIONS=rekey-hub$/m);
    const h = await MysqlHub.connect(m);
    const n = await h.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('detections', 'alerts', 'workers')",
    );
    await h.close();
    expect(Number(n[0]?.n)).toBe(3);
    for (const screen of term.seen) expect(screen).not.toContain(m.password);
  });

  it('--plain, SQLite only, every default taken: SYNC_KEY_COLLISIONS=rekey-node in the .env', async () => {
    term.start(dir, ['setup', '--plain']);
    const answer = async (prompt: string, text: string | undefined) => {
      await term.waitFor(prompt);
      if (text !== undefined) term.type(text);
      term.key('Enter');
    };
    await answer('SQLite file', undefined);
    // No server where the settings point: SQLite only (the private server may come first in the list).
    await answer('? Host', '127.0.0.1');
    await answer('? Port', String(await freePort()));
    await answer('? User', undefined);
    await answer('? Password', undefined);
    await answer('? Database', undefined);
    await answer('? Use TLS?', undefined);
    await term.waitFor('What now?');
    for (let i = 0; i < 6 && !/❯ Continue SQLite-only/.test(term.screen()); i++) term.key('Down');
    await term.waitFor(/❯ Continue SQLite-only/);
    term.key('Enter');
    await term.waitFor('No tables on either side yet');
    term.key('Down'); // nothing
    term.key('Enter');
    await answer('? Sync mode', undefined);
    await answer('? Pull interval', undefined);
    await answer('? Conflict policy', undefined);
    await answer('? Same new id', undefined);
    const s = await term.waitFor(/EXIT=\d+/, 60_000);
    expect(s).toContain('same new id: rekey-node');
    expect(s).toContain('EXIT=0');
    const env = readFileSync(path.join(dir, '.env'), 'utf8');
    expect(env).toMatch(/^DUAL_DATABASE=false$/m);
    expect(env).toMatch(/^SYNC_KEY_COLLISIONS=rekey-node$/m);
  });

  it('--plain: Ctrl+C leaves cleanly, nothing saved', async () => {
    term.start(dir, ['setup', '--plain']);
    await term.waitFor('SQLite file');
    term.key('Enter');
    await term.waitFor('? Host');
    term.key('C-c');
    const s = await term.waitFor(/EXIT=\d+/);
    expect(s).toContain('setup cancelled; nothing was saved');
    expect(s).toContain('EXIT=130');
    expect(existsSync(path.join(dir, '.env'))).toBe(false);
  });

  it('the wizard: Ctrl+C after the private server started says it is still there', async () => {
    term.start(dir, ['setup']);
    await term.waitFor('step 1 of 9');
    term.key('Enter');
    await term.waitFor('step 2 of 9');
    for (const v of ['127.0.0.1', String(await freePort())]) {
      term.key('C-u');
      term.type(v);
      term.key('Tab');
    }
    term.key('Enter');
    await term.waitFor('was refused');
    term.key('Enter');
    await term.waitFor('step 4 of 9');
    term.key('1'); // start a private local server
    await term.waitFor('Enter tests the connection', 120_000);
    term.key('C-c');
    const s = await term.waitFor(/EXIT=\d+/);
    expect(s).toContain('was not written');
    expect(s).toMatch(/Still there: the private (MariaDB|MySQL) server in \.dualdb\/mysql \(running;/);
    expect(existsSync(path.join(dir, '.env'))).toBe(false);
  });

  it('--plain: Ctrl+C after the private server started says it is still there; setup again reuses it', async () => {
    term.start(dir, ['setup', '--plain']);
    await term.waitFor('SQLite file');
    let s = term.screen();
    expect(s).toContain('the .env is written at the last step');
    term.key('Enter');
    const answer = async (prompt: string, text: string | undefined) => {
      await term.waitFor(prompt);
      if (text !== undefined) term.type(text);
      term.key('Enter');
    };
    // No server where the settings point: the first way on is the private server.
    await answer('? Host', '127.0.0.1');
    await answer('? Port', String(await freePort()));
    await answer('? User', undefined);
    await answer('? Password', undefined);
    await answer('? Database', undefined);
    await answer('? Use TLS?', undefined);
    await answer('What now?', undefined);
    await term.waitFor('private server created and running', 120_000);
    await term.waitFor('No tables on either side yet', 30_000);
    term.key('C-c');
    s = await term.waitFor(/EXIT=\d+/);
    expect(s).not.toContain('nothing was saved');
    expect(s).toMatch(
      /setup cancelled; no \.env was written\. Still there: the private (MariaDB|MySQL) server in \.dualdb\/mysql/,
    );
    expect(s).toContain('`dualdb server stop` stops it');
    expect(s).toContain('EXIT=130');
    expect(existsSync(path.join(dir, '.env'))).toBe(false);

    // Its generated password went nowhere; setup again gives its user a new one and works.
    const r = runCli(['setup', '--quick', '--local-server', '--schema', 'epi'], cleanEnv(), { cwd: dir, timeoutMs: 180_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('has a new generated password');
    expect(readFileSync(path.join(dir, '.env'), 'utf8')).toMatch(/^DB_PASSWORD=.{32}$/m);
    expect(runCli(['health'], cleanEnv(), { cwd: dir }).code).toBe(0);
  });
});
