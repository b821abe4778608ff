/**
 * `dualdb demo`: headless end to end (private server, EPI schema on both
 * sides, capture, sample data, a writer process on SQLite and a control room
 * on MySQL, then a final compare), that it leaves nothing running, that it
 * refuses to open its monitor without a terminal, and what it says without a
 * server binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli } from './helpers/cli.js';
import { HUB_CRASHABLE } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-demo-');
afterAll(() => tmp.cleanup());

const baseEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' });

function processesUsing(dir: string): string[] {
  const r = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(dir) && !l.includes('ps -eo'));
}

describe.skipIf(!HUB_CRASHABLE)('dualdb demo --no-ui', () => {
  it('runs a site for 5 s, syncs both ways and ends with both sides equal, leaving nothing running', () => {
    const t0 = Date.now();
    const r = runCli(['demo', '--no-ui', '--seconds', '5'], baseEnv(), { cwd: tmp.dir, timeoutMs: 120_000 });
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out).toContain('private server started');
    expect(out).toContain('EPI schema created on both sides');
    expect(out).toContain('change capture installed');
    expect(out).toContain('sample data written locally');
    const moved = /↑ (\d+) rows SQLite → MySQL\s+↓ (\d+) rows MySQL → SQLite/.exec(out);
    expect(moved, out).not.toBeNull();
    // The seed alone is 45 rows; the site writer adds more. The control room changes the hub.
    expect(Number(moved?.[1])).toBeGreaterThan(45);
    expect(Number(moved?.[2])).toBeGreaterThan(0);
    for (const t of ['alerts', 'detections', 'iot_data_logs', 'iot_sensors', 'system_logs', 'training_results', 'workers']) {
      expect(out).toMatch(new RegExp(`${t}\\s+[\\d,]+\\s+[\\d,]+\\s+✔ identical`));
    }
    expect(out).toContain('✔ both sides hold the same rows in every table, compared row by row (0 conflicts, 0 parked)');
    expect(Date.now() - t0).toBeLessThan(90_000);
    // Everything it started is gone: the server and the writer process.
    const demoDir = path.join(tmp.dir, '.dualdb', 'demo');
    expect(existsSync(path.join(demoDir, 'epi_detection.db'))).toBe(true);
    expect(processesUsing(demoDir)).toEqual([]);
    // The sync log of the run is there, as JSON lines.
    const log = readFileSync(path.join(demoDir, 'dualdb.log'), 'utf8').trim().split('\n');
    expect(log.some((l) => JSON.parse(l).msg?.startsWith('synced:'))).toBe(true);
  }, 150_000);

  it('starts fresh on a second run in the same folder', () => {
    const r = runCli(['demo', '--no-ui', '--seconds', '1'], baseEnv(), { cwd: tmp.dir, timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('✔ both sides hold the same rows in every table');
  }, 150_000);
});

describe('dualdb demo without what it needs', () => {
  it('will not open its monitor without a terminal, and says what to run instead (before starting anything)', () => {
    const cwd = path.join(tmp.dir, 'no-tty');
    mkdirSync(cwd);
    const r = runCli(['demo'], baseEnv(), { cwd, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "the demo's monitor needs a terminal; use `dualdb demo --no-ui --seconds 30` for a run without it",
    );
    expect(existsSync(path.join(cwd, '.dualdb'))).toBe(false);
  });

  it('rejects a bad --seconds with one line naming the flag', () => {
    const r = runCli(['demo', '--no-ui', '--seconds', 'soon'], baseEnv(), { cwd: tmp.dir, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--seconds');
  });

  it('without a server binary, says what to install and fails', async () => {
    vi.resetModules();
    vi.doMock('../src/engines/mysql/local-server.js', async (importOriginal) => ({
      ...(await importOriginal<typeof import('../src/engines/mysql/local-server.js')>()),
      findServerBinaries: () => undefined,
    }));
    const { prepareDemo, NoServerBinaryError } = await import('../src/demo/site.js');
    const dir = path.join(tmp.dir, 'no-server');
    const e = await prepareDemo({ dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NoServerBinaryError);
    expect((e as InstanceType<typeof NoServerBinaryError>).hint).toContain('apt-get install mariadb-server');
    expect((e as InstanceType<typeof NoServerBinaryError>).exitCode).not.toBe(0);
    expect(existsSync(dir)).toBe(false);
    vi.doUnmock('../src/engines/mysql/local-server.js');
  });
});
