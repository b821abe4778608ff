/**
 * The terminal is given back on every way out of the full-screen app: normal
 * restore, an uncaught exception, an unhandled rejection, SIGTERM (with and
 * without a graceful stop), and a second signal. Each case runs in a child
 * process and checks the bytes it wrote: the alternate screen is entered,
 * then left, with the cursor shown again.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ESC } from '../src/ui/terminal.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const TERMINAL = path.join(ROOT, 'src/ui/terminal.ts');
const tmp = tempDir('dualdb-term-');
afterAll(() => tmp.cleanup());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(name: string, body: string, options: { signal?: NodeJS.Signals; signals?: number } = {}): Promise<Run> {
  const file = path.join(tmp.dir, `${name}.mts`);
  writeFileSync(file, `import { enterFullScreen } from ${JSON.stringify(TERMINAL)};\n${body}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', `file://${LOADER}`, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
      // Signal once the script says it is in the alternate screen.
      const sig = options.signal;
      if (sig && stdout.includes('READY')) {
        options.signal = undefined;
        for (let i = 0; i < (options.signals ?? 1); i++) setTimeout(() => child.kill(sig), 50 + i * 100);
      }
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectRestored(out: string): void {
  const enter = out.indexOf(ESC.enterAltScreen);
  const leave = out.lastIndexOf(ESC.leaveAltScreen);
  expect(enter).toBeGreaterThanOrEqual(0);
  expect(leave).toBeGreaterThan(enter);
  expect(out.lastIndexOf(ESC.showCursor)).toBeGreaterThan(enter);
  // Left exactly once: restoring twice is harmless but must not print twice.
  expect(out.split(ESC.leaveAltScreen)).toHaveLength(2);
}

describe('terminal restore', () => {
  it('restores on a normal restore() and keeps no handlers behind', async () => {
    const r = await runScript(
      'normal',
      `const s = enterFullScreen(process);
       s.restore(); s.restore();
       console.log('listeners', process.listenerCount('SIGTERM'), process.listenerCount('uncaughtException'), s.active);`,
    );
    expect(r.code).toBe(0);
    expectRestored(r.stdout);
    expect(r.stdout).toContain('listeners 0 0 false');
  });

  it('restores on an uncaught exception and exits 1 with the error', async () => {
    const r = await runScript('crash', `enterFullScreen(process); setTimeout(() => { throw new Error('kaboom'); }, 10);`);
    expect(r.code).toBe(1);
    expectRestored(r.stdout);
    expect(r.stderr).toContain('kaboom');
  });

  it('restores on an unhandled rejection', async () => {
    const r = await runScript('reject', `enterFullScreen(process); setTimeout(() => Promise.reject(new Error('nope')), 10);`);
    expect(r.code).toBe(1);
    expectRestored(r.stdout);
    expect(r.stderr).toContain('nope');
  });

  it('restores on SIGTERM when nobody stops gracefully (exit 143)', async () => {
    const r = await runScript('term', `enterFullScreen(process); console.log('READY'); setInterval(() => {}, 1000);`, {
      signal: 'SIGTERM',
    });
    expect(r.code).toBe(143);
    expectRestored(r.stdout);
  });

  it('lets the app stop gracefully on SIGTERM, and a second signal leaves at once', async () => {
    const graceful = await runScript(
      'graceful',
      `const s = enterFullScreen(process, { onSignal: (sig) => { console.log('stopping on', sig); setTimeout(() => { s.restore(); process.exit(0); }, 20); } });
       console.log('READY'); setInterval(() => {}, 1000);`,
      { signal: 'SIGTERM' },
    );
    expect(graceful.code).toBe(0);
    expect(graceful.stdout).toContain('stopping on SIGTERM');
    expectRestored(graceful.stdout);

    const twice = await runScript(
      'twice',
      `enterFullScreen(process, { onSignal: () => console.log('stopping slowly') });
       console.log('READY'); setInterval(() => {}, 1000);`,
      { signal: 'SIGINT', signals: 2 },
    );
    expect(twice.code).toBe(130);
    expect(twice.stdout).toContain('stopping slowly');
    expectRestored(twice.stdout);
  });

  it('restores on process.exit from anywhere', async () => {
    const r = await runScript('exit', `enterFullScreen(process); setTimeout(() => process.exit(3), 10);`);
    expect(r.code).toBe(3);
    expectRestored(r.stdout);
  });
});
