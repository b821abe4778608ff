/** Small helpers for Ink screens under ink-testing-library: keys one at a time, waiting for content instead of sleeping. */
import chalk from 'chalk';

export const KEY = {
  escape: '\u001b',
  enter: '\r',
  ctrlC: '\u0003',
} as const;

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

export function strip(s: string | undefined): string {
  return (s ?? '').replace(ANSI, '');
}

/** Colour escape codes (foreground/background), not bold/dim/reset. */
export function hasColour(s: string | undefined): boolean {
  // 30-37/90-97 foreground, 40-47/100-107 background, 38;/48; extended; not 39/49 (the resets).
  return /\u001b\[(3[0-7]|9[0-7]|4[0-7]|10[0-7])m|\u001b\[(38|48);/.test(s ?? '');
}

export const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return;
    await tick(15);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Writes one key and gives React a moment. */
export async function press(stdin: { write: (s: string) => void }, key: string, ms = 40): Promise<void> {
  stdin.write(key);
  await tick(ms);
}

/** Forces colour output (tests run without a TTY, where chalk would print none). */
export function withColours(level: 0 | 1 | 2 | 3 = 1): () => void {
  const before = chalk.level;
  chalk.level = level;
  return () => {
    chalk.level = before;
  };
}
