/**
 * Step 1 of a push: the batch of the local change log, coalesced per row, with the current
 * local images and the parents they reference (parents.ts), read in one SQLite snapshot.
 */
import { decodeKey } from '../capture/keys.js';
import type { Row } from '../engines/codec.js';
import { asOp, ChangeSet, type LoggedOp, type Op } from './changeset.js';
import type { SyncContext } from './context.js';
import { parkedChangedMs } from './local-state.js';
import { admitParent, missingParents } from './parents.js';
import type { SyncTable } from './plan.js';
import { assertSqliteUnchanged } from './schema-guard.js';
import { SqliteTableIO } from './sqlite-io.js';

export interface LocalBatch {
  /** Log entries consumed (before coalescing). */
  entries: number;
  /** The batch was full: more may be waiting. */
  more: boolean;
  /** The highest seq in the batch: the new push cursor once the hub has it. */
  upto: bigint;
  changes: ChangeSet;
  images: Map<string, Map<string, Row>>;
  /** Entries that cannot be sent as they are (parked with the reason). */
  toPark: { tbl: string; pk: string | null; error: string; waiting?: boolean; firstOp?: Op; at?: number }[];
  /** The local moves generation the batch was read under (local-state.ts `movesGeneration`). */
  movesGeneration: bigint;
  tables(): SyncTable[];
}

/** `limit`: the most log entries to take (SYNC_BATCH_SIZE, or more while a backlog drains: push-size.ts). */
export function readLocalBatch(ctx: SyncContext, cursor: bigint, limit = ctx.config.sync.batchSize): LocalBatch {
  const batchSize = ctx.config.sync.batchSize;
  const unsyncable = new Map<string, string>([...ctx.plan.skipped, ...ctx.plan.paused].map((i) => [i.table, i.reason]));
  const changes = new ChangeSet();
  const images = new Map<string, Map<string, Row>>();
  const toPark: LocalBatch['toPark'] = [];
  let upto = cursor;
  let entries = 0;
  let movesGeneration = 0n;
  const add = (tbl: string, pk: string, seq: bigint, at: number, op: LoggedOp, retry: boolean): boolean => {
    if (!ctx.plan.byName.has(tbl)) return false;
    changes.add(tbl, pk, seq, at, op, retry);
    return true;
  };
  ctx.db.transaction(() => {
    assertSqliteUnchanged(ctx.db, ctx.schemaStamp);
    movesGeneration = ctx.state.movesGeneration();
    const rows = readLog(ctx, cursor, limit);
    entries = rows.length;
    for (const e of rows) {
      upto = e.seq;
      if (e.pk === null) {
        toPark.push({ tbl: e.tbl, pk: null, error: 'the row’s primary key is NULL; MySQL cannot store it', at: Number(e.at) });
        continue;
      }
      const bad = keyProblem(ctx.plan.byName.get(e.tbl), e.pk);
      if (bad) {
        toPark.push({ tbl: e.tbl, pk: e.pk, error: bad, at: Number(e.at) });
        continue;
      }
      if (!add(e.tbl, e.pk, e.seq, Number(e.at), e.op, false)) {
        toPark.push({
          tbl: e.tbl,
          pk: e.pk,
          error: `table not synced: ${unsyncable.get(e.tbl) ?? 'not in the sync plan (run `dualdb init`)'}`,
          waiting: true,
          firstOp: asOp(e.op),
          at: Number(e.at),
        });
      }
    }
    // Parked changes whose retry is due ride along with this batch, at the time the change was made:
    // stamped with the retry's time, newest-wins let a parked edit overwrite a newer hub update.
    for (const p of ctx.state.dueParked('push', Date.now(), batchSize)) {
      const table = ctx.plan.byName.get(p.tbl);
      if (p.pk !== null && table && !keyProblem(table, p.pk) && !changes.has(p.tbl, p.pk))
        add(p.tbl, p.pk, 0n, parkedChangedMs(p), p.firstOp ?? 'U', true);
    }
    // A parked change began before anything logged since: its first operation is the key's (an
    // insert parked while its parent was held apart stays an insert, a collision candidate).
    for (const [tbl, keyed] of changes.byTable) {
      for (const [pk, op] of ctx.state.parkedOps('push', tbl, [...keyed.keys()])) {
        const c = keyed.get(pk);
        if (c) c.implied = false;
        if (c && op && op !== 'P') c.firstOp = op; // `P` is of the pull direction only
      }
    }
    for (const [tbl] of changes.byTable) {
      const table = ctx.plan.byName.get(tbl) as SyncTable;
      images.set(tbl, new SqliteTableIO(ctx.db, table).fetch(changes.keys(tbl)));
    }
    // Parents referenced by these images whose own changes come later ride along (parents.ts).
    const work = [...images].map(([tbl, rows]) => ({ table: ctx.plan.byName.get(tbl) as SyncTable, rows: [...rows.values()] }));
    for (let w = work.pop(); w; w = work.pop()) {
      for (const [name, missing] of missingParents(w.table, w.rows, changes)) {
        const parent = ctx.plan.byName.get(name);
        if (!parent) continue;
        const later = ctx.state.changesAfter(name, missing, upto);
        if (later.size === 0) continue;
        const fetched = new SqliteTableIO(ctx.db, parent).fetch([...later.keys()]);
        const admitted: Row[] = [];
        for (const [pk, c] of later) {
          const image = fetched.get(pk);
          if (!image || !ctx.plan.byName.has(name)) continue;
          admitted.push(admitParent(changes, images, name, pk, c, image));
        }
        if (admitted.length) work.push({ table: parent, rows: admitted });
      }
    }
  })();
  return {
    entries,
    more: entries >= limit,
    upto,
    changes,
    images,
    toPark,
    movesGeneration,
    tables: () => [...changes.byTable.keys()].map((t) => ctx.plan.byName.get(t) as SyncTable),
  };
}

