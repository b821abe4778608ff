/**
 * The hub half of a single-row insert in `mysql_primary`, in two round trips where the general
 * path takes four: the write's opening (origin for the capture triggers, autocommit off), the
 * `INSERT … RETURNING` and the fenced write token travel as one multi-statement query, then
 * COMMIT. The server stops a multi-statement query at the first statement that fails, so no
 * statement runs after a failure: a refused row records no token, and nothing is committed
 * before the COMMIT, which is sent only when all three succeeded (the lost-COMMIT handling, the
 * write token and the node-id fence keep their meaning).
 *
 * A pool of its own has `multipleStatements` on; it runs only the statements built here, every
 * value escaped by mysql2. Its connections keep the write's session (autocommit off, the origin)
 * between writes: each write sets it again in its first statement, so nothing is reset after the ack.
 */
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config/config.js';
import type { Row } from '../engines/codec.js';
import { diagnoseIfConnection, poolOptions } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { toMysqlRow } from '../sync/convert.js';
import { MysqlTableIO } from '../sync/mysql-io.js';
import { NodeIdInUseError } from '../sync/node-fence.js';
import type { SyncTable } from '../sync/plan.js';
import type { MultiStatementLease } from '../sync/push-one.js';
import { DualdbError } from '../util/errors.js';
import { type InputRow, normaliseRow } from './values.js';

export interface HubInsertState {
  /** The COMMIT was sent: from here on a lost reply is resolved by the write token. */
  committing: boolean;
  threadId: number | undefined;
  /** Called with the hub's row image and its key before the COMMIT is sent (a lost COMMIT that did commit still mirrors it). */
  onImage?: (image: Row, key: string) => void;
}

/** The hub does not have what the fast path needs (an older hub without the fence column): use the general path. */
export class FastPathUnavailable extends DualdbError {
  constructor() {
    super('HUB_FAST_PATH_UNAVAILABLE', 'the hub lacks what the insert fast path needs; the general path is used');
  }
}

export class HubInsertPool {
  private pool: mysql.Pool | undefined;

  constructor(private readonly m: MysqlConfig) {}

  private get(): mysql.Pool {
    if (!this.pool) {
      this.pool = mysql.createPool(poolOptions(this.m, { multipleStatements: true, connectionLimit: 2, maxIdle: 1 }));
      // A dead pool emits 'error' on idle connections; the write sees its own query's error.
      (this.pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
    }
    return this.pool;
  }

  /**
   * Inserts one row (`insert`: `INSERT … VALUES (…)` with its values formatted in) and commits it
   * with the token statement; returns the row image the hub stored. Throws the hub's error
   * (connection errors diagnosed as MysqlError) with nothing committed unless `state.committing`.
   */
  async insertOne(
    io: MysqlTableIO,
    insert: string,
    origin: string,
    token: { sql: string; params: unknown[] },
    state: HubInsertState,
    timeout: number,
  ): Promise<Row> {
    let conn: mysql.PoolConnection;
    try {
      conn = await this.get().getConnection();
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    }
    state.threadId = conn.threadId ?? undefined;
    let healthy = false;
    try {
      const sql = `${mysql.format('SET @dualdb_origin = ?, autocommit = 0', [origin])};${insert} RETURNING ${io.selectList};${mysql.format(token.sql, token.params as never)}`;
      let results: unknown[];
      try {
        [results] = (await conn.query({ sql, timeout })) as unknown as [unknown[]];
      } catch (e) {
        await conn.query('ROLLBACK').catch(() => {});
        if ((e as { code?: string }).code === 'ER_BAD_FIELD_ERROR') throw new FastPathUnavailable();
        throw e;
      }
      const image = (results[1] as Row[])[0] as Row;
      if ((results[2] as { affectedRows?: number }).affectedRows !== 1) {
        await conn.query('ROLLBACK');
        healthy = true;
        throw new NodeIdRefused();
      }
      state.onImage?.(image, io.keyOf(image));
      state.committing = true;
      await conn.query({ sql: 'COMMIT', timeout });
      healthy = true;
      return image;
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    } finally {
      if (healthy) conn.release();
      else conn.destroy();
    }
  }

  /** A connection of the pool lent for one `both` push (sync/push-one.ts); connection errors diagnosed. */
  async lease(): Promise<MultiStatementLease> {
    let conn: mysql.PoolConnection;
    try {
      conn = await this.get().getConnection();
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    }
    return {
      conn: conn as unknown as MultiStatementLease['conn'],
      done: (healthy) => (healthy ? conn.release() : conn.destroy()),
    };
  }

  private readonly io = new WeakMap<SyncTable, MysqlTableIO>();

  /**
   * `input` inserted into `t` through `insertOne` (`state.onImage` receives its row); false, with
   * nothing written, when the hub needs the general path. Another file holding the node id:
   * NodeIdInUseError.
   */
  async insertRow(
    t: SyncTable,
    input: InputRow,
    origin: string,
    token: { sql: string; params: unknown[] },
    state: HubInsertState,
    timeout: number,
  ): Promise<boolean> {
    const io = this.io.get(t) ?? new MysqlTableIO(t);
    this.io.set(t, io);
    const row = toMysqlRow({ ...t, columns: t.columns.filter((c) => c.name in input) }, normaliseRow(input) as Row);
    const cols = Object.keys(row);
    const insert = mysql.format(`INSERT INTO ${quoteMysqlId(t.name)} (${cols.map(quoteMysqlId).join(', ')}) VALUES (?)`, [
      cols.map((c) => row[c]),
    ]);
    try {
      await this.insertOne(io, insert, origin, token, state, timeout);
      return true;
    } catch (e) {
      if (e instanceof FastPathUnavailable) return false;
      if (e instanceof NodeIdRefused) throw new NodeIdInUseError(origin);
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => {});
    this.pool = undefined;
  }
}

/** The token statement wrote nothing: another file holds this node id (the caller throws NodeIdInUseError). */
export class NodeIdRefused extends Error {}
