/**
 * Push: local changes (node → hub), one batch at a time, in three steps.
 *
 *  1. read   — the batch of the local change log, coalesced per row (changeset.ts), with the
 *              current local images and the parents they need (parents.ts): one SQLite snapshot.
 *  2. decide — under the hub rows' locks (READ COMMITTED, SELECT … FOR UPDATE), the hub's side of
 *              each row is read and decide.ts says what moves: the row, a conflict (policy), a
 *              key collision (re-key), or nothing.
 *  3. apply  — the hub writes and this node's push cursor in one hub transaction (exactly-once,
 *              docs/SYNC-CONTRACT.md invariant 3: the cursor row is locked first, so two syncers
 *              cannot interleave); what the node must record (conflicts, parked changes, moved
 *              keys) in one SQLite transaction run just before the hub commits. Local log entries
 *              are deleted only after the hub committed; a crash in between re-sends entries the
 *              hub already has, which the cursor check skips.
 *
 * State-based: for each changed key the *current* local row is sent (or a delete when it is
 * gone), so repeated changes to one row coalesce and re-applying is harmless.
 */
import { MYSQL_NOW_MS } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { DualdbError } from '../util/errors.js';
import type { ChangeSet, KeyChange, Op } from './changeset.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { sameEntity, sameImage, toSqliteRow } from './convert.js';
import { type Decision, decidePush } from './decide.js';
import { rowErrorText } from './errors.js';
import { HubNulledRows } from './fk-implied.js';
import { explainFoldedKeys } from './folded-keys.js';
import { BULK_CAPTURE_MIN_ROWS, writeRowsCaptured } from './hub-capture-bulk.js';
import { canonicalOn, type ExactColumn, hubBulkFacts, nothingToReadBack, readBackColumns } from './hub-exact.js';
import { forgetPushedSeen, hubMoveTargets, learnHubMoves, readPushMoves, unsettledKeys } from './hub-moves.js';
import { encodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { MysqlTableIO, oversizeText, PACKET_MARGIN } from './mysql-io.js';
import { beginPush, fenceHubPush, reconcileWithHub, recordPushed } from './node-fence.js';
import { parentApart, parentIn, unpushedParentKeys } from './parent-waits.js';
import type { SyncTable } from './plan.js';
import { withPushConnection } from './push-connection.js';
import {
  addMovableKeys,
  addParentKeys,
  assertNoMovesMeanwhile,
  type HubChange,
  HubMovedMeanwhile,
  keysTakenMeanwhile,
  parentKeysChangedUnseen,
  readHubFacts,
  TableKeys,
} from './push-hub-read.js';
import { applyIsolated, moveIsolated } from './push-isolate.js';
import { type LocalBatch, readLocalBatch } from './push-read.js';
import { clearPlacedUnsettled, KeysMovedMeanwhile, type NodeRecord, recordOnNode, report, unparkSent } from './push-record.js';
import { decideReused, deleteHubRowsFirst, dropKeys, isReusedKey } from './push-reused.js';
import { estimatedPushBytes } from './push-size.js';
import { hubDeletedChildren } from './recreated-children.js';
import { type Collision, repointImages } from './rekey.js';
import { forgetLoggedMoves, movedUpImages } from './rekey-bulk.js';
import { followedMode } from './rekey-resolve-parents.js';
import { RekeyStore } from './rekey-store.js';
import { assertHubUnchanged, hubSchemaFingerprint, PlanStaleError } from './schema-guard.js';
import { childrenOfDeletedParents } from './stale-parents.js';

/** Caught by the syncer, which tries the batch again. */
export class PushRaceError extends DualdbError {
  constructor(
    message = 'another syncer advanced this node’s push cursor; the batch will be retried',
    /** Read the batch again at once (keys moved here meanwhile), rather than in the next cycle. */
    readonly again = false,
  ) {
    super('PUSH_RACE', message);
  }
}

/**
 * One push batch of at most `limit` log entries (push-size.ts); returns what moved. Throws on hub
 * unavailability (nothing applied, nothing lost).
 */
export async function pushBatch(
  ctx: SyncContext,
  limit = ctx.config.sync.batchSize,
  readAhead?: PushReadAhead,
): Promise<BatchResult> {
  // What was read ahead is for the batch right after the one that read it, and only for that one.
  const ahead = readAhead?.next;
  if (readAhead) readAhead.next = undefined;
  try {
    return await pushOneBatch(ctx, limit, ahead, readAhead);
  } catch (e) {
    // Read during a batch that did not commit: dropped (takeReadAhead checks the cursors as well).
    if (readAhead) readAhead.next = undefined;
    throw e;
  }
}

/**
 * Reading ahead (issue 16): while the hub works through a batch's writes, the push reads the next
 * batch from SQLite (push-read.ts, the same read), so that the node's read and the hub's writes
 * overlap instead of following one another. The syncer's batch loop hands the same object to each
 * batch; the read is memory only (a crash loses nothing: the cursor still commits with each batch,
 * in the hub transaction, invariant 3). It is read only while the batch so far decided nothing but
 * plain writes, and used only when, at the next batch's start:
 *
 *  - the batch that read it committed: the hub's cursor and the node's pushed cursor are both where
 *    the read began (a batch rolled back, raced, or whose COMMIT's answer was lost leaves them
 *    behind it: the read is dropped, and the next batch reads again from where the cursors are);
 *  - that batch recorded nothing on the node (no parked change, conflict, move, hold, take, sent
 *    parked retry: those change what the read sees), and no move was confirmed since;
 *  - the plan, the schema stamp, the node's moves generation and the batch limit are the ones it
 *    was read under.
 *
 * Otherwise the batch is read as before. Batches stay in log order: the read starts at the
 * previous batch's `upto`, and the cursor moves only with each batch's COMMIT. A local write made
 * after the read is logged past it and goes in a later batch, as it would after any read.
 */
export interface PushReadAhead {
  /** The limit of the batch after one that took `entries` and sent `bytes` (push-size.ts). */
  nextLimit(entries: number, bytes: number): number;
  /**
   * Set for a cycle's first batch while batches may grow: a full first read is read again at the
   * limit the rows' own size allows (push-size.ts `estimatedPushBytes`), so that a backlog goes up
   * in one batch less (a 20k backlog of small rows: one batch, not 2,000 then 18,000; each batch
   * is ~13 statements, a COMMIT and its redo-log flush).
   */
  first?: boolean;
  next?: ReadAheadBatch;
}

interface ReadAheadBatch {
  from: bigint;
  limit: number;
  plan: SyncContext['plan'];
  stamp: SyncContext['schemaStamp'];
  batch: LocalBatch;
}

/** The batch read ahead, if every condition of PushReadAhead holds; undefined: read it now. */
function takeReadAhead(
  ctx: SyncContext,
  ahead: ReadAheadBatch | undefined,
  hubCursor: bigint,
  limit: number,
  confirmed: number,
): LocalBatch | undefined {
  if (!ahead) return undefined;
  const usable =
    ahead.from === hubCursor &&
    ahead.from === ctx.state.pushedUpto() &&
    ahead.limit === limit &&
    confirmed === 0 &&
    ahead.plan === ctx.plan &&
    ahead.stamp === ctx.schemaStamp &&
    ahead.batch.movesGeneration === ctx.state.movesGeneration();
  return usable ? ahead.batch : undefined;
}

/** The batch decided nothing the node must record (PushReadAhead): only rows written. */
function recordsNothing(rec: NodeRecord, result: BatchResult): boolean {
  return (
    rec.toPark.length === 0 &&
    rec.conflicts.length === 0 &&
    rec.moves.length === 0 &&
    rec.holds.length === 0 &&
    rec.takes.length === 0 &&
    rec.closes.length === 0 &&
    rec.recreated.length === 0 &&
    rec.settledPulls.size === 0 &&
    rec.staleParents.size === 0 &&
    (rec.sentParked?.length ?? 0) === 0 &&
    result.rekeys.length === 0
  );
}

async function pushOneBatch(
  ctx: SyncContext,
  limit: number,
  ahead: ReadAheadBatch | undefined,
  readAhead: PushReadAhead | undefined,
): Promise<BatchResult> {
  const result = emptyBatch('push');
  // The hub schema check (below) on a connection of its own, read while the fence and the moves are:
  // one round trip less on the way of every small push. Only when the local log has news of user
  // tables: dualdb's own heartbeat rows (an idle node's every push) go to a table whose schema is
  // dualdb's, so they need no check, and the read's connection is not opened for them.
  const userRows = hasUnpushedUserRows(ctx);
  const fingerprint = ctx.schemaStamp && userRows ? hubSchemaFingerprint(ctx.hub) : undefined;
  fingerprint?.catch(() => {}); // awaited below, or not needed (the batch had no rows)
  // The hub's moves are read alongside the fence (one round trip for both), applied only once it
  // passed. A heartbeat alone waits for nobody: its two reads go one after the other, on one pooled
  // connection, so an idle node keeps one pooled connection instead of two.
  const moves = userRows ? readPushMoves(ctx) : undefined;
  moves?.catch(() => {}); // awaited below unless the reconcile throws first
  // One node id, one file (invariant 17): refuses before anything moves when another file holds the id.
  const hubCursor = await reconcileWithHub(ctx);
  // Moves of this node's earlier push whose COMMIT's answer was lost, found on the hub: announced now.
  const confirmed = await learnHubMoves(ctx, moves);
  result.rekeys.push(...confirmed);
  let batch = takeReadAhead(ctx, ahead, hubCursor, limit, confirmed.length) ?? readLocalBatch(ctx, hubCursor, limit);
  if (readAhead?.first && batch.more) {
    // A backlog's first batch at the size its rows allow (PushReadAhead `first`): the same read, further.
    const grown = readAhead.nextLimit(batch.entries, estimatedPushBytes(batch.images.values()));
    if (grown > limit) batch = readLocalBatch(ctx, hubCursor, grown);
  }
  result.changes = batch.entries;
  result.more = batch.more;
  if (batch.entries === 0 && batch.changes.size === 0 && batch.toPark.length === 0) return result;
  // The hub schema check of a batch with user rows. Its read goes on while the hub applies the
  // batch (it used to be awaited here, before the fence: up to an information_schema query's time
  // per batch on the push's way), and is awaited before anything is recorded on the node and before
  // the hub commits: a batch decided on a stale plan is rolled back whole, nothing of it recorded
  // (parked rows, conflicts, moves), and the syncer makes the plan again (invariant 16).
  const checked = batch.changes.size > 0 && batch.tables().some((t) => !t.meta);
  if (checked && !fingerprint) await assertHubUnchanged(ctx.hub, ctx.schemaStamp);
  const hubSchemaStale = async (): Promise<boolean> =>
    checked && fingerprint !== undefined && (await fingerprint) !== ctx.schemaStamp?.hubFingerprint;

  const rec: NodeRecord = {
    conflicts: [],
    toPark: [...batch.toPark],
    succeeded: [],
    moves: [],
    holds: [],
    takes: [],
    closes: [],
    recreated: [],
    hubDeleted: new Set(),
    staleParents: new Set(),
    settledPulls: new Set(),
  };
  // Parked before the hub was asked (a paused table's, a key MySQL cannot store): counted per table too.
  for (const p of batch.toPark) moved(result, p.tbl).parked++;
  // The next batch, read while the hub writes this one (PushReadAhead), once per batch.
  const readNext =
    readAhead && batch.more
      ? () => {
          if (readAhead.next || !recordsNothing(rec, result)) return;
          const next = readAhead.nextLimit(batch.entries, result.bytes ?? 0);
          try {
            readAhead.next = {
              from: batch.upto,
              limit: next,
              plan: ctx.plan,
              stamp: ctx.schemaStamp,
              batch: readLocalBatch(ctx, batch.upto, next),
            };
          } catch {
            // Read again by the next batch in its turn, which meets the same failure itself.
          }
        }
      : undefined;
  const token = beginPush(ctx);
  let raced: PushRaceError | PlanStaleError | undefined;
  // Origin, autocommit off (the first statement starts the transaction: no BEGIN round trip) and
  // READ COMMITTED are the kept connection's session settings (push-connection.ts).
  await withPushConnection(ctx.hub, ctx.nodeId, async (conn) => {
    try {
      // This node's row locked first, the cursor and token checked and both moved, in one statement.
      if (!(await fenceHubPush(conn, ctx, token, { from: hubCursor, to: batch.upto }))) {
        // Thrown outside withPushConnection, which would turn any non-SQL error into a MysqlError.
        await conn.rollback();
        raced = new PushRaceError();
        return;
      }
      try {
        await applyOnHub(conn, ctx, batch, rec, result, readNext);
      } catch (e) {
        // A statement the hub refused because its schema changed: the drift is what to report.
        if (!(e instanceof HubMovedMeanwhile) && !(e instanceof KeysMovedMeanwhile) && (await hubSchemaStale()))
          throw new PlanStaleError('hub');
        throw e;
      }
      if (await hubSchemaStale()) throw new PlanStaleError('hub');
      // The node's records go first: if the hub commit then fails, the batch is simply sent again
      // (recording is idempotent, and a moved row is logged under its new key).
      result.rekeys = [...confirmed, ...recordOnNode(ctx, rec, batch)];
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      // Nothing decided on stale moves: the batch again, next cycle (another node's hub move), or
      // at once (keys moved on this node after the batch was read, push-record.ts).
      if (e instanceof HubMovedMeanwhile) raced = new PushRaceError(e.message);
      else if (e instanceof KeysMovedMeanwhile) raced = new PushRaceError(e.message, true);
      // Thrown outside withPushConnection, which would drop the kept connection for it.
      else if (e instanceof PlanStaleError) raced = e;
      else throw e;
    }
  });
  if (raced) throw raced;
  result.parked = rec.toPark.length;

  // The hub has the batch: forget it locally, its parked retries with it (push-record.ts unparkSent).
  recordPushed(ctx, batch.upto, token, () => unparkSent(ctx, rec));
  clearPlacedUnsettled(ctx, result.rekeys);
  forgetPushedSeen(ctx.db);
  // The moved rows' own log entries are spent too (rekey-bulk.ts); a crash before this only re-sends them.
  if (rec.moves.length) ctx.db.transaction(() => forgetLoggedMoves(ctx.db, rec.moves))();
  report(ctx, rec);
  // What this batch recorded changes what the next read sees: read it again then.
  if (readAhead && !recordsNothing(rec, result)) readAhead.next = undefined;
  return result;
}

/**
 * `set.has(heldKey(tbl, key))`, without building the key text when the set is empty (in a plain
 * backlog every such set is: a text per row per lookup was garbage for nothing).
 */
function hasKey(set: ReadonlySet<string>, tbl: string, key: string): boolean {
  return set.size > 0 && set.has(heldKey(tbl, key));
}

/** Whether the local log holds entries past the pushed cursor (a cheap look before the batch is read). */
function hasUnpushedUserRows(ctx: SyncContext): boolean {
  return (
    ctx.db
      .prepare("SELECT 1 FROM _dualdb_changes WHERE seq > ? AND tbl NOT LIKE '\\_dualdb\\_%' ESCAPE '\\' LIMIT 1")
      .get(ctx.state.pushedUpto()) !== undefined
  );
}

/** Step 2 and the hub half of step 3, inside the hub transaction. */
async function applyOnHub(
  conn: PoolConnection,
  ctx: SyncContext,
  batch: LocalBatch,
  rec: NodeRecord,
  result: BatchResult,
  /** Called (synchronously) while the hub logs a bulk write of the batch (hub-capture-bulk.ts): the read-ahead. */
  whileHubLogs?: () => void,
): Promise<void> {
  const pull = ctx.state.pullState();
  const held = ctx.state.heldKeys();
  const rekeys = new RekeyStore(ctx.db);
  const { local: unsettled, hub: copiesMovedTo } = unsettledKeys(ctx.db);
  const moveTargets = hubMoveTargets(ctx.db);
  const heldApart = new Set([...rekeys.heldKeys().map((h) => heldKey(h.tbl, h.pk)), ...unsettled]);
  const policy = ctx.config.sync.conflictPolicy;
  const collisions = ctx.config.sync.keyCollisions;
  const maxBytes = ctx.hubMaxPacket - PACKET_MARGIN;
  const ordered = batch.tables().sort((a, b) => a.rank - b.rank);
  const deletes: { table: SyncTable; io: MysqlTableIO; keys: string[] }[] = [];
  const written: {
    table: SyncTable;
    io: MysqlTableIO;
    keys: string[];
    images?: Map<string, Row>;
    stored?: Map<string, Row>;
    /** Columns the hub stored exactly (hub-exact.ts): not read back, their values checked on the node. */
    exact?: ExactColumn[];
  }[] = [];
  // Keys a hub move by another node could have touched since push start (checked at the end).
  const movable = new TableKeys();
  // Parent keys of the hub rows placed here (collisions' and takes' hub rows).
  const placedParents = new TableKeys();
  // Rows changed only by a parent's delete here: written after the deletes, if the hub's own ON DELETE did not do it (fk-implied.ts).
  const nulled = new HubNulledRows();
  // Collisions of this batch that follow a parent's decision by hand: their children here follow too.
  const followed = new Map<string, 'rekey-node' | 'rekey-hub'>();

  for (const table of ordered) {
    const io = new MysqlTableIO(table, maxBytes);
    const m = moved(result, table.name);
    const images = batch.images.get(table.name) ?? new Map<string, Row>();
    const keys = batch.changes.keys(table.name).filter((k) => !hasKey(held, table.name, k));
    if (keys.length === 0) continue;
    // Children of a row held apart (manual re-key), or of a copy the hub deleted since, wait: sent
    // now they would attach to the hub's (other) row under that key.
    const orphaned = await childrenOfDeletedParents(conn, ctx, table, images, pull);
    // Children of the node's own new row the hub has not received (parked: a value the hub refused…)
    // wait too: sent now, they would attach to whatever the hub holds under that key (invariant 13).
    const unpushed = unpushedParentKeys(
      ctx,
      table,
      keys.map((k) => images.get(k)).filter((r): r is Row => r !== undefined),
      new Set(
        rec.toPark
          .filter((p) => (p.firstOp === 'I' || p.firstOp === 'D') && p.pk !== null)
          .map((p) => heldKey(p.tbl, p.pk as string)),
      ),
      (parent, key) => batch.changes.get(parent, key) !== undefined,
    );
    const waitReason = new Map<string, string>();
    const waiting = keys.filter((k) => {
      if (orphaned.has(k)) return true;
      const image = images.get(k);
      if (hasKey(unsettled, table.name, k)) return true; // a copy the hub moved, not in place yet (hub-moves.ts)
      if (image === undefined) return false;
      if (parentApart(table, image, heldApart) !== undefined) return true;
      const parent = parentIn(table, image, unpushed);
      if (parent) waitReason.set(k, `waits for its parent row ${parent.table} ${parent.key}, parked on its way to the hub`);
      return parent !== undefined;
    });
    for (const k of waiting) {
      rec.toPark.push({
        tbl: table.name,
        pk: k,
        error: waitReason.get(k) ?? 'waits for its parent row, held apart by a key collision (`dualdb rekeys`)',
        waiting: true,
        firstOp: batch.changes.get(table.name, k)?.firstOp,
      });
      m.parked++;
    }
    const waitingSet = new Set(waiting);
    const live = waiting.length ? keys.filter((k) => !waitingSet.has(k)) : keys;
    addMovableKeys(movable, ctx.plan, table, live, images);
    const deleteKeys: string[] = [];
    // A key a hub writer inserted after the lookup is decided once more, then locked: at most two passes.
    let pending = live;
    for (let pass = 0; pass < 2 && pending.length > 0; pass++) {
      const facts = await readHubFacts(conn, ctx, io, table, pending, rekeys, (k) => hasKey(moveTargets, table.name, k));
      const rowsOut: { key: string; tuple: string; exists: boolean }[] = [];
      const collided: Collision[] = [];
      // Rows the node keeps against the hub's delete: sent as restores.
      const kept = new Set<string>();
      // Rows kept apart (decide.ts editsAnotherRow, the node winning), their children logged once moved.
      const keptApart = new Set<string>();
      // Keys deleted and handed out again here: the hub's row goes first (push-reused.ts).
      const hubDeletes: string[] = [];
      for (const key of pending) {
        const change = batch.changes.get(table.name, key) as KeyChange;
        const local = images.get(key) ?? null;
        const hubRow = facts.rows.get(key) ?? null;
        const hubAsSqlite = hubRow ? toSqliteRow(table, hubRow) : null;
        // A collision a pull saw and left for this push: the hub's row began with an insert this node
        // has not taken, whatever the hub did to it since (later updates must not make it a conflict).
        const seenOpen = facts.open.get(key);
        // A hub change a pull parked (not applied here yet) is as unseen as one after the cursor, and
        // came first: a parked insert (a row never placed here, e.g. a hub row this node's own re-key
        // moved, waiting for its parent) keeps the hub's side a new row even when another node has
        // updated it since — else the node's own new row under the key was taken for a conflict.
        const parkedHub = facts.parkedPull.get(key);
        const hubMovedHere = hasKey(moveTargets, table.name, key);
        // The node's copy of a row another node moved here, with its edit or delete: weighed against
        // that row's hub changes under any of its keys, the move not counted (row-history.ts).
        const byRow =
          facts.byRow.has(key) &&
          !hasKey(copiesMovedTo, table.name, key) &&
          !seenOpen &&
          !facts.parkedPull.has(key) &&
          change.firstOp !== 'I';
        const unseenAfter = byRow ? facts.rowUnseen.get(key) : facts.unseen.get(key);
        const unseenHere =
          unseenAfter && parkedHub === 'I'
            ? { ...unseenAfter, firstOp: 'I' as const }
            : (unseenAfter ?? (facts.parkedPull.has(key) ? { seq: 0n, at: 0, firstOp: parkedHub ?? ('U' as const) } : undefined));
        const hubSide = seenOpen
          ? { seq: unseenHere?.seq ?? seenOpen.hubSeq ?? 0n, at: unseenHere?.at ?? 0, firstOp: 'I' as const }
          : unseenHere;
        const nodeSide = { firstOp: change.firstOp, at: change.lastAt, implied: change.implied };
        const hubFacts = hubSide ? { firstOp: hubSide.firstOp, at: hubSide.at - ctx.hubClockOffsetMs } : undefined;
        // dualdb's own rows (this node's heartbeat) are written by this node only: its version stands, silently.
        const rowPolicy = table.meta ? 'node-wins' : policy;
        // The hub did nothing under the key since the move but the move's insert (decide.ts `deletesMovedRow`).
        const hubOnlyMove =
          hubMovedHere && !seenOpen && !facts.parkedPull.has(key) && unseenAfter?.firstOp === 'I' && unseenAfter.count === 1;
        const reused = isReusedKey(table, change, local)
          ? decideReused({ node: nodeSide, hub: hubFacts, hubHasRow: hubRow !== null, hubMovedHere }, rowPolicy, collisions)
          : undefined;
        // A parked retry must still know it began with the delete of the hub's row.
        if (reused) change.firstOp = 'D';
        // The hub change a pull parked for this push is decided by it (the row it was of deleted, or
        // kept against the delete); a collision's move settles it itself (rekey-node.ts), a hold its resolution.
        if (reused && facts.parkedPull.has(key) && reused.decision.action !== 'rekey')
          rec.settledPulls.add(heldKey(table.name, key));
        if (reused?.deleteHubRow) hubDeletes.push(key);
        const hubRowAfter = reused?.deleteHubRow ? null : hubRow;
        const decision: Decision =
          reused?.decision ??
          decidePush(
            {
              keyKind: table.keyKind,
              node: nodeSide,
              nodeHasRow: local !== null,
              nodeDeleted: change.deleted,
              hub: hubFacts,
              hubHasRow: hubRow !== null,
              hubMovedHere,
              hubOnlyMove,
              // A pull that deferred the node's edit of such a row left it open (decide.ts editsAnotherRow);
              // a delete followed by a restore (`C`) is the row deleted, not a new one (T6-R2).
              hubRecreated:
                (unseenAfter?.deleted === true && unseenAfter.restoredLast !== true) ||
                (seenOpen !== undefined && change.firstOp === 'U'),
              ...restoredFacts(unseenAfter, seenOpen !== undefined || facts.parkedPull.has(key)),
              sameEntity: sameEntity(table, local, hubAsSqlite),
              // Under the hub key of a copy waiting here (unsettled), the hub's row is that copy's
              // row and the node's is its own new one, even with the very same values.
              same: sameImage(table, local, hubAsSqlite) && !hasKey(copiesMovedTo, table.name, key),
            },
            rowPolicy,
            collisions,
          );
        // Closed with the node's records (recordOnNode): closed now, a rolled-back batch would lose it.
        if (seenOpen && decision.action !== 'rekey') rec.closes.push({ tbl: table.name, key });
        // A re-used key's conflict is its delete's (the node's image is then no row at all).
        const conflict = reused ? reused.conflict : 'conflict' in decision ? decision.conflict : undefined;
        if (conflict && !table.meta) {
          rec.conflicts.push({
            tbl: table.name,
            pk: key,
            detectedIn: 'push',
            policy,
            winner: conflict === 'hold' ? null : conflict,
            status: conflict === 'hold' ? 'open' : 'resolved',
            nodeImage: encodeImage(reused ? null : local),
            // An update kept as a row of its own (decide.ts editsAnotherRow) won over the delete, not the hub's row.
            hubImage: encodeImage(decision.action === 'rekey' ? null : hubAsSqlite),
            nodeAt: change.lastAt,
            hubAt: (hubSide?.at ?? 0) - ctx.hubClockOffsetMs,
            nodeSeq: change.maxSeq,
            hubSeq: hubSide?.seq ?? 0n,
          });
          m.conflicts++;
          result.conflicts++;
        }
        // The hub's version stands over this node's edit of a copy left behind, whose hub changes the
        // pull passed without applying them: no pull brings them, so it is written here now.
        const passedOver = byRow && local !== null && hubRow !== null && facts.passed.has(key);
        switch (decision.action) {
          case 'none':
            if (passedOver && 'conflict' in decision && decision.conflict === 'hub')
              rec.takes.push({ table, key, hubRow, hubSeq: hubSide?.seq, overwriteUpto: batch.upto });
            rec.succeeded.push({ tbl: table.name, pk: key });
            continue;
          case 'to-node':
            rec.takes.push({ table, key, hubRow, hubSeq: hubSide?.seq, ...(passedOver ? { overwriteUpto: batch.upto } : {}) });
            rec.succeeded.push({ tbl: table.name, pk: key });
            continue;
          case 'rekey': {
            const follows = decision.resolve === 'hold' ? followedMode(rekeys, table, key, followed) : undefined;
            if (follows) followed.set(heldKey(table.name, key), follows);
            const c: Collision = {
              table,
              oldKey: key,
              nodeRow: local as Row,
              hubRow: hubRowAfter,
              hubSeq: hubSide?.seq ?? null,
              detectedIn: 'push',
              // A child whose parent's collision was resolved by hand follows that decision (markFollowers).
              mode: follows ?? collisions,
              // The hub's row is that of a copy waiting here (unsettled), maybe edited: its changes
              // this node has not seen, under any of its keys, are what that edit is weighed against.
              hubRowUnseen: hasKey(copiesMovedTo, table.name, key) ? (facts.rowUnseen.get(key) ?? null) : undefined,
            };
            // Kept against the hub's delete as a row of its own (editsAnotherRow): the children the
            // delete cascaded away on the hub (unlogged) must follow it (recreated-children.ts).
            const keptAgainstDelete = 'conflict' in decision && decision.conflict === 'node' && table.hubCascades;
            if (decision.resolve === 'hold' && !follows) {
              rec.holds.push(c);
              // Its children later in this batch wait for it too (sent, they would attach to the hub's row).
              heldApart.add(heldKey(table.name, key));
              rec.succeeded.push({ tbl: table.name, pk: key });
              // Logged now, they wait for its resolution as any child of a held row (parent-waits.ts).
              if (keptAgainstDelete) rec.recreated.push({ table, key });
            } else {
              collided.push(c); // succeeded once moved
              if (keptAgainstDelete) keptApart.add(key);
            }
            continue;
          }
          case 'defer':
          case 'to-hub':
            // The node's change wins over the hub's delete: the row is re-created there, without the
            // children the delete cascaded away on the hub (unlogged).
            if ('conflict' in decision && decision.conflict === 'node' && local && !hubRow) {
              if (table.hubCascades) rec.recreated.push({ table, key });
              // The row the other nodes knew, not a new one: its insert there is a restore (markRestores).
              if (!reused && table.keyKind === 'generated') kept.add(key);
            }
            break;
        }
        if (!local) {
          // No hub row under a generated key when looked up: nothing to delete, so nothing is sent. The
          // lookup locked nothing (READ COMMITTED, absent key): sent blind, the delete took another node's
          // new row pushed under the key meanwhile (operator trial wip9-r10 manual seed 1102, attendance
          // 291). Natural keys keep the plain delete (a collation-folded key may name the hub's row).
          // Counted as the delete it is (the row is gone on the hub), as one sent would be.
          if (hubRow === null && table.keyKind === 'generated') {
            m.deletes++;
            result.applied++;
            rec.succeeded.push({ tbl: table.name, pk: key });
            continue;
          }
          deleteKeys.push(key);
        } else {
          // Converted and formatted once: the size check and the statements share the tuple.
          let tuple: string;
          try {
            tuple = io.sqliteTuple(local);
          } catch (e) {
            rec.toPark.push({ tbl: table.name, pk: key, error: rowErrorText(e), firstOp: change.firstOp });
            m.parked++;
            continue;
          }
          const bytes = Buffer.byteLength(tuple);
          if (bytes > io.rowLimit) {
            rec.toPark.push({
              tbl: table.name,
              pk: key,
              error: oversizeText(table, key, bytes, io.rowLimit, local),
              firstOp: change.firstOp,
            });
            m.parked++;
            continue;
          }
          if (change.implied && hubRowAfter && decision.action === 'to-hub' && !conflict)
            nulled.hold(table, io, { key, local, tuple });
          else rowsOut.push({ key, tuple, exists: hubRowAfter !== null });
          result.bytes = (result.bytes ?? 0) + bytes;
        }
        result.lagsMs.push(Date.now() - change.firstAt);
      }

      // The deletes of re-used keys' hub rows before anything goes up under those keys; one the hub
      // refuses parks its key (delete and new row together), the rest go on.
      if (hubDeletes.length) {
        const failed = await deleteHubRowsFirst(conn, io, hubDeletes);
        for (const [key, error] of failed) {
          rec.toPark.push({ tbl: table.name, pk: key, error, firstOp: 'D' });
          m.parked++;
        }
        dropKeys(collided, rowsOut, failed);
        // Done: a second pass (a hub writer took the key since) meets the new row as a new row.
        for (const key of hubDeletes) if (!failed.has(key)) (batch.changes.get(table.name, key) as KeyChange).firstOp = 'I';
      }
      // The hub's rows placed here name their parents by the hub's keys as read under the lock:
      // a move of one this node has not learned gives the batch back (assertNoMovesMeanwhile).
      const placedRows = [...collided, ...rec.takes.filter((t) => t.table === table)].map((c) => c.hubRow);
      addParentKeys(movable, ctx.plan, table, placedRows);
      addParentKeys(placedParents, ctx.plan, table, placedRows);
      // Collisions first: a moved row's children later in this batch must point at its new key.
      // By side: a child following its parent's decision under manual moves as that parent did.
      for (const mode of new Set(collided.map((c) => c.mode))) {
        const group = collided.filter((c) => c.mode === mode);
        const { moves, failed } = await moveIsolated(conn, ctx, group, mode === 'manual' ? collisions : mode);
        for (const [key, error] of failed) {
          rec.toPark.push({ tbl: table.name, pk: key, error, firstOp: 'I' });
          m.parked++;
        }
        for (const mv of moves) {
          rec.moves.push(mv);
          // Its children are still under the old key here (moveOnNode runs after they are logged).
          if (keptApart.has(mv.oldKey)) rec.recreated.push({ table, key: mv.oldKey });
          rec.succeeded.push({ tbl: table.name, pk: mv.oldKey });
        }
        m.upserts += moves.length;
        result.applied += moves.length;
        repointImages(ctx.plan, moves, (name) => batch.images.get(name)?.values() ?? []);
        written.push({ table, io, ...movedUpImages(moves) });
      }
      pending = [];
      if (rowsOut.length) {
        // Bulk: the hub's triggers (set-based capture) and which columns it stores exactly (not read back), in one read.
        const bulk = rowsOut.length >= BULK_CAPTURE_MIN_ROWS ? await hubBulkFacts(conn, table) : undefined;
        const setCapture = bulk?.captureAllowed ?? false;
        const exact = bulk?.exact ?? [];
        // Only the key left to read back: no RETURNING at all (logHubRewrites checks the node's values).
        const readBack = exact.length ? readBackColumns(table, exact) : undefined;
        const returning = nothingToReadBack(table, exact) ? [] : readBack;
        // What the hub stored for the rows inserted (RETURNING), for the rewrite check below; a
        // retried row's later write replaces what a rolled-back attempt returned.
        const stored = ctx.hubReturning ? new Map<string, Row>() : undefined;
        // One row in one statement needs no savepoint: the statement fails or succeeds whole.
        const oneStatement = rowsOut.length === 1 && !setCapture && io.writeStatements(rowsOut).length === 1;
        const failed = await applyIsolated(
          conn,
          rowsOut,
          async (rows) => {
            // Rows the hub has (locked above) are updated in place; new ones are plain inserts, so
            // that a clash on another unique key fails and is parked instead of overwriting that row.
            await writeRowsCaptured(conn, io, maxBytes, rows, setCapture, stored, whileHubLogs, returning);
          },
          oneStatement,
        );
        for (const k of failed.keys()) stored?.delete(k);
        // A hub writer took a new row's key since the lookup: that row is the hub's, decided again.
        if (pass === 0) pending = await keysTakenMeanwhile(conn, io, rowsOut, failed);
        const retried = new Set(pending);
        await explainFoldedKeys(conn, table, failed);
        const outcome = rowsOut.filter((r) => !retried.has(r.key)).map((r) => r.key);
        recordOutcome(result, table.name, outcome, failed, 'upserts', rec, (k) => batch.changes.get(table.name, k)?.firstOp);
        written.push({ table, io, keys: outcome.filter((k) => !failed.has(k)), ...(stored ? { stored } : {}), exact });
        const restores = rowsOut.filter((r) => !r.exists && !failed.has(r.key) && !retried.has(r.key));
        await markRestores(
          conn,
          ctx,
          table,
          restores.flatMap((r) => {
            const change = batch.changes.get(table.name, r.key);
            if (kept.has(r.key)) return [{ key: r.key, changed: true }];
            return change?.restored === true ? [{ key: r.key, changed: (change.ops ?? 1) > 1 }] : [];
          }),
        );
      }
    }
    deletes.push({ table, io, keys: deleteKeys });
  }
  // Parents first for writes (above), children first for deletes (docs/SYNC-CONTRACT.md invariant 7).
  for (const d of deletes.reverse()) {
    if (d.keys.length === 0) continue;
    const failed = await applyIsolated(
      conn,
      d.keys.map((key) => ({ key })),
      async (items) => {
        for (const sql of d.io.deleteStatements(items.map((i) => i.key))) await conn.query(sql);
      },
    );
    recordOutcome(result, d.table.name, d.keys, failed, 'deletes', rec);
  }
  await nulled.settle(
    conn,
    async (table, io, rows) => {
      const failed = await applyIsolated(conn, rows, (items) => writeRowsCaptured(conn, io, maxBytes, items, false));
      const keys = rows.map((r) => r.key);
      recordOutcome(result, table.name, keys, failed, 'upserts', rec, () => 'U');
      written.push({ table, io, keys: keys.filter((k) => !failed.has(k)) });
    },
    (table, keys) => {
      for (const pk of keys) rec.succeeded.push({ tbl: table.name, pk });
    },
  );
  if (rec.recreated.length) rec.hubDeleted = await hubDeletedChildren(conn, ctx, rec.recreated);
  for (const w of written)
    await logHubRewrites(conn, w.table, w.io, w.keys, w.images ?? batch.images.get(w.table.name), w.stored, w.exact);
  await assertNoMovesMeanwhile(conn, ctx, movable);
  rec.staleParents = await parentKeysChangedUnseen(conn, ctx, placedParents, rekeys);
}

/**
 * Rows restored on the hub (a row kept against the hub's delete, and its children MySQL's unlogged
 * cascade took there: recreated-children.ts) keep their `C` in the hub's log too, in place of the
 * trigger's `I`: to another node that deleted the row meanwhile, an insert there is a new row, its
 * delete "of another row" and dropped (decide.ts `deletesAnotherRow`; operator trial 6, T6-R2).
 * A row changed too (the kept row's own change, or a child's since) gets a `U` after it: another
 * node's delete of it is then a conflict, settled by the policy, not a delete of an unchanged row.
 */
async function markRestores(
  conn: PoolConnection,
  ctx: SyncContext,
  table: SyncTable,
  rows: { key: string; changed: boolean }[],
): Promise<void> {
  for (const { key, changed } of rows) {
    await conn.query(
      `UPDATE _dualdb_changes SET op = 'C' WHERE tbl = ? AND pk = ? AND origin = ? AND op = 'I' ORDER BY seq DESC LIMIT 1`,
      [table.name, key, ctx.nodeId],
    );
    if (changed)
      await conn.query(`INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (?, ?, 'U', ?, ${MYSQL_NOW_MS})`, [
        table.name,
        key,
        ctx.nodeId,
      ]);
  }
}

/** restoredFacts' answer for nearly every key: one object, not one per key. */
const NO_RESTORE: Readonly<{ hubRestored?: boolean; hubOnlyRestore?: boolean }> = Object.freeze({});

/** A push's facts of a restore (`C`) first among the hub's unseen changes to a key, unless it is taken for a new row. */
function restoredFacts(unseen: HubChange | undefined, newRow: boolean): { hubRestored?: boolean; hubOnlyRestore?: boolean } {
  if (newRow || unseen?.restored !== true) return NO_RESTORE;
  return { hubRestored: true, hubOnlyRestore: unseen.count === 1 };
}

/**
 * The hub may keep something else than what was sent: a value rounded to a DECIMAL's scale
 * or a DATETIME's precision, a column set by its own BEFORE trigger. Those rows get a
 * central change-log entry (no origin), so this node pulls the hub's version back instead
 * of skipping the change as its own echo — otherwise the two sides would silently differ.
 */
async function logHubRewrites(
  conn: PoolConnection,
  table: SyncTable,
  io: MysqlTableIO,
  keys: string[],
  images: Map<string, Row> | undefined,
  returned?: Map<string, Row>,
  /** Columns the hub stores exactly (hub-exact.ts): neither returned nor read; the node's values there are checked instead. */
  exact: readonly ExactColumn[] = [],
): Promise<void> {
  if (keys.length === 0) return;
  // Only the columns the hub may have rewritten came back (and the key): compared on those, and a
  // row with a value the hub may store otherwise in an exact column is logged without looking.
  const columns = readBackColumns(table, exact);
  // Every column but the key stored exactly: nothing was returned, nothing to read.
  if (nothingToReadBack(table, exact)) {
    await logRewritten(
      conn,
      table,
      keys.filter((k) => {
        const image = images?.get(k) ?? null;
        return image === null || !canonicalOn(exact, image);
      }),
    );
    return;
  }
  const compared = exact.length ? { ...table, columns } : table;
  // Inserted rows came back from their INSERT … RETURNING (the same statement, so what is stored
  // now): only the others are read again. Looked up where they are, not copied into one map.
  const rest = returned?.size ? keys.filter((k) => !returned.has(k)) : keys;
  const fetched = rest.length ? await io.fetch(conn, rest, exact.length ? { columns } : {}) : undefined;
  const rewritten = keys.filter((k) => {
    const image = images?.get(k) ?? null;
    if (image !== null && exact.length && !canonicalOn(exact, image)) return true;
    return !sameImage(compared, image, returned?.get(k) ?? fetched?.get(k) ?? null);
  });
  await logRewritten(conn, table, rewritten);
}

/** A central change-log entry (no origin) per key: the node pulls the hub's version of those rows. */
async function logRewritten(conn: PoolConnection, table: SyncTable, rewritten: string[]): Promise<void> {
  for (let i = 0; i < rewritten.length; i += 500) {
    const rows = rewritten.slice(i, i + 500).map((pk) => [table.name, pk]);
    await conn.query(
      `INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES ${rows.map(() => `(?, ?, 'U', NULL, ${MYSQL_NOW_MS})`).join(', ')}`,
      rows.flat(),
    );
  }
}

function recordOutcome(
  result: BatchResult,
  table: string,
  keys: string[],
  failed: Map<string, string>,
  kind: 'upserts' | 'deletes',
  rec: NodeRecord,
  firstOpOf: (key: string) => Op | undefined = () => undefined,
): void {
  const m = moved(result, table);
  for (const key of keys) {
    const error = failed.get(key);
    if (error) {
      // A new row parked stays a new row: its retry must still be seen as an insert (a collision, not a conflict).
      rec.toPark.push({ tbl: table, pk: key, error, firstOp: firstOpOf(key) });
      m.parked++;
    } else {
      m[kind]++;
      result.applied++;
      rec.succeeded.push({ tbl: table, pk: key });
    }
  }
}

export type { ChangeSet };
