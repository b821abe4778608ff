/**
 * Classifying failures met while applying a batch: transient ones abort the
 * whole batch (it is retried, nothing is lost: the cursor did not move), while
 * row-level ones make only that change "poison" (parked, docs/SYNC-CONTRACT.md, invariant 11).
 */
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { MysqlError } from '../util/errors.js';

const TRANSIENT_MYSQL = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_QUERY_INTERRUPTED', 'ER_QUERY_TIMEOUT']);

export function isTransientMysql(e: unknown): boolean {
  if (e instanceof MysqlError) return true;
  const code = (e as { code?: string })?.code ?? '';
  return TRANSIENT_MYSQL.has(code) || isConnectionError(e) || !code.startsWith('ER_');
}

export function isTransientSqlite(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL';
}

/** One line describing a row-level failure, for the parked table. */
export function rowErrorText(e: unknown): string {
  const err = e as { code?: string; sqlMessage?: string; message?: string };
  const msg = err.sqlMessage ?? err.message ?? String(e);
  return err.code ? `${err.code}: ${msg}` : msg;
}
