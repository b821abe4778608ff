/**
 * Operator trial 3, finding C: a failed move of the hub's AUTO_INCREMENT past a node's keys was
 * always reported as a missing ALTER privilege ("run on the hub: ALTER TABLE … or grant ALTER"),
 * also when the hub had been killed (connection lost) or the ALTER waited out its lock. Errors are
 * shaped as mysql2 gives them (code, errno, sqlMessage, fatal).
 */
import { describe, expect, it } from 'vitest';
import { diagnoseIfConnection } from '../src/engines/mysql/connect.js';
import type { SyncTable } from '../src/sync/plan.js';
import { SequenceBehindError, sequenceBumpFailure } from '../src/sync/rekey.js';
import { DualdbError, MysqlError } from '../src/util/errors.js';

const table = { name: 'workers', key: [{ name: 'id' }] } as unknown as SyncTable;
const behind = new SequenceBehindError(table, 187n);
const driverError = (code: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { code, sqlMessage: message, ...extra });
const hub = { host: '127.0.0.1', port: 3306, user: 'ops', database: 'epi' } as Parameters<typeof diagnoseIfConnection>[1];

describe('a failed AUTO_INCREMENT move says what it is', () => {
  it('a lost connection stays a connection failure (the hub away: degraded, retried), no GRANT advice', () => {
    const lost = driverError('PROTOCOL_CONNECTION_LOST', 'Connection lost: The server closed the connection.', { fatal: true });
    const out = sequenceBumpFailure(lost, behind);
    expect(out).toBe(lost);
    const seen = diagnoseIfConnection(out, hub);
    expect(seen).toBeInstanceOf(MysqlError);
    expect((seen as MysqlError).isUnreachable).toBe(true);
    expect(`${(seen as MysqlError).message} ${(seen as MysqlError).hint ?? ''}`).not.toMatch(/grant|ALTER TABLE/i);
  });

  it('a lock wait timeout is transient, retried, and names no privilege', () => {
    const wait = driverError('ER_LOCK_WAIT_TIMEOUT', 'Lock wait timeout exceeded; try restarting transaction', { errno: 1205 });
    const out = sequenceBumpFailure(wait, behind) as DualdbError;
    expect(out).toBeInstanceOf(DualdbError);
    expect(out.message).toMatch(/busy on the hub .*Lock wait timeout exceeded.*retried/);
    expect(`${out.message} ${out.hint ?? ''}`).not.toMatch(/grant/i);
  });

  it('a refused ALTER names the statement and the grant', () => {
    const denied = driverError(
      'ER_TABLEACCESS_DENIED_ERROR',
      "ALTER command denied to user 'ops'@'localhost' for table `epi`.`workers`",
      {
        errno: 1142,
      },
    );
    const out = sequenceBumpFailure(denied, behind) as DualdbError;
    expect(out.message).toMatch(/may not alter the table/);
    expect(out.hint).toBe(
      'run on the hub: ALTER TABLE workers AUTO_INCREMENT = 188; or grant ALTER on the table to the sync user',
    );
  });

  it('another server error is reported with its words and the manual statement, not as a privilege', () => {
    const other = driverError('ER_LOCK_TABLE_FULL', 'The total number of locks exceeds the lock table size', { errno: 1206 });
    const out = sequenceBumpFailure(other, behind) as DualdbError;
    expect(out.message).toMatch(/exceeds the lock table size/);
    expect(out.hint).not.toMatch(/grant/i);
  });
});
