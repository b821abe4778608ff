/**
 * Committing a SQLite transaction whose foreign key checks were deferred (`PRAGMA
 * defer_foreign_keys = ON`: a re-key moves children before their parent). A violation left at the
 * end fails the COMMIT with SQLite's bare "FOREIGN KEY constraint failed", which names no table and
 * no row. SQLite keeps the transaction open after that failure, so the violations can still be
 * read there (`PRAGMA foreign_key_check`) before the rollback: the error then says which row of
 * which table names which missing parent, and what to do (docs/SYNC-CONTRACT.md invariants 7, 11).
 */
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { DualdbError } from '../util/errors.js';

/** A COMMIT refused by a deferred foreign key check, with the first offending row named. */
export class ForeignKeyCommitError extends DualdbError {
  constructor(
    readonly table: string,
    /** The child row's primary key as `col=value` pairs (its rowid when it has no other). */
    readonly key: string,
    readonly parent: string,
    /** How many more violations the check found beyond the one named. */
    readonly more: number,
    message: string,
    hint: string,
    cause: unknown,
  ) {
    super('SQLITE_FOREIGN_KEY', message, { hint, cause, context: { table, key, parent, more } });
  }
}

interface Violation {
  table: string;
  rowid: number | bigint | null;
  parent: string;
  fkid: number | bigint;
}

interface FkColumn {
  id: number | bigint;
  table: string;
  from: string;
  to: string | null;
}

