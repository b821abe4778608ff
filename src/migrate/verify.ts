/**
 * The verification phase: counts and chunked checksums of the copied tables (src/compare).
 * A differing key that was changed on either side after the positions read before the copy
 * is "explained" (the sync replays it); any other difference fails the run.
 */
import type { KnownRange } from '../compare/checksum-compare.js';
import { compareOn, planOptionsOf } from '../compare/compare.js';
import type { HubPosition } from '../compare/pull-cursor.js';
import type { TableComparison } from '../compare/types.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { LocalState } from '../sync/local-state.js';
import type { SyncTable } from '../sync/plan.js';
import { MigrationInterruptedError } from './errors.js';
import { lower, type RunContext } from './run-context.js';
import type { TableReport, TableVerification } from './types.js';

/** Differences the verification looks at per table (more are reported as unexplained). */
const MAX_VERIFY_DIFFERENCES = 100_000;

/**
 * `copied`: the key ranges each table's copy read, with the sums of the rows it read there
 * (copy-digest.ts): SQLite's side of those ranges is then counted, not summed again.
 */
export async function verifyCopy(
  ctx: RunContext,
  scope: SyncTable[],
  entries: Map<string, TableReport>,
  startSeq: bigint,
  position: HubPosition,
  copied?: ReadonlyMap<string, readonly KnownRange[]>,
): Promise<void> {
  if (scope.length === 0) return;
  const { db, hub, options } = ctx;
  const cmp = await compareOn(
    db,
    { sqlitePath: ctx.config.sqlitePath, hub, planOptions: planOptionsOf(ctx.config) },
    {
      tables: scope.map((t) => t.name),
      maxDifferences: MAX_VERIFY_DIFFERENCES,
      ...(copied ? { knownRanges: copied } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  ).catch((e) => {
    if (options.signal?.aborted) throw new MigrationInterruptedError(ctx.direction);
    throw e;
  });
  for (const tc of cmp.tables) {
    const entry = [...entries.values()].find((e) => lower(e.table) === lower(tc.table));
    if (!entry) continue;
    entry.verification = await explain(db, hub, tc, startSeq, position);
    const ok = entry.verification.status === 'match' || entry.verification.status === 'explained';
    if (!ok) {
      entry.state = 'failed';
      entry.error = `verification: ${entry.verification.error ?? `${entry.verification.differences - entry.verification.explained} differing key(s)`}`;
    }
    const done = entry.rowsResumed + entry.rowsCopied;
    ctx.emitProgress({
      table: entry.table,
      rowsDone: done,
      rowsTotal: Math.max(entry.rowsTotal, done),
      rowsPerSec: entry.seconds > 0 ? Math.round(entry.rowsCopied / entry.seconds) : 0,
      etaSec: 0,
      state: ok ? 'done' : 'failed',
      ...(entry.error ? { error: entry.error } : {}),
    });
  }
}

/**
 * A differing key is explained when it was changed on either side after the positions
 * read before the copy: the sync replays that change. Anything else is a copy error.
 */
async function explain(
  db: SqliteDb,
  hub: MysqlHub,
  tc: TableComparison,
  startSeq: bigint,
  position: HubPosition,
): Promise<TableVerification> {
  const base: TableVerification = {
    status: 'match',
    rows: tc.rows,
    differences: tc.differenceCount,
    explained: 0,
    unexplainedKeys: [],
  };
  if (tc.status === 'error') return { ...base, status: 'error', error: tc.error ?? 'compare failed' };
  if (tc.status === 'match') return base;
  const keys = tc.differences.map((d) => d.key);
  const changed = new Set(new LocalState(db).changesAfter(tc.table, keys, startSeq).keys());
  const holes = position.holes;
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500).filter((k) => !changed.has(k));
    if (chunk.length === 0) continue;
    const rows = await hub.query<{ pk: string }>(
      `SELECT DISTINCT pk FROM _dualdb_changes WHERE tbl = ? AND pk IN (?) AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
      [tc.table, chunk, position.maxSeq, ...(holes.length ? [holes] : [])],
    );
    for (const r of rows) changed.add(r.pk);
  }
  const unexplained = keys.filter((k) => !changed.has(k));
  const explained = keys.length - unexplained.length;
  const unlisted = tc.differenceCount - keys.length;
  const status = unexplained.length === 0 && unlisted === 0 ? 'explained' : 'differ';
  return { ...base, status, explained, unexplainedKeys: unexplained.slice(0, 20) };
}
