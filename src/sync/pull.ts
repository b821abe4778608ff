/**
 * Pull: hub changes (hub → node), one batch at a time, in the same three steps as push:
 * read (pull-read.ts: the hub's log and images in one consistent snapshot), decide (decide.ts,
 * per row, against the node's unpushed changes) and apply.
 *
 * The node applies them in one SQLite transaction that also stores the new pull
 * cursor and holes (exactly-once, docs/SYNC-CONTRACT.md, invariant 3) and raises the
 * `applying` flag so the node's triggers stay quiet (no echo, invariant 2).
 * The node's own pushes (origin = node id) are skipped; everything else — other
 * nodes' pushes, central writes — is applied. Local changes not pushed yet to a
 * row the hub also changed are conflicts (invariant 6), detected under the
 * SQLite write lock so no local writer can slip in between.
 */
import { SQLITE_NOW_MS } from '../capture/sqlite-capture.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { KeyChange } from './changeset.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { rowOfValues, sameEntity, sameImage, toSqliteValues } from './convert.js';
import { decidePull } from './decide.js';
import { isTransientSqlite, rowErrorText } from './errors.js';
import { restoreImmediateForeignKeys } from './fk-commit.js';
import { advanceHoles } from './holes.js';
import { applyHubMoves, forgetHubMoves, hubMoveTargets, unapplied, unsettledKeys } from './hub-moves.js';
import { encodeImage } from './images.js';
import { heldKey, type ParkedChange } from './local-state.js';
import {
  parentApart,
  parentDeletedHere,
  parentIn,
  unsentParentKeys,
  wakeParkedChildren,
  withMissingParent,
} from './parent-waits.js';
import { wakeParkedOrphans } from './parked-cascade.js';
import type { SyncTable } from './plan.js';
import { deadHoleCandidates, readHubBatch } from './pull-read.js';
import { logChildrenOfRecreated, type Recreated } from './recreated-children.js';
import { rowHere } from './rekey.js';
import { RekeyStore } from './rekey-store.js';
import { assertSqliteUnchanged } from './schema-guard.js';
import { SqliteTableIO } from './sqlite-io.js';

export class ResyncNeededError extends DualdbError {
  constructor(upto: bigint, prunedUpto: bigint) {
    super(
      'RESYNC_NEEDED',
      `this node last pulled hub change ${upto}, but the hub has pruned its change log up to ${prunedUpto}: changes in between are gone and this node needs a resync (\`dualdb repair --from mysql\`)`,
      { hint: 'the repair copies the hub’s data; sync resumes after it', exitCode: EXIT.RESYNC_NEEDED },
    );
  }
}

/** Caught by the syncer, which tries the batch again. */
export class PullRaceError extends DualdbError {
  constructor() {
    super('PULL_RACE', 'another syncer pulled into or pushed from this SQLite file meanwhile; the batch will be read again');
  }
}

/**
 * Applies rows in one savepoint (`applyAll` when given: the same effect, e.g. in multi-row
 * statements); when that fails for a row-level reason, again row by row (a savepoint each) so
 * that only the poison rows fail: key → error. Transient failures (busy, I/O) abort the whole apply.
 */
function applyRows<T extends { key: string }>(
  db: SqliteDb,
  items: T[],
  apply: (item: T) => void,
  applyAll?: (items: T[]) => void,
): Map<string, string> {
  const failed = new Map<string, string>();
  if (items.length === 0) return failed;
  try {
    db.transaction(() => {
      if (applyAll) applyAll(items);
      else for (const item of items) apply(item);
    })();
    return failed;
  } catch (e) {
    if (isTransientSqlite(e)) throw e;
  }
  for (const item of items) {
    try {
      db.transaction(() => apply(item))();
    } catch (e) {
      if (isTransientSqlite(e)) throw e;
      failed.set(item.key, rowErrorText(e));
    }
  }
  return failed;
}