/** SQLite's deferred (or immediate) foreign key failure, as better-sqlite3 reports it. */
export function isForeignKeyFailure(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Runs `fn` in a transaction and commits it. Inside another transaction it is a savepoint (the
 * outer COMMIT is where deferred checks happen; that one should be made here too). A COMMIT that
 * fails a deferred foreign key check throws ForeignKeyCommitError naming the row; nothing is kept.
 */
export function commitNamingForeignKeys<T>(db: SqliteDb, fn: () => T, options: { immediate?: boolean } = {}): T {
  if (db.inTransaction) return db.transaction(fn)();
  db.exec(options.immediate ? 'BEGIN IMMEDIATE' : 'BEGIN');
  let result: T;
  try {
    result = fn();
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
  try {
    db.exec('COMMIT');
  } catch (e) {
    // A failed COMMIT leaves the transaction open (SQLite): read the violations there, then undo.
    let failure = e;
    if (db.inTransaction) {
      if (isForeignKeyFailure(e)) failure = namedViolation(db, e) ?? e;
      db.exec('ROLLBACK');
    }
    throw failure;
  }
  return result;
}

/** The first violation `PRAGMA foreign_key_check` finds, as one line and its fix; undefined when it finds none. */
export function namedViolation(db: SqliteDb, cause: unknown, table?: string): ForeignKeyCommitError | undefined {
  let found: Violation[];
  try {
    const sql = table === undefined ? 'PRAGMA foreign_key_check' : `PRAGMA foreign_key_check(${quoteSqliteId(table)})`;
    found = db.prepare(sql).safeIntegers().all() as Violation[];
  } catch {
    return undefined;
  }
  const first = found[0];
  if (!first) return undefined;
  const fk = foreignKeys(db, first.table).filter((c) => BigInt(c.id) === BigInt(first.fkid));
  const childCols = fk.map((c) => c.from);
  const pk = primaryKey(db, first.table);
  const row =
    first.rowid === null
      ? undefined
      : (db
          .prepare(
            `SELECT ${[...new Set([...pk, ...childCols])].map(quoteSqliteId).join(', ')} FROM ${quoteSqliteId(first.table)} WHERE rowid = ?`,
          )
          .safeIntegers()
          .get(first.rowid) as Record<string, unknown> | undefined);
  return violationError(
    db,
    { table: first.table, parent: first.parent, fk, pk, row, rowid: first.rowid },
    found.length - 1,
    cause,
  );
}

/**
 * After moving keys with checks deferred (hub-moves.ts, in a pull's transaction): whether the moves
 * left a row referencing a moved key whose parent row is not there (`from`: the row left it; `to`:
 * the row never arrived), read through SQLite's own foreign keys (every table, synced or not).
 * Then checks go back to per statement (`defer_foreign_keys = OFF`) for the rest of the transaction,
 * so that a later row without its parent fails alone (and is parked) instead of the whole COMMIT.
 * Turning the pragma off forgets the violations deferred so far (SQLite resets its counter): this
 * check is what stands in for them, so a violation found here is thrown, named, as the COMMIT would.
 */
export function restoreImmediateForeignKeys(db: SqliteDb, moved: ReadonlyMap<string, readonly bigint[]>): void {
  if (moved.size === 0) return;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const child of tables) {
    const fks = foreignKeys(db, child);
    for (const id of new Set(fks.map((c) => BigInt(c.id)))) {
      const fk = fks.filter((c) => BigInt(c.id) === id);
      const parent = fk[0]?.table;
      const keys = parent === undefined ? undefined : moved.get(parent);
      if (parent === undefined || !keys || keys.length === 0) continue;
      const from = fk[0]?.from ?? '';
      const to = fk[0]?.to ?? primaryKey(db, parent)[0];
      if (fk.length !== 1 || to === undefined) {
        // A composite reference to a moved table (not one dualdb moves itself): the table's full check.
        const named = namedViolation(db, undefined, child);
        if (named) throw named;
        continue;
      }
      const pk = primaryKey(db, child);
      const cols = [...new Set([...pk, from])].map((c) => `c.${quoteSqliteId(c)}`).join(', ');
      const distinct = [...new Set(keys)];
      // In slices: a batch may move thousands of rows, beyond SQLite's bound parameters.
      for (let i = 0; i < distinct.length; i += KEYS_PER_CHECK) {
        const slice = distinct.slice(i, i + KEYS_PER_CHECK);
        const hit = db
          .prepare(
            `SELECT ${cols} FROM ${quoteSqliteId(child)} c WHERE c.${quoteSqliteId(from)} IN (${slice.map(() => '?').join(', ')}) ` +
              `AND NOT EXISTS (SELECT 1 FROM ${quoteSqliteId(parent)} p WHERE p.${quoteSqliteId(to)} = c.${quoteSqliteId(from)}) LIMIT 1`,
          )
          .safeIntegers()
          .get(...slice) as Record<string, unknown> | undefined;
        if (hit) throw violationError(db, { table: child, parent, fk, pk, row: hit, rowid: null }, 0, undefined);
      }
    }
  }
  db.pragma('defer_foreign_keys = OFF');
}

const KEYS_PER_CHECK = 500;

interface Found {
  table: string;
  parent: string;
  fk: FkColumn[];
  pk: string[];
  row: Record<string, unknown> | undefined;
  rowid: number | bigint | null;
}

function violationError(db: SqliteDb, f: Found, more: number, cause: unknown): ForeignKeyCommitError {
  const childCols = f.fk.map((c) => c.from);
  const parentCols = f.fk.map((c) => c.to ?? primaryKey(db, f.parent)[0] ?? 'rowid');
  const row = f.row;
  const key =
    row && f.pk.length > 0
      ? f.pk.map((c) => `${c}=${shown(row[c])}`).join(', ')
      : f.rowid !== null
        ? `rowid=${f.rowid}`
        : 'unknown key';
  const values = row ? childCols.map((c) => shown(row[c])).join(', ') : '?';
  const message =
    `FOREIGN KEY constraint failed at COMMIT: ${f.table} row ${key} names ${f.parent}(${parentCols.join(', ')}) = ${values}, ` +
    `which does not exist (${f.table}.${childCols.join(', ')} → ${f.parent})${more > 0 ? `; ${more} more row(s) too` : ''}; nothing was applied`;
  const hint = `add the missing ${f.parent} row, or fix or delete that ${f.table} row, then sync again (PRAGMA foreign_key_check lists them)`;
  return new ForeignKeyCommitError(f.table, key, f.parent, more, message, hint, cause);
}

function foreignKeys(db: SqliteDb, table: string): FkColumn[] {
  return db.prepare(`PRAGMA foreign_key_list(${quoteSqliteId(table)})`).all() as FkColumn[];
}

function primaryKey(db: SqliteDb, table: string): string[] {
  const cols = db.prepare(`PRAGMA table_info(${quoteSqliteId(table)})`).all() as { name: string; pk: number | bigint }[];
  return cols
    .filter((c) => Number(c.pk) > 0)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((c) => c.name);
}

/** A key value for a message: short, one line (a text key is quoted, a blob shown by length). */
function shown(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  const s = String(v).replace(/\s+/g, ' ');
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}
