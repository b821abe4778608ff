/** A terminal for end-to-end tests: a tmux server of the test's own, and waiting for what the screen shows. */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs } from './cli.js';
import { waitFor } from './sync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A tmux server of our own, so the test never touches the user's sessions. */
export class Tmux {
  constructor(readonly socket = `dualdb-e2e-${process.pid}`) {}
  run(args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  capture(): string {
    return this.run(['capture-pane', '-p', '-t', 'e2e']);
  }
  keys(...keys: string[]): void {
    // One key per call: keys sent in one burst would reach the app as one input.
    for (const k of keys) this.run(['send-keys', '-t', 'e2e', k]);
  }
  alternateScreenOn(): boolean {
    return this.run(['display-message', '-p', '-t', 'e2e', '#{alternate_on}']).trim() === '1';
  }
  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { encoding: 'utf8' });
    // kill-server returns before the server is gone: a new session started at once can reach the
    // dying server ("server exited unexpectedly"). Wait until no server answers on the socket.
    for (let i = 0; i < 100; i++) {
      const r = spawnSync('tmux', ['-L', this.socket, 'list-sessions'], { encoding: 'utf8' });
      if (r.status !== 0 && !/exited unexpectedly/.test(r.stderr)) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

export async function screenShows(
  tmux: Tmux,
  text: string | RegExp | ((screen: string) => boolean),
  what: string,
  timeoutMs = 20_000,
): Promise<string> {
  let last = '';
  try {
    await waitFor(
      () => {
        last = tmux.capture();
        return typeof text === 'string' ? last.includes(text) : typeof text === 'function' ? text(last) : text.test(last);
      },
      what,
      timeoutMs,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- screen ---\n${last}`);
  }
  return last;
}

/**
 * Waits until the screen shows every one of `parts`: a capture can catch the terminal half-way
 * through drawing a frame (the header there, the key bar not yet), so a frame is asserted on
 * only once it is complete.
 */
export function screenShowsAll(tmux: Tmux, parts: (string | RegExp)[], what: string, timeoutMs = 20_000): Promise<string> {
  const has = (screen: string, p: string | RegExp) => (typeof p === 'string' ? screen.includes(p) : p.test(screen));
  return screenShows(tmux, (screen) => parts.every((p) => has(screen, p)), what, timeoutMs);
}

/**
 * Starts `dualdb ARGS` in a clean shell of a new tmux session of `columns`×`rows`, its settings in
 * through a file the shell sources (never on a command line or the screen); the shell prints
 * `EXIT=<code>` when it ends.
 */
export async function launchCli(
  tmux: Tmux,
  options: { dir: string; env: NodeJS.ProcessEnv; args: string[]; columns: number; rows: number },
): Promise<void> {
  const envFile = path.join(options.dir, `env-${options.columns}x${options.rows}.sh`);
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    CI: 'false',
    TERM: 'xterm-256color',
    TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'),
  };
  delete env.NO_COLOR;
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `export ${k}='${String(v).replace(/'/g, `'\\''`)}'`)
      .join('\n')}\n`,
  );
  chmodSync(envFile, 0o600);
  const command = [process.execPath, ...cliArgs(options.args)].map((a) => `'${a}'`).join(' ');
  tmux.kill(); // a session left by a failed test before
  tmux.run([
    'new-session',
    '-d',
    '-s',
    'e2e',
    '-x',
    String(options.columns),
    '-y',
    String(options.rows),
    'env -i PATH="$PATH" HOME="$HOME" bash --norc --noprofile',
  ]);
  tmux.run(['send-keys', '-t', 'e2e', `PS1='e2e-shell$ '; cd '${ROOT}'; clear`, 'Enter']);
  await screenShows(tmux, 'e2e-shell$', 'the shell prompt');
  tmux.run(['send-keys', '-t', 'e2e', `. '${envFile}' && ${command}; echo "EXIT=$?"`, 'Enter']);
}
