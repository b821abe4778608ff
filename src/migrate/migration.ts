/**
 * The initial migration: copies a site's existing data between its
 * SQLite file and the hub while the application keeps running.
 *
 * The consistent-snapshot model, in order:
 *  1. schema: missing target tables are created from the translated source
 *     schema (src/schema diff/apply); tables whose columns differ are refused
 *     (`dualdb schema diff|apply` first);
 *  2. pre-flight (SQLite → MySQL): values MySQL would refuse or change stop
 *     the run before anything is written;
 *  3. capture is installed on both sides (the sync engine's installCapture);
 *  4. the positions are read *after* capture and *before* any row is copied:
 *     the local change log's MAX(seq) and the hub's (with its uncommitted holes);
 *  5. tables are copied parents first, in batches, each batch with its resume
 *     marker in one target transaction; the copy is written with capture
 *     suppressed on the target (hub: `@dualdb_capture_off` on a pinned
 *     connection; SQLite: the `applying` flag), so nothing echoes back;
 *  6. verification: counts and chunked checksums (src/compare); a differing key
 *     that was changed on either side after the positions of step 4 is
 *     "explained" (the sync replays it), any other difference fails the run;
 *  7. cursors: local log entries of the copied tables up to the start position
 *     are dropped (the copy holds them) and the push cursor moves there; the
 *     pull cursor moves to the hub position of step 4. Whatever was written on
 *     either side during or after the copy is then replayed by the sync —
 *     applying a change the copy already holds is a harmless idempotent upsert.
 *
 * Each step is a phase of MigrationRun (run.ts), announced by a `phase` event; this file
 * keeps the public face: options checked, the databases opened and closed.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { connectHubFor } from '../compare/compare.js';
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { MigrationInterruptedError } from './errors.js';
import { MigrationRun } from './run.js';
import { DEFAULT_BATCH_SIZE, RunContext } from './run-context.js';
import type { MigrateOptions, MigrationDirection, MigrationEvents, MigrationReport } from './types.js';

export { DEFAULT_BATCH_SIZE };

export class Migration extends EventEmitter<MigrationEvents> {
  readonly direction: MigrationDirection;
  private readonly toHub: boolean;
  private readonly batchSize: number;

  constructor(
    private readonly config: Config,
    private readonly options: MigrateOptions = {},
  ) {
    super();
    this.direction = options.direction ?? 'sqlite-to-mysql';
    this.toHub = this.direction === 'sqlite-to-mysql';
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  async run(): Promise<MigrationReport> {
    const o = this.options;
    if (o.truncate && o.resume) {
      throw new DualdbError('MIGRATION_BAD_OPTIONS', '--truncate and --resume cannot be combined', {
        hint: '--resume continues an interrupted copy; --truncate starts again from empty tables',
        exitCode: EXIT.CONFIG,
      });
    }
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new DualdbError('MIGRATION_BAD_OPTIONS', `batch size must be a whole number of 1 or more (got ${this.batchSize})`, {
        exitCode: EXIT.CONFIG,
      });
    }
    if (o.signal?.aborted) throw new MigrationInterruptedError(this.direction);
    const db = this.openLocal();
    let hub: MysqlHub | undefined;
    try {
      hub = await connectHubFor(this.config);
      const ctx = new RunContext(this.config, o, this.direction, this.batchSize, db, hub, this);
      return await new MigrationRun(ctx).execute();
    } finally {
      await hub?.close();
      db.close();
    }
  }

  /** The SQLite file; seeding a new site creates it (a dry run reads an empty stand-in instead). */
  private openLocal(): SqliteDb {
    const missing = !existsSync(this.config.sqlitePath);
    if (missing && !this.toHub && this.options.dryRun) {
      const mem = new Database(':memory:');
      mem.defaultSafeIntegers(true);
      return mem;
    }
    return openSqlite(this.config.sqlitePath, { create: !this.toHub });
  }
}
