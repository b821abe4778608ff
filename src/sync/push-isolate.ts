/**
 * Hub writes of a push that fail row by row, not batch by batch: a row-level failure (a key clash,
 * a missing parent) parks that row's change; a transient one (connection, deadlock) aborts the batch.
 */

import type { KeyCollisionMode } from '../config/schema.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SyncContext } from './context.js';
import { isTransientMysql, rowErrorText } from './errors.js';
import { type Collision, type Move, moveManyOnHub, moveOnHub, SequenceBehindError } from './rekey.js';

/**
 * Applies items in one statement group under a savepoint; when that fails for a
 * row-level reason, retries item by item so that only the poison items fail.
 * Transient failures (connection, deadlock) abort the whole batch.
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
  await conn.query('SAVEPOINT dualdb_batch');
  try {
    await apply(items);
    await conn.query('RELEASE SAVEPOINT dualdb_batch');
    return failed;
  } catch (e) {
    if (isTransientMysql(e)) throw e;
    await conn.query('ROLLBACK TO SAVEPOINT dualdb_batch');
  }
  for (const item of items) {
    await conn.query('SAVEPOINT dualdb_row');
    try {
      await apply([item]);
      await conn.query('RELEASE SAVEPOINT dualdb_row');
    } catch (e) {
      if (isTransientMysql(e)) throw e;
      await conn.query('ROLLBACK TO SAVEPOINT dualdb_row');
      failed.set(item.key, rowErrorText(e));
    }
  }
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
