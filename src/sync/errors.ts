/**
 * Classifying failures met while applying a batch: transient ones abort the
 * whole batch (it is retried, nothing is lost: the cursor did not move), while
 * row-level ones make only that change "poison" (parked, docs/SYNC-CONTRACT.md, invariant 11).
 */
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { DualdbError, MysqlError, SqliteError } from '../util/errors.js';

const TRANSIENT_MYSQL = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_QUERY_INTERRUPTED', 'ER_QUERY_TIMEOUT']);

export function isTransientMysql(e: unknown): boolean {
  if (e instanceof MysqlError) return true;
  const code = (e as { code?: string })?.code ?? '';
  return TRANSIENT_MYSQL.has(code) || isConnectionError(e) || !code.startsWith('ER_');
}

/**
 * A hub statement that met another transaction's row locks: a deadlock (InnoDB rolled the whole
 * transaction back) or a lock wait timeout (the statement gave up; the caller rolls back). Either way
 * nothing of the transaction stays, and trying it again is safe.
 */
export function hubLockFailure(e: unknown): 'deadlock' | 'lock wait timeout' | undefined {
  for (let x = e, depth = 0; x && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: string }).code;
    if (code === 'ER_LOCK_DEADLOCK') return 'deadlock';
    if (code === 'ER_LOCK_WAIT_TIMEOUT') return 'lock wait timeout';
  }
  return undefined;
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

/**
 * What kind of failure a sync cycle met, for the retry count (backoff.ts RetryCount): the hub away or
 * refusing us, the SQLite file locked by another program, hub row locks, or any other failure by its
 * code (a constraint, a full disk...). `e` is the error as the service reports it (sqliteFailure applied).
 */
export function failureKind(e: unknown): string {
  if (e instanceof MysqlError || isConnectionError(e)) return 'hub';
  if (e instanceof SqliteError && e.kind === 'locked') return 'sqlite-locked';
  const lock = hubLockFailure(e);
  if (lock) return `hub-${lock}`;
  if (e instanceof DualdbError) return `other:${e.code}`;
  const code = (e as { code?: unknown } | null)?.code;
  return `other:${typeof code === 'string' ? code : e instanceof Error ? e.name : typeof e}`;
}
