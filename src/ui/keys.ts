/**
 * Every key binding of the terminal app, declared once as data. The key
 * router, the hint bar and the help overlay are all generated from this
 * table, so they cannot drift apart (gemini-cli's keyBindings idea).
 *
 * Scopes are tried in priority order: an open overlay or a pending question
 * first, then the screen, then global keys.
 */
import type { Key } from 'ink';

export type Scope =
  | 'confirm'
  | 'overlay'
  | 'monitor'
  | 'global'
  // The setup wizard: a screen is in one or more of these at a time, then 'wizard'.
  | 'wizardHelp'
  | 'wizardCancel'
  | 'wizardMenu'
  | 'wizardScroll'
  | 'wizardNext'
  | 'wizardFinish'
  | 'wizardEdit'
  | 'wizardBack'
  | 'wizardFields'
  | 'wizardChange'
  | 'wizard';

export type Command =
  | 'syncNow'
  | 'togglePause'
  | 'compare'
  | 'toggleHelp'
  | 'back'
  | 'quit'
  | 'forceQuit'
  | 'confirmYes'
  | 'confirmNo'
  | 'cancel'
  | 'choose'
  | 'moveDown'
  | 'moveUp'
  | 'pick'
  | 'scrollDown'
  | 'scrollUp'
  | 'next'
  | 'edit'
  | 'fieldNext'
  | 'fieldPrev'
  | 'changeNext'
  | 'changePrev';

export interface KeySpec {
  /** A printable character, e.g. "s" or "?". */
  input?: string;
  ctrl?: boolean;
  escape?: boolean;
  return?: boolean;
  tab?: boolean;
  /** With tab: Shift+Tab. */
  shift?: boolean;
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  /** Any of the digits 1–9 (a menu item by its number). */
  digit?: boolean;
}

export interface Binding {
  command: Command;
  scope: Scope;
  keys: readonly KeySpec[];
  /** Short label for the hint bar; bindings without one are listed only in the help. */
  hint?: string;
  /** One line for the help overlay. */
  description: string;
  /** How its keys are shown, when that reads better than listing them ("↑↓"). */
  label?: string;
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
  // ── the setup wizard ──
  {
    command: 'back',
    scope: 'wizardHelp',
    keys: [{ escape: true }],
    hint: 'close',
    description: 'close this help',
  },
  {
    command: 'cancel',
    scope: 'wizardCancel',
    keys: [{ escape: true }, { input: 'c', ctrl: true }],
    hint: 'cancel',
    description: 'cancel the copy (what was copied stays; setup offers to resume it)',
  },
  {
    command: 'choose',
    scope: 'wizardMenu',
    keys: [{ return: true }],
    hint: 'choose',
    description: 'choose the selected item',
  },
  {
    command: 'moveDown',
    scope: 'wizardMenu',
    keys: [{ downArrow: true }, { tab: true }],
    label: '↑↓',
    hint: 'move',
    description: 'select the next item',
  },
  {
    command: 'moveUp',
    scope: 'wizardMenu',
    keys: [{ upArrow: true }, { tab: true, shift: true }],
    description: 'select the item before',
  },
  {
    command: 'pick',
    scope: 'wizardMenu',
    keys: [{ digit: true }],
    description: 'choose an item by its number',
  },
  {
    command: 'scrollDown',
    scope: 'wizardScroll',
    keys: [{ pageDown: true }],
    label: 'PgUp/PgDn',
    hint: 'scroll',
    description: 'scroll the details down',
  },
  {
    command: 'scrollUp',
    scope: 'wizardScroll',
    keys: [{ pageUp: true }],
    description: 'scroll the details up',
  },
  {
    command: 'next',
    scope: 'wizardNext',
    keys: [{ return: true }],
    hint: 'next',
    description: 'next: check what was typed and go on',
  },
  {
    command: 'next',
    scope: 'wizardFinish',
    keys: [{ return: true }],
    hint: 'open the monitor',
    description: 'open the monitor (the .env is saved)',
  },
  {
    command: 'edit',
    scope: 'wizardEdit',
    keys: [{ return: true }],
    hint: 'edit',
    description: 'back to the form to change what failed',
  },
  {
    command: 'back',
    scope: 'wizardBack',
    keys: [{ escape: true }],
    hint: 'back',
    description: 'one step back (on the first step: leave the setup)',
  },
  {
    command: 'fieldNext',
    scope: 'wizardFields',
    keys: [{ tab: true }, { downArrow: true }],
    label: 'Tab/↑↓',
    hint: 'field',
    description: 'next field',
  },
  {
    command: 'fieldPrev',
    scope: 'wizardFields',
    keys: [{ tab: true, shift: true }, { upArrow: true }],
    description: 'field before',
  },
  {
    command: 'changeNext',
    scope: 'wizardChange',
    keys: [{ rightArrow: true }, { input: ' ' }],
    label: '←→',
    hint: 'change',
    description: 'change a choice or a switch (Space too)',
  },
  {
    command: 'changePrev',
    scope: 'wizardChange',
    keys: [{ leftArrow: true }],
    description: 'change a choice back',
  },
  {
    command: 'toggleHelp',
    scope: 'wizard',
    keys: [{ input: '?' }],
    hint: 'help',
    description: 'show or hide this help (in a text field, ? is typed)',
  },
  {
    command: 'quit',
    scope: 'wizard',
    keys: [{ input: 'c', ctrl: true }],
    hint: 'quit',
    description: 'leave the setup (no .env is written before the last step)',
  },
];

