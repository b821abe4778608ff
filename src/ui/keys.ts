/**
 * Every key binding of the terminal app, declared once as data. The key
 * router, the hint bar and the help overlay are all generated from this
 * table, so they cannot drift apart (gemini-cli's keyBindings idea).
 *
 * Scopes are tried in priority order: an open overlay or a pending question
 * first, then the screen, then global keys.
 */
import type { Key } from 'ink';

export type Scope = 'confirm' | 'overlay' | 'monitor' | 'global';

export type Command =
  | 'syncNow'
  | 'togglePause'
  | 'compare'
  | 'toggleHelp'
  | 'back'
  | 'quit'
  | 'forceQuit'
  | 'confirmYes'
  | 'confirmNo';

export interface KeySpec {
  /** A printable character, e.g. "s" or "?". */
  input?: string;
  ctrl?: boolean;
  escape?: boolean;
  return?: boolean;
}

export interface Binding {
  command: Command;
  scope: Scope;
  keys: readonly KeySpec[];
  /** Short label for the hint bar; bindings without one are listed only in the help. */
  hint?: string;
  /** One line for the help overlay. */
  description: string;
}

export const BINDINGS: readonly Binding[] = [
  {
    command: 'syncNow',
    scope: 'monitor',
    keys: [{ input: 's' }],
    hint: 'sync now',
    description: 'sync now: push local changes, pull the hub’s; the result goes to the log',
  },
  {
    command: 'togglePause',
    scope: 'monitor',
    keys: [{ input: 'p' }],
    hint: 'pause/resume',
    description: 'pause or resume automatic sync (changes keep being captured and queued)',
  },
  {
    command: 'compare',
    scope: 'monitor',
    keys: [{ input: 'c' }],
    hint: 'compare',
    description: 'compare both sides table by table, with progress and a result',
  },
  {
    command: 'toggleHelp',
    scope: 'global',
    keys: [{ input: '?' }],
    hint: 'help',
    description: 'show or hide this help',
  },
  {
    command: 'back',
    scope: 'overlay',
    keys: [{ escape: true }],
    hint: 'close',
    description: 'close the help or the compare result',
  },
  {
    command: 'quit',
    scope: 'global',
    keys: [{ input: 'q' }],
    hint: 'quit',
    description: 'quit (asks first while a sync or a compare is running)',
  },
  {
    command: 'forceQuit',
    scope: 'global',
    keys: [{ input: 'c', ctrl: true }],
    description: 'quit without asking (finishes the batch in flight)',
  },
  {
    command: 'confirmYes',
    scope: 'confirm',
    keys: [{ input: 'y' }, { return: true }],
    hint: 'yes',
    description: 'answer yes to the question in the key bar',
  },
  {
    command: 'confirmNo',
    scope: 'confirm',
    keys: [{ input: 'n' }, { escape: true }],
    hint: 'no',
    description: 'answer no',
  },
];

export const SCOPE_TITLES: Record<Scope, string> = {
  monitor: 'Monitor',
  global: 'Everywhere',
  overlay: 'Overlays',
  confirm: 'Questions',
};

/** How a key is shown to people: "s", "Esc", "Enter", "Ctrl+C". */
export function keyLabel(k: KeySpec): string {
  if (k.escape) return 'Esc';
  if (k.return) return 'Enter';
  const base = k.input ?? '';
  return k.ctrl ? `Ctrl+${base.toUpperCase()}` : base;
}

export function bindingLabel(b: Binding): string {
  return b.keys.map(keyLabel).join('/');
}

function matches(spec: KeySpec, input: string, key: Partial<Key>): boolean {
  if (spec.escape) return Boolean(key.escape);
  if (spec.return) return Boolean(key.return);
  if (spec.input === undefined) return false;
  if (Boolean(spec.ctrl) !== Boolean(key.ctrl)) return false;
  return input === spec.input || (spec.ctrl === true && input.toLowerCase() === spec.input);
}

/** The command for a key press, trying the scopes in the order given. */
export function resolveKey(input: string, key: Partial<Key>, scopes: readonly Scope[]): Command | undefined {
  for (const scope of scopes) {
    for (const b of BINDINGS) {
      if (b.scope !== scope) continue;
      if (b.keys.some((k) => matches(k, input, key))) return b.command;
    }
  }
  return undefined;
}

/**
 * Keys typed quickly arrive as one input ("sq"): split plain printable
 * bursts into one key each so that no key is lost.
 */
export function splitInput(input: string, key: Partial<Key>): { input: string; key: Partial<Key> }[] {
  const chars = [...input];
  if (chars.length <= 1 || key.ctrl || key.meta || key.escape || key.return) return [{ input, key }];
  if (!chars.every((c) => c >= ' ' && c !== '\u007f')) return [{ input, key }];
  return chars.map((c) => ({ input: c, key: {} }));
}

/** The bindings shown in a hint bar for these scopes, in table order. */
export function hintsFor(scopes: readonly Scope[]): Binding[] {
  return BINDINGS.filter((b) => b.hint && scopes.includes(b.scope));
}
