/**
 * Pure input handling for the wizard: editing a text value, moving through a
 * form, choosing in a menu. Kept free of React so that every key rule is tested
 * directly, and so that bursts of keys (paste, fast typing, tmux send-keys) are
 * handled the same way as single keys.
 */
import type { Key } from 'ink';
import { type Command, resolveKey, type Scope } from '../keys.js';

export type KeyInfo = Partial<Key>;

/** Printable characters of an input (a paste or a burst), without control characters. */
export function printable(input: string): string {
  return [...input].filter((c) => c >= ' ' && c !== '\u007f').join('');
}

/**
 * The value after a key. The cursor stays at the end (as in most setup forms):
 * Backspace (and the Delete key, which many terminals send for Backspace)
 * removes the last character, Ctrl+U clears, Ctrl+W removes the last word;
 * printable input is appended.
 */
export function editText(value: string, input: string, key: KeyInfo): string {
  if (key.backspace || key.delete) return [...value].slice(0, -1).join('');
  if (key.ctrl) {
    if (input === 'u') return '';
    if (input === 'w') return value.replace(/\S*\s*$/, '');
    return value;
  }
  if (key.meta || key.escape || key.return || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow)
    return value;
  return value + printable(input);
}

export type FieldSpec =
  | {
      kind: 'text';
      id: string;
      label: string;
      /** Shown as • per character. */
      mask?: boolean;
      /** The message for an invalid value, or undefined. */
      validate?: (value: string) => string | undefined;
      /** Shown dimmed after the value when the field is focused. */
      help?: string;
      placeholder?: string;
    }
  | { kind: 'toggle'; id: string; label: string; on: string; off: string; help?: string }
  | { kind: 'choice'; id: string; label: string; options: { value: string; label: string; help?: string }[] };

export type FormValues = Record<string, string | boolean>;

export interface FormState {
  values: FormValues;
  focus: number;
  /** Enter was pressed with invalid fields: errors are shown on every field from now on. */
  attempted: boolean;
  /** Fields changed by the user (their errors show at once). */
  touched: Record<string, boolean>;
}

export function initialForm(values: FormValues): FormState {
  return { values, focus: 0, attempted: false, touched: {} };
}

/** Errors per field id (only invalid ones). */
export function formErrors(fields: readonly FieldSpec[], values: FormValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    if (f.kind !== 'text' || !f.validate) continue;
    const why = f.validate(String(values[f.id] ?? ''));
    if (why) out[f.id] = why;
  }
  return out;
}

/** The error to show on a field now: once it was edited, or after a submit attempt. */
export function visibleError(fields: readonly FieldSpec[], state: FormState, id: string): string | undefined {
  if (!state.attempted && !state.touched[id]) return undefined;
  return formErrors(fields, state.values)[id];
}

export type FormOutcome = { state: FormState; submit: boolean; back: boolean };

/** The key table's scopes of a form (src/ui/keys.ts). */
export const FORM_SCOPES: readonly Scope[] = ['wizardNext', 'wizardBack', 'wizardFields', 'wizardChange'];

/**
 * One intent on a form: `next` submits when every field is valid (otherwise focus
 * goes to the first invalid one), `back` leaves, `fieldNext`/`fieldPrev` move the
 * focus, `changeNext`/`changePrev` change a toggle or a choice. A text field keeps
 * its own typing: any other key (and Space, and the arrows) edits it; a toggle
 * also takes y and n.
 */
export function formCommand(
  fields: readonly FieldSpec[],
  state: FormState,
  command: Command | undefined,
  input: string,
  key: KeyInfo,
): FormOutcome {
  const n = fields.length;
  const field = fields[state.focus];
  const same = { state, submit: false, back: false };
  if (command === 'back') return { ...same, back: true };
  if (command === 'next') {
    const errors = formErrors(fields, state.values);
    const firstBad = fields.findIndex((f) => errors[f.id] !== undefined);
    if (firstBad >= 0) return { ...same, state: { ...state, attempted: true, focus: firstBad } };
    return { ...same, submit: true };
  }
  if (command === 'fieldNext') return { ...same, state: { ...state, focus: (state.focus + 1) % n } };
  if (command === 'fieldPrev') return { ...same, state: { ...state, focus: (state.focus - 1 + n) % n } };
  if (!field) return same;
  const set = (v: string | boolean): FormOutcome => ({
    ...same,
    state: { ...state, values: { ...state.values, [field.id]: v }, touched: { ...state.touched, [field.id]: true } },
  });
  if (field.kind === 'toggle') {
    if (command === 'changeNext' || command === 'changePrev') return set(!state.values[field.id]);
    if (input.toLowerCase() === 'y') return set(true);
    if (input.toLowerCase() === 'n') return set(false);
    return same;
  }
  if (field.kind === 'choice') {
    const i = field.options.findIndex((o) => o.value === state.values[field.id]);
    if (command === 'changeNext') return set(field.options[(i + 1) % field.options.length]?.value ?? '');
    if (command === 'changePrev') return set(field.options[(i - 1 + field.options.length) % field.options.length]?.value ?? '');
    return same;
  }
  const before = String(state.values[field.id] ?? '');
  const after = editText(before, input, key);
  return after === before ? same : set(after);
}