export const SCOPE_TITLES: Record<Scope, string> = {
  monitor: 'Monitor',
  global: 'Everywhere',
  overlay: 'Overlays',
  confirm: 'Questions',
  wizardHelp: 'This help',
  wizardCancel: 'While copying',
  wizardMenu: 'Choices',
  wizardScroll: 'Details',
  wizardNext: 'This step',
  wizardFinish: 'This step',
  wizardEdit: 'After a failure',
  wizardBack: 'Steps',
  wizardFields: 'Forms',
  wizardChange: 'Forms',
  wizard: 'Everywhere in the setup',
};

/** How a key is shown to people: "s", "Esc", "Enter", "Ctrl+C". */
export function keyLabel(k: KeySpec): string {
  if (k.escape) return 'Esc';
  if (k.return) return 'Enter';
  if (k.tab) return k.shift ? 'Shift+Tab' : 'Tab';
  if (k.upArrow) return '↑';
  if (k.downArrow) return '↓';
  if (k.leftArrow) return '←';
  if (k.rightArrow) return '→';
  if (k.pageUp) return 'PgUp';
  if (k.pageDown) return 'PgDn';
  if (k.digit) return '1–9';
  if (k.input === ' ') return 'Space';
  const base = k.input ?? '';
  return k.ctrl ? `Ctrl+${base.toUpperCase()}` : base;
}

export function bindingLabel(b: Pick<Binding, 'keys' | 'label'>): string {
  return b.label ?? b.keys.map(keyLabel).join('/');
}

function matches(spec: KeySpec, input: string, key: Partial<Key>): boolean {
  if (spec.escape) return Boolean(key.escape);
  if (spec.return) return Boolean(key.return);
  if (spec.tab) return Boolean(key.tab) && Boolean(spec.shift) === Boolean(key.shift);
  if (spec.upArrow) return Boolean(key.upArrow);
  if (spec.downArrow) return Boolean(key.downArrow);
  if (spec.leftArrow) return Boolean(key.leftArrow);
  if (spec.rightArrow) return Boolean(key.rightArrow);
  if (spec.pageUp) return Boolean(key.pageUp);
  if (spec.pageDown) return Boolean(key.pageDown);
  if (spec.digit) return !key.ctrl && !key.meta && /^[1-9]$/.test(input);
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

/** A key as Ink would report it (to ask which command it would reach). */
function eventOf(k: KeySpec): { input: string; key: Partial<Key> } {
  const { input, digit, ...flags } = k;
  return { input: digit ? '1' : (input ?? ''), key: flags };
}

/**
 * The bindings shown in a hint bar for these scopes, in table order: only those
 * that one of their keys reaches (a key taken by an earlier scope is not offered twice).
 */
export function hintsFor(scopes: readonly Scope[]): Binding[] {
  return BINDINGS.filter(
    (b) =>
      b.hint &&
      scopes.includes(b.scope) &&
      b.keys.some((k) => {
        const e = eventOf(k);
        return resolveKey(e.input, e.key, scopes) === b.command;
      }),
  );
}

/** A key that types a character (a text field takes it before any command). */
export function isTyping(input: string, key: Partial<Key>): boolean {
  if (key.ctrl || key.meta || key.escape || key.return || key.tab || key.backspace || key.delete) return false;
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown) return false;
  return input !== '' && [...input].every((c) => c >= ' ' && c !== '\u007f');
}

/** Whether a binding can be reached while a text field takes the typed characters. */
export function reachableWhileTyping(b: Pick<Binding, 'keys'>): boolean {
  return b.keys.some((k) => {
    const e = eventOf(k);
    return !isTyping(e.input, e.key);
  });
}
