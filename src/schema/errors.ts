/** Errors of the schema layer: a statement the server refused, with where it came from. */

import type { EngineName } from '../engines/types.js';
import { DualdbError, type DualdbErrorOptions } from '../util/errors.js';
import { statementHead } from './splitter.js';

export interface StatementLocation {
  /** File name, or a label such as `schema apply` for generated DDL. */
  source: string;
  /** 1-based line of the statement in the source (0 when the source has no lines). */
  line: number;
  /** The statement as sent. */
  sql: string;
}

/** A statement failed on MySQL or SQLite. The message names source:line, the statement's start and the server's words. */
export class SqlStatementError extends DualdbError {
  readonly source: string;
  readonly line: number;
  readonly statement: string;
  readonly engine: EngineName;
  /** The server's own message (mysql2 `sqlMessage`, SQLite's error text). */
  readonly serverMessage: string;
  /** The server's error code (`ER_PARSE_ERROR`, `SQLITE_ERROR`…), when known. */
  readonly serverCode: string | undefined;
  /** Statements of the same run that had succeeded before this one. */
  readonly applied: number;

  constructor(
    engine: EngineName,
    where: StatementLocation,
    serverMessage: string,
    options: DualdbErrorOptions & { serverCode?: string; applied?: number } = {},
  ) {
    const at = where.line > 0 ? `${where.source}:${where.line}` : where.source;
    const applied = options.applied ?? 0;
    super(
      'SQL_STATEMENT_FAILED',
      `${at}: ${engine === 'mysql' ? 'MySQL' : 'SQLite'} refused \`${statementHead(where.sql)}\`: ${serverMessage}`,
      {
        hint:
          options.hint ??
          `fix the statement at ${at} and run it again${applied > 0 ? ` (the ${applied} statement${applied === 1 ? '' : 's'} before it ${applied === 1 ? 'was' : 'were'} applied)` : ''}`,
        ...(options.cause === undefined ? {} : { cause: options.cause }),
        context: { source: where.source, line: where.line, engine },
      },
    );
    this.source = where.source;
    this.line = where.line;
    this.statement = where.sql;
    this.engine = engine;
    this.serverMessage = serverMessage;
    this.serverCode = options.serverCode;
    this.applied = applied;
  }
}
