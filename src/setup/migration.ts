/**
 * The one place the setup meets the migration library (`src/migrate/`, whose
 * types are the contract). The module is loaded on first use, so the wizard's
 * first screens do not pay for it; its progress screen can be given a stand-in.
 */
import type { EventEmitter } from 'node:events';
import type { Config } from '../config/config.js';
import type { MigrateOptions, TableProgress } from '../migrate/types.js';
import { hasCode } from '../util/error-codes.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';

export type { MigrateOptions, TableProgress };

/** Whatever the library reports at the end; the setup shows tables and rows when it finds them. */
export type MigrationReport = unknown;

export interface MigrationLike extends Pick<EventEmitter<{ progress: [TableProgress] }>, 'on' | 'off'> {
  run(): Promise<MigrationReport>;
}

export type CreateMigration = (config: Config, options?: MigrateOptions) => MigrationLike;

/** Resolved relative to this file: src/migrate/index.ts from source, dist/migrate/index.js when built. */
const MODULE = '../migrate/index.js';

let loaded: Promise<CreateMigration | undefined> | undefined;

/** The library's createMigration, or undefined when `src/migrate/` is not part of this build. */
export function loadMigration(): Promise<CreateMigration | undefined> {
  loaded ??= (async () => {
    try {
      const specifier: string = MODULE;
      const mod = (await import(specifier)) as { createMigration?: CreateMigration };
      return typeof mod.createMigration === 'function' ? mod.createMigration : undefined;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
      throw e;
    }
  })();
  return loaded;
}

/** Replaces the library (tests of the progress screen; a fake that copies nothing). */
export function setMigrationFactory(factory: CreateMigration | undefined): void {
  loaded = Promise.resolve(factory);
}

export class MigrationUnavailableError extends DualdbError {
  constructor() {
    super('MIGRATION_UNAVAILABLE', 'the migration library (src/migrate) is not part of this build', {
      hint: 'run setup without the initial migration; copy the data later with `dualdb migrate`',
      exitCode: EXIT.FAILURE,
    });
  }
}

export class MigrationCancelledError extends DualdbError {
  constructor() {
    super('MIGRATION_CANCELLED', 'the initial migration was cancelled', {
      hint: 'run `dualdb setup` again and choose "resume" to continue where it stopped',
      exitCode: EXIT.INTERRUPTED,
    });
  }
}

/**
 * Runs the migration, forwarding per-table progress. An abort (Esc, Ctrl+C)
 * becomes MigrationCancelledError; any other failure keeps its own error.
 */
export async function runMigration(
  config: Config,
  options: MigrateOptions,
  onProgress: (p: TableProgress) => void,
): Promise<MigrationReport> {
  const create = await loadMigration();
  if (!create) throw new MigrationUnavailableError();
  const migration = create(config, options);
  migration.on('progress', onProgress);
  try {
    return await migration.run();
  } catch (e) {
    if (options.signal?.aborted || hasCode(e, 'MIGRATION_INTERRUPTED')) throw new MigrationCancelledError();
    if (e instanceof DualdbError) throw e;
    throw new DualdbError('MIGRATION_FAILED', `the initial migration failed: ${messageOf(e)}`, {
      hint: 'fix the cause and run `dualdb setup` again: it offers to resume',
      cause: e,
    });
  } finally {
    migration.off('progress', onProgress);
  }
}
