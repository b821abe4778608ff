/**
 * The problem model: any failure reduced to the three things a person needs
 * (a code, one line, the fix). It sits below sync and monitor so that both can
 * report failures the same way without importing each other.
 */
import { DualdbError } from '../util/errors.js';

export interface Problem {
  code: string;
  message: string;
  hint: string | undefined;
}

export function problemOf(e: unknown): Problem {
  if (e instanceof DualdbError) return { code: e.code, message: e.message, hint: e.hint };
  return {
    code: 'ERROR',
    message: e instanceof Error ? e.message : String(e),
    hint: undefined,
  };
}
