/**
 * Line-by-line prompts (@inquirer/prompts 8.7) as one-shot async functions, the
 * way cli-kit does it. Ctrl+C rejects a prompt with ExitPromptError; here it
 * becomes PromptCancelled, which the command turns into a clean exit. The stdin
 * hand-off between Ink and inquirer happens in one place: `readyForPrompt`.
 */
import { confirm, input, password, select } from '@inquirer/prompts';
import { DualdbError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';

export class PromptCancelled extends DualdbError {
  constructor() {
    super('CANCELLED', 'setup cancelled; nothing was saved', { exitCode: EXIT.INTERRUPTED });
  }
}

/** Ink leaves stdin unref'd and paused; a prompt after it would die at once. Call before every prompt. */
export function readyForPrompt(stream: NodeJS.ReadStream = process.stdin): void {
  stream.ref();
  stream.resume();
}

/** Ink gets no keys after a prompt unless stdin flows again: call before render(). */
export function readyForInk(stream: NodeJS.ReadStream = process.stdin): void {
  stream.resume();
}

/**
 * Matched by name because inquirer forces it: its cancel errors live in @inquirer/core, which
 * is not our dependency (only @inquirer/prompts is), so there is no class to test against.
 */
function isCancel(e: unknown): boolean {
  const name = (e as Error)?.name;
  return name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError';
}

async function guard<T>(p: () => Promise<T>): Promise<T> {
  readyForPrompt();
  try {
    return await p();
  } catch (e) {
    if (isCancel(e)) throw new PromptCancelled();
    throw e;
  }
}

/** A text answer; `validate` returns the message for a bad value (shown under the prompt), or undefined. */
export function askText(message: string, options: { default?: string; validate?: (v: string) => string | undefined } = {}) {
  return guard(() =>
    input({
      message,
      ...(options.default !== undefined ? { default: options.default } : {}),
      ...(options.validate ? { validate: (v: string) => options.validate?.(v) ?? true } : {}),
    }),
  );
}

/** A secret, echoed as `*`. */
export function askPassword(message: string, options: { validate?: (v: string) => string | undefined } = {}) {
  return guard(() =>
    password({
      message,
      mask: '*',
      ...(options.validate ? { validate: (v: string) => options.validate?.(v) ?? true } : {}),
    }),
  );
}

export function askConfirm(message: string, defaultValue = false) {
  return guard(() => confirm({ message, default: defaultValue }));
}

export interface Choice<T> {
  value: T;
  name: string;
  description?: string;
  disabled?: boolean | string;
}

export function askSelect<T>(message: string, choices: readonly Choice<T>[], defaultValue?: T) {
  return guard(() =>
    select<T>({
      message,
      choices: choices.map((c) => ({
        value: c.value,
        name: c.name,
        ...(c.description ? { description: c.description } : {}),
        ...(c.disabled !== undefined ? { disabled: c.disabled } : {}),
      })),
      ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    }),
  );
}
