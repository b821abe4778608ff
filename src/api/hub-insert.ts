/**
 * The hub half of a single-row insert in `mysql_primary`, in ONE round trip: the write's opening
 * (origin for the capture triggers, the write token, autocommit off), the `INSERT … RETURNING`
 * and the statement that checks and commits travel as one multi-statement query. The server
 * stops a multi-statement query at the first statement that fails, so no statement runs after a
 * failure: a refused row commits nothing, and neither does a write whose check fails. An error
 * reply therefore means not committed; a lost reply (or a timeout) is resolved by the write token
 * (sync/commit-outcome.ts), which is why the token is recorded before the commit.
 *
 * Where the hub's capture triggers log write tokens (capture version 2, capture/mysql-capture.ts)
 * the token costs no statement: the insert trigger logs it with the row's own log entry (and
 * clears `@dualdb_token_tbl`), and the last statement, `SET autocommit = CASE …`, commits (a switch
 * of autocommit from 0 to 1 commits the open transaction) only when the token was logged and no
 * other file holds the node id (the fence, invariant 17, read under a share lock); otherwise it
 * fails, naming the cause. A lost reply is looked up in the log (committedInLog), and the log row
 * gives the key, whoever assigned it.
 *
 * Where they do not (version 1: a hub whose triggers predate it, or one that cannot take the
 * token column), the token is a row of its own in `_dualdb_write_tokens`, written by the fenced
 * token statement (node-fence.ts), then a stop (a statement that fails unless the token statement
 * inserted its row) and the COMMIT. When the hub assigns the key (AUTO_INCREMENT), that token
 * carries it (`<prefix>:<LAST_INSERT_ID()>`), so that a write that committed with its reply lost is
 * still mirrored, its row read back by that key. A version 1 table is found by the first write's
 * check (nothing committed; the write goes this way at once) and tried again after ten minutes
 * (another node's `init` may have brought its triggers up to date meanwhile).
 *
 * A pool of its own has `multipleStatements` on; it runs only the statements built here, every
 * value escaped by mysql2. Each write sets its session in its first statement, so nothing is
 * reset after the ack.
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
  /** The token row's token, or its first characters when the hub completes it with the key it assigns (committedToken). */
  lookup?: string;
  /** The row's key when the input holds it (a committed write whose reply was lost is read back by it). */
  key?: string;
  /** The token went into the hub log with the insert's own log row, after this position (committedInLog). */
  inLog?: { token: string; after: bigint };
}

/** What the write's fence and token need from the node (node-fence.ts, the node's pull cursor). */
export interface WriteFence {
  /** The fenced token row's statement (capture version 1): holderTokenStatement. */
  tokenStatement(token: string, tokenSql: string): { sql: string; params: unknown[] };
  /** Another file holds the node id, as an SQL condition: heldElsewhereCondition. */
  heldElsewhere(): { sql: string; params: unknown[] };
  /** A hub log position taken before this write was sent (its log row comes after it). */
  logFloor: bigint;
}

/** The stop (capture version 1): fails (with this text) unless the token statement before it inserted its row. */
const STOP_UNLESS_TOKEN =
  "SET SESSION sql_mode = IF(ROW_COUNT() = 1, @@session.sql_mode, 'dualdb: node id held by another file')";

