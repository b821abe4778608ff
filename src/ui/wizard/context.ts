/**
 * What every wizard screen receives: the setup session (the domain; screens
 * hold no SQL) and the snapshot of its state, navigation (next/back), the way out, and the terminal size.
 */
import type { Key } from 'ink';
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { Config } from '../../config/config.js';
import type { SetupSession } from '../../setup/session.js';
import type { SetupSnapshot } from '../../setup/store.js';
import type { Command, Scope } from '../keys.js';

export type StepKey = 'found' | 'connection' | 'test' | 'waysOn' | 'provision' | 'schema' | 'migrate' | 'sync' | 'save';

export const STEPS: readonly { key: StepKey; title: string }[] = [
  { key: 'found', title: 'What was found' },
  { key: 'connection', title: 'MySQL connection' },
  { key: 'test', title: 'Connection test' },
  { key: 'waysOn', title: 'No MySQL reachable' },
  { key: 'provision', title: 'Database and user' },
  { key: 'schema', title: 'Schema' },
  { key: 'migrate', title: 'Initial migration' },
  { key: 'sync', title: 'Sync mode' },
  { key: 'save', title: 'Save and summary' },
];

export function stepNumber(key: StepKey): number {
  return STEPS.findIndex((s) => s.key === key) + 1;
}

/**
 * The step marks of the header for the path taken so far (`history`, the current
 * step last): ◉ the current step, ● a step on the path to it, · a step the path
 * passed over (step 4 when a server answered, step 5 without provisioning), ○ a
 * step still ahead. The number ("step 6 of 9") is the step's own, as in
 * `setup --plain` and in the screens' texts; the marks say which ones were taken.
 */
export function stepMarks(history: readonly StepKey[]): string {
  const current = history[history.length - 1] ?? 'found';
  const n = stepNumber(current);
  return STEPS.map((step, i) => (i + 1 === n ? '◉' : i + 1 > n ? '○' : history.includes(step.key) ? '●' : '·')).join(' ');
}

export interface WizardContextValue {
  /** Does the work; its state changes only through its store. */
  session: SetupSession;
  /** The session's state as rendered now (the store's snapshot: screens re-render when it changes). */
  setup: SetupSnapshot;
  /** Whether screens may listen to keys (stdin is a TTY). */
  active: boolean;
  columns: number;
  /** Lines available to a screen's body. */
  bodyRows: number;
  /** Forward to a step; to one already in the history, back to it (it opens afresh). */
  go: (step: StepKey) => void;
  /** One step back (Esc); on the first screen, leave. */
  back: () => void;
  exit: () => void;
  done: (config: Config) => void;
  /** The help overlay is open (its keys come first; the screen stays as it was). */
  helpOpen: boolean;
  /** The current screen's keys; the wizard's one key router calls it. */
  keys: { current: ScreenKeys | undefined };
}

/** What a screen listens to now: its scopes of the key table and what it does with their intents. */
export interface ScreenKeys {
  scopes: readonly Scope[];
  /** The scopes the key bar shows, when fewer than those listened to (a form: no "change" on a text field). */
  hints?: readonly Scope[] | undefined;
  /** An intent of the key table, or (undefined) a key that is none: typing, for a text field. */
  onKey: (command: Command | undefined, input: string, key: Partial<Key>) => void;
  /** A text field has the focus: typed characters go to it before any command (read at each key). */
  typing?: (() => boolean) | undefined;
}

export const WizardContext = createContext<WizardContextValue | undefined>(undefined);

export function useWizard(): WizardContextValue {
  const v = useContext(WizardContext);
  if (!v) throw new Error('wizard screens render inside <Wizard>');
  return v;
}

export type TaskState<T> =
  | { status: 'idle' }
  | { status: 'running' }
  | { status: 'done'; value: T }
  | { status: 'failed'; error: unknown };

/** An async domain call with its state; results after unmount are dropped. */
export function useTask<T>(): [TaskState<T>, (fn: () => Promise<T>) => void, () => void] {
  const [state, setState] = useState<TaskState<T>>({ status: 'idle' });
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  const run = useCallback((fn: () => Promise<T>) => {
    setState({ status: 'running' });
    fn().then(
      (value) => {
        if (alive.current) setState({ status: 'done', value });
      },
      (error: unknown) => {
        if (alive.current) setState({ status: 'failed', error });
      },
    );
  }, []);
  const reset = useCallback(() => setState({ status: 'idle' }), []);
  return [state, run, reset];
}

/**
 * State that key handlers read through a ref: keys arriving faster than React
 * renders (typing, paste, tmux send-keys) each see the state the previous key
 * left, instead of the last rendered one, so none is lost.
 */
export function useKeyState<T>(initial: T | (() => T)): [T, (next: T) => void, { readonly current: T }] {
  const [value, setValue] = useState<T>(initial);
  const ref = useRef(value);
  const set = useCallback((next: T) => {
    ref.current = next;
    setValue(next);
  }, []);
  return [value, set, ref];
}