type LogRow = { seq: bigint; tbl: string; pk: string | null; op: LoggedOp; at: number };

/** Past the batch's end, how many entries at most are taken to reach a parent's delete (below). */
export const IMPLIED_TAIL_MAX = 50_000;

/**
 * The batch's log entries. SQLite logs the updates a parent's delete makes in its children
 * (`N`, ON DELETE SET NULL) just before that delete: a batch that ends among them takes the
 * entries up to the delete too (at most IMPLIED_TAIL_MAX more), so that the hub runs the
 * delete's own ON DELETE in the same transaction and those updates need no write (fk-implied.ts).
 */
function readLog(ctx: SyncContext, cursor: bigint, limit: number): LogRow[] {
  const read = ctx.db.prepare('SELECT seq, tbl, pk, op, at FROM _dualdb_changes WHERE seq > ? ORDER BY seq LIMIT ?');
  const rows = read.all(cursor, limit) as LogRow[];
  if (rows.length < limit) return rows;
  let taken = 0;
  while (rows[rows.length - 1]?.op === 'N' && taken < IMPLIED_TAIL_MAX) {
    const last = rows[rows.length - 1] as LogRow;
    const more = read.all(last.seq, Math.min(limit, IMPLIED_TAIL_MAX - taken)) as LogRow[];
    if (more.length === 0) break;
    const end = more.findIndex((r) => r.op !== 'N');
    const tail = end < 0 ? more : more.slice(0, end + 1);
    rows.push(...tail);
    taken += tail.length;
  }
  return rows;
}

/**
 * Why a logged key text cannot be turned back into key values, if it cannot. SQLite's
 * length() stops at a NUL character, so the triggers mis-measure a composite key part
 * that contains one: such a change is parked rather than failing every batch.
 */
export function keyProblem(table: SyncTable | undefined, pk: string): string | undefined {
  if (!table) return undefined;
  try {
    decodeKey(pk, table.key.length);
    return undefined;
  } catch (e) {
    return `the key logged for this row cannot be read back (${(e as Error).message}); composite key parts containing a NUL character cannot be synced`;
  }
}
