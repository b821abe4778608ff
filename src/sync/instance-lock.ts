/**
 * The single-instance lock of a node: one syncer per SQLite file. It is an
 * exclusive SQLite lock on a small file of its own beside the database
 * (`<file>.dualdb.lock`), held by a dedicated connection inside `BEGIN
 * EXCLUSIVE` for the life of the holder. The operating system releases it when
 * the process dies, however it dies; a live holder keeps it however long its
 * event loop is blocked (a long synchronous batch), so nothing has to guess
 * liveness from a ping.
 *
 * The lock file is never opened with `fs` (closing any descriptor of a file
 * drops the process's POSIX locks on it) and never deleted (a holder would keep
 * locking a file that a newcomer no longer sees). The node's own database file is
 * not used: its locks belong to SQLite's transactions.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteFailure } from '../engines/sqlite/open.js';

export function instanceLockPath(sqlitePath: string): string {
  let real = path.resolve(sqlitePath);
  try {
    real = realpathSync(real);
  } catch {
    // not created yet: the resolved path is as good
  }
  return `${real}.dualdb.lock`;
}

export class InstanceLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock at once, or returns undefined when another live process (or handle) holds it. */
  static tryAcquire(sqlitePath: string): InstanceLock | undefined {
    const file = instanceLockPath(sqlitePath);
    let db: Database.Database;
    try {
      db = new Database(file, { timeout: 0 });
    } catch (e) {
      throw sqliteFailure(e, file);
    }
    try {
      // No journal file left beside the lock; the lock file never holds data.
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
      return new InstanceLock(db);
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY') return undefined;
      throw sqliteFailure(e, file);
    }
  }

  get held(): boolean {
    return this.db.open;
  }

  release(): void {
    if (!this.db.open) return;
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}
