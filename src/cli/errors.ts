/** The CLI's single place that turns any failure into one line and an exit code. */
import { sqliteFailure } from '../engines/sqlite/open.js';
import { isDualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { currentSqlitePath } from './context.js';
import { color, err } from './output.js';

/** better-sqlite3's own errors (a lock or corruption met after the file opened) carry a SQLITE_* code. */
function fromSqlite(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  if (isDualdbError(e) || typeof code !== 'string' || !code.startsWith('SQLITE_')) return e;
  const mapped = sqliteFailure(e, currentSqlitePath() ?? 'the SQLite file');
  return mapped.kind === 'other' ? e : mapped;
}

export function reportError(thrown: unknown): number {
  const e = fromSqlite(thrown);
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
