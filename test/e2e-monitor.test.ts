/**
 * The monitor in a real terminal (tmux): `dualdb monitor` against the private
 * MariaDB and a SQLite file with capture installed. A local write made with
 * the sqlite3 shell reaches MySQL after `s`, and the log line shows on screen;
 * `?` shows the help; `q` exits 0 and the terminal is given back (alternate
 * screen left, the shell visible again); the password never shows. Also: with
 * stdin not a terminal, `dualdb` prints help and exits at once, and `dualdb
 * monitor` says it needs a terminal.
 *
 * Skipped with a loud notice when tmux is missing, except under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { waitFor } from './helpers/sync.js';
import { tempDir } from './helpers/tmp.js';
import { launchCli, screenShows, screenShowsAll, Tmux } from './helpers/tmux.js';

const hasTmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
const hasSqlite3 = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' }).status === 0;

if (!hasTmux) {
  const msg = '\n*** TERMINAL E2E TESTS SKIPPED: tmux is not installed (apt-get install tmux). ***\n';
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(msg);
}

describe('dualdb without a terminal', () => {
  it('`dualdb` with stdin not a TTY prints help and exits 0 at once', () => {
    const t0 = Date.now();
    const r = runCli([], { PATH: process.env.PATH, HOME: process.env.HOME }, { timeoutMs: 15_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: dualdb');
    expect(r.stdout).toContain('monitor');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('`dualdb monitor` without a terminal says what to use instead, in one line', () => {
    const r = runCli(['monitor'], { PATH: process.env.PATH, HOME: process.env.HOME }, { timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('the monitor needs a terminal; use `dualdb status` or `dualdb sync --watch`');
  });
});

describe.skipIf(!hasTmux || !HUB_AVAILABLE)('dualdb monitor in a real terminal (tmux)', () => {
  let hub: TestHub;
  const tmp = tempDir();
  let config: Config;
  let central: MysqlHub;
  const tmux = new Tmux();

  beforeAll(async () => {
    hub = await startTestHub();
    const m = await hub.freshDatabase('e2e');
    config = nodeConfig(tmp.dir, 'e2e', m, { SYNC_INTERVAL: '1' });
    createSqlite(config, ['CREATE TABLE detections (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, confidence REAL)']).close();
    central = await MysqlHub.connect(m);
    await central.execute('CREATE TABLE detections (id BIGINT PRIMARY KEY, camera VARCHAR(50) NOT NULL, confidence DOUBLE NULL)');
    await initNode(config);
  });

  afterAll(async () => {
    tmux.kill();
    await central?.close();
    await hub?.close();
    tmp.cleanup();
  });

  it('syncs on s, shows help on ?, quits on q and gives the terminal back', async () => {
    // The settings go in through a file the shell sources, never on a command line or the screen.
    await launchCli(tmux, { dir: tmp.dir, env: envOf(config), args: ['monitor'], columns: 100, rows: 30 });

    const keyBar = 's sync now  p pause/resume  c compare  ? help  q quit';
    let screen = await screenShowsAll(tmux, [/✔ online/, keyBar], 'the monitor online', 30_000);
    expect(tmux.alternateScreenOn()).toBe(true);
    expect(screen).toContain('dualdb monitor · sqlite_primary · node e2e');
    expect(screen).toContain('sync runs in this monitor');
    expect(screen).toContain(keyBar);
    expect(screen).not.toContain(config.mysql.password);

    // A write by another program, as the site's application would make it.
    const insert = "INSERT INTO detections (id, camera, confidence) VALUES (7, 'cam-e2e', 0.93);";
    if (hasSqlite3) {
      const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', config.sqlitePath, insert], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    } else {
      process.stderr.write('\n*** sqlite3 shell missing: writing with better-sqlite3 instead ***\n');
      const db = openSqlite(config.sqlitePath);
      db.exec(insert);
      db.close();
    }
    tmux.keys('s');
    await waitFor(async () => {
      const rows = await central.query<{ camera: string }>('SELECT camera FROM detections WHERE id = 7');
      return rows[0]?.camera === 'cam-e2e';
    }, 'the row to reach MySQL');
    screen = await screenShows(tmux, /INFO\s+(sync now: |synced: ↑1)/, 'the sync in the log on screen');
    expect(screen).toMatch(/INFO\s+(sync now: |synced: ↑1)/);
    screen = await screenShows(tmux, /detections\s+1\s+1\s+= 0/, 'the counts side by side');

    tmux.keys('?');
    const helpLines = ['sync now: push local changes', 'pause or resume', 'compare both sides', 'quit (asks first'];
    screen = await screenShowsAll(tmux, ['Help — keys', ...helpLines], 'the help overlay');
    for (const line of helpLines) expect(screen).toContain(line);
    tmux.keys('Escape');
    await waitFor(() => !tmux.capture().includes('Help — keys'), 'Esc to close the help');
    expect(tmux.capture()).not.toContain(config.mysql.password);

    tmux.keys('q');
    screen = await screenShows(tmux, /EXIT=\d+/, 'the monitor to exit', 20_000);
    expect(screen).toContain('EXIT=0');
    expect(tmux.alternateScreenOn()).toBe(false);
    // The shell is back, with what was there before; the monitor's frame is gone with the alternate screen.
    expect(screen).toContain('e2e-shell$');
    expect(screen).not.toContain('SQLite (local)');
    expect(screen).toMatch(/dualdb monitor: stopped; this session ↑ 1 ↓ 0/);
    expect(screen).not.toContain(config.mysql.password);
    // The lock is released: a one-off sync can run now.
    const r = runCli(['sync', '--once', '--json'], envOf(config));
    expect([0, 10]).toContain(r.code);
  }, 120_000);
});
