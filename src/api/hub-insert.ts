/**
 * The hub half of a single-row insert in `mysql_primary`, in ONE round trip: the write's opening
 * (origin for the capture triggers, autocommit off), the `INSERT … RETURNING`, the fenced write
 * token, a stop and the COMMIT travel as one multi-statement query. The server stops a
 * multi-statement query at the first statement that fails, so no statement runs after a failure:
 * a refused row records no token and commits nothing; a file that does not hold the node id
 * inserts no token, and the stop after it (a statement that fails unless the token statement
 * inserted its row) keeps the COMMIT from running. An error reply therefore means not committed;
 * a lost reply (or a timeout) is resolved by the write token (commit-outcome.ts), which is why the
 * token is complete before the COMMIT: when the hub assigns the key (AUTO_INCREMENT), the token
 * carries it (`<prefix>:<LAST_INSERT_ID()>`), so that a write that committed with its reply lost is
 * still mirrored, its row read back by that key.
 *
 * A pool of its own has `multipleStatements` on; it runs only the statements built here, every
 * value escaped by mysql2. Its connections keep the write's session (autocommit off, the origin)
 * between writes: each write sets it again in its first statement, so nothing is reset after the ack.
 */
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config/config.js';
import type { Row } from '../engines/codec.js';
import { diagnoseIfConnection, poolOptions } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
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
  /** Called with the hub's row image and its key once the write committed. */
  onImage?: (image: Row, key: string) => void;
  /** The token, or its first characters when the hub completes it with the key it assigns (committedToken). */
  lookup?: string;
  /** The row's key when the input holds it (a committed write whose reply was lost is read back by it). */
  key?: string;
}

/** The stop: fails (with this text) unless the token statement before it inserted its row. */
const STOP_UNLESS_TOKEN =
  "SET SESSION sql_mode = IF(ROW_COUNT() = 1, @@session.sql_mode, 'dualdb: node id held by another file')";

/** The token's text, `<prefix>:<key>`, when the hub assigned the key: the key, else undefined. */
export function keyInToken(token: string | undefined): string | undefined {
  const i = token?.indexOf(':') ?? -1;
  return i >= 0 ? token?.slice(i + 1) : undefined;
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
   * with the token statement, in one query; returns the row image the hub stored. Throws the hub's
   * error (connection errors diagnosed as MysqlError) with nothing committed unless
   * `state.committing` (then the caller resolves the outcome by the token).
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
      const sql = [
        mysql.format('SET @dualdb_origin = ?, autocommit = 0', [origin]),
        `${insert} RETURNING ${io.selectList}`,
        mysql.format(token.sql, token.params as never),
        STOP_UNLESS_TOKEN,
        'COMMIT',
      ].join(';');
      let results: unknown[];
      state.committing = true;
      try {
        [results] = (await conn.query({ sql, timeout })) as unknown as [unknown[]];
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (!code.startsWith('ER_') || isConnectionError(e)) throw e;
        // A statement failed: the server ran none after it, the COMMIT neither.
        state.committing = false;
        await conn.query('ROLLBACK').catch(() => {});
        if (code === 'ER_BAD_FIELD_ERROR') throw new FastPathUnavailable();
        if (code === 'ER_WRONG_VALUE_FOR_VAR' && /dualdb: node id held/.test((e as Error).message)) throw new NodeIdRefused();
        throw e;
      }
      healthy = true;
      const image = (results[1] as Row[])[0] as Row;
      state.onImage?.(image, io.keyOf(image));
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
   * nothing written, when the hub needs the general path. `tokenStatement` builds the fenced token
   * statement (node-fence.ts holderTokenStatement) for a token and its SQL. Another file holding
   * the node id: NodeIdInUseError.
   */
  async insertRow(
    t: SyncTable,
    input: InputRow,
    origin: string,
    token: string,
    tokenStatement: (token: string, tokenSql: string) => { sql: string; params: unknown[] },
    state: HubInsertState,
    timeout: number,
  ): Promise<boolean> {
    const io = this.io.get(t) ?? new MysqlTableIO(t);
    this.io.set(t, io);
    const row = toMysqlRow({ ...t, columns: t.columns.filter((c) => c.name in input) }, normaliseRow(input) as Row);
    const keyed = t.key.length > 0 && t.key.every((k) => row[k.name] !== undefined && row[k.name] !== null);
    const assigned = !keyed && t.hubAssignsKey && t.key.length === 1;
    // A key neither given nor assigned by the hub: the general path.
    if (!keyed && !assigned) return false;
    let statement: { sql: string; params: unknown[] };
    if (assigned) {
      // `<prefix>:<key>` fits the token's 32 characters (a BIGINT has at most 20 digits).
      state.lookup = token.slice(0, 11);
      statement = tokenStatement(state.lookup, "CONCAT(?, ':', LAST_INSERT_ID())");
    } else {
      state.lookup = token;
      state.key = io.keyOf(row);
      statement = tokenStatement(token, '?');
    }
    const cols = Object.keys(row);
    const insert = mysql.format(`INSERT INTO ${quoteMysqlId(t.name)} (${cols.map(quoteMysqlId).join(', ')}) VALUES (?)`, [
      cols.map((c) => row[c]),
    ]);
    try {
      await this.insertOne(io, insert, origin, statement, state, timeout);
      return true;
    } catch (e) {
      if (e instanceof FastPathUnavailable) {
        state.lookup = undefined;
        state.key = undefined;
        return false;
      }
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
