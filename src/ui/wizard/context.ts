/**
 * What every wizard screen receives: the setup session (the domain; screens
 * hold no SQL) and the snapshot of its state, navigation (next/back), the way out, and the terminal size.
 */
import type { Key } from 'ink';
import { createContext, useCallback, useContext, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Config } from '../../config/config.js';
import type { SetupSession } from '../../setup/session.js';
import type { SetupSnapshot } from '../../setup/store.js';
import type { KeySpec } from '../keys.js';

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

export interface Hint {
  keys: readonly KeySpec[];
  hint: string;
}

export const HINT = {
  next: { keys: [{ return: true }], hint: 'next' },
  choose: { keys: [{ return: true }], hint: 'choose' },
  back: { keys: [{ escape: true }], hint: 'back' },
  quit: { keys: [{ input: 'c', ctrl: true }], hint: 'quit' },
  field: { keys: [{ input: 'Tab/↑↓' }], hint: 'field' },
  move: { keys: [{ input: '↑↓' }], hint: 'move' },
  change: { keys: [{ input: '←→' }], hint: 'change' },
  cancel: { keys: [{ escape: true }], hint: 'cancel' },
  monitor: { keys: [{ return: true }], hint: 'open the monitor' },
} satisfies Record<string, Hint>;

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
  /** The key bar of the current screen: written while the screen renders, read by the bar rendered after it. */
  hints: { current: readonly Hint[] };
  /** Re-renders the key bar after the hints changed outside a wizard render. */
  refreshHints: (key: string) => void;
  /** While set, Ctrl+C calls it instead of leaving (it returns true when it handled the key). */
  setInterrupt: (fn: (() => boolean) | undefined) => void;
  /** The current screen's key handler; the wizard's one key router calls it. */
  keys: { current: KeyHandler | undefined };
}

export type KeyHandler = (input: string, key: Partial<Key>) => void;

export const WizardContext = createContext<WizardContextValue | undefined>(undefined);

export function useWizard(): WizardContextValue {
  const v = useContext(WizardContext);
  if (!v) throw new Error('wizard screens render inside <Wizard>');
  return v;
}

/** Declares the key bar of a screen (re-declared when the list changes). */
export function useHints(hints: readonly Hint[]): void {
  const ctx = useWizard();
  const key = hints.map((h) => h.hint).join('|');
  // The bar renders after the screen in the same pass, so the first frame of a screen has its own keys.
  ctx.hints.current = hints;
  const { refreshHints } = ctx;
  useLayoutEffect(() => refreshHints(key), [key, refreshHints]);
}

/**
 * The screen's key handler. It is installed during the commit (a layout effect),
 * so a key typed right after a screen appears reaches that screen, never the
 * one before it and never nobody.
 */
export function useKeys(handler: KeyHandler): void {
  const { keys } = useWizard();
  useLayoutEffect(() => {
    keys.current = handler;
    return () => {
      if (keys.current === handler) keys.current = undefined;
    };
  });
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