/** One pull batch of at most `limit` hub log entries (push-size.ts sizes it while a backlog drains). */
export async function pullBatch(ctx: SyncContext, limit = ctx.config.sync.batchSize): Promise<BatchResult> {
  const result = emptyBatch('pull');
  const prev = ctx.state.pullState();
  const deadCandidates = await deadHoleCandidates(ctx, prev.holes);
  // Changes parked for a table that is not synced now wait until it is (as on the push side).
  const duePulls = ctx.state.dueParked('pull', Date.now(), ctx.config.sync.batchSize).filter((p) => ctx.plan.byName.has(p.tbl));

  // A push by another process on this file (`rekeys resolve --all` syncs between its rounds beside
  // the watcher) committed after the hub read below is told by the push cursor having moved.
  const pushedBefore = ctx.state.pushedUpto();
  // 1. Read the log entries and images in one hub snapshot (pull-read.ts).
  const read = await readHubBatch(ctx, prev, duePulls, result, limit);
  if (read.prunedPast !== undefined) throw new ResyncNeededError(prev.upto, read.prunedPast);
  const { changes, images, seen, readUpto, hubNowMs } = read;
  const hubMoves = unapplied(ctx.db, read.hubMoves);

  const holes = advanceHoles(prev, seen, readUpto, deadCandidates, hubNowMs, ctx.config.sync.holeTimeoutMs);
  const nothingNew = result.changes === 0 && duePulls.length === 0;
  const stateChanged =
    holes.next.upto !== prev.upto ||
    holes.filled.length ||
    holes.provenDead.length ||
    holes.expired.length ||
    holes.next.holes.size !== prev.holes.size;
  if (nothingNew && !stateChanged && hubMoves.length === 0) return result;

  // 2. Apply in one SQLite transaction with the new cursor.
  const unsyncable = new Map<string, string>([...ctx.plan.skipped, ...ctx.plan.paused].map((i) => [i.table, i.reason]));
  const parkedNow: { tbl: string; pk: string; error: string }[] = [];
  const conflictLog: { tbl: string; pk: string; text: string }[] = [];
  const deferred: { tbl: string; pk: string }[] = [];
  const localNow = Date.now();
  const lockedAt = performance.now();
  ctx.db
    .transaction(() => {
      // Another puller on this file (it should not exist: the control socket is the lock) would
      // have moved the cursor; applying on top of a stale cursor could move it backwards.
      assertSqliteUnchanged(ctx.db, ctx.schemaStamp);
      const recheck = ctx.state.pullState();
      if (recheck.upto !== prev.upto || recheck.holes.size !== prev.holes.size) throw new PullRaceError();
      // A push committed meanwhile by another process: the hub snapshot predates rows it sent, and
      // their unpushed changes here are gone. Applied, a key whose hub row that push wrote looked
      // deleted on the hub with nothing unpushed here: the node's own row was deleted (operator
      // trial 2026-12-07 wip9-r10, manual seed 1102). Read again.
      if (ctx.state.pushedUpto() !== pushedBefore) throw new PullRaceError();
      ctx.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      // Rows other nodes moved on the hub move here first: the batch's rows are under the new keys.
      const movedKeys = applyHubMoves(ctx, hubMoves);
      // The moves deferred foreign key checks to the COMMIT (children repointed before their
      // parent); the batch's rows are checked per statement again, so that a row whose parent is
      // missing (a hub written with foreign_key_checks=0) fails alone and is parked (invariant 11)
      // instead of failing the whole COMMIT and stalling the pull. The moves are checked first.
      restoreImmediateForeignKeys(ctx.db, movedKeys);
      const unsettled = unsettledKeys(ctx.db);
      const moveTargets = hubMoveTargets(ctx.db);
      const held = ctx.state.heldKeys();
      const rekeys = new RekeyStore(ctx.db);
      const apart = new Set([...rekeys.openKeys(), ...unsettled.local, ...unsettled.hub]);
      const heldHere = heldRowsHere(ctx, rekeys, unsettled.local);

      const tables = [...changes.byTable.keys()]
        .map((name) => ctx.plan.byName.get(name))
        .filter((t): t is SyncTable => t !== undefined)
        .sort((a, b) => a.rank - b.rank);
      for (const tbl of changes.byTable.keys()) {
        if (ctx.plan.byName.has(tbl)) continue;
        for (const pk of changes.keys(tbl)) {
          const error = `table not synced on this node: ${unsyncable.get(tbl) ?? 'not in the sync plan'}`;
          // With the hub operation it began with: a hub insert retried later must still meet a node insert as a collision (13).
          ctx.state.park('pull', tbl, pk, error, { waiting: true, firstOp: parkOp(changes.get(tbl, pk)) });
          parkedNow.push({ tbl, pk, error });
          moved(result, tbl).parked++;
        }
      }
      const deletions: { table: SyncTable; io: SqliteTableIO; keys: string[]; parked: Set<string> }[] = [];
      const recreated: Recreated[] = [];
      // Keys of the rows written here, by table: children parked for one of them go again (N6).
      const written = new Map<string, Pick<Set<string>, 'has'>>();
      for (const table of tables) {
        const io = new SqliteTableIO(ctx.db, table);
        const keyed = changes.byTable.get(table.name) ?? new Map<string, KeyChange>();
        const hubImages = images.get(table.name) ?? new Map<string, Row>();
        const keyList = [...keyed.keys()];
        const pending = ctx.state.pendingKeys(table.name, keyList);
        const parkedHere = ctx.state.parkedKeys('pull', table.name, keyList);
        const localImages = pending.size ? io.fetch([...pending.keys()]) : new Map<string, Row>();
        const m = moved(result, table.name);
        const toDelete: string[] = [];
        const toUpsert: { key: string; values: SqlValue[]; change: KeyChange }[] = [];
        // The hub's rows in SQLite form as values to bind; by column name (a Row) only where a check
        // reads them so: a table with references, a key with a local change, a refused row.
        const refs = table.foreignKeys.length > 0 || (table.unsyncedRefs?.length ?? 0) > 0;
        // A table with references converts every row first (unsentParentKeys reads them all); any
        // other converts each row where the loop below reaches its key: one look-up per key, and no
        // second map of the batch's rows (a bulk pull's 5,000 entries a batch).
        let hubValues: Map<string, SqlValue[]> | undefined;
        if (refs) {
          hubValues = new Map();
          for (const [key, hubRow] of hubImages) if (keyed.has(key)) hubValues.set(key, toSqliteValues(table, hubRow));
        }
        const asRows = new Map<string, Row>();
        const rowOf = (key: string, values: SqlValue[]): Row => {
          let row = asRows.get(key);
          if (!row) {
            row = rowOfValues(table, values);
            asRows.set(key, row);
          }
          return row;
        };
        // Parent keys under which this node holds its own new row the hub has not received.
        const unsent = refs
          ? unsentParentKeys(
              ctx,
              table,
              [...(hubValues ?? [])].map(([key, values]) => rowOf(key, values)),
            )
          : new Set<string>();
        // Held and unsettled keys are rare: their lookup text is built only when there are any.
        const anyHeld = held.size > 0 || unsettled.local.size > 0;
        for (const [key, change] of keyed) {
          if (anyHeld && held.has(heldKey(table.name, key))) continue;
          if (anyHeld && unsettled.local.has(heldKey(table.name, key))) {
            // Here this key still holds the copy of a row the hub moved away (hub-moves.ts).
            const error = 'waits for the row under this key here to move to its new hub key (a key collision in progress)';
            ctx.state.park('pull', table.name, key, error, { waiting: true, firstOp: parkOp(change) });
            parkedNow.push({ tbl: table.name, pk: key, error });
            continue;
          }
          const hubRow = hubValues ? undefined : hubImages.get(key);
          const hubAsValues = hubValues ? (hubValues.get(key) ?? null) : hubRow ? toSqliteValues(table, hubRow) : null;
          const local = pending.get(key);
          // Its parent is the hub's half of a key collision not resolved yet: applied now, it would
          // attach to the node's different row under the same key. It waits (parked) until then —
          // unless it collides itself (a row of the node's under its key too): that collision is
          // deferred to the push like any other, so the hub's row is never taken for the node's.
          const waitsForParent =
            hubAsValues !== null &&
            refs &&
            (parentApart(table, rowOf(key, hubAsValues), apart) !== undefined ||
              parentIn(table, rowOf(key, hubAsValues), unsent) !== undefined);
          if (local) {
            const hubAsSqlite = hubAsValues && rowOf(key, hubAsValues);
            const localRow = localImages.get(key) ?? null;
            const hubMovedHere = moveTargets.has(heldKey(table.name, key));
            // The node's copy of a row another node moved here: weighed against that row's changes
            // under any of its keys, the move's own entries not counted (row-history.ts).
            const byRow =
              hubMovedHere && change.row !== undefined && local.firstOp !== 'I' && !apart.has(heldKey(table.name, key));
            const hubAt = (byRow && change.row ? change.row.at : change.lastAt) - ctx.hubClockOffsetMs;
            // The key was deleted here and holds a new row now (push-reused.ts): the hub's change is
            // to the deleted row. It waits for the push, which decides the delete against it
            // (parked, it is as unseen there as one after the cursor), never overwriting the new row.
            if (table.keyKind === 'generated' && local.firstOp !== 'I' && local.deleted && localRow !== null) {
              const error = 'waits for this node’s push: the key was deleted and handed out again here (a new row)';
              ctx.state.park('pull', table.name, key, error, { waiting: true, firstOp: parkOp(change) });
              parkedNow.push({ tbl: table.name, pk: key, error });
              continue;
            }
            const decision = decidePull(
              {
                keyKind: table.keyKind,
                node: { firstOp: local.firstOp, at: local.at, implied: local.implied },
                nodeHasRow: localRow !== null,
                nodeDeleted: local.deleted,
                // An earlier pull already found this key's hub row to be a new row of its own (open collision).
                // Re-pointed only by another node's move of its parent (`P`): no change of the row, the
                // node's change stands (its copy follows the parent's move here, hub-moves.ts).
                hub: byRow
                  ? change.row
                    ? { firstOp: change.row.firstOp, at: hubAt }
                    : undefined
                  : change.repointed && !apart.has(heldKey(table.name, key))
                    ? undefined
                    : { firstOp: apart.has(heldKey(table.name, key)) ? 'I' : change.firstOp, at: hubAt },
                hubHasRow: hubAsSqlite !== null,
                hubMovedHere,
                hubOnlyMove: !change.retry && change.ops === 1 && change.firstOp === 'I',
                // Followed across moves when the row's history is known (a re-used key moved on: T6-R1);
                // a delete followed by a restore (`C`) is the row deleted, not a new one (T6-R2).
                hubRecreated: byRow ? change.row?.deleted === true : change.deleted && change.restoredLast !== true,
                hubRestored: change.restored === true && !apart.has(heldKey(table.name, key)),
                hubOnlyRestore: change.ops === 1,
                sameEntity: sameEntity(table, localRow, hubAsSqlite),
                same: sameImage(table, localRow, hubAsSqlite),
              },
              // dualdb's own rows (this node's heartbeat): this node's version stands, no user conflict.
              table.meta ? 'node-wins' : ctx.config.sync.conflictPolicy,
            );
            if (decision.action === 'defer') {
              // Two different rows created under one generated key: the next push moves one of them
              // (it holds the hub transaction that hands out keys). Neither is overwritten meanwhile.
              rekeys.markPending(
                table.name,
                key,
                ctx.config.sync.keyCollisions,
                change.maxSeq,
                encodeImage(localRow),
                encodeImage(hubAsSqlite),
              );
              deferred.push({ tbl: table.name, pk: key });
              apart.add(heldKey(table.name, key));
              continue;
            }
            if (waitsForParent) {
              parkWaiting(ctx, table.name, key, change, parkedNow);
              continue;
            }
            if ('conflict' in decision && decision.conflict && !table.meta) {
              const winner = decision.conflict;
              ctx.state.recordConflict({
                tbl: table.name,
                pk: key,
                detectedIn: 'pull',
                policy: ctx.config.sync.conflictPolicy,
                winner: winner === 'hold' ? null : winner,
                status: winner === 'hold' ? 'open' : 'resolved',
                nodeImage: encodeImage(localRow),
                hubImage: encodeImage(hubAsSqlite),
                nodeAt: local.at,
                hubAt,
                nodeSeq: local.seq,
                hubSeq: change.maxSeq,
              });
              m.conflicts++;
              result.conflicts++;
              conflictLog.push({
                tbl: table.name,
                pk: key,
                text: winner === 'hold' ? 'held for manual resolution' : `${winner} wins`,
              });
            }
            // The node's later change wins over the hub's delete: the push re-creates the row, a new
            // row under its key — another node's new row may hold the key on the hub by then, and then
            // that is a collision, not a conflict that lets this row's children attach to the other.
            if (decision.action === 'none' && decision.conflict === 'node' && !hubAsSqlite && localRow) {
              if (table.keyKind === 'generated') markRecreated(ctx, table.name, key);
              // Its children the hub's delete cascaded away (unlogged) go up with it (recreated-children.ts).
              recreated.push({ table, key });
            }
            // node wins, or the hub's new row is gone again: keep the local row; its change goes up with the next push.
            if (decision.action !== 'to-node') continue;
            // The hub's version is taken: the local pending change must not overwrite it later.
            ctx.state.dropPendingKey(table.name, key);
            // A collision an earlier pull left to the push (\`pending\`) whose node row is gone again
            // before any push: the key holds the hub's row now, and no push closes the record (the
            // node's insert and delete never go up). Left open, the row stayed apart here for ever:
            // its children from the hub parked, waiting for it (operator trial wip9-trials, seed 1302).
            const k = heldKey(table.name, key);
            if (apart.has(k) && !unsettled.local.has(k) && !unsettled.hub.has(k)) {
              rekeys.close(table.name, key);
              apart.delete(k);
            }
          }
          if (waitsForParent) {
            parkWaiting(ctx, table.name, key, change, parkedNow);
            continue;
          }
          if (!hubAsValues) {
            toDelete.push(key);
            continue;
          }
          toUpsert.push({ key, values: hubAsValues, change });
        }
        const failed = applyRows(
          ctx.db,
          toUpsert,
          (u) => {
            // Deleted and re-created on the hub: MySQL ran that delete's foreign-key cascades without
            // logging them. Deleting here first runs the same cascades locally (quietly); the hub's
            // current children of the row ride along in the batch (pull-read.ts) and are written again.
            if (u.change.deleted && table.hubCascades) io.delete(u.key);
            io.upsertValues(u.values);
          },
          upsertAll(io, table, toUpsert),
        );
        // Asked only for tables with children parked for a missing parent: the set is built then.
        let writtenKeys: Set<string> | undefined;
        written.set(table.name, {
          has: (k) => {
            writtenKeys ??= new Set(toUpsert.filter((u) => !failed.has(u.key)).map((u) => u.key));
            return writtenKeys.has(k);
          },
        });
        for (const { key, values, change } of toUpsert) {
          const failure = failed.size > 0 ? failed.get(key) : undefined;
          if (failure !== undefined) {
            const row = rowOf(key, values);
            // Its parent is gone here by this node's delete, still to go up: the hub's ON DELETE settles it then.
            const gone = /FOREIGN KEY/i.test(failure) ? parentDeletedHere(ctx, table, row) : undefined;
            const error = gone
              ? `waits for this node's delete of its parent (${gone.table} ${gone.key}) to reach the hub, whose ON DELETE settles it`
              : /FOREIGN KEY/i.test(failure)
                ? withMissingParent(ctx, table, row, failure)
                : failure;
            ctx.state.park('pull', table.name, key, error, { firstOp: parkOp(change), waiting: gone !== undefined });
            parkedNow.push({ tbl: table.name, pk: key, error });
            m.parked++;
            continue;
          }
          m.upserts++;
          result.applied++;
          if (parkedHere.has(key)) ctx.state.unpark('pull', table.name, key);
          if (!change.retry && (ctx.beatLag !== false || !table.meta))
            result.lagsMs.push(Math.max(0, localNow - (change.lastAt - ctx.hubClockOffsetMs)));
        }
        deletions.push({ table, io, keys: toDelete, parked: parkedHere });
      }
      // Children before parents for deletes.
      for (const { table, io, keys, parked } of deletions.reverse()) {
        const m = moved(result, table.name);
        const failed = applyRows(
          ctx.db,
          keys.map((key) => ({ key })),
          (d) => io.delete(d.key),
        );
        for (const key of keys) {
          const error = failed.get(key);
          if (error !== undefined) {
            ctx.state.park('pull', table.name, key, error, { firstOp: parkOp(changes.get(table.name, key)) });
            parkedNow.push({ tbl: table.name, pk: key, error });
            m.parked++;
            continue;
          }
          m.deletes++;
          result.applied++;
          if (parked.has(key)) ctx.state.unpark('pull', table.name, key);
        }
      }
      // A child with a hub change of its own in this batch follows that change instead.
      logChildrenOfRecreated(ctx, recreated, ctx.state.pushedUpto(), (tbl, pk) => changes.has(tbl, pk));
      const deletedFrom = deletions.filter((d) => d.keys.length > 0).map((d) => d.table);
      // Parked child pushes the deletes settle are due now (gone with their parent, or refused for it).
      retryOrphanedPushes(
        ctx,
        deletedFrom.map((t) => t.name),
      );
      if (deletedFrom.length) wakeParkedOrphans(ctx, deletedFrom);
      // Children parked for a parent missing here go again once rows of its table arrived (N6).
      wakeParkedChildren(ctx, written);
      closeHeldGone(ctx, rekeys, heldHere);
      ctx.state.savePullState(holes.next, prev);
      forgetHubMoves(ctx.db, holes.next.upto);
      ctx.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    })
    .immediate();
  result.lockMs = performance.now() - lockedAt;
  result.parked = parkedNow.length;

  for (const p of parkedNow)
    ctx.log.warn(`parked a hub change to ${p.tbl} ${p.pk}: ${p.error}`, { event: 'pull.parked', table: p.tbl, pk: p.pk });
  for (const c of conflictLog)
    ctx.log.warn(`conflict on ${c.tbl} ${c.pk}: ${c.text}`, { event: 'conflict', table: c.tbl, pk: c.pk, direction: 'pull' });
  if (holes.expired.length) {
    ctx.log.warn(
      `gave up waiting for ${holes.expired.length} hub sequence number(s) after SYNC_HOLE_TIMEOUT; if a transaction committed that late, \`dualdb compare\` will show it`,
      {
        event: 'pull.holes-expired',
        seqs: holes.expired.slice(0, 20).map(String),
      },
    );
  }
  if (holes.dropped)
    ctx.log.warn(`hub sequence jumped by more than ${holes.dropped} numbers; gaps beyond the newest were not tracked`, {
      event: 'pull.holes-dropped',
    });
  for (const d of deferred)
    ctx.log.info(
      `key collision on ${d.tbl} ${d.pk}: a different row was created on each side under this id; the next push keeps both`,
      {
        event: 'rekey.pending',
        table: d.tbl,
        pk: d.pk,
      },
    );
  if (holes.filled.length) ctx.log.debug(`${holes.filled.length} late hub commit(s) arrived`, { event: 'pull.holes-filled' });

  // How far this node got is reported to the hub once per pull cycle (Syncer.reportPullPosition).
  return result;
}

