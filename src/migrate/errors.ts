/** The migration's typed errors: one line, the fix, an exit code. */
import type { PreflightReport } from '../schema/preflight.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { MigrationReport } from './types.js';

const fromFlag = (direction: string) => (direction === 'mysql-to-sqlite' ? ' --from mysql' : '');

/** Interrupted by the signal (Ctrl+C, SIGTERM, Esc in the wizard); committed batches stay. */
export class MigrationInterruptedError extends DualdbError {
  constructor(direction: string) {
    super('MIGRATION_INTERRUPTED', 'the migration was interrupted; the batch in flight was rolled back', {
      hint: `run \`dualdb migrate${fromFlag(direction)} --resume\` to continue where it stopped`,
      exitCode: EXIT.INTERRUPTED,
    });
  }
}

export class NonEmptyTargetError extends DualdbError {
  /**
   * `hubOnlyRows`: for a hub target, how many of its rows this file does not hold (other sites'
   * data, docs/SYNC-CONTRACT.md invariant 15): then --truncate, which would delete them on every
   * site, is not suggested; the safe way is named instead.
   */
  constructor(table: string, side: 'MySQL' | 'SQLite', rows: number, direction: string, hubOnlyRows = 0) {
    super(
      'MIGRATION_TARGET_NOT_EMPTY',
      `table ${table} in ${side} already holds ${rows.toLocaleString('en-US')} row(s); the migration copies into empty tables only`,
      {
        hint:
          hubOnlyRows > 0
            ? `${hubOnlyRows.toLocaleString('en-US')} of them are not in this SQLite file (other sites' data): do not empty it (--truncate would delete them on every site); to join this site, start it from the hub's data (\`dualdb repair --from mysql\`, after exporting the site's own rows) and check with \`dualdb compare\``
            : `add --truncate to empty it first, or --resume to continue an interrupted migration (\`dualdb migrate${fromFlag(direction)} --resume\`)`,
        exitCode: EXIT.CONFIG,
        context: { table, rows },
      },
    );
  }
}

export class PreflightFailedError extends DualdbError {
  constructor(readonly report: PreflightReport) {
    const total = report.counts.reduce((n, c) => n + c.count, 0);
    const tables = [...new Set(report.counts.map((c) => c.table))];
    super(
      'MIGRATION_PREFLIGHT_FAILED',
      `the pre-flight check found ${total.toLocaleString('en-US')} value(s) MySQL would refuse or change, in ${tables.join(', ')}; nothing was copied`,
      {
        hint: 'fix those rows in SQLite (each finding names the table, key and value) and run the migration again',
        exitCode: EXIT.FAILURE,
      },
    );
  }
}

export class SchemaMismatchError extends DualdbError {
  constructor(readonly lines: string[]) {
    super('MIGRATION_SCHEMA_MISMATCH', `the tables differ between SQLite and MySQL: ${lines.join('; ')}`, {
      hint: 'run `dualdb schema diff` to see the differences and `dualdb schema apply` (or fix them by hand), then migrate',
      exitCode: EXIT.CONFIG,
    });
  }
}

export class VerificationFailedError extends DualdbError {
  constructor(readonly report: MigrationReport) {
    const bad = report.tables.filter(
      (t) => t.verification && (t.verification.status === 'differ' || t.verification.status === 'error'),
    );
    super(
      'MIGRATION_VERIFY_FAILED',
      `the copy finished but the verification found differences in ${bad.map((t) => t.table).join(', ')}`,
      {
        hint: '`dualdb compare` lists the differing keys; `dualdb repair --from sqlite|mysql` fixes them',
        exitCode: EXIT.DIFFERENCES,
      },
    );
  }
}

export class MigrationWriteError extends DualdbError {
  constructor(table: string, detail: string, cause?: unknown) {
    super('MIGRATION_WRITE_FAILED', `copying ${table} failed: ${detail}`, {
      hint: 'fix the cause, then `dualdb migrate --resume` continues after the last committed batch',
      exitCode: EXIT.FAILURE,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
