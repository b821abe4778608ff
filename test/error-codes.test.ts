/**
 * The error model: every code is in one union, and failures are matched by code or class,
 * never by name (a class that renamed itself would pass a name test and fail these).
 */
import { describe, expect, it } from 'vitest';
import { FastPathUnavailable } from '../src/api/hub-insert.js';
import { MigrationInterruptedError } from '../src/migrate/errors.js';
import { HubMovedMeanwhile } from '../src/sync/push-hub-read.js';
import { KeysMovedMeanwhile } from '../src/sync/push-record.js';
import { ERROR_CODES, hasCode } from '../src/util/error-codes.js';
import { DualdbError, MysqlError, type MysqlFailureKind, SqliteError } from '../src/util/errors.js';

describe('error codes', () => {
  it('are listed once each', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('every diagnosis kind of the hub and of the SQLite file has its code in the list', () => {
    const mysqlKinds: MysqlFailureKind[] = [
      'host-not-found',
      'connection-refused',
      'timeout',
      'connection-lost',
      'too-many-connections',
      'access-denied',
      'unknown-database',
      'database-access-denied',
      'tls-required',
      'tls-failed',
      'missing-privileges',
      'server-error',
    ];
    for (const kind of mysqlKinds) expect(ERROR_CODES).toContain(new MysqlError(kind, 'x').code);
    for (const kind of ['missing', 'not-a-database', 'locked', 'readonly', 'corrupt', 'other'] as const)
      expect(ERROR_CODES).toContain(new SqliteError(kind, 'x').code);
  });

  it('hasCode matches our errors by code only, and an interrupted migration keeps its own class name', () => {
    const e = new MigrationInterruptedError('sqlite-to-mysql');
    expect(hasCode(e, 'MIGRATION_INTERRUPTED')).toBe(true);
    expect(hasCode(e, 'MIGRATION_FAILED')).toBe(false);
    expect(e.name).toBe('MigrationInterruptedError');
    expect(e).toBeInstanceOf(DualdbError);
    // Something else carrying the same code is not one of ours.
    expect(hasCode(Object.assign(new Error('x'), { code: 'MIGRATION_INTERRUPTED' }), 'MIGRATION_INTERRUPTED')).toBe(false);
  });

  it('internal retry signals are DualdbErrors with a code of their own', () => {
    for (const [e, code] of [
      [new HubMovedMeanwhile(), 'HUB_MOVED_MEANWHILE'],
      [new KeysMovedMeanwhile(), 'KEYS_MOVED_MEANWHILE'],
      [new FastPathUnavailable(), 'HUB_FAST_PATH_UNAVAILABLE'],
    ] as const) {
      expect(e).toBeInstanceOf(DualdbError);
      expect(hasCode(e, code)).toBe(true);
      expect(ERROR_CODES).toContain(e.code);
    }
  });
});