/**
 * Parents the hub deleted took this node's children along here too (their ON DELETE, run by
 * SQLite: cascade or set null). A child's push parked because that parent was already gone on
 * the hub is retried at once — it now sends the child's delete or its nulled reference — instead
 * of waiting out its backoff (or forever, once the retries are spent).
 */
function retryOrphanedPushes(ctx: SyncContext, parents: string[]): void {
  if (parents.length === 0) return;
  const children = ctx.plan.tables.filter((t) => t.foreignKeys.some((fk) => parents.includes(fk.parent)));
  const st = ctx.db.prepare(
    "UPDATE _dualdb_parked SET next_retry_ms = ? WHERE direction = 'push' AND tbl = ? AND error LIKE '%foreign key constraint fails%'",
  );
  for (const c of children) st.run(Date.now(), c.name);
}

/**
 * The group upsert of a table's rows in multi-row statements (a statement per ~200 rows, not one
 * per row), unless a row must first be deleted (re-created on a hub that cascades: the delete and
 * the upsert go row by row, in order). Same rows, same order, same triggers; a failure falls back
 * to row by row (applyRows).
 */
function upsertAll(
  io: SqliteTableIO,
  table: SyncTable,
  items: { values: SqlValue[]; change: KeyChange }[],
): ((items: { values: SqlValue[] }[]) => void) | undefined {
  if (table.hubCascades && items.some((u) => u.change.deleted)) return undefined;
  return (rows) => io.upsertManyOfValues(rows.map((u) => u.values));
}

