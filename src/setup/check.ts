/**
 * What stops a setup, found before its first write (SetupSession.check): a .env
 * value that cannot be written, a pre-flight that fails because the hub is
 * narrower (the fix: `dualdb schema fit`) or because rows are wrong (fix them).
 */

import { formatEnvValue } from '../config/write.js';
import type { FitPlan } from '../schema/fit.js';
import type { PreflightReport } from '../schema/preflight.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { envValuesOf, type SetupAnswers } from './answers.js';

/** What `SetupSession.check` found before anything was written. */
export interface SetupCheck {
  /** The hub's columns that are narrower than SQLite's values (empty plan: none). */
  fit: FitPlan | undefined;
  /** When the SQLite rows are to be copied to the hub. */
  preflight: PreflightReport | undefined;
  /** A .env value that cannot be written (the password, usually). */
  envProblem: string | undefined;
  /** What stops the setup, with the fix; undefined when it can finish. */
  blocker: DualdbError | undefined;
}

/** The setup cannot finish; found before its first write, so nothing was changed. */
export class SetupCheckError extends DualdbError {}

export function envValuesProblem(a: SetupAnswers): string | undefined {
  for (const [key, value] of Object.entries(envValuesOf(a))) {
    if (value === undefined) continue;
    try {
      formatEnvValue(value);
    } catch (e) {
      return `${key} cannot be written to the .env: ${messageOf(e)}`;
    }
  }
  return undefined;
}

export function envBlocker(problem: string): SetupCheckError {
  return new SetupCheckError('SETUP_ENV_UNWRITABLE', `${problem}; nothing was changed`, {
    hint: 'choose a value without that combination (a new password for the hub user) and run setup again',
    exitCode: EXIT.CONFIG,
  });
}

/**
 * The pre-flight failed: the hub is narrower (its columns cannot hold the values;
 * `dualdb schema fit` widens them) or the rows are wrong (fix them in SQLite).
 */
export function preflightBlocker(r: PreflightReport, fit: FitPlan | undefined): SetupCheckError {
  const total = r.counts.reduce((n, c) => n + c.count, 0);
  const widened = new Set(fit?.tables.flatMap((t) => t.changes.map((c) => `${t.table}.${c.column}`.toLowerCase())) ?? []);
  const narrower = r.counts.filter((c) => c.column.split(', ').some((col) => widened.has(`${c.table}.${col}`.toLowerCase())));
  const rest = total - narrower.reduce((n, c) => n + c.count, 0);
  const fix =
    narrower.length > 0
      ? `run \`dualdb schema fit\` to widen the hub's columns${rest > 0 ? ', then fix the other rows in SQLite (`dualdb schema check` lists them)' : ''}, and run setup again`
      : 'fix those rows in SQLite (`dualdb schema check` lists each with its table, key and value) and run setup again';
  return new SetupCheckError(
    'SETUP_PREFLIGHT_FAILED',
    `${total.toLocaleString('en-US')} value(s) would be refused or changed by the hub${narrower.length > 0 ? ' (its columns are narrower than the SQLite data)' : ''}; nothing was changed`,
    { hint: fix, exitCode: EXIT.FAILURE },
  );
}
