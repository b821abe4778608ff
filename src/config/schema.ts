/**
 * Every setting dualdb reads, its environment variable, default and validation.
 * The old Python system's names (DB_*, SQLITE_DB_PATH, SYNC_*, DUAL_DATABASE) are kept.
 * `.env.example` documents the same list; `test/config.test.ts` keeps the two in step.
 */
import { z } from 'zod';

export const SYNC_MODES = ['sqlite_primary', 'mysql_primary', 'both'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export const CONFLICT_POLICIES = ['hub-wins', 'node-wins', 'newest-wins', 'manual'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];
export const KEY_COLLISION_MODES = ['rekey-node', 'rekey-hub', 'manual'] as const;
export type KeyCollisionMode = (typeof KEY_COLLISION_MODES)[number];

/** Value forms SYNC_VALUE_FORMS accepts (src/engines/value-forms.ts applies them). */
export const VALUE_FORM_NAME = /^(datetime[0-6]|iso[0-6]z?|time[0-6]|real|hub)$/;

/** `table.column=form,…` → { 'table.column': form }, names lower-cased. */
const valueForms = z.string().transform((v, ctx) => {
  const out: Record<string, string> = {};
  for (const item of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^.=\s]+)\.([^.=\s]+)\s*=\s*(\S+)$/.exec(item);
    const form = m?.[3]?.toLowerCase() ?? '';
    if (!m || !VALUE_FORM_NAME.test(form)) {
      ctx.addIssue({
        code: 'custom',
        message: 'accepted: table.column=form, …; forms: datetime0-6, iso0-6, iso0z-iso6z, time0-6, real, hub',
      });
      return z.NEVER;
    }
    out[`${m[1]?.toLowerCase()}.${m[2]?.toLowerCase()}`] = form;
  }
  return out;
});

const BOOL_TRUE = ['true', '1', 'yes', 'on'];
const BOOL_FALSE = ['false', '0', 'no', 'off'];

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => BOOL_TRUE.includes(v) || BOOL_FALSE.includes(v), {
    message: 'accepted: true or false',
  })
  .transform((v) => BOOL_TRUE.includes(v));

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, {
      message: `accepted: a whole number from ${min} to ${max}`,
    })
    .transform(Number)
    .refine((n) => n >= min && n <= max, {
      message: `accepted: a whole number from ${min} to ${max}`,
    });

const seconds = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, {
      message: `accepted: seconds, a number from ${min} to ${max}`,
    })
    .transform(Number)
    .refine((n) => n >= min && n <= max, {
      message: `accepted: seconds, a number from ${min} to ${max}`,
    });

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const bytes = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?\s*([kmg]i?b?)?$/i, {
    message: 'accepted: a size such as 10M, 512K or 1G',
  })
  .transform((v) => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmg])?/i.exec(v);
    const n = Number(m?.[1] ?? 0);
    const unit = (m?.[2] ?? '').toLowerCase();
    const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
    return Math.round(n * mult);
  });

const nodeId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    message: 'accepted: 1-64 letters, digits, dot, dash or underscore',
  });

/** One entry per setting: the variable, its schema, default and a line for docs. */
export interface SettingSpec<T> {
  env: string;
  schema: z.ZodType<T, string>;
  default: string | undefined;
  secret?: boolean;
  doc: string;
}

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