/** The first operation a parked hub change keeps: `P` for a re-pointing by a parent's move alone (changeset.ts). */
function parkOp(change: KeyChange | undefined): ParkedChange['firstOp'] | undefined {
  if (!change) return undefined;
  return change.repointed ? 'P' : change.firstOp;
}

/** A hub row that waits (parked) for its parent: one of two rows created under the same key. */
function parkWaiting(
  ctx: SyncContext,
  tbl: string,
  key: string,
  change: KeyChange,
  parkedNow: { tbl: string; pk: string; error: string }[],
): void {
  const error = 'waits for its parent row, one of two rows created under the same key (resolved by the next push)';
  ctx.state.park('pull', tbl, key, error, { waiting: true, firstOp: parkOp(change) });
  parkedNow.push({ tbl, pk: key, error });
}

/**
 * The key's unpushed change now begins with an insert (a row the hub deleted, re-created by the push):
 * a restore (`C`, changeset.ts), the row the other nodes knew — their deletes of it are not of another
 * row — followed by the change that won (an update logged after it, so that the push says so: push.ts
 * `markRestores`).
 */
function markRecreated(ctx: SyncContext, tbl: string, key: string): void {
  ctx.db
    .prepare(
      `UPDATE _dualdb_changes SET op = 'C' WHERE seq = (SELECT min(seq) FROM _dualdb_changes WHERE tbl = ? AND pk = ? AND seq > ?)`,
    )
    .run(tbl, key, ctx.state.pushedUpto());
  ctx.db.prepare(`INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (?, ?, 'U', ${SQLITE_NOW_MS})`).run(tbl, key);
  ctx.db.prepare(`UPDATE _dualdb_parked SET first_op = 'I' WHERE direction = 'push' AND tbl = ? AND pk = ?`).run(tbl, key);
}

