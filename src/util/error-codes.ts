/**
 * Every machine-readable error code dualdb reports, in one union. Codes are a contract
 * (`--json` output, the sync log, the monitor's problem line): a new failure adds its code
 * here, and code that reacts to a failure matches it with `hasCode` or `instanceof`,
 * never by message or name.
 */
import { DualdbError } from './errors.js';

type Snake<S extends string> = S extends `${infer A}-${infer B}` ? `${A}_${Snake<B>}` : S;
/** The code of a diagnosis kind: KindCode<'MYSQL', 'host-not-found'> is 'MYSQL_HOST_NOT_FOUND'. */
export type KindCode<P extends string, K extends string> = `${P}_${Uppercase<Snake<K>>}`;

export const ERROR_CODES = [
  // configuration and command line
  'CONFIG_INVALID',
  'CONFIRMATION_REQUIRED',
  'BAD_SIDE',
  'UNKNOWN_TABLE',
  'TABLE_NOT_SYNCED',
  'NO_PRIMARY_KEY',
  'SQL_FILE_UNREADABLE',
  'SQL_STATEMENT_FAILED',
  'NO_TERMINAL',
  'CANCELLED',
  // the hub (MysqlError: one code per diagnosis)
  'MYSQL_HOST_NOT_FOUND',
  'MYSQL_CONNECTION_REFUSED',
  'MYSQL_TIMEOUT',
  'MYSQL_CONNECTION_LOST',
  'MYSQL_TOO_MANY_CONNECTIONS',
  'MYSQL_ACCESS_DENIED',
  'MYSQL_UNKNOWN_DATABASE',
  'MYSQL_DATABASE_ACCESS_DENIED',
  'MYSQL_TLS_REQUIRED',
  'MYSQL_TLS_FAILED',
  'MYSQL_MISSING_PRIVILEGES',
  'MYSQL_SERVER_ERROR',
  'HUB_DISABLED',
  'HUB_IN_USE',
  'HUB_NOT_CONNECTED',
  'HUB_SEQUENCE_BEHIND',
  'NODE_ID_IN_USE',
  'UNSYNCED_ROWS',
  'HUB_WRITE_FAILED',
  'HUB_WRITE_UNKNOWN',
  'CREATE_DATABASE_FAILED',
  'USER_EXISTS',
  'USER_NOT_DEDICATED',
  'PROVISION_FAILED',
  // the local SQLite file (SqliteError: one code per diagnosis)
  'SQLITE_MISSING',
  'SQLITE_NOT_A_DATABASE',
  'SQLITE_LOCKED',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_OTHER',
  'SQLITE_FOREIGN_KEY',
  // sync
  'SCHEMA_DRIFT',
  'PLAN_STALE',
  'CAPTURE_MISSING',
  'RESYNC_NEEDED',
  'PUSH_RACE',
  'HUB_MOVED_MEANWHILE',
  'KEYS_MOVED_MEANWHILE',
  'HUB_FAST_PATH_UNAVAILABLE',
  'PULL_RACE',
  'VALUE_NOT_STORABLE',
  'NO_SUCH_CONFLICT',
  'NO_SUCH_REKEY',
  'REKEY_NOT_HELD',
  'REKEY_OUTCOME_UNKNOWN',
  'REKEY_PARENT_HELD',
  'REKEY_FOLLOWS_PARENT',
  'REKEY_PARENT_UNSENT',
  'REKEY_PENDING',
  'REKEY_HUB_MOVING',
  'REKEY_HUB_BUSY',
  'ROW_TOO_LARGE',
  // the sync process and its control socket
  'ALREADY_RUNNING',
  'NOT_RUNNING',
  'BUSY',
  'STOPPED',
  'CONTROL_FAILED',
  'CONTROL_TIMEOUT',
  'METRICS_PORT_UNAVAILABLE',
  // migration
  'MIGRATION_BAD_OPTIONS',
  'MIGRATION_CANCELLED',
  'MIGRATION_FAILED',
  'MIGRATION_INTERRUPTED',
  'MIGRATION_PREFLIGHT_FAILED',
  'MIGRATION_SCHEMA_MISMATCH',
  'MIGRATION_TABLE_NOT_SYNCABLE',
  'MIGRATION_TARGET_NOT_EMPTY',
  'MIGRATION_UNAVAILABLE',
  'MIGRATION_VERIFY_FAILED',
  'MIGRATION_WRITE_FAILED',
  'LOAD_DATA_NOT_LOADABLE',
  'LOAD_DATA_REFUSED',
  'HUB_WRITE_CHECK_FAILED',
  // setup, the local server, the demo
  'SETUP_STEP_FAILED',
  'SETUP_PREFLIGHT_FAILED',
  'SETUP_ENV_UNWRITABLE',
  'NO_LOCAL_SERVER',
  'NO_SERVER_BINARY',
  'LOCAL_SERVER_PASSWORD',
  'LOCAL_SERVER_UNKNOWN',
  'PORT_IN_USE',
  'SERVER_INIT_FAILED',
  'SERVER_START_FAILED',
  'SERVER_STOP_TIMEOUT',
  'DEMO_FAILED',
  'DEMO_RUNNING',
  // a failure that is not ours (a driver or programming error), as the problem model reports it
  'ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** True when `e` is one of our errors with this code. */
export function hasCode<C extends ErrorCode>(e: unknown, code: C): e is DualdbError & { readonly code: C } {
  return e instanceof DualdbError && e.code === code;
}