export const SETTINGS = {
  mysqlHost: setting({
    env: 'DB_HOST',
    schema: z.string().trim().min(1, { message: 'accepted: a host name or IP address' }),
    default: 'localhost',
    doc: 'MySQL/MariaDB host of the hub',
  }),
  mysqlPort: setting({
    env: 'DB_PORT',
    schema: int(1, 65535),
    default: '3306',
    doc: 'MySQL/MariaDB TCP port',
  }),
  mysqlUser: setting({
    env: 'DB_USER',
    schema: z.string().trim().min(1, { message: 'accepted: a MySQL user name' }),
    default: 'root',
    doc: 'MySQL user',
  }),
  mysqlPassword: setting({
    env: 'DB_PASSWORD',
    schema: z.string(),
    default: '',
    secret: true,
    doc: 'MySQL password (never printed or logged)',
  }),
  mysqlDatabase: setting({
    env: 'DB_NAME',
    schema: z
      .string()
      .trim()
      .regex(/^[^\s/\\.`]{1,64}$/, {
        message: 'accepted: a database name of 1-64 characters without spaces, dots, slashes or backticks',
      }),
    default: 'epi_detection_db',
    doc: 'MySQL database (schema) of the hub',
  }),
  mysqlSsl: setting({
    env: 'DB_SSL',
    schema: bool,
    default: 'false',
    doc: 'Use TLS to the hub (true/false); the server certificate is verified',
  }),
  mysqlSslCa: setting({
    env: 'DB_SSL_CA',
    schema: z.string().trim(),
    default: undefined,
    doc: 'PEM file of the CA that signed the server certificate (with DB_SSL=true)',
  }),
  mysqlConnectTimeout: setting({
    env: 'DB_CONNECT_TIMEOUT',
    schema: seconds(0.1, 300),
    default: '5',
    doc: 'Seconds to wait for the hub before it counts as unreachable',
  }),
  sqlitePath: setting({
    env: 'SQLITE_DB_PATH',
    schema: z.string().trim().min(1, { message: 'accepted: a file path' }),
    default: 'instance/epi_detection.db',
    doc: 'Local SQLite database file (the node)',
  }),
  dualDatabase: setting({
    env: 'DUAL_DATABASE',
    schema: bool,
    default: 'true',
    doc: 'false = SQLite only: changes are still captured and queued for later',
  }),
  syncMode: setting({
    env: 'SYNC_MODE',
    schema: z.enum(SYNC_MODES, {
      message: `accepted: ${SYNC_MODES.join(', ')}`,
    }),
    default: 'sqlite_primary',
    doc: 'sqlite_primary | mysql_primary | both',
  }),
  syncInterval: setting({
    env: 'SYNC_INTERVAL',
    schema: seconds(0.1, 86400),
    default: '1',
    doc: 'Seconds between full pulls of hub changes (×10 while a probe of the hub log, every 100 ms after activity and 250 ms when idle, finds news; ×60 on MariaDB, where the probe waits on the hub; local commits are pushed at once)',
  }),
  syncWatch: setting({
    env: 'SYNC_WATCH',
    schema: bool,
    default: 'true',
    doc: 'Watch the SQLite WAL for commits (inotify) and push at once; false = look every 100 ms instead',
  }),
  conflictPolicy: setting({
    env: 'CONFLICT_POLICY',
    schema: z.enum(CONFLICT_POLICIES, {
      message: `accepted: ${CONFLICT_POLICIES.join(', ')}`,
    }),
    default: undefined,
    doc: 'hub-wins | node-wins | newest-wins | manual (default: node-wins for sqlite_primary and both, hub-wins for mysql_primary)',
  }),
  keyCollisions: setting({
    env: 'SYNC_KEY_COLLISIONS',
    schema: z.enum(KEY_COLLISION_MODES, {
      message: `accepted: ${KEY_COLLISION_MODES.join(', ')}`,
    }),
    default: 'rekey-node',
    doc: 'rekey-node | rekey-hub | manual: two rows created independently under the same generated id (both kept; which one moves)',
  }),
  nodeId: setting({
    env: 'NODE_ID',
    schema: nodeId,
    default: undefined,
    doc: 'Stable id of this node; generated and stored in the SQLite file when unset',
  }),
  syncTables: setting({
    env: 'SYNC_TABLES',
    schema: list,
    default: '',
    doc: 'Comma-separated tables to sync (default: every table with a primary key on both sides)',
  }),
  syncExclude: setting({
    env: 'SYNC_EXCLUDE',
    schema: list,
    default: '',
    doc: 'Comma-separated tables never to sync',
  }),
  syncBatchSize: setting({
    env: 'SYNC_BATCH_SIZE',
    schema: int(1, 100000),
    default: '2000',
    doc: 'Changes per batch (one transaction per side per batch); unset, a push draining a backlog grows its batches up to 20000',
  }),
  valueForms: setting({
    env: 'SYNC_VALUE_FORMS',
    schema: valueForms,
    default: '',
    doc: 'Text form of values arriving in SQLite, per column (table.column=datetime6,…); default: the form the column’s values have',
  }),
  logRetentionHours: setting({
    env: 'SYNC_LOG_RETENTION_HOURS',
    schema: seconds(0, 24 * 365),
    default: '168',
    doc: 'Hours the hub keeps change-log entries every known node has pulled',
  }),
  holeTimeout: setting({
    env: 'SYNC_HOLE_TIMEOUT',
    schema: seconds(1, 86400),
    default: '600',
    doc: 'Seconds a gap in the hub sequence is waited for (a late commit) when it cannot be proven dead',
  }),
  logFile: setting({
    env: 'LOG_FILE',
    schema: z.string().trim(),
    default: undefined,
    doc: 'JSON-lines sync log (default: dualdb.log beside the SQLite file)',
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    schema: z.enum(['debug', 'info', 'warn', 'error'], {
      message: 'accepted: debug, info, warn, error',
    }),
    default: 'info',
    doc: 'debug | info | warn | error',
  }),
  logMaxSize: setting({
    env: 'LOG_MAX_SIZE',
    schema: bytes,
    default: '10M',
    doc: 'Rotate the log file at this size',
  }),
  logMaxFiles: setting({
    env: 'LOG_MAX_FILES',
    schema: int(1, 1000),
    default: '5',
    doc: 'Rotated log files kept',
  }),
  pidFile: setting({
    env: 'PID_FILE',
    schema: z.string().trim(),
    default: undefined,
    doc: 'pid file of `dualdb sync --daemon` (default: dualdb.pid beside the SQLite file)',
  }),
  metricsPort: setting({
    env: 'METRICS_PORT',
    schema: int(1, 65535),
    default: undefined,
    doc: 'port of the Prometheus metrics of `sync --daemon` and `sync --watch --metrics` (off when unset)',
  }),
  metricsHost: setting({
    env: 'METRICS_HOST',
    schema: z.string().trim().min(1, { message: 'accepted: an address to listen on, such as 127.0.0.1' }),
    default: '127.0.0.1',
    doc: 'address the metrics listen on (default loopback only)',
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
