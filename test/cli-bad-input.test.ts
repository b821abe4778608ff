/**
 * The real `dualdb` CLI, as a separate process with its settings in the
 * environment and stdin not a terminal, given the mistakes users make: a host
 * that does not exist, a port with nothing listening, a wrong password, an
 * unknown database, a SQLite path that is missing or is not a database, and
 * invalid settings. Each must end promptly with one line that names the cause
 * and the fix, the documented exit code, and never the password.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { cliArgs } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PASSWORD = 'S3cr3t-Pa55-xyz';
/** A process still running after this is hung (generous: the machine may be busy with other suites). */
const TIMEOUT_MS = 45_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs the CLI from source; stdin is a pipe closed at once (no TTY, no input), killed after TIMEOUT_MS. */
function dualdb(args: string[], env: Record<string, string>, cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, cliArgs(args), {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}

/** Runs many CLI invocations, a few at a time (each is a Node process). */
async function runAll<K extends string>(jobs: Record<K, () => Promise<Outcome>>, parallel = 4): Promise<Record<K, Outcome>> {
  const keys = Object.keys(jobs) as K[];
  const out = {} as Record<K, Outcome>;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const k = keys[next++] as K;
      out[k] = await jobs[k]();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

/** Nothing a user should not see: the password, a stack trace, an uncaught error. */
function expectClean(o: Outcome, what: string): void {
  expect(o.timedOut, `${what} hung`).toBe(false);
  expect(o.stdout + o.stderr, what).not.toContain(PASSWORD);
  expect(o.stdout + o.stderr, what).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(o.stderr, what).not.toMatch(/Uncaught|Unhandled|TypeError|ReferenceError/);
}

interface SideCase {
  env: Record<string, string>;
  exit: number;
  /** Which side fails (both for exit 5). */
  failing: ('sqlite' | 'mysql')[];
  code: Record<string, string>;
  cause: RegExp;
  fix: RegExp;
}

describe.skipIf(!HUB_AVAILABLE)('dualdb with bad input', () => {
  const tmp = tempDir('dualdb-cli-bad-');
  let testHub: TestHub;
  let good: Record<string, string>;
  let results: Record<string, Outcome>;
  let cases: Record<string, SideCase>;

  beforeAll(async () => {
    testHub = await startTestHub();
    const db = await testHub.freshDatabase('cli');
    // A user whose password is the distinctive one, allowed on every cli_* database (so a
    // missing one is reported as missing), and one allowed on this database only.
    const admin = await testHub.admin();
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', ['cli_user', host, PASSWORD]);
        await admin.query('GRANT ALL PRIVILEGES ON `cli\\_%`.* TO ?@?', ['cli_user', host]);
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', ['cli_narrow', host, PASSWORD]);
        await admin.query(`GRANT ALL PRIVILEGES ON \`${db.database}\`.* TO ?@?`, ['cli_narrow', host]);
      }
    } finally {
      await admin.end();
    }
    const sqlitePath = path.join(tmp.dir, 'node.db');
    const sdb = openSqlite(sqlitePath, { create: true });
    sdb.exec("CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO detections (label) VALUES ('helmet')");
    sdb.close();
    const textFile = path.join(tmp.dir, 'notes.txt');
    writeFileSync(textFile, 'These are notes, not a database.\nDB_PASSWORD is not here either.\n');
    const folder = path.join(tmp.dir, 'a-folder');
    mkdirSync(folder);
    const closedPort = String(await freePort());

    good = {
      DB_HOST: db.host,
      DB_PORT: String(db.port),
      DB_USER: 'cli_user',
      DB_PASSWORD: PASSWORD,
      DB_NAME: db.database,
      DB_CONNECT_TIMEOUT: '3',
      SQLITE_DB_PATH: sqlitePath,
    };
    const missingDb = `cli_nosuch_${process.pid}`;
    cases = {
      'unreachable host': {
        env: { DB_HOST: 'nonexistent.invalid' },
        exit: EXIT.MYSQL_UNAVAILABLE,
        failing: ['mysql'],
        code: { mysql: 'MYSQL_HOST_NOT_FOUND' },
        cause: /MySQL host "nonexistent\.invalid" was not found/,
        fix: /check DB_HOST/,
      },
      'closed port': {
        env: { DB_HOST: '127.0.0.1', DB_PORT: closedPort },
        exit: EXIT.MYSQL_UNAVAILABLE,
        failing: ['mysql'],
        code: { mysql: 'MYSQL_CONNECTION_REFUSED' },
        cause: new RegExp(`127\\.0\\.0\\.1:${closedPort} was refused: no server is listening there`),
        fix: /start the MySQL\/MariaDB server, or fix DB_HOST\/DB_PORT/,
      },
      'wrong password': {
        env: { DB_PASSWORD: `${PASSWORD}-wrong` },
        exit: EXIT.MYSQL_UNAVAILABLE,
        failing: ['mysql'],
        code: { mysql: 'MYSQL_ACCESS_DENIED' },
        cause: /MySQL refused user "cli_user" at .*: wrong user name or password/,
        fix: /fix DB_USER\/DB_PASSWORD/,
      },
      'unknown database': {
        env: { DB_NAME: missingDb },
        exit: EXIT.MYSQL_UNAVAILABLE,
        failing: ['mysql'],
        code: { mysql: 'MYSQL_UNKNOWN_DATABASE' },
        cause: new RegExp(`MySQL database "${missingDb}" does not exist`),
        fix: new RegExp(`CREATE DATABASE \`${missingDb}\``),
      },
      'unknown database, user without rights to know': {
        env: { DB_USER: 'cli_narrow', DB_NAME: missingDb },
        exit: EXIT.MYSQL_UNAVAILABLE,
        failing: ['mysql'],
        code: { mysql: 'MYSQL_DATABASE_ACCESS_DENIED' },
        cause: new RegExp(`"${missingDb}".*does not exist, or the user has no access`),
        fix: /check DB_NAME.*GRANT/,
      },
      'SQLite path missing': {
        env: { SQLITE_DB_PATH: path.join(tmp.dir, 'nowhere', 'epi.db') },
        exit: EXIT.SQLITE_UNAVAILABLE,
        failing: ['sqlite'],
        code: { sqlite: 'SQLITE_MISSING' },
        cause: /SQLite file .*nowhere\/epi\.db does not exist/,
        fix: /check SQLITE_DB_PATH/,
      },
      'SQLite path is a text file': {
        env: { SQLITE_DB_PATH: textFile },
        exit: EXIT.SQLITE_UNAVAILABLE,
        failing: ['sqlite'],
        code: { sqlite: 'SQLITE_NOT_A_DATABASE' },
        cause: /notes\.txt is not a SQLite database/,
        fix: /SQLITE_DB_PATH points at another kind of file/,
      },
      'SQLite path is a folder': {
        env: { SQLITE_DB_PATH: folder },
        exit: EXIT.SQLITE_UNAVAILABLE,
        failing: ['sqlite'],
        code: { sqlite: 'SQLITE_NOT_A_DATABASE' },
        cause: /a-folder is a folder, not a SQLite database file/,
        fix: /SQLITE_DB_PATH must name the database file/,
      },
      'both sides unusable': {
        env: { SQLITE_DB_PATH: path.join(tmp.dir, 'nowhere', 'epi.db'), DB_HOST: '127.0.0.1', DB_PORT: closedPort },
        exit: EXIT.BOTH_UNAVAILABLE,
        failing: ['sqlite', 'mysql'],
        code: { sqlite: 'SQLITE_MISSING', mysql: 'MYSQL_CONNECTION_REFUSED' },
        cause: /does not exist|was refused/,
        fix: /SQLITE_DB_PATH|DB_HOST\/DB_PORT/,
      },
    };

    const jobs: Record<string, () => Promise<Outcome>> = {
      healthy: () => dualdb(['health'], good, tmp.dir),
      help: () => dualdb(['--help'], good, tmp.dir),
      version: () => dualdb(['--version'], good, tmp.dir),
      'health help': () => dualdb(['health', '--help'], good, tmp.dir),
      'no arguments': () => dualdb([], good, tmp.dir),
      'unknown command': () => dualdb(['frobnicate'], good, tmp.dir),
    };
    for (const [name, c] of Object.entries(cases)) {
      jobs[`${name}: health`] = () => dualdb(['health'], { ...good, ...c.env }, tmp.dir);
      jobs[`${name}: health --json`] = () => dualdb(['health', '--json'], { ...good, ...c.env }, tmp.dir);
      if (INFO_CASES.includes(name)) jobs[`${name}: info`] = () => dualdb(['info'], { ...good, ...c.env }, tmp.dir);
    }
    for (const [name, env] of Object.entries(CONFIG_CASES)) {
      jobs[`${name}: health`] = () => dualdb(['health'], { ...good, ...env.env }, tmp.dir);
    }
    jobs['invalid SYNC_MODE: info --json'] = () => dualdb(['info', '--json'], { ...good, SYNC_MODE: 'foo' }, tmp.dir);
    results = await runAll(jobs);
  }, 240_000);

  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  const result = (key: string): Outcome => {
    const r = results[key];
    if (!r) throw new Error(`no run named ${key}`);
    return r;
  };

  it('the good configuration is healthy (the cases below differ from it by one setting)', () => {
    const r = result('healthy');
    expectClean(r, 'healthy');
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.OK);
    expect(r.stdout).not.toMatch(/✖/);
  });

  for (const name of [
    'unreachable host',
    'closed port',
    'wrong password',
    'unknown database',
    'unknown database, user without rights to know',
    'SQLite path missing',
    'SQLite path is a text file',
    'SQLite path is a folder',
    'both sides unusable',
  ]) {
    describe(name, () => {
      it('`health` prints one failing line per broken side, naming the cause and the fix, and exits with the documented code', () => {
        const c = cases[name] as SideCase;
        const r = result(`${name}: health`);
        expectClean(r, name);
        expect(r.code, r.stdout + r.stderr).toBe(c.exit);
        expect(r.stderr).toBe('');
        const out = lines(r.stdout);
        expect(out.filter((l) => l.startsWith('✖'))).toHaveLength(c.failing.length);
        const explained = out.filter((l) => c.cause.test(l));
        expect(explained, r.stdout).toHaveLength(c.failing.length);
        for (const l of explained) {
          // "<cause> — <fix>" on one line.
          expect(l).toMatch(/ — /);
          expect(l).toMatch(c.fix);
        }
        // The healthy side is still reported as healthy.
        if (!c.failing.includes('sqlite')) expect(out.some((l) => /^✔ SQLite/.test(l))).toBe(true);
        if (!c.failing.includes('mysql')) expect(out.some((l) => /^✔ MySQL/.test(l))).toBe(true);
      });

      it('`health --json` reports the same diagnosis and exit code', () => {
        const c = cases[name] as SideCase;
        const r = result(`${name}: health --json`);
        expectClean(r, name);
        expect(r.code).toBe(c.exit);
        const report = JSON.parse(r.stdout) as {
          ok: boolean;
          exitCode: number;
          sqlite: { ok: boolean; error?: { code: string; message: string; hint: string } };
          mysql: { ok: boolean; error?: { code: string; message: string; hint: string } };
        };
        expect(report.ok).toBe(false);
        expect(report.exitCode).toBe(c.exit);
        for (const side of ['sqlite', 'mysql'] as const) {
          const s = report[side];
          if (c.failing.includes(side)) {
            expect(s.ok).toBe(false);
            expect(s.error?.code).toBe(c.code[side]);
            expect(`${s.error?.message} — ${s.error?.hint}`).toMatch(c.cause);
            expect(s.error?.hint).toMatch(c.fix);
          } else {
            expect(s.ok).toBe(true);
            expect(s.error).toBeUndefined();
          }
        }
      });

      if (INFO_CASES.includes(name))
        it('`info` exits with the same code and explains the broken side in one line', () => {
          const c = cases[name] as SideCase;
          const r = result(`${name}: info`);
          expectClean(r, name);
          expect(r.code).toBe(c.exit);
          const explained = lines(r.stdout).filter((l) => c.cause.test(l));
          expect(explained, r.stdout).toHaveLength(c.failing.length);
          for (const l of explained) expect(l).toMatch(c.fix);
        });
    });
  }

  for (const [name, c] of Object.entries(CONFIG_CASES)) {
    it(`${name}: one line on stderr naming the variable and the accepted values, exit 2, nothing started`, () => {
      for (const cmd of name === 'invalid SYNC_MODE' ? ['health', 'info --json'] : ['health']) {
        const r = result(`${name}: ${cmd}`);
        expectClean(r, `${name} ${cmd}`);
        expect(r.code).toBe(EXIT.CONFIG);
        expect(r.stdout).toBe('');
        const err = lines(r.stderr);
        expect(err, r.stderr).toHaveLength(1);
        expect(err[0]).toMatch(new RegExp(`^dualdb: ${c.variable}=`));
        expect(err[0]).toMatch(c.accepted);
        expect(err[0]).toMatch(/fix it in the environment or \.env/);
      }
    });
  }

  it('--help and --version exit 0', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = result('version');
    expectClean(v, 'version');
    expect(v.code).toBe(EXIT.OK);
    expect(v.stdout.trim()).toBe(pkg.version);
    const h = result('help');
    expectClean(h, 'help');
    expect(h.code).toBe(EXIT.OK);
    expect(h.stdout).toMatch(/^Usage: dualdb/m);
    for (const cmd of ['health', 'info']) expect(h.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    const hh = result('health help');
    expect(hh.code).toBe(EXIT.OK);
    expect(hh.stdout).toMatch(/--json/);
  });

  it('without a terminal and without arguments it prints usage and ends (never waits for input)', () => {
    const r = result('no arguments');
    expectClean(r, 'no arguments');
    expect(r.code).not.toBeNull();
    expect(r.stdout + r.stderr).toMatch(/Usage: dualdb/);
  });

  it('an unknown command is a usage error (exit 2) with a pointer to --help', () => {
    const r = result('unknown command');
    expectClean(r, 'unknown command');
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).toMatch(/dualdb --help/);
  });
});

/** `info` shares the probes with `health`: one case per kind of failure is enough (each run is a Node process). */
const INFO_CASES = ['closed port', 'unknown database', 'SQLite path is a text file', 'both sides unusable'];

const CONFIG_CASES: Record<string, { env: Record<string, string>; variable: string; accepted: RegExp }> = {
  'invalid SYNC_MODE': {
    env: { SYNC_MODE: 'foo' },
    variable: 'SYNC_MODE',
    accepted: /accepted: sqlite_primary, mysql_primary, both/,
  },
  'invalid DB_PORT (text)': {
    env: { DB_PORT: 'abc' },
    variable: 'DB_PORT',
    accepted: /accepted: a whole number from 1 to 65535/,
  },
  'invalid DB_PORT (out of range)': {
    env: { DB_PORT: '70000' },
    variable: 'DB_PORT',
    accepted: /accepted: a whole number from 1 to 65535/,
  },
  'invalid DUAL_DATABASE': { env: { DUAL_DATABASE: 'maybe' }, variable: 'DUAL_DATABASE', accepted: /accepted: true or false/ },
};