/** One key on a form, through the key table (formCommand says what each intent does). */
export function formKey(fields: readonly FieldSpec[], state: FormState, input: string, key: KeyInfo): FormOutcome {
  return formCommand(fields, state, resolveKey(input, key, FORM_SCOPES), input, key);
}

/** The scopes a form's key bar shows: changing a value only while a toggle or a choice has the focus. */
export function formHints(fields: readonly FieldSpec[], state: FormState): readonly Scope[] {
  return typingIn(fields, state) ? FORM_SCOPES.filter((s) => s !== 'wizardChange') : FORM_SCOPES;
}

/** Whether the focused field is a text field (typed characters go to it, not to commands). */
export function typingIn(fields: readonly FieldSpec[], state: FormState): boolean {
  return fields[state.focus]?.kind === 'text';
}

export interface MenuItem<T extends string = string> {
  value: T;
  label: string;
  /** One or two lines under the label when it is selected (or always, with `details`). */
  help?: string;
  disabled?: string | false;
}

/** The next enabled item from `from` in direction `dir` (wrapping), or `from` when none. */
export function moveMenu(items: readonly MenuItem[], from: number, dir: 1 | -1): number {
  const n = items.length;
  for (let k = 1; k <= n; k++) {
    const i = (from + dir * k + n * k) % n;
    if (!items[i]?.disabled) return i;
  }
  return from;
}

export function firstEnabled(items: readonly MenuItem[]): number {
  const i = items.findIndex((it) => !it.disabled);
  return Math.max(i, 0);
}

/** The key table's scopes of a menu (src/ui/keys.ts). */
export const MENU_SCOPES: readonly Scope[] = ['wizardMenu', 'wizardBack'];

/** One intent on a menu: move, pick by number, choose, back out. */
export function menuCommand(
  items: readonly MenuItem[],
  cursor: number,
  command: Command | undefined,
  input: string,
): { cursor: number; chosen?: string; back?: boolean } {
  switch (command) {
    case 'back':
      return { cursor, back: true };
    case 'moveUp':
      return { cursor: moveMenu(items, cursor, -1) };
    case 'moveDown':
      return { cursor: moveMenu(items, cursor, 1) };
    case 'choose': {
      const it = items[cursor];
      return it && !it.disabled ? { cursor, chosen: it.value } : { cursor };
    }
    case 'pick': {
      const i = Number(input) - 1;
      const it = items[i];
      return it && !it.disabled ? { cursor: i, chosen: it.value } : { cursor };
    }
    default:
      return { cursor };
  }
}

/** One key on a menu, through the key table: ↑/↓ (and Tab) move, 1–9 pick, Enter chooses, Esc backs out. */
export function menuKey(
  items: readonly MenuItem[],
  cursor: number,
  input: string,
  key: KeyInfo,
): { cursor: number; chosen?: string; back?: boolean } {
  return menuCommand(items, cursor, resolveKey(input, key, MENU_SCOPES), input);
}

/** A control character as the key Ink would have reported had it come alone. */
function controlKey(c: string): { input: string; key: KeyInfo } {
  if (c === '\r' || c === '\n') return { input: '', key: { return: true } };
  if (c === '\t') return { input: '', key: { tab: true } };
  if (c === '\u007f' || c === '\b') return { input: '', key: { backspace: true } };
  const code = c.charCodeAt(0);
  if (code >= 1 && code <= 26) return { input: String.fromCharCode(code + 96), key: { ctrl: true } };
  return { input: '', key: {} };
}

/**
 * Ink splits what it reads only at escape sequences, so keys that arrive in one
 * read (fast typing, a paste ending in Enter, tmux send-keys under load) come as
 * one input such as "\u0015127.0.0.1" (Ctrl+U, then text). This splits such a
 * burst back into its keys: each control character on its own, printable runs
 * kept together (a field takes them whole).
 */
export function splitBurst(input: string, key: KeyInfo): { input: string; key: KeyInfo }[] {
  // A line feed alone is Enter: Ink names it 'enter', not 'return', and it is what an Enter pressed
  // before the terminal went raw arrives as (the line discipline turned its CR into LF), e.g. in
  // the instant between the wizard's first frame and its raw mode (seen in a CI run under load).
  if (input === '\n' && !key.return) return [controlKey('\n')];
  const chars = [...input];
  if (chars.length <= 1 || key.escape || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.meta)
    return [{ input, key }];
  if (!chars.some((c) => c < ' ' || c === '\u007f')) return [{ input, key }];
  const out: { input: string; key: KeyInfo }[] = [];
  let text = '';
  for (const c of chars) {
    if (c < ' ' || c === '\u007f') {
      if (text) out.push({ input: text, key: {} });
      text = '';
      out.push(controlKey(c));
    } else text += c;
  }
  if (text) out.push({ input: text, key: {} });
  return out;
}