const HELD = 'dualdb: node id held by another file';
const NOT_LOGGED = 'dualdb: the hub capture trigger did not log the write token';
/** How long a table whose hub trigger logged no token takes the token row's way before the log's is tried again. */
const VERSION_1_RETRY_MS = 10 * 60_000;

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
   * Runs one write's query (`sql`: its statements joined, the RETURNING one second) and returns
   * the row image the hub stored. Throws the hub's error (connection errors diagnosed as
   * MysqlError; a failed check as NodeIdRefused or TokenNotLogged) with nothing committed unless
   * `state.committing` (then the caller resolves the outcome by the token).
   */
  private async insertOne(io: MysqlTableIO, sql: string, state: HubInsertState, timeout: number): Promise<Row> {
    let conn: mysql.PoolConnection;
    try {
      conn = await this.get().getConnection();
    } catch (e) {
      throw diagnoseIfConnection(e, this.m);
    }
    state.threadId = conn.threadId ?? undefined;
    let healthy = false;
    try {
      let results: unknown[];
      state.committing = true;
      try {
        [results] = (await conn.query({ sql, timeout })) as unknown as [unknown[]];
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (!code.startsWith('ER_') || isConnectionError(e)) throw e;
        // A statement failed: the server ran none after it, the commit neither.
        state.committing = false;
        await conn.query('ROLLBACK').catch(() => {});
        if (code === 'ER_BAD_FIELD_ERROR') throw new FastPathUnavailable();
        const message = (e as Error).message;
        if (code === 'ER_WRONG_VALUE_FOR_VAR' && message.includes(HELD)) throw new NodeIdRefused();
        if (code === 'ER_WRONG_VALUE_FOR_VAR' && message.includes(NOT_LOGGED)) throw new TokenNotLogged();
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

  /** Tables whose hub trigger logged no token (capture version 1), with when that was seen. */
  private readonly version1 = new Map<string, number>();

  /**
   * `input` inserted into `t` in one query (`state.onImage` receives its row); false, with
   * nothing written, when the hub needs the general path. Another file holding the node id:
   * NodeIdInUseError.
   */
  async insertRow(
    t: SyncTable,
    input: InputRow,
    origin: string,
    token: string,
    fence: WriteFence,
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
    const cols = Object.keys(row);
    const insert = mysql.format(`INSERT INTO ${quoteMysqlId(t.name)} (${cols.map(quoteMysqlId).join(', ')}) VALUES (?)`, [
      cols.map((c) => row[c]),
    ]);
    const returning = `${insert} RETURNING ${io.selectList}`;
    try {
      if (Date.now() - (this.version1.get(t.name) ?? Number.NEGATIVE_INFINITY) >= VERSION_1_RETRY_MS) {
        state.inLog = { token, after: fence.logFloor };
        const held = fence.heldElsewhere();
        const sql = [
          mysql.format(
            "SET @dualdb_origin = ?, @dualdb_token_tbl = CONCAT(DATABASE(), '.', ?), @dualdb_token = ?, autocommit = 0",
            [origin, t.name, token],
          ),
          returning,
          mysql.format(
            `SET autocommit = CASE WHEN @dualdb_token_tbl IS NOT NULL THEN '${NOT_LOGGED}' WHEN ${held.sql} THEN '${HELD}' ELSE 'ON' END`,
            held.params as never,
          ),
        ].join(';');
        try {
          await this.insertOne(io, sql, state, timeout);
          this.version1.delete(t.name);
          return true;
        } catch (e) {
          if (!(e instanceof TokenNotLogged)) throw e;
          // The hub's trigger predates token logging (nothing was committed): the token row's way.
          this.version1.set(t.name, Date.now());
          state.inLog = undefined;
        }
      }
      let statement: { sql: string; params: unknown[] };
      if (assigned) {
        // `<prefix>:<key>` fits the token's 32 characters (a BIGINT has at most 20 digits).
        state.lookup = token.slice(0, 11);
        statement = fence.tokenStatement(state.lookup, "CONCAT(?, ':', LAST_INSERT_ID())");
      } else {
        state.lookup = token;
        state.key = io.keyOf(row);
        statement = fence.tokenStatement(token, '?');
      }
      const sql = [
        mysql.format('SET @dualdb_origin = ?, autocommit = 0', [origin]),
        returning,
        mysql.format(statement.sql, statement.params as never),
        STOP_UNLESS_TOKEN,
        'COMMIT',
      ].join(';');
      await this.insertOne(io, sql, state, timeout);
      return true;
    } catch (e) {
      if (e instanceof FastPathUnavailable) {
        state.lookup = undefined;
        state.key = undefined;
        state.inLog = undefined;
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

/** The fence held: another file holds this node id (the caller throws NodeIdInUseError). */
export class NodeIdRefused extends Error {}

/** The hub's capture trigger logged no write token (capture version 1): nothing committed. */
class TokenNotLogged extends Error {}