/** Held (manual) collisions whose node row is here, before the batch is applied. */
function heldRowsHere(ctx: SyncContext, rekeys: RekeyStore, unsettled: Set<string>): { table: SyncTable; pk: string }[] {
  const out: { table: SyncTable; pk: string }[] = [];
  for (const { tbl, pk } of rekeys.heldKeys()) {
    const table = ctx.plan.byName.get(tbl);
    if (table && !unsettled.has(heldKey(tbl, pk)) && rowHere(ctx.db, table, pk)) out.push({ table, pk });
  }
  return out;
}

/**
 * Held (manual) collisions whose node row this pull took: an ON DELETE cascade of a parent's
 * delete, run here with capture off, so no delete is logged and no push ever meets the key. Left
 * open, every later pull skipped the key and the other node's row under it never came here.
 * Nothing clashes any more: closed as `rekeys resolve` closes one with a gone row — the node's
 * logged changes of that row (never on the hub) dropped, the hub's row under the key read by the
 * next pull (a parked retry).
 */
function closeHeldGone(ctx: SyncContext, rekeys: RekeyStore, heldHere: { table: SyncTable; pk: string }[]): void {
  for (const { table, pk } of heldHere) {
    if (rowHere(ctx.db, table, pk)) continue;
    ctx.state.dropPendingKey(table.name, pk);
    ctx.state.unpark('push', table.name, pk);
    // Kept as `closed` (rekey-held-gone.ts): the node's row went, by a cascade here.
    const rec = rekeys.openRecord(table.name, pk);
    if (rec?.status === 'held') rekeys.closeHeld(rec.id, 'node-row-gone');
    else rekeys.close(table.name, pk);
    ctx.state.park('pull', table.name, pk, "waits for the next pull: this node's row of a held key collision is gone", {
      waiting: true,
      firstOp: 'I',
    });
  }
}
