/**
 * Runs SQL scripts (schema files, generated DDL) statement by statement against
 * the hub or the local SQLite file, using the real splitter. A failure stops the
 * run with a SqlStatementError naming file:line and the statement.
 *
 * MySQL: every statement runs on one connection of its own, because scripts set
 * session state (`SET FOREIGN_KEY_CHECKS = 0`, `SET NAMES`, `USE`); that connection
 * is destroyed afterwards instead of going back to the pool, so none of it leaks.
 * SQLite: statements run one by one with no wrapping transaction, as the sqlite3
 * shell does, so that files carrying their own BEGIN/COMMIT (dumps) still work.
 */
import { readFileSync } from 'node:fs';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { diagnoseMysqlError, isConnectionError, PRIVILEGE_REFUSED } from '../engines/mysql/diagnose.js';
import { type SqliteDb, sqliteFailure } from '../engines/sqlite/open.js';
import type { EngineName } from '../engines/types.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { SqlStatementError } from './errors.js';
import { type SqlStatement, splitSql } from './splitter.js';

export type SqlTarget = { engine: 'mysql'; hub: MysqlHub } | { engine: 'sqlite'; db: SqliteDb };

export interface RunOptions {
  /** Name used in messages (the file path for files). Default `<sql>`. */
  source?: string;
  /** Called before each statement (progress). */
  onStatement?: (statement: SqlStatement, index: number, total: number) => void;
}

export interface ServerWarning {
  line: number;
  level: string;
  code: number;
  message: string;
}

export interface RunReport {
  source: string;
  engine: EngineName;
  statements: number;
  /**
   * MySQL warnings of statements that return no rows (DDL, DML), level Warning or Error;
   * Notes such as "already exists" are left out.
   */
  warnings: ServerWarning[];
}

/** Runs a script given as text. */
export async function runSql(text: string, target: SqlTarget, options: RunOptions = {}): Promise<RunReport> {
  return runStatements(splitSql(text, target.engine), target, options);
}

/** Runs statements that are already split (generated DDL, whose literals may hold `;`). */
export async function runStatements(statements: SqlStatement[], target: SqlTarget, options: RunOptions = {}): Promise<RunReport> {
  const source = options.source ?? '<sql>';
  if (target.engine === 'sqlite') return runOnSqlite(statements, target.db, source, options);
  return runOnMysql(statements, target.hub, source, options);
}

/** Runs a script file (UTF-8; a BOM is ignored). */
export async function runSqlFile(file: string, target: SqlTarget, options: RunOptions = {}): Promise<RunReport> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DualdbError('SQL_FILE_UNREADABLE', `cannot read ${file}: ${messageOf(e)}`, {
      hint: 'check the path (it is relative to the current directory) and the file permissions',
      cause: e,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return runSql(text, target, { ...options, source: options.source ?? file });
}

function runOnSqlite(statements: SqlStatement[], db: SqliteDb, source: string, options: RunOptions): RunReport {
  statements.forEach((s, i) => {
    options.onStatement?.(s, i, statements.length);
    try {
      const stmt = db.prepare(s.sql);
      // PRAGMAs and SELECTs return rows: read them, or better-sqlite3 refuses run().
      if (stmt.reader) stmt.all();
      else stmt.run();
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A locked or unreadable file is not this statement's fault: report it as such.
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_CORRUPT' || code === 'SQLITE_READONLY')
        throw sqliteFailure(e, db.name);
      throw new SqlStatementError('sqlite', { source, line: s.line, sql: s.sql }, messageOf(e), {
        cause: e,
        applied: i,
        ...(code ? { serverCode: code } : {}),
      });
    }
  });
  return { source, engine: 'sqlite', statements: statements.length, warnings: [] };
}

async function runOnMysql(statements: SqlStatement[], hub: MysqlHub, source: string, options: RunOptions): Promise<RunReport> {
  const report: RunReport = { source, engine: 'mysql', statements: statements.length, warnings: [] };
  if (statements.length === 0) return report;
  let conn: Awaited<ReturnType<MysqlHub['pool']['getConnection']>>;
  try {
    conn = await hub.pooledConnection();
  } catch (e) {
    throw diagnoseMysqlError(e, hub.config);
  }
  try {
    for (const [i, s] of statements.entries()) {
      options.onStatement?.(s, i, statements.length);
      let warningCount = 0;
      try {
        const [res] = await conn.query(s.sql);
        warningCount = Array.isArray(res) ? 0 : Number((res as { warningStatus?: number }).warningStatus ?? 0);
      } catch (e) {
        if (isConnectionError(e)) throw diagnoseMysqlError(e, hub.config);
        const err = e as { code?: string; sqlMessage?: string };
        const hint = privilegeHint(err.code, err.sqlMessage, hub.config, i);
        throw new SqlStatementError('mysql', { source, line: s.line, sql: s.sql }, err.sqlMessage ?? messageOf(e), {
          cause: e,
          applied: i,
          ...(err.code ? { serverCode: err.code } : {}),
          ...(hint ? { hint } : {}),
        });
      }
      if (warningCount > 0) {
        const [rows] = await conn.query('SHOW WARNINGS');
        for (const w of rows as { Level: string; Code: number; Message: string }[]) {
          if (w.Level !== 'Note')
            report.warnings.push({ line: s.line, level: w.Level, code: Number(w.Code), message: w.Message });
        }
      }
    }
  } finally {
    // Session state set by the script (variables, USE, SET NAMES) must not reach other pool users.
    conn.destroy();
  }
  return report;
}

/**
 * A statement refused for lack of a privilege is not a wrong statement: the fix is a GRANT for the
 * hub account (named when the server says which), not an edit of the statement.
 */
function privilegeHint(
  code: string | undefined,
  message: string | undefined,
  config: { user: string; database: string },
  applied: number,
): string | undefined {
  if (!code || !(PRIVILEGE_REFUSED.has(code) || code === 'ER_DBACCESS_DENIED_ERROR')) return undefined;
  const m = /^([A-Z][A-Z ]*?) command denied to user '([^']*)'@'([^']*)'/.exec(message ?? '');
  const grant = m
    ? `GRANT ${m[1]} ON \`${config.database}\`.* TO '${m[2]}'@'${m[3]}'`
    : `GRANT the privilege named above ON \`${config.database}\`.* TO the user "${config.user}"`;
  const before =
    applied > 0
      ? ` (the ${applied} statement${applied === 1 ? '' : 's'} before it ${applied === 1 ? 'was' : 'were'} applied)`
      : '';
  return `the statement is fine, the hub account "${config.user}" lacks a privilege: an administrator can run ${grant}, then run the same command again${before}`;
}
