/**
 * `dualdb rekeys resolve <id> --rekey node|hub`: ends a collision held apart by
 * SYNC_KEY_COLLISIONS=manual by moving one of the two rows to a new key (rekey.ts), exactly as
 * the automatic modes would have; the children that waited for it are retried at once.
 */
import { encodeKey } from '../capture/keys.js';
import { SQLITE_NOW_MS } from '../capture/sqlite-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { ensureWriteTokens } from './commit-outcome.js';
import { sameImage, toMysqlRow as toMysql, toSqliteRow } from './convert.js';
import { hubLockFailure } from './errors.js';
import { commitNamingForeignKeys } from './fk-commit.js';
import { learnHubMoves, unsettledKeys } from './hub-moves.js';
import { decodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { parentApart } from './parent-waits.js';
import type { SyncTable } from './plan.js';
import {
  addParentKeys,
  assertNoMovesMeanwhile,
  HubMovedMeanwhile,
  parentKeysChangedUnseen,
  TableKeys,
  unseenRowChanges,
} from './push-hub-read.js';
import {
  type Collision,
  moveHubSequencePast,
  moveOnHub,
  type RekeyEvent,
  rowHere,
  SEQUENCE_ATTEMPTS,
  SequenceBehindError,
  SequenceBumpError,
  sequenceStillBehind,
} from './rekey.js';
import { moveOnNode } from './rekey-node.js';
import { afterHubCommit, beforeHubCommit, finishLostResolve, type HubCommit, settleLostCommit } from './rekey-resolve-outcome.js';
import { isMissingParent, markFollowers, missingParentError, unsentParentError } from './rekey-resolve-parents.js';
import type { RekeyCloseReason, RekeyRecord } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';
import type { Syncer } from './syncer.js';

/** Reads again after another node moved a parent of the hub's row meanwhile (HubMovedMeanwhile). */
const MOVED_ATTEMPTS = 3;
/** Tries again after a deadlock or a lock wait timeout on the hub (each one rolled back whole). */
export const LOCK_ATTEMPTS = 3;

export interface ResolveOptions {
  /**
   * The sync's own closing of a held collision one of whose rows is gone (closeGoneHeld): read
   * again under the hub row's lock, both rows still there, nothing is done (it stays held for the
   * operator's decision) — never a move nobody asked for.
   */
  onlyIfGone?: boolean;
}

/** One line: why a held collision closed, whose row went (the `rekey.closed` event's text). */
function closedLine(rec: RekeyRecord, reason: RekeyCloseReason): string {
  const what = `key collision #${rec.id} on ${rec.tbl} ${rec.oldKey} closed, nothing moved`;
  if (reason === 'hub-row-gone')
    return `${what}: the hub's row under that id is gone (deleted or moved on the hub); the node's row goes to the hub under it`;
  if (reason === 'node-row-gone')
    return `${what}: the node's row under that id is gone (deleted here); the hub's row is taken here`;
  return `${what}: both rows under that id are gone`;
}

/**
 * `onClosed`: told, in one line, why a record closed without a move (the returned event is then null).
 */
export async function resolveRekey(
  syncer: Syncer,
  id: number,
  side: 'node' | 'hub',
  onClosed?: (line: string) => void,
  options: ResolveOptions = {},
): Promise<RekeyEvent | null> {
  // A resolve before this one whose hub COMMIT was lost: finished or forgotten first (finished,
  // its move is told as the resolve would have: the log line is finishLostResolve's, the event here).
  const lost = await syncer.withContext((ctx) => finishLostResolve(ctx, true));
  if (lost) syncer.emit('rekey', lost);
  const rec = syncer.rekeys.get(id);
  if (!rec)
    throw new DualdbError('NO_SUCH_REKEY', `there is no key collision #${id}`, {
      hint: 'list them with `dualdb rekeys`',
      exitCode: EXIT.CONFIG,
    });
  if (rec.status === 'pending') throw await pendingError(syncer, rec, side);
  if (rec.status !== 'held')
    throw new DualdbError('REKEY_NOT_HELD', `key collision #${id} is not waiting for a decision (it is ${rec.status})`, {
      hint: 'only collisions held by SYNC_KEY_COLLISIONS=manual are resolved by hand; see `dualdb rekeys`',
      exitCode: EXIT.CONFIG,
    });
  let closed: string | undefined;
  let closedReason: RekeyCloseReason | undefined;
  // Why the node's row moved although --rekey hub was asked (hubRowReplaced).
  let moved: string | undefined;
  let movedRetries = 0;
  let lockRetries = 0;
  // Sequence bumps so far (the other retries count apart).
  for (let attempt = 0; ; ) {
    // A hub-side move whose COMMIT was sent: its node's half waits for it (rekey-resolve-outcome.ts).
    let committing: HubCommit | undefined;
    let event: RekeyEvent | null;
    try {
      event = await syncer.withContext(async (ctx) => {
        const table = ctx.plan.byName.get(rec.tbl);
        if (!table)
          throw new DualdbError('TABLE_NOT_SYNCED', `table ${rec.tbl} of key collision #${id} is not synced now`, {
            hint: 'fix the table (see `dualdb status`) and try again',
          });
        // Moves of hub rows this node has not pulled yet apply first (hub-moves.ts): one of them,
        // learnt only after this resolution placed the hub's current row, would move that row instead.
        // This node's own earlier moves found on the hub meanwhile (a push whose COMMIT answer was
        // lost, unconfirmed till now): told once, as the sync tells them, whatever becomes of this resolve.
        syncer.announceRekeys(await learnHubMoves(ctx));
        if (side === 'hub') await ensureWriteTokens(ctx.hub).catch(() => {});
        return ctx.hub.withConnection(async (conn) => {
          await conn.query('SET @dualdb_origin = ?', [ctx.nodeId]);
          await conn.beginTransaction();
          // The node's row as read here (the catch below names a parent of it the hub refused).
          let nodeRow: Row | null = null;
          try {
            const hubRow = (await new MysqlTableIO(table).fetch(conn, [rec.oldKey], { forUpdate: true })).get(rec.oldKey) ?? null;
            nodeRow = new SqliteTableIO(ctx.db, table).fetch([rec.oldKey]).get(rec.oldKey) ?? null;
            const sameAsHub = hubRow !== null && nodeRow !== null && sameRow(table, rec, nodeRow, toSqliteRow(table, hubRow));
            if (options.onlyIfGone && hubRow && nodeRow && !sameAsHub) {
              // Both rows still there (one came back, or a new row took the key): still a collision.
              await conn.rollback();
              return null;
            }
            const parent = nodeRow ? parentApart(table, nodeRow, syncer.rekeys.openKeys()) : undefined;
            if (parent) {
              throw new DualdbError(
                'REKEY_PARENT_HELD',
                `the node's row ${rec.tbl} ${rec.oldKey} references ${parent.table} ${parent.key}, itself one of two rows held apart`,
                {
                  hint: `resolve the collision of ${parent.table} ${parent.key} first (see \`dualdb rekeys\`)`,
                  exitCode: EXIT.CONFLICTS,
                },
              );
            }
            // The node's row goes to the hub below (but where it is the hub's row itself): a parent
            // of it the hub does not have yet stops the resolve here, nothing written on either side.
            const unsent = nodeRow && !sameAsHub ? unsentParentError(ctx, table, rec, nodeRow) : undefined;
            if (unsent) throw unsent;
            let events: RekeyEvent[] = [];
            // The log entry of the node's row written to the hub here (the branch where one row is gone).
            let sent: number | bigint | undefined;
            // The hub's row placed here names its parents by the hub's keys, as the push's placed rows
            // do: the push's two guards on them (docs/SYNC-CONTRACT.md invariant 13, P2 and R2).
            const guard = async (): Promise<Set<string>> => {
              const parents = new TableKeys();
              addParentKeys(parents, ctx.plan, table, [hubRow]);
              await assertNoMovesMeanwhile(conn, ctx, parents);
              return parentKeysChangedUnseen(conn, ctx, parents, syncer.rekeys);
            };
            if (hubRow && nodeRow && sameAsHub) {
              // Not two rows: the node's own row under the key is gone, and what stands there now is
              // the hub's row itself (a copy settled in by an earlier version: operator trial 4, M3).
              // Moving either side would insert that row a second time (a duplicate-entry error).
              syncer.rekeys.closeHeld(rec.id, 'node-row-gone');
              closedReason = 'node-row-gone';
              closed = `key collision #${id} on ${rec.tbl} ${rec.oldKey} closed, nothing moved: the node's row there is the hub's row itself (the node's own row that collided is gone)`;
            } else if (hubRow && nodeRow) {
              // --rekey hub moves the hub's row the record was held with, never another: that row
              // gone since (deleted, or moved away) and another node's row under the key now, the
              // node's own row moves instead (docs/SYNC-CONTRACT.md invariant 13; trial 6, T6-M1).
              const replaced = side === 'hub' && (await hubRowReplaced(conn, rec));
              if (replaced) moved = replaced;
              const c: Collision = {
                table,
                oldKey: rec.oldKey,
                nodeRow,
                hubRow,
                hubSeq: rec.hubSeq,
                detectedIn: 'resolve',
                mode: 'manual',
                // The hub's row is that of a copy waiting here (unsettled), maybe edited: the move
                // settles it, and its edit is weighed against the hub's changes to the row, under any
                // of its keys, this node has not seen (row-history.ts), as the push does. Not read, the
                // edit went up with the next push as a plain update of the row's newest key, whose
                // history held only this resolve's move: the hub's later updates lost, no conflict
                // (operator trial of 2026-12-07, run 10).
                hubRowUnseen: unsettledKeys(ctx.db).hub.has(heldKey(table.name, rec.oldKey))
                  ? ((await unseenRowChanges(conn, ctx, table.name, [rec.oldKey], syncer.rekeys)).get(rec.oldKey) ?? null)
                  : undefined,
              };
              const move = await moveOnHub(conn, ctx, c, side === 'node' || replaced ? 'rekey-node' : 'rekey-hub', {
                childrenForThisNodeToo: true,
              });
              // --rekey node: the node's half first (a lost COMMIT heals: the moved row is logged
              // under its new key and sent again); --rekey hub: once the hub is known to have it.
              const staleParents = await guard();
              if (side === 'node' || replaced) events = moveOnNode(ctx, [move], [], staleParents);
              else committing = await beforeHubCommit(conn, ctx, move, staleParents);
            } else {
              // One of the two rows is gone since: nothing clashes any more.
              const reason: RekeyCloseReason = nodeRow ? 'hub-row-gone' : hubRow ? 'node-row-gone' : 'both-rows-gone';
              if (nodeRow) await new MysqlTableIO(table).write(conn, [toMysql(table, nodeRow)]);
              else {
                const staleParents = await guard();
                // moveOnNode's deferred checks end at this COMMIT: a failing one names the row (fk-commit.ts).
                commitNamingForeignKeys(
                  ctx.db,
                  () => {
                    // The node's own row is gone: what this node logged under the key since the hold
                    // (the push skipped the key and passed what came before) are changes of that row,
                    // which the hub never had — its delete last. Left, the next push read that delete
                    // with the hub's row placed here and deleted the hub's row, or took the key for
                    // one deleted and handed out again and held the hub's row against itself
                    // (trial of the seed-901 fix, seed 951). Only while no row is here (read under
                    // the write lock): one the application wrote since is a new row of its own.
                    if (!rowHere(ctx.db, table, rec.oldKey)) {
                      ctx.state.dropPendingKey(table.name, rec.oldKey);
                      ctx.state.unpark('push', table.name, rec.oldKey);
                    }
                    moveOnNode(ctx, [], [{ table, key: rec.oldKey, hubRow }], staleParents);
                  },
                  { immediate: true },
                );
              }
              ctx.db.transaction(() => {
                // Its log entries were trimmed while held: logged again, so that a lost hub COMMIT
                // leaves it to the next push (which finds it there, unchanged, if the hub had it).
                if (nodeRow)
                  sent = ctx.db
                    .prepare(`INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (?, ?, 'I', ${SQLITE_NOW_MS})`)
                    .run(rec.tbl, rec.oldKey).lastInsertRowid;
                // Kept, `closed` with whose row went (an operator who saw it held sees what became of it).
                syncer.rekeys.closeHeld(rec.id, reason);
              })();
              closedReason = reason;
              closed = options.onlyIfGone
                ? closedLine(rec, reason)
                : `key collision #${id}: one of the two rows is gone, nothing clashes any more`;
            }
            await conn.commit();
            // The hub has the row now: as pushed. Left pending, a move of it by another node's
            // `--rekey hub` before this node's next push did not move it here (hub-moves.ts: the
            // node's own new row stays), and that push held it against the row now under the key,
            // the hub's copy under the new key parked on its unique columns (trial 6, T6-M1).
            if (sent !== undefined) ctx.db.prepare('DELETE FROM _dualdb_changes WHERE seq = ?').run(sent);
            if (committing) events = await afterHubCommit(ctx, committing);
            return events[0] ?? null;
          } catch (e) {
            await conn.rollback().catch(() => {});
            // Refused for a parent the hub lacks: which one, and the fix (rolled back whole; the
            // node's half of either side is written only after the hub's statements).
            if (isMissingParent(e) && !committing && nodeRow)
              throw (await missingParentError(conn, table, rec, nodeRow, ctx).catch(() => undefined)) ?? e;
            throw e;
          }
        });
      });
    } catch (e) {
      if (committing) event = await settleLostCommit(syncer, committing, id, e);
      else if (e instanceof HubMovedMeanwhile && movedRetries++ < MOVED_ATTEMPTS) continue;
      else if (hubLockFailure(e) && lockRetries++ < LOCK_ATTEMPTS) {
        // Rolled back whole (a deadlock by InnoDB, a lock wait timeout by the catch above): again.
        await new Promise((r) => setTimeout(r, 100 * lockRetries));
        continue;
      } else if (hubLockFailure(e)) throw lockedError(rec, e);
      else if (e instanceof HubMovedMeanwhile)
        throw new DualdbError(
          'REKEY_HUB_MOVING',
          `key collision #${id} not resolved: other nodes kept moving the parent rows of the hub's row ${rec.tbl} ${rec.oldKey} while it was resolved`,
          { hint: 'run the same command again', exitCode: EXIT.CONFLICTS, cause: e },
        );
      else if (e instanceof SequenceBehindError && attempt < SEQUENCE_ATTEMPTS) {
        // The application writes meanwhile (trial 3, H): each move leaves it more keys of room
        // (rekey.ts sequenceHeadroom). A table busy on the hub is waited for once more, said in
        // the log; still busy, the resolve stops with the cause and the statement to run.
        try {
          await syncer.withContext((ctx) => moveHubSequencePast(ctx, e, attempt++));
        } catch (bump) {
          if (bump instanceof SequenceBumpError)
            throw new DualdbError(
              'HUB_SEQUENCE_BEHIND',
              `key collision #${id} not resolved: ${bump.message.replace(/; retried$/, '')}`,
              {
                hint: bump.fixesItself
                  ? `run the same command again once the hub's transactions on ${bump.table} end; or run on the hub: ${bump.statement};`
                  : (bump.hint ?? `run on the hub: ${bump.statement};`),
                cause: bump,
              },
            );
          throw bump;
        }
        continue;
      } else if (e instanceof SequenceBehindError) {
        const still = sequenceStillBehind(e, `key collision #${id} not resolved`);
        throw new DualdbError('HUB_SEQUENCE_BEHIND', still.message, {
          hint: `run the same command again; if it keeps failing, give the hub room, on the hub: ${still.statement};`,
          cause: e,
        });
      } else throw e;
    }
    // Both rows still there (onlyIfGone): nothing happened, nothing to tell.
    if (options.onlyIfGone && !event && !closed) return null;
    // Rows that waited for this one go now.
    syncer.db
      .prepare("UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE error LIKE '%held apart%' OR error LIKE '%one of two rows%'")
      .run();
    if (event && moved)
      syncer.log.info(`key collision #${id} on ${rec.tbl} ${rec.oldKey}: ${moved}`, { event: 'rekey.replaced' });
    if (event) {
      syncer.log.info(
        `key collision #${id} on ${event.table} resolved: the ${event.moved}'s row moved from ${event.oldKey} to ${event.newKey}`,
        {
          event: 'rekey',
          table: event.table,
          old_key: event.oldKey,
          new_key: event.newKey,
          moved: event.moved,
        },
      );
      syncer.emit('rekey', event);
      // Its children's pending collisions follow this decision at the next push.
      const plan = syncer.knownPlan ?? (await syncer.currentPlan());
      markFollowers(syncer.db, plan, [event]);
    } else if (closed) {
      syncer.log.info(closed, {
        event: 'rekey.closed',
        id: rec.id,
        table: rec.tbl,
        old_key: rec.oldKey,
        ...(closedReason ? { reason: closedReason } : {}),
      });
      onClosed?.(closed);
    }
    return event;
  }
}

/** A resolve that kept meeting other transactions' locks on the hub: the cause and the fix, in one line. */
function lockedError(rec: RekeyRecord, e: unknown): DualdbError {
  const what = `key collision #${rec.id} (${rec.tbl} ${rec.oldKey}) not resolved`;
  const tries = LOCK_ATTEMPTS + 1;
  if (hubLockFailure(e) === 'deadlock')
    return new DualdbError(
      'REKEY_HUB_BUSY',
      `${what}: it deadlocked ${tries} times with other transactions on the hub writing the same rows (each time rolled back, nothing changed)`,
      {
        hint: 'run the same command again; if it keeps failing, stop `dualdb sync` on this node or the writers of that table meanwhile',
        cause: e,
      },
    );
  return new DualdbError(
    'REKEY_HUB_BUSY',
    `${what}: another transaction on the hub kept the rows locked (lock wait timeout, ${tries} tries; nothing changed)`,
    {
      hint: `find the transaction holding ${rec.tbl} on the hub (SELECT * FROM information_schema.INNODB_TRX), let it finish or end it, then run the same command again`,
      cause: e,
    },
  );
}

/**
 * Why a pending record cannot be resolved by hand: a child row whose parent is one of two rows
 * held apart follows the decision on that parent (named with its record id), or, with no such
 * parent, the next sync settles it by SYNC_KEY_COLLISIONS.
 */
async function pendingError(syncer: Syncer, rec: RekeyRecord, side: 'node' | 'hub'): Promise<DualdbError> {
  const parent = await parentOf(syncer, rec).catch(() => undefined);
  if (parent) {
    const p = syncer.rekeys.openRecord(parent.table, parent.key);
    const which = p ? `key collision #${p.id} (${parent.table} ${parent.key}, ${p.status})` : `${parent.table} ${parent.key}`;
    return new DualdbError(
      'REKEY_FOLLOWS_PARENT',
      `key collision #${rec.id} (${rec.tbl} ${rec.oldKey}) follows its parent's decision: ${which}`,
      {
        hint: p
          ? `resolve it: \`dualdb rekeys resolve ${p.id} --rekey ${side}\` (or every one: \`dualdb rekeys resolve --all --rekey ${side}\`); the next sync then settles #${rec.id}`
          : `the next sync settles #${rec.id} (\`dualdb sync --once\`)`,
        // Not a bad flag: a collision still waits (README: 11 while one is open, as `dualdb rekeys`).
        exitCode: EXIT.CONFLICTS,
      },
    );
  }
  return new DualdbError(
    'REKEY_PENDING',
    `key collision #${rec.id} (${rec.tbl} ${rec.oldKey}) is pending: the next sync settles it by SYNC_KEY_COLLISIONS (${rec.mode})`,
    { hint: 'run `dualdb sync --once`; under manual it is then held for a decision', exitCode: EXIT.CONFLICTS },
  );
}

/** The held-apart parent (table, key) that either image of this record references, if any. */
async function parentOf(syncer: Syncer, rec: RekeyRecord): Promise<{ table: string; key: string } | undefined> {
  const table = (syncer.knownPlan ?? (await syncer.currentPlan())).byName.get(rec.tbl);
  if (!table) return undefined;
  const open = syncer.rekeys.openKeys();
  for (const image of [rec.nodeImage, rec.hubImage]) {
    const row = decodeImage(image);
    const parent = row ? parentApart(table, row, open) : undefined;
    if (parent) return parent;
  }
  return undefined;
}

/**
 * The hub's row the record was held with is no longer under its key: the hub logged a new row
 * there since the record's hub seq (an insert after its delete, or a move's marker after another
 * node moved it away, rekey.ts moveOnHub). Moving what stands there now would move another node's
 * row, whose node then holds it under the old key (trial 6, T6-M1). Why, in one line, or undefined.
 */
async function hubRowReplaced(conn: PoolConnection, rec: RekeyRecord): Promise<string | undefined> {
  if (rec.hubSeq === null || rec.hubSeq <= 0n) return undefined;
  const [rows] = await conn.query(
    `SELECT seq, origin FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
      WHERE tbl = ? AND pk = ? AND op = 'I' AND seq > ? ORDER BY seq DESC LIMIT 1`,
    [rec.tbl, encodeKey([rec.oldKey]), rec.hubSeq.toString()],
  );
  const [r] = rows as { seq: string | number; origin: string | null }[];
  if (!r) return undefined;
  return `the hub's row held with it left the key (a new row there since, hub seq ${r.seq}, from ${r.origin ?? 'the hub'}): the node's row moved instead of that other row`;
}

/**
 * The node's row under the key is the hub's row itself, not a second row: the same image on both
 * sides, and not the node's row the collision was held with (that one is gone: two rows created
 * alike on two sides stay two rows and are moved apart as any collision).
 */
export function sameRow(table: SyncTable, rec: RekeyRecord, nodeRow: Row, hubRow: Row): boolean {
  return sameImage(table, nodeRow, hubRow) && !sameImage(table, decodeImage(rec.nodeImage), nodeRow);
}
