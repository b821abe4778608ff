/**
 * Long problems and fixes in a real terminal (issue 15, item 8): the monitor of a node whose hub
 * refuses connections, in tmux at 80×24 and 120×40; the cause and the fix are wrapped, never cut
 * at the window's edge; so are the setup wizard's. The fresh monitor says that nothing moved since it
 * opened (item 7).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { launchCli, screenShows, Tmux } from './helpers/tmux.js';

const hasTmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
const flat = (screen: string) => screen.replace(/[│┌┐└┘─]/g, ' ').replace(/\s+/g, ' ');

describe.skipIf(!hasTmux)('problems and fixes wrap in a real terminal (tmux)', () => {
  const tmp = tempDir('dualdb-wrap-');
  const tmux = new Tmux(`dualdb-wrap-${process.pid}`);
  let env: NodeJS.ProcessEnv;
  let port: number;

  beforeAll(async () => {
    const db = openSqlite(path.join(tmp.dir, 'site.db'), { create: true });
    db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT)');
    db.close();
    port = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SQLITE_DB_PATH: path.join(tmp.dir, 'site.db'),
      DB_HOST: '127.0.0.1',
      DB_PORT: String(port),
      DB_USER: 'epi',
      DB_PASSWORD: 'Wrap-Pa55',
      DB_NAME: 'epi_detection_db',
      DB_CONNECT_TIMEOUT: '2',
      NODE_ID: 'site-wrap',
    };
    const init = runCli(['init'], { ...env, DUAL_DATABASE: 'false', NO_COLOR: '1' }, { cwd: tmp.dir });
    expect(init.code, init.stderr).toBe(EXIT.OK);
  });
  afterAll(() => {
    tmux.kill();
    tmp.cleanup();
  });

  for (const [columns, rows] of [
    [80, 24],
    [120, 40],
  ] as const) {
    it(`at ${columns}×${rows}: the hub's cause and fix in full, and "no rows moved since"`, async () => {
      await launchCli(tmux, { dir: tmp.dir, env, args: ['monitor'], columns, rows });
      const cause = `connection to MySQL at 127.0.0.1:${port} was refused: no server is listening there`;
      const fix = 'fix: start the MySQL/MariaDB server, or fix DB_HOST/DB_PORT';
      const screen = await screenShows(
        tmux,
        (s) => flat(s).includes(cause) && flat(s).includes(fix),
        'the cause and the fix, whole',
        60_000,
      );
      expect(screen.split('\n').every((l) => l.length <= columns)).toBe(true);
      expect(flat(screen)).toMatch(/no rows moved since \d\d:\d\d:\d\d/);
      expect(screen).not.toContain('127.0.0.…');
      expect(screen).not.toContain('Wrap-Pa55');
      tmux.keys('q');
      await screenShows(tmux, /EXIT=\d+/, 'the monitor to exit', 20_000);
      tmux.kill();
    });

    it(`at ${columns}×${rows}: the wizard's test of a refused hub shows the cause and the fix whole`, async () => {
      const envFile = path.join(tmp.dir, `wizard-${columns}.env`);
      await launchCli(tmux, {
        dir: tmp.dir,
        env: { PATH: env.PATH, HOME: env.HOME, SQLITE_DB_PATH: env.SQLITE_DB_PATH },
        args: ['--env-file', envFile, 'setup'],
        columns,
        rows,
      });
      await screenShows(tmux, 'step 1 of 9', 'the wizard', 60_000);
      tmux.keys('Enter');
      await screenShows(tmux, 'step 2 of 9', 'the connection form');
      for (const v of ['127.0.0.1', String(port)]) {
        tmux.keys('C-u');
        tmux.run(['send-keys', '-t', 'e2e', '-l', '--', v]); // `--`: a value may begin with '-'
        tmux.keys('Tab');
      }
      tmux.keys('Enter');
      const fix = `Fix: No server is running on 127.0.0.1:${port}. Start it (e.g. \`sudo systemctl start mariadb\`), or check the port.`;
      const screen = await screenShows(tmux, (s) => flat(s).includes(fix), 'the fix, whole', 60_000);
      expect(flat(screen)).toContain(`127.0.0.1:${port} was refused`);
      expect(screen.split('\n').every((l) => l.length <= columns)).toBe(true);
      tmux.keys('C-c');
      await screenShows(tmux, /EXIT=\d+/, 'the wizard to exit', 20_000);
      tmux.kill();
    });
  }
});
