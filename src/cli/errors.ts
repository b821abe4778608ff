/** The CLI's single place that turns any failure into one line and an exit code. */
import { isDualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { color, err } from './output.js';

export function reportError(e: unknown): number {
  if (isDualdbError(e)) {
    err(`${color.red('dualdb:')} ${e.message}${e.hint ? color.dim(` — ${e.hint}`) : ''}`);
    if (process.env.DUALDB_DEBUG && e.cause) err(String((e.cause as Error)?.stack ?? e.cause));
    return e.exitCode;
  }
  const code = (e as { code?: string })?.code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version') return EXIT.OK;
  err(`${color.red('dualdb:')} ${messageOf(e)}`);
  if (process.env.DUALDB_DEBUG) err(String((e as Error)?.stack ?? ''));
  return EXIT.FAILURE;
}
