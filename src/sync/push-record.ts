/**
 * What a push batch's hub transaction decided that the node must record (conflicts, parked
 * changes, re-key holds and moves, children of re-created rows), written in one SQLite
 * transaction just before the hub commits, and logged once it did.
 */
import { DualdbError } from '../util/errors.js';
import type { SyncContext } from './context.js';
import { toSqliteRow } from './convert.js';
import { commitNamingForeignKeys } from './fk-commit.js';
import { encodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { pendingToken, placedUnconfirmed, setPlacedUnconfirmed } from './node-fence.js';
import type { LocalBatch } from './push-read.js';
import { logChildrenOfRecreated, type Recreated } from './recreated-children.js';
import type { Collision, Move, RekeyEvent } from './rekey.js';
import { moveOnNode, type Take } from './rekey-node.js';
import { RekeyStore } from './rekey-store.js';

/** `at`: when the change was made (ms), for one not in the batch's change set (a log entry parked as read). */
type Park = { tbl: string; pk: string | null; error: string; waiting?: boolean; firstOp?: 'I' | 'U' | 'D'; at?: number };
type ConflictRow = Parameters<SyncContext['state']['recordConflict']>[0];

/** What the hub transaction decided that the node must record before the hub commits. */
export interface NodeRecord {
  conflicts: ConflictRow[];
  toPark: Park[];
  succeeded: { tbl: string; pk: string }[];
  moves: Move[];
  holds: Collision[];
  /** Rows whose node version is gone again: the hub's (different) row is taken locally. */
  takes: Take[];
  /** Open collisions that turned out not to be collisions any more (one side's row is gone). */
  closes: { tbl: string; key: string }[];
  /** Rows the node kept against the hub's delete, re-created there: their children follow (recreated-children.ts). */
  recreated: Recreated[];
  /** Children of those the hub deleted itself since the last pull: left to that delete. */
  hubDeleted: Set<string>;
  /** Parent keys of the hub rows placed here that the hub changed unseen (push-hub-read.ts `parentKeysChangedUnseen`). */
  staleParents: Set<string>;
  /**
   * Re-used keys (push-reused.ts) whose hub change a pull parked to wait for this push (`heldKey`):
   * decided here, against the delete of the row the change was of. Unparked with the key's success,
   * its retry would weigh the old row's change against the node's later edit or delete of the new
   * row under the key (operator trial seed 1102: a conflict on a row one writer touched; hub-wins
   * undid the delete).
   */
  settledPulls: Set<string>;
  /**
   * Ids of the parked push retries this batch sent, taken before its moves re-key them (unparkSent
   * drops them by id after the hub's COMMIT: by key, a retry moved with its row would stay parked
   * and be sent again as a new row).
   */
  sentParked?: number[];
}

/**
 * Keys moved on this node after the push read its batch (`rekeys resolve` in another process, a
 * hub move applied by it): what the batch decided names rows by keys they no longer have. Nothing
 * is recorded and the hub transaction is rolled back; the syncer reads the batch again (an internal
 * retry signal). Recorded, a parked retry under the old key became a delete of another row there
 * (operator trial 4, M1).
 */
export class KeysMovedMeanwhile extends DualdbError {
  constructor() {
    super('KEYS_MOVED_MEANWHILE', 'keys moved on this node while a push was deciding its batch; the batch will be read again');
  }
}

/**
 * The node's half of step 3: one SQLite transaction, run before the hub commits — the records
 * and the moves together (moveOnNode's transaction nests as a savepoint), so that a failure
 * anywhere leaves none of them. Parked retries it sent stay parked until the COMMIT is known (unparkSent).
 * Throws KeysMovedMeanwhile, recording nothing, when keys moved here since the batch was read.
 */
export function recordOnNode(ctx: SyncContext, rec: NodeRecord, batch: LocalBatch) {
  const rekeys = new RekeyStore(ctx.db);
  // moveOnNode's deferred checks end at this COMMIT: a failing one names the row (fk-commit.ts).
  return commitNamingForeignKeys(
    ctx.db,
    () => {
      // Read under the write lock (immediate): no move can come between this check and the records.
      if (ctx.state.movesGeneration() !== batch.movesGeneration) throw new KeysMovedMeanwhile();
      for (const c of rec.conflicts) ctx.state.recordConflict(c);
      for (const p of rec.toPark) {
        // Kept with it: its retry is weighed at the time of the change, not of the retry (newest-wins).
        const changedMs = p.at ?? (p.pk === null ? undefined : batch.changes.get(p.tbl, p.pk)?.lastAt);
        ctx.state.park('push', p.tbl, p.pk, p.error, {
          waiting: p.waiting ?? false,
          ...(p.firstOp ? { firstOp: p.firstOp } : {}),
          ...(changedMs === undefined ? {} : { changedMs }),
        });
      }
      // Before any move below re-keys them: the parked push retries sent (dropped after the COMMIT,
      // unparkSent), and the hub changes this push settled (their parked pull retries go now: a lost
      // COMMIT leaves the hub's side as it was, and the pull reads it again).
      rec.sentParked = ctx.state.parkedPushIds(rec.succeeded);
      for (const x of rec.succeeded) if (rec.settledPulls.has(heldKey(x.tbl, x.pk))) ctx.state.unpark('pull', x.tbl, x.pk);
      for (const h of rec.holds) {
        rekeys.hold({
          tbl: h.table.name,
          oldKey: h.oldKey,
          detectedIn: 'push',
          nodeImage: encodeImage(h.nodeRow),
          hubImage: encodeImage(h.hubRow ? toSqliteRow(h.table, h.hubRow) : null),
          hubSeq: h.hubSeq,
        });
      }
      for (const c of rec.closes) rekeys.close(c.tbl, c.key);
      // Children sent in this batch went up with their parent already.
      logChildrenOfRecreated(
        ctx,
        rec.recreated,
        batch.upto,
        (tbl, pk) => rec.hubDeleted.has(heldKey(tbl, pk)) || batch.changes.has(tbl, pk),
      );
      const events = moveOnNode(ctx, rec.moves, rec.takes, rec.staleParents);
      markPlacedUnsettled(ctx, events);
      return events;
    },
    { immediate: true },
  );
}

/**
 * The parked changes this push sent (and the parked hub changes it settled): unparked only once
 * the hub's COMMIT is known, in the transaction that records the pushed cursor. Unparked with the
 * node's records, before the COMMIT, a lost COMMIT lost them: a parked retry's log entry is below
 * the push cursor, so nothing sent it again (operator trial trial-manual-2026-12-07T19-00-42-786Z:
 * site2's notification 39, the hub SIGKILLed during the push that sent it). A crash between the
 * COMMIT and this record only sends them once more.
 */
export function unparkSent(ctx: SyncContext, rec: NodeRecord): void {
  const del = ctx.db.prepare('DELETE FROM _dualdb_parked WHERE id = ?');
  for (const id of rec.sentParked ?? []) del.run(id);
}

/**
 * rekey-hub moves of this push: until the hub's COMMIT is known, the hub's row placed here under
 * the new key is recorded as an unsettled copy (hub-moves.ts) of the hub's row under the old key,
 * which is exactly what it is if the COMMIT is lost: there the row stays under the old key, and
 * nothing is under the new one. Left as a plain row, the next push moved the hub's row again and
 * placed it a second time here, the copy kept twice, its unique columns refusing the placement and
 * every child of it parked for good (operator trial re-run of seed 1103: the hub killed during
 * site3's push). Unsettled, the copy waits (its edits too) and the next collision settles it into
 * the hub's new key (settleHubRow). Once the COMMIT is known, `clearPlacedUnsettled` drops the
 * entries; a process that dies in between leaves entries whose two keys hold here what the hub
 * holds there, which the next push forgets (checkCopiesOnHub, `copyInPlace`). The entries take no
 * hub seq: negative, the re-key record's id.
 */
function markPlacedUnsettled(ctx: SyncContext, events: RekeyEvent[]): void {
  const st = ctx.db.prepare('INSERT OR REPLACE INTO _dualdb_hub_moves (seq, tbl, hub_key, local_key) VALUES (?, ?, ?, ?)');
  const hub = events.filter((e) => e.moved === 'hub');
  for (const e of hub) st.run(-e.id, e.table, e.oldKey, e.newKey);
  // The record says so too: `dualdb rekeys` must not show as done a move the hub may never have
  // (the trial's records read "done" with a new key the hub never gave the row).
  new RekeyStore(ctx.db).markUnconfirmed(hub.map((e) => e.id));
  // Kept with the push's token: whoever learns that push's outcome (the next reconcile, a resolve
  // reading the hub's token) confirms them, whatever the application wrote to the copies meanwhile.
  const token = pendingToken(ctx.state);
  if (hub.length && token)
    setPlacedUnconfirmed(ctx.state, [...placedUnconfirmed(ctx.state), { token, ids: hub.map((e) => e.id) }]);
}

/** The hub committed the push: its rekey-hub placements are settled (markPlacedUnsettled). */
export function clearPlacedUnsettled(ctx: SyncContext, events: RekeyEvent[] | undefined): void {
  const hub = (events ?? []).filter((e) => e.moved === 'hub');
  if (hub.length === 0) return;
  const st = ctx.db.prepare('DELETE FROM _dualdb_hub_moves WHERE seq = ? AND tbl = ? AND hub_key = ? AND local_key = ?');
  const store = new RekeyStore(ctx.db);
  ctx.db.transaction(() => {
    for (const e of hub) {
      st.run(-e.id, e.table, e.oldKey, e.newKey);
      store.confirm(e.id);
    }
    const ids = new Set(hub.map((e) => e.id));
    setPlacedUnconfirmed(
      ctx.state,
      placedUnconfirmed(ctx.state)
        .map((p) => ({ ...p, ids: p.ids.filter((id) => !ids.has(id)) }))
        .filter((p) => p.ids.length > 0),
    );
  })();
}

export function report(ctx: SyncContext, rec: NodeRecord): void {
  for (const p of rec.toPark)
    ctx.log.warn(`parked a change to ${p.tbl} ${p.pk ?? '(null key)'}: ${p.error}`, {
      event: 'push.parked',
      table: p.tbl,
      pk: p.pk,
    });
  for (const c of rec.conflicts) {
    ctx.log.warn(
      `conflict on ${c.tbl} ${c.pk}: ${c.status === 'open' ? 'held for manual resolution' : `${c.winner} wins (${c.policy})`}`,
      { event: 'conflict', table: c.tbl, pk: c.pk, direction: 'push' },
    );
  }
  for (const h of rec.holds)
    ctx.log.warn(
      `key collision on ${h.table.name} ${h.oldKey}: two different rows were created under this id; both are kept apart until \`dualdb rekeys resolve\``,
      { event: 'rekey.held', table: h.table.name, pk: h.oldKey },
    );
}
