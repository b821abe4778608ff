/**
 * Opening the local SQLite file with the settings every dualdb connection needs:
 * WAL (readers never block the Python writer), a busy timeout (wait for the
 * writer's lock instead of failing), foreign keys on, and exact 64-bit integers.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteError } from '../../util/errors.js';
import { lockHolders } from './lock-holder.js';

export type SqliteDb = Database.Database;

export interface OpenSqliteOptions {
  /** Create the file (and its folder) when missing. Default false. */
  create?: boolean;
  readonly?: boolean;
  /** How long a statement waits for another process's lock before failing. Default BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
  /** Return every INTEGER as BigInt (exact beyond 2^53). Default true. */
  safeIntegers?: boolean;
}

/** The bounded wait for another process's lock (a long write transaction of the app). */
export const BUSY_TIMEOUT_MS = 5000;

export function openSqlite(file: string, options: OpenSqliteOptions = {}): SqliteDb {
  const abs = path.resolve(file);
  if (!existsSync(abs)) {
    if (!options.create) {
      throw new SqliteError('missing', `SQLite file ${abs} does not exist`, {
        hint: 'check SQLITE_DB_PATH, or run `dualdb setup` to create it',
      });
    }
    mkdirSync(path.dirname(abs), { recursive: true });
  } else if (statSync(abs).isDirectory()) {
    throw new SqliteError('not-a-database', `${abs} is a folder, not a SQLite database file`, {
      hint: `SQLITE_DB_PATH must name the database file itself, e.g. ${path.join(abs, 'epi_detection.db')}`,
    });
  }
  // No peeking at the file's header with fs.open/close here: closing any descriptor of the
  // database file drops every POSIX lock this process holds on it, including those of a
  // connection already open (the sync loop's). The Python app's connection, closing next,
  // then believes it is the last one, checkpoints and deletes the WAL under our feet, and its
  // later commits are lost (test/sqlite-posix-locks.test.ts). SQLite itself reports a file
  // that is not a database (SQLITE_NOTADB) on the first pragma below, before writing anything.
  let db: SqliteDb;
  try {
    db = new Database(abs, {
      readonly: options.readonly ?? false,
      fileMustExist: !options.create,
    });
  } catch (e) {
    throw sqliteFailure(e, abs);
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
    if (!options.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal' && String(mode).toLowerCase() !== 'memory') {
        throw new SqliteError('other', `could not switch ${abs} to WAL mode (it is in ${String(mode)} mode)`, {
          hint: 'close other programs that hold the file open in exclusive mode',
        });
      }
      db.pragma('synchronous = NORMAL');
      // Capture triggers make each write statement keep a statement journal; in a temp
      // file that costs ~4x on bulk inserts (bench/capture), in memory almost nothing.
      db.pragma('temp_store = MEMORY');
    }
    db.pragma('foreign_keys = ON');
    db.defaultSafeIntegers(options.safeIntegers ?? true);
    // Touch the schema so corruption and lock problems show here, not later.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (e) {
    db.close();
    throw sqliteFailure(e, abs, options.busyTimeoutMs);
  }
  return db;
}

/** The ways on from a corrupt file: the last backup, or what `.recover` can save, in a new file. */
export function corruptHint(file: string): string {
  return `restore it from your last backup (\`sqlite3 FILE ".backup COPY"\` makes one), or save what is readable with \`sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered\` and point SQLITE_DB_PATH at the new file`;
}

function lockedFailure(e: unknown, file: string, waitedMs: number): SqliteError {
  const waited = waitedMs >= 1000 ? `${Math.round(waitedMs / 100) / 10} s` : `${waitedMs} ms`;
  const holders = lockHolders(file);
  const who = holders.map((h) => `process ${h.pid} (${h.command})`).join(', ');
  return new SqliteError(
    'locked',
    holders.length
      ? `${file} is locked by another process: ${who} has held its write lock for at least ${waited} (dualdb waited that long for it)`
      : `${file} is locked by another process, which has held its write lock for at least ${waited} (dualdb waited that long for it)`,
    {
      hint: holders.length
        ? `let that program commit or roll back its transaction (or stop it: kill ${holders.map((h) => h.pid).join(' ')}), then run the command again`
        : 'another program holds a long write transaction or an exclusive lock (`fuser FILE` names it); let it finish, then run the command again',
      cause: e,
      context: { holders },
    },
  );
}

/**
 * Refuses a damaged file before anything is written to it. A corrupt page is found only when it
 * is read, so a file can open fine and still be damaged: `quick_check` reads every page (O(size),
 * so this is for one-time steps like `init`, and for explaining a missing table, not for every batch).
 */
export function assertIntact(db: SqliteDb, file: string): void {
  let first: string;
  try {
    const rows = db.pragma('quick_check(1)') as { quick_check: string }[];
    first = rows[0]?.quick_check ?? 'ok';
  } catch (e) {
    throw sqliteFailure(e, file);
  }
  if (first !== 'ok') {
    // One line: quick_check prefixes "*** in database main ***" and puts each finding on a line.
    const finding = first
      .replace(/\*\*\* in database \S+ \*\*\*/g, '')
      .replace(/\s*\n\s*/g, '; ')
      .replace(/^[;\s]+/, '')
      .trim();
    throw new SqliteError('corrupt', `the SQLite file ${file} is corrupt (${finding}); dualdb wrote nothing to it`, {
      hint: corruptHint(file),
    });
  }
}

/** Maps a better-sqlite3 error to a SqliteError with the cause and the fix. */
export function sqliteFailure(e: unknown, file: string, waitedMs = BUSY_TIMEOUT_MS): SqliteError {
  if (e instanceof SqliteError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = (e as Error).message ?? String(e);
  if (code === 'SQLITE_NOTADB') {
    return new SqliteError('not-a-database', `${file} is not a SQLite database`, {
      hint: 'SQLITE_DB_PATH points at another kind of file; fix the path',
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new SqliteError('corrupt', `the SQLite file ${file} is corrupt (${msg}); dualdb wrote nothing to it`, {
      hint: corruptHint(file),
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return lockedFailure(e, file, waitedMs);
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM') {
    return new SqliteError('readonly', `cannot open ${file} for writing (${msg})`, {
      hint: 'check the permissions of the file and of its folder (SQLite needs to create -wal and -shm files there)',
      cause: e,
    });
  }
  return new SqliteError('other', `SQLite error on ${file}: ${msg}`, {
    cause: e,
  });
}
