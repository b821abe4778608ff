/**
 * Typed errors. Every error a user can meet carries a machine-readable `code`,
 * one human line (`message`), the fix (`hint`) and the exit code the CLI uses.
 * The underlying driver error is kept as `cause` for logs, never for screens.
 */
import type { ErrorCode, KindCode } from './error-codes.js';
import { EXIT } from './exit-codes.js';

export interface DualdbErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: number;
  /** Extra structured context (table, key, variable…). Must never hold secrets. */
  context?: Record<string, unknown>;
}

export class DualdbError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: DualdbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? EXIT.FAILURE;
    this.context = options.context ?? {};
  }

  /** One line for a terminal: the cause and the fix. */
  oneLine(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

/** A configuration value is missing or invalid. */
export class ConfigError extends DualdbError {
  constructor(
    readonly variable: string,
    message: string,
    options: DualdbErrorOptions = {},
  ) {
    super('CONFIG_INVALID', message, {
      exitCode: EXIT.CONFIG,
      ...options,
      context: { variable },
    });
  }
}

/** The MySQL/MariaDB hub could not be used; `kind` is the diagnosis. */
export class MysqlError extends DualdbError {
  constructor(
    readonly kind: MysqlFailureKind,
    message: string,
    options: DualdbErrorOptions = {},
  ) {
    super(kindCode('MYSQL', kind), message, {
      exitCode: EXIT.MYSQL_UNAVAILABLE,
      ...options,
    });
  }

  /** True when the hub is away (network, server down), as opposed to a refusal. */
  get isUnreachable(): boolean {
    return UNREACHABLE_KINDS.has(this.kind);
  }
}

export type MysqlFailureKind =
  | 'host-not-found'
  | 'connection-refused'
  | 'timeout'
  | 'connection-lost'
  | 'too-many-connections'
  | 'access-denied'
  | 'unknown-database'
  | 'database-access-denied'
  | 'tls-required'
  | 'tls-failed'
  | 'missing-privileges'
  | 'server-error';

// A hub at its connection limit is up but takes no new session: like one away, it is waited for.
const UNREACHABLE_KINDS = new Set<MysqlFailureKind>([
  'host-not-found',
  'connection-refused',
  'timeout',
  'connection-lost',
  'too-many-connections',
]);

/** The local SQLite file could not be used. */
export class SqliteError extends DualdbError {
  constructor(
    readonly kind: 'missing' | 'not-a-database' | 'locked' | 'readonly' | 'corrupt' | 'other',
    message: string,
    options: DualdbErrorOptions = {},
  ) {
    super(kindCode('SQLITE', kind), message, {
      exitCode: EXIT.SQLITE_UNAVAILABLE,
      ...options,
    });
  }
}

/** A table's shape differs between the two sides (docs/SYNC-CONTRACT.md, invariant 9). */
export class SchemaDriftError extends DualdbError {
  constructor(
    readonly table: string,
    message: string,
    options: DualdbErrorOptions = {},
  ) {
    super('SCHEMA_DRIFT', message, { ...options, context: { table } });
  }
}

/** The code of a diagnosis kind, typed as that literal: ('MYSQL', 'host-not-found') → 'MYSQL_HOST_NOT_FOUND'. */
export function kindCode<P extends string, K extends string>(prefix: P, kind: K): KindCode<P, K> {
  return `${prefix}_${kind.toUpperCase().replaceAll('-', '_')}` as KindCode<P, K>;
}

export function isDualdbError(e: unknown): e is DualdbError {
  return e instanceof DualdbError;
}

/** The message of anything thrown, without stack. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
