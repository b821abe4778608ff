/**
 * Driving the setup wizard in ink-testing-library: keys one per write (bursts
 * arrive as one input), and waiting for content instead of sleeping.
 */
import { render } from 'ink-testing-library';
import type { Config } from '../../src/config/config.js';
import { Wizard } from '../../src/ui/wizard/Wizard.js';

export const KEY = {
  enter: '\r',
  esc: '\u001b',
  tab: '\t',
  shiftTab: '\u001b[Z',
  up: '\u001b[A',
  down: '\u001b[B',
  right: '\u001b[C',
  left: '\u001b[D',
  backspace: '\u007f',
  ctrlC: '\u0003',
  ctrlU: '\u0015',
  pageDown: '\u001b[6~',
} as const;

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
export const strip = (s: string | undefined) => (s ?? '').replace(ANSI, '');

export interface WizardDriver {
  frame(): string;
  /** Types text one character per write, as a person does. */
  type(text: string): Promise<void>;
  press(key: string, times?: number): Promise<void>;
  /** Writes everything at once: one read for the app, as a paste or a fast burst is. */
  burst(text: string): Promise<void>;
  /** Waits until the frame contains `text` (or matches), or fails with the last frame. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Waits until the frame no longer contains `text`. */
  waitGone(text: string | RegExp, timeoutMs?: number): Promise<string>;
  frames(): string[];
  done: Config[];
  exits: number;
  unmount(): void;
}

const tick = (ms = 15) => new Promise((r) => setTimeout(r, ms));

export function renderWizard(initial: Partial<Config>): WizardDriver {
  const done: Config[] = [];
  const state = { exits: 0 };
  const r = render(
    <Wizard
      initial={initial}
      onDone={(c) => done.push(c)}
      onExit={() => {
        state.exits++;
      }}
    />,
  );
  const frame = () => strip(r.lastFrame());
  const matches = (f: string, t: string | RegExp) => (typeof t === 'string' ? f.includes(t) : t.test(f));
  const driver: WizardDriver = {
    frame,
    frames: () => r.frames.map(strip),
    async type(text) {
      for (const c of text) {
        r.stdin.write(c);
        await tick(5);
      }
      await tick();
    },
    async burst(text) {
      r.stdin.write(text);
      await tick();
    },
    async press(key, times = 1) {
      for (let i = 0; i < times; i++) {
        r.stdin.write(key);
        // Esc is told apart from Alt+key after a pause: give it time to be delivered alone.
        await tick(key === KEY.esc ? 40 : 15);
      }
    },
    async waitFor(text, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const f = frame();
        if (matches(f, text)) return f;
        await tick(20);
      }
      throw new Error(`timed out waiting for ${String(text)}; last frame:\n${frame()}`);
    },
    async waitGone(text, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const f = frame();
        if (!matches(f, text)) return f;
        await tick(20);
      }
      throw new Error(`timed out waiting for ${String(text)} to go; last frame:\n${frame()}`);
    },
    done,
    get exits() {
      return state.exits;
    },
    unmount: () => r.unmount(),
  };
  return driver;
}
