/**
 * Failures an operator meets that need no hub (issue 15, items 1, 2 and 5): each with the
 * exact input from the issue and the message it must give, the CLI in a separate process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editDistance, nearMissWarnings, resembles } from '../src/config/near-miss.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { cliArgs, cliEnv, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');

const tmp = tempDir('dualdb-operator-');
const dbPath = path.join(tmp.dir, 'node.db');
const base = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NO_COLOR: '1',
  SQLITE_DB_PATH: dbPath,
  DUAL_DATABASE: 'false',
  ...extra,
});

/**
 * The CLI started as its installed bin is: the file executed directly, so the kernel reads its
 * `#!` line (the launcher), with tsx preloaded through NODE_OPTIONS to run it from source.
 */
function asBin(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const r = spawnSync(MAIN, args, {
    cwd,
    env: cliEnv({ ...env, NODE_OPTIONS: `--import=file://${LOADER}` }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs the CLI with its stdout a pipe whose reader is already gone (`dualdb status | head -0`). */
function intoClosedPipe(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cliArgs(args), { cwd: tmp.dir, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

beforeAll(() => {
  const db = openSqlite(dbPath, { create: true });
  db.exec("CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO detections (label) VALUES ('helmet')");
  db.close();
  const r = runCli(['init'], base(), { cwd: tmp.dir });
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('1. --env-file under Node 20', () => {
  it('`dualdb setup --quick --env-file site.env` creates the file Node would have refused', () => {
    const site = path.join(tmp.dir, 'site.env');
    expect(existsSync(site)).toBe(false);
    const r = asBin(
      ['setup', '--quick', '--env-file', 'site.env', '--sqlite-only', '--sqlite', 'site.db'],
      { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
      tmp.dir,
    );
    expect(r.stderr).not.toMatch(/not found/);
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.OK);
    expect(readFileSync(site, 'utf8')).toMatch(/^SQLITE_DB_PATH=site\.db$/m);
  });

  it('an existing --env-file is read by dualdb with its own precedence: the environment wins, the file fills the rest', () => {
    const file = path.join(tmp.dir, 'mode.env');
    writeFileSync(file, `SQLITE_DB_PATH=${dbPath}\nDUAL_DATABASE=false\nSYNC_MODE=mysql_primary\n`);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
    const fromFile = asBin(['status', '--json', '--env-file', 'mode.env'], env, tmp.dir);
    expect(fromFile.code, fromFile.stderr).toBe(EXIT.OK);
    expect(JSON.parse(fromFile.stdout).mode).toBe('mysql_primary');
    const envWins = asBin(['status', '--json', '--env-file', 'mode.env'], { ...env, SYNC_MODE: 'both' }, tmp.dir);
    expect(JSON.parse(envWins.stdout).mode).toBe('both');
    // The name Node does not claim, for scripts that run `node dist/cli/main.js` themselves.
    const alias = runCli(['--settings-file', 'mode.env', 'status', '--json'], env, { cwd: tmp.dir });
    expect(alias.code, alias.stderr).toBe(EXIT.OK);
    expect(JSON.parse(alias.stdout).mode).toBe('mysql_primary');
  });
});

describe('2. output into a closed pipe', () => {
  for (const args of [['status'], ['conflicts'], ['info'], ['--help'], ['status', '--json']]) {
    it(`\`dualdb ${args.join(' ')} | head\` ends quietly with exit 0`, async () => {
      const r = await intoClosedPipe(args, base());
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\s+at /);
      expect(r.code).toBe(EXIT.OK);
    });
  }
});

describe('5. settings that pass silently', () => {
  it('SYNC_MODDE=both in the environment: a warning naming SYNC_MODE', () => {
    const r = runCli(['status'], base({ SYNC_MODDE: 'both' }), { cwd: tmp.dir });
    expect(r.stderr).toContain(
      'warning: SYNC_MODDE (in the environment) is not a setting dualdb knows, so it is ignored: did you mean SYNC_MODE?',
    );
  });

  it('SYNC_MODDE=both in the .env file: the warning names the file', () => {
    const file = path.join(tmp.dir, 'typo.env');
    writeFileSync(file, `SQLITE_DB_PATH=${dbPath}\nDUAL_DATABASE=false\nSYNC_MODDE=both\n`);
    const r = runCli(['--env-file', file, 'status'], { PATH: process.env.PATH, NO_COLOR: '1' }, { cwd: tmp.dir });
    expect(r.stderr).toContain(
      `SYNC_MODDE (in ${file}) is not a setting dualdb knows, so it is ignored: did you mean SYNC_MODE?`,
    );
  });

  it('near misses over every prefix, and never a warning for known or unrelated names', () => {
    expect(resembles('DB_HOTS')).toBe('DB_HOST');
    expect(resembles('SQLITE_DB_PAHT')).toBe('SQLITE_DB_PATH');
    expect(resembles('LOG_LEVLE')).toBe('LOG_LEVEL');
    expect(resembles('DUALDB_ENV_FLIE')).toBe('DUALDB_ENV_FILE');
    expect(resembles('SYNC_MODE')).toBeUndefined();
    expect(resembles('SQLITE_TMPDIR')).toBeUndefined();
    expect(resembles('HOSTNAME')).toBeUndefined();
    expect(nearMissWarnings([{ where: 'x', names: ['PATH', 'DB_PORT', 'LOGNAME'] }])).toEqual([]);
    expect(editDistance('SYNC_MODDE', 'SYNC_MODE')).toBe(1);
  });

  for (const flags of [
    ['--push', '--pull'],
    ['--watch', '--daemon'],
  ]) {
    it(`\`sync ${flags.join(' ')}\` is refused with exit 2`, () => {
      const r = runCli(['sync', ...flags], base(), { cwd: tmp.dir });
      expect(r.code).toBe(EXIT.CONFIG);
      expect(r.stderr).toContain(`option '${flags[0]}' cannot be used with option '${flags[1]}'`);
    });
  }

  it('`conflicts resolve abc` says that an id is a number', () => {
    const r = runCli(['conflicts', 'resolve', 'abc', '--keep', 'node'], base(), { cwd: tmp.dir });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toContain('"abc" is not a conflict id: an id is a number, like 7');
    expect(r.stderr).not.toContain('NaN');
  });

  it('`repair --frm` suggests --from', () => {
    const r = runCli(['repair', '--frm', 'sqlite'], base(), { cwd: tmp.dir });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toContain("unknown option '--frm'");
    expect(r.stderr).toContain('(Did you mean --from?)');
  });

  it('a required option still missing is still named', () => {
    const r = runCli(['repair'], base(), { cwd: tmp.dir });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toContain("required option '--from <side>' not specified");
  });
});
