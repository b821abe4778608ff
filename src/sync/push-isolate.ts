/**
 * Hub writes of a push that fail row by row, not batch by batch: a row-level failure (a key clash,
 * a missing parent) parks that row's change; a transient one (connection, deadlock) aborts the batch.
 */

import type { KeyCollisionMode } from '../config/schema.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SyncContext } from './context.js';
import { isTransientMysql, rowErrorText } from './errors.js';
import { type Collision, type Move, moveManyOnHub, moveOnHub, SequenceBehindError } from './rekey.js';

/** A failed group at most this large is retried item by item; a larger one is cut in halves. */
const ONE_BY_ONE = 16;

/**
 * Applies items in one statement group under a savepoint; when that fails for a row-level
 * reason, finds the poison items and applies the rest: a failed group is cut in halves, each
 * tried under its own savepoint, down to groups of ONE_BY_ONE tried item by item. One poison
 * row in a 20,000-row batch then costs ~30 attempts instead of 20,000 (each a savepoint, its
 * statements and a release). Items keep their order (a parent before its child in the same
 * table). Transient failures (connection, deadlock) abort the whole batch.
 */
export async function applyIsolated<T extends { key: string }>(
  conn: PoolConnection,
  items: T[],
  apply: (items: T[]) => Promise<void>,
  /** `apply` of these items is one statement: atomic by itself, so no savepoint pair around it. */
  oneStatement = false,
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  const [only] = items;
  if (oneStatement && only && items.length === 1) {
    try {
      await apply(items);
    } catch (e) {
      if (isTransientMysql(e)) throw e;
      failed.set(only.key, rowErrorText(e));
    }
    return failed;
  }
  // Whether `group` went in; else its error (the savepoint undid whatever part of it had).
  const attempt = async (group: T[], savepoint: string): Promise<unknown> => {
    await conn.query(`SAVEPOINT ${savepoint}`);
    try {
      await apply(group);
      await conn.query(`RELEASE SAVEPOINT ${savepoint}`);
      return undefined;
    } catch (e) {
      if (isTransientMysql(e)) throw e;
      await conn.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      return e ?? new Error('failed');
    }
  };
  const isolate = async (group: T[]): Promise<void> => {
    if (group.length <= ONE_BY_ONE) {
      for (const item of group) {
        const e = await attempt([item], 'dualdb_row');
        if (e !== undefined) failed.set(item.key, rowErrorText(e));
      }
      return;
    }
    const half = Math.ceil(group.length / 2);
    for (const part of [group.slice(0, half), group.slice(half)])
      if ((await attempt(part, 'dualdb_row')) !== undefined) await isolate(part);
  };
  if ((await attempt(items, 'dualdb_batch')) !== undefined) await isolate(items);
  return failed;
}

/**
 * The hub half of key-collision moves, isolated like writes: a moved row the hub refuses (its
 * parent was deleted on the hub meanwhile) is parked, not the whole batch failed for ever.
 * A sequence that is behind still aborts the batch (the caller moves it and retries).
 */
export async function moveIsolated(
  conn: PoolConnection,
  ctx: SyncContext,
  collided: Collision[],
  mode: KeyCollisionMode,
): Promise<{ moves: Move[]; failed: Map<string, string> }> {
  const moves: Move[] = [];
  let behind: SequenceBehindError | undefined;
  const failed = await applyIsolated(
    conn,
    collided.map((c) => ({ key: c.oldKey, c })),
    async (items) => {
      try {
        const out: Move[] = [];
        if (mode === 'rekey-hub') for (const { c } of items) out.push(await moveOnHub(conn, ctx, c, 'rekey-hub'));
        else
          out.push(
            ...(await moveManyOnHub(
              conn,
              ctx,
              items.map((i) => i.c),
            )),
          );
        moves.push(...out);
      } catch (e) {
        if (e instanceof SequenceBehindError) behind ??= e;
        throw e;
      }
    },
  );
  if (behind) throw behind;
  return { moves, failed };
}
