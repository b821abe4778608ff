/**
 * A transaction with foreign key checks deferred (a re-key moves children before their parent)
 * whose COMMIT still finds a violation: SQLite says only "FOREIGN KEY constraint failed". The
 * commit (src/sync/fk-commit.ts) names the child table, the row's key, the parent table and the fix,
 * read with PRAGMA foreign_key_check inside the still-open transaction, and keeps nothing
 * (docs/SYNC-CONTRACT.md invariants 7 and 11).
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { commitNamingForeignKeys, ForeignKeyCommitError, restoreImmediateForeignKeys } from '../src/sync/fk-commit.js';
import { hasCode } from '../src/util/error-codes.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function site(name: string): SqliteDb {
  const db = openSqlite(path.join(tmp.dir, `${name}.db`), { create: true });
  db.pragma('foreign_keys = ON');
  db.exec(`
    CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE detections (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers(id), what TEXT);
    INSERT INTO workers VALUES (1, 'ana'), (2, 'rui');
    INSERT INTO detections VALUES (10, 1, 'helmet'), (11, 2, 'vest');
  `);
  return db;
}

describe('a COMMIT failing a deferred foreign key check', () => {
  it('names the child table, its key, the parent table and the fix, and keeps nothing', () => {
    const db = site('named');
    try {
      let thrown: unknown;
      try {
        commitNamingForeignKeys(
          db,
          () => {
            db.pragma('defer_foreign_keys = ON');
            // A move that forgot one child: worker 2 goes to 42, detection 11 still names 2.
            db.prepare('UPDATE workers SET id = 42 WHERE id = 2').run();
            db.prepare("INSERT INTO detections VALUES (12, 1, 'boots')").run();
          },
          { immediate: true },
        );
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ForeignKeyCommitError);
      const e = thrown as ForeignKeyCommitError;
      expect(hasCode(e, 'SQLITE_FOREIGN_KEY')).toBe(true);
      expect(e.table).toBe('detections');
      expect(e.key).toBe('id=11');
      expect(e.parent).toBe('workers');
      expect(e.message).toContain('detections row id=11 names workers(id) = 2');
      expect(e.oneLine()).toMatch(/add the missing workers row, or fix or delete that detections row/);
      expect(e.oneLine()).not.toContain('\n');
      // Rolled back whole, and the connection is usable.
      expect(db.inTransaction).toBe(false);
      expect(db.prepare('SELECT id FROM workers ORDER BY id').pluck().all()).toEqual([1n, 2n]);
      expect(db.prepare('SELECT count(*) FROM detections').pluck().get()).toBe(2n);
      db.prepare("INSERT INTO detections VALUES (13, 1, 'gloves')").run();
    } finally {
      db.close();
    }
  });

  it('commits what holds, and nests as a savepoint inside a transaction of the caller', () => {
    const db = site('holds');
    try {
      const n = commitNamingForeignKeys(db, () => {
        db.pragma('defer_foreign_keys = ON');
        db.prepare('UPDATE detections SET worker_id = 42 WHERE worker_id = 2').run();
        db.prepare('UPDATE workers SET id = 42 WHERE id = 2').run();
        return 1;
      });
      expect(n).toBe(1);
      expect(db.prepare('SELECT worker_id FROM detections WHERE id = 11').pluck().get()).toBe(42n);
      db.exec('BEGIN');
      commitNamingForeignKeys(db, () => db.prepare("INSERT INTO workers VALUES (7, 'eva')").run());
      expect(db.inTransaction).toBe(true);
      db.exec('ROLLBACK');
      expect(db.prepare('SELECT count(*) FROM workers WHERE id = 7').pluck().get()).toBe(0n);
    } finally {
      db.close();
    }
  });

  it('after moves, checks go back to per statement only once the moves are known whole (a move that left an orphan is named)', () => {
    const db = site('restore');
    try {
      let thrown: unknown;
      try {
        commitNamingForeignKeys(db, () => {
          db.pragma('defer_foreign_keys = ON');
          db.prepare('UPDATE workers SET id = 42 WHERE id = 2').run();
          // Turning the pragma off would forget the orphan (SQLite resets its deferred count): checked first.
          restoreImmediateForeignKeys(db, new Map([['workers', [2n, 42n]]]));
        });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ForeignKeyCommitError);
      expect((thrown as Error).message).toContain('detections row id=11 names workers(id) = 2');
      expect(db.prepare('SELECT count(*) FROM workers WHERE id = 2').pluck().get()).toBe(1n);

      // Whole moves: the rest of the transaction is checked per statement again.
      let orphan: unknown;
      commitNamingForeignKeys(db, () => {
        db.pragma('defer_foreign_keys = ON');
        db.prepare('UPDATE detections SET worker_id = 42 WHERE worker_id = 2').run();
        db.prepare('UPDATE workers SET id = 42 WHERE id = 2').run();
        restoreImmediateForeignKeys(db, new Map([['workers', [2n, 42n]]]));
        try {
          db.transaction(() => db.prepare("INSERT INTO detections VALUES (20, 99, 'orphan')").run())();
        } catch (e) {
          orphan = e;
        }
      });
      expect((orphan as { code?: string }).code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
      expect(db.prepare('SELECT worker_id FROM detections WHERE id = 11').pluck().get()).toBe(42n);
      expect(db.prepare('SELECT count(*) FROM detections WHERE id = 20').pluck().get()).toBe(0n);
    } finally {
      db.close();
    }
  });
});
