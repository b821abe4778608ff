/**
 * How many local changes a push batch takes. A batch is one hub transaction: its fixed cost (the
 * fence, the hub's moves read twice, the trigger check, savepoints, one redo-log fsync at COMMIT,
 * ~20 round trips) was a third of a bulk push's hub time at 2,000 rows a batch
 * (docs/PERFORMANCE.md, "Push and pull in bulk"). While a backlog drains (each batch of the
 * cycle was full), the next batch takes as many changes as the bytes per change of this one allow
 * within BULK_BATCH_BYTES, up to BULK_MAX_ENTRIES; a batch past that many bytes brings the next
 * one back down. A cycle's first batch, when its read is full, is read again at the limit its rows'
 * own size allows (`estimatedPushBytes`, push.ts `PushReadAhead.first`): a 20,000-row backlog of
 * small rows goes up as one batch, not 2,000 then 18,000. Never below SYNC_BATCH_SIZE, and only when SYNC_BATCH_SIZE is not set: a size set
 * by hand (short transactions, short row locks on the hub) is kept for every batch.
 *
 * A larger batch holds its hub row locks longer (about a second for 20,000 rows here) and finds a
 * poison row by halving (push-isolate.ts), so one refused row does not cost a row-by-row retry of
 * the whole batch.
 */

/** The most changes one push batch takes while a backlog drains (SYNC_BATCH_SIZE unset). */
export const BULK_MAX_ENTRIES = 20_000;
/** Rows a batch sends (their statement text) past which the next batch grows no more. */
export const BULK_BATCH_BYTES = 32 * 1024 * 1024;

export interface PushSizing {
  base: number;
  grows: boolean;
}

/**
 * An upper bound of the statement bytes the rows of a batch just read will take (each value's text
 * escaped, which at most doubles it, plus quotes and separators): what a backlog's first batch is
 * grown by before anything is sent (push.ts), the budget's measure from the rows themselves where
 * later batches have the bytes the one before sent.
 */
export function estimatedPushBytes(images: Iterable<Map<string, Record<string, unknown>>>): number {
  let n = 0;
  for (const rows of images)
    for (const row of rows.values()) {
      n += 4;
      for (const v of Object.values(row)) {
        if (v === null || v === undefined) n += 6;
        else if (Buffer.isBuffer(v)) n += 2 * v.length + 6;
        else if (typeof v === 'string') n += 2 * Buffer.byteLength(v) + 6;
        else n += 26;
      }
    }
  return n;
}

/** The size of the batch after one that took `entries` of a `limit` and sent `bytes`. */
export function nextPushLimit(sizing: PushSizing, limit: number, entries: number, bytes: number): number {
  return grownLimit(sizing, limit, entries, bytes, BULK_BATCH_BYTES, BULK_MAX_ENTRIES);
}

/**
 * The rule both directions share: after a full batch, as many entries as the budget allows at the
 * last batch's use per entry (`used` of `budget`: bytes sent, or ms under the lock), up to
 * `maxEntries`; past the budget, fewer in proportion; never below the base. Nothing used (every
 * change a delete, or parked): twice as many.
 */
function grownLimit(
  sizing: PushSizing,
  limit: number,
  entries: number,
  used: number,
  budget: number,
  maxEntries: number,
): number {
  if (!sizing.grows || entries < limit) return sizing.base;
  const max = Math.max(sizing.base, maxEntries);
  if (used > budget) return Math.max(sizing.base, Math.floor((limit * budget) / used));
  const room = used > 0 ? budget / used : 2;
  return Math.min(max, Math.max(sizing.base, Math.floor(limit * room)));
}

/**
 * Pull batches grow the same way while a backlog drains (each batch full), to as many entries as
 * the last batch's time under the lock per entry allows within PULL_LOCK_MS, up to
 * PULL_MAX_ENTRIES. The bound is how long the batch's SQLite transaction held the file's write lock: local writers wait for it (busy_timeout),
 * so a batch whose apply took longer than PULL_LOCK_MS brings the next one down in proportion.
 * Each batch is still one hub snapshot and one SQLite transaction with its cursor and holes
 * (invariant 3).
 *
 * The cap is the node's memory, not the lock: a batch's rows (the hub's log entries and images as
 * mysql2 parsed them, their SQLite form, the coalesced changes) live until its transaction
 * commits. Past what V8's young generation holds, every scavenge copies them and then promotes
 * them to the old generation, which is collected again later: at 20,000 entries the garbage
 * collector copied 2–3× the bytes per row it copies at 5,000, and a 100k pull cost the node
 * 1.5–2.8× the CPU per row (docs/PERFORMANCE.md, "Pull batches sized for the young generation").
 */
export const PULL_MAX_ENTRIES = 5_000;
/** The SQLite write lock a pull batch may hold before the next batch grows no more, ms. */
export const PULL_LOCK_MS = 250;

/** The size of the pull batch after one that took `entries` of a `limit` and held the write lock `lockMs`. */
export function nextPullLimit(sizing: PushSizing, limit: number, entries: number, lockMs: number): number {
  return grownLimit(sizing, limit, entries, lockMs, PULL_LOCK_MS, PULL_MAX_ENTRIES);
}
