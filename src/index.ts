/**
 * dualdb as a library. The facade for applications is DualDatabase; the rest is
 * exported for tools built on top (a custom monitor, scripts).
 */
export { DualDatabase, type OpenOptions, type Transaction, type WriteOp, type WriteResult } from './api/dual-database.js';
export { initNode } from './api/init-node.js';
export type { Config, MysqlConfig, SyncConfig } from './config/config.js';
export { loadConfig } from './config/load.js';
export type { ConflictPolicy, SyncMode } from './config/schema.js';
export { type LogEntry, SyncLog } from './log/sync-log.js';
export { checkHealth, type HealthReport } from './monitor/health.js';
export { uninstallNode } from './sync/init.js';
export type { RekeyEvent } from './sync/rekey.js';
export { SyncService } from './sync/service.js';
export type { NodeState, SyncStatus } from './sync/status.js';
export { type CycleReport, Syncer } from './sync/syncer.js';
export { ERROR_CODES, type ErrorCode, hasCode } from './util/error-codes.js';
export { ConfigError, DualdbError, MysqlError, SqliteError } from './util/errors.js';
export { EXIT } from './util/exit-codes.js';
