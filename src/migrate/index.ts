/**
 * The initial migration: `createMigration(config, options)` returns a
 * Migration that emits per-table `progress` and resolves `run()` with a typed
 * report. This is the contract src/setup/migration.ts loads at run time.
 */
import type { Config } from '../config/config.js';
import { Migration } from './migration.js';
import type { MigrateOptions } from './types.js';

export {
  MigrationInterruptedError,
  MigrationWriteError,
  NonEmptyTargetError,
  PreflightFailedError,
  SchemaMismatchError,
  VerificationFailedError,
} from './errors.js';
export { DEFAULT_BATCH_SIZE, Migration } from './migration.js';
export type * from './types.js';

export function createMigration(config: Config, options: MigrateOptions = {}): Migration {
  return new Migration(config, options);
}
