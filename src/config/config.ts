/**
 * The validated configuration: one object that every other module receives.
 * Nothing here reads files; see load.ts.
 */
import type { ConflictPolicy, KeyCollisionMode, SyncMode } from './schema.js';

export interface MysqlConfig {
  host: string;
  port: number;
  user: string;
  /** Secret: never printed, logged or placed in process arguments. */
  password: string;
  database: string;
  ssl: boolean;
  sslCa: string | undefined;
  connectTimeoutMs: number;
}

export interface SyncConfig {
  mode: SyncMode;
  intervalMs: number;
  /** Watch the SQLite file's WAL for commits (SYNC_WATCH); otherwise the change log is polled. */
  watch: boolean;
  conflictPolicy: ConflictPolicy;
  /** Whether CONFLICT_POLICY was set explicitly (otherwise it follows the mode). */
  conflictPolicyExplicit: boolean;
  /** SYNC_KEY_COLLISIONS: which row of an independent creation under one generated key moves. */
  keyCollisions: KeyCollisionMode;
  tables: string[];
  exclude: string[];
  batchSize: number;
  /**
   * Whether SYNC_BATCH_SIZE was set. Unset, a push draining a backlog grows its batches past it
   * (sync/push-size.ts); set, every batch keeps to it.
   */
  batchSizeExplicit: boolean;
  logRetentionMs: number;
  holeTimeoutMs: number;
  /** SYNC_VALUE_FORMS: 'table.column' (lower case) → form name, overriding what the column's values show. */
  valueForms: Record<string, string>;
}

export interface LogConfig {
  file: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  maxSizeBytes: number;
  maxFiles: number;
}

export interface Config {
  sqlitePath: string;
  /** false: SQLite only (DUAL_DATABASE=false); capture still queues changes. */
  dualDatabase: boolean;
  nodeId: string | undefined;
  mysql: MysqlConfig;
  sync: SyncConfig;
  log: LogConfig;
  pidFile: string;
  /** Prometheus metrics of a long-running sync: off unless METRICS_PORT is set. */
  metrics?: { port: number | undefined; host: string };
  /** The .env file the values were read from, if any. */
  envFile: string | undefined;
}

export function defaultConflictPolicy(mode: SyncMode): ConflictPolicy {
  return mode === 'mysql_primary' ? 'hub-wins' : 'node-wins';
}

/** A description of the hub that is safe to print (no password). */
export function describeMysql(m: MysqlConfig): string {
  return `${m.user}@${m.host}:${m.port}/${m.database}${m.ssl ? ' (TLS)' : ''}`;
}
