/**
 * The outcome of a hub COMMIT whose answer was lost (mysql_primary writes).
 *
 * A connection that drops during COMMIT leaves two possibilities: the server
 * committed and the reply was lost, or it did not. Treating both as "not
 * written" and applying the write locally again duplicates it (an
 * AUTO_INCREMENT insert arrives twice). So every hub-first transaction inserts a
 * random token into `_dualdb_write_tokens` before its COMMIT; after a lost reply
 * a new connection ends the old session (KILL, allowed on one's own sessions)
 * and reads the token with a locking read, which waits until the old transaction
 * is finished: the token is there exactly when the write committed.
 *
 * Tokens are small and pruned with the hub's change log (older than a day).
 *
 * The one-row insert of `mysql_primary` on a hub with capture version 2 has no token row: the
 * capture trigger logs its token with the insert's own log row (api/hub-insert.ts), and
 * committedInLog finds it there.
 */
import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { MYSQL_WRITE_TOKENS_DDL } from '../capture/mysql-capture.js';
import type { MysqlHub } from '../engines/mysql/connect.js';

export type CommitOutcome = 'committed' | 'rolled-back' | 'unknown';

/** For hubs set up before write tokens existed (idempotent; outside any transaction: DDL commits). */
export async function ensureWriteTokens(hub: MysqlHub): Promise<void> {
  await hub.execute(MYSQL_WRITE_TOKENS_DDL);
}

export function newWriteToken(): string {
  return randomBytes(16).toString('hex');
}

/** Inside the write's transaction, just before COMMIT. */
export async function recordWriteToken(conn: mysql.PoolConnection, token: string, nodeId: string): Promise<void> {
  await conn.query('INSERT INTO _dualdb_write_tokens (token, node_id, at) VALUES (?, ?, NOW(6))', [token, nodeId]);
}

/**
 * Finds out whether the transaction that recorded `token` (on server session `threadId`)
 * committed. Retries while the hub is away, up to `deadlineMs`; 'unknown' when it stays away.
 */
export async function commitOutcome(
  hub: MysqlHub,
  token: string,
  threadId: number | undefined,
  deadlineMs: number,
): Promise<CommitOutcome> {
  return (await committedToken(hub, token, threadId, deadlineMs)).outcome;
}

/**
 * commitOutcome for a token known by its first characters (`prefix`, hex): a write that completes
 * its token on the server (the mysql_primary one-query insert appends the key the hub assigned,
 * hub-insert.ts). `token` is the whole token found when the write committed.
 */
export async function committedToken(
  hub: MysqlHub,
  prefix: string,
  threadId: number | undefined,
  deadlineMs: number,
): Promise<{ outcome: CommitOutcome; token?: string }> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await hub.withConnection(async (conn) => {
        // A session the server still runs (it has not noticed the cut) ends now: rolled back, or committed if it got that far.
        if (threadId !== undefined) await conn.query('KILL CONNECTION ?', [threadId]).catch(() => {});
        const [rows] = await conn.query('SELECT token FROM _dualdb_write_tokens WHERE token LIKE ? LOCK IN SHARE MODE', [
          `${prefix}%`,
        ]);
        await conn.query('COMMIT');
        const found = (rows as { token: string }[])[0]?.token;
        return found === undefined ? { outcome: 'rolled-back' } : { outcome: 'committed', token: found };
      });
    } catch {
      if (Date.now() >= until) return { outcome: 'unknown' };
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * commitOutcome for a write whose token the hub's capture trigger logged with the insert's log row
 * (api/hub-insert.ts), at a log position after `after` (a position taken before the write was
 * sent: the node's pull cursor). The old session is ended first; the log is then read without
 * waiting, READ UNCOMMITTED, so that a row its transaction still holds is seen too (no index on
 * the token: the range from `after` is read, and nothing of the log is locked meanwhile); a row
 * found is read again by its position under a share lock, which waits for that transaction's end:
 * the row is there exactly when the write committed. `table` and `key`: the logged row's.
 */
export async function committedInLog(
  hub: MysqlHub,
  token: string,
  after: bigint,
  threadId: number | undefined,
  deadlineMs: number,
): Promise<{ outcome: CommitOutcome; table?: string; key?: string }> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await hub.withConnection(async (conn) => {
        if (threadId !== undefined) await conn.query('KILL CONNECTION ?', [threadId]).catch(() => {});
        // Without SESSION: for the next transaction only.
        await conn.query('SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED, READ ONLY');
        await conn.query('START TRANSACTION');
        // A log that ends before `after` (a hub restored from a backup numbers anew) is read whole.
        const [[top]] = (await conn.query('SELECT MAX(seq) AS top FROM _dualdb_changes')) as unknown as [[{ top: unknown }]];
        const from = BigInt((top?.top as string | number | null) ?? 0) > after ? after : 0n;
        const [seen] = await conn.query('SELECT seq FROM _dualdb_changes WHERE seq > ? AND token = ?', [from, token]);
        await conn.query('COMMIT');
        const seq = (seen as { seq: string | number }[])[0]?.seq;
        if (seq === undefined) return { outcome: 'rolled-back' };
        const [rows] = await conn.query('SELECT tbl, pk FROM _dualdb_changes WHERE seq = ? LOCK IN SHARE MODE', [seq]);
        await conn.query('COMMIT');
        const row = (rows as { tbl: string; pk: string | null }[])[0];
        return row ? { outcome: 'committed', table: row.tbl, key: row.pk ?? undefined } : { outcome: 'rolled-back' };
      });
    } catch {
      if (Date.now() >= until) return { outcome: 'unknown' };
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Drops tokens older than a day (their writes' outcomes were settled long ago). */
export async function pruneWriteTokens(hub: MysqlHub): Promise<void> {
  await hub.execute('DELETE FROM _dualdb_write_tokens WHERE at < NOW(6) - INTERVAL 1 DAY').catch((e: { code?: string }) => {
    if (e.code !== 'ER_NO_SUCH_TABLE') throw e;
  });
}
