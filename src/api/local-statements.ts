/**
 * The library's per-write SQLite statements, compiled once: a prepare costs more than the
 * run of a one-row write (the \`applying\` flag, the mirror's upsert, the captured insert).
 */
import type Database from 'better-sqlite3';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { SyncTable } from '../sync/plan.js';
import { SqliteTableIO } from '../sync/sqlite-io.js';

type Statement = Database.Statement<unknown[]>;

/** Statements kept per SQL text (a few per table and column set); the oldest go past this many. */
const MAX_STATEMENTS = 64;

export class LocalStatements {
  private readonly bySql = new Map<string, Statement>();
  private readonly io = new WeakMap<SyncTable, SqliteTableIO>();
  private applyingStmt: Statement | undefined;

  constructor(private readonly db: () => SqliteDb) {}

  statement(sql: string): Statement {
    let stmt = this.bySql.get(sql);
    if (!stmt) {
      stmt = this.db().prepare<unknown[]>(sql);
      if (this.bySql.size >= MAX_STATEMENTS) this.bySql.delete(this.bySql.keys().next().value as string);
      this.bySql.set(sql, stmt);
    }
    return stmt;
  }

  /** Marks the local writes that follow as applied from the hub (1: not captured) or not (0). */
  applying(on: 0 | 1): void {
    this.applyingStmt ??= this.db().prepare<unknown[]>('UPDATE _dualdb_flags SET applying = ? WHERE id = 1');
    this.applyingStmt.run(on);
  }

  tableIO(table: SyncTable): SqliteTableIO {
    const io = this.io.get(table) ?? new SqliteTableIO(this.db(), table);
    this.io.set(table, io);
    return io;
  }
}
