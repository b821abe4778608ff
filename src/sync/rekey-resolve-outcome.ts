/**
 * `rekeys resolve --rekey hub` whose hub COMMIT is lost (docs/SYNC-CONTRACT.md invariant 13).
 *
 * The node's half of a hub-side move (the hub's row placed here under its new key, the record
 * done) is written only once the hub is known to have committed. Before the COMMIT, the resolve
 * writes a commit token in its hub transaction (commit-outcome.ts) and a marker here naming the
 * move and the token. After the COMMIT: the node's half and the marker's removal, one SQLite
 * transaction. When the COMMIT's answer is lost, or the process dies between the two, the token
 * says what happened: committed, the node's half is written; rolled back, the marker goes and
 * the collision stays held, as if nothing had been tried. The next `sync` or `rekeys resolve`
 * finishes a marker left behind before it does anything else.
 *
 * Written the other way round (the node's half first, as before), a rolled-back hub left the node
 * with its move done: its own row, whose log entries were trimmed while held, never reached the
 * hub, and the children of both rows ended on the other row.
 */
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { DualdbError } from '../util/errors.js';
import { commitOutcome, newWriteToken, recordWriteToken } from './commit-outcome.js';
import type { SyncContext } from './context.js';
import { toSqliteRow } from './convert.js';
import { commitNamingForeignKeys } from './fk-commit.js';
import { decodeImage, encodeImage } from './images.js';
import { MysqlTableIO } from './mysql-io.js';
import type { SyncTable } from './plan.js';
import { loggedHere, type Move, type RekeyEvent, rowHere } from './rekey.js';
import { moveOnNode } from './rekey-node.js';
import { RekeyStore } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';
import type { Syncer } from './syncer.js';

const MARKER = 'rekey_resolving';

/** How long a resolve waits for the hub to say whether its COMMIT went through. */
export const RESOLVE_OUTCOME_DEADLINE_MS = 10_000;

/** What the node needs to write its half of a hub-side move later. */
interface Resolving {
  tbl: string;
  oldKey: string;
  newKey: string;
  token: string;
  /** The node's row under the old key, as the move saw it (the record's node image once done). */
  nodeImage: string | null;
  hubSeq: string | null;
  /** Parent keys of the hub's row the hub changed unseen (push-hub-read.ts `parentKeysChangedUnseen`): it waits for the pull. */
  staleParents?: string[];
}

/** A hub-side move whose COMMIT is about to be sent (or was). */
export interface HubCommit {
  move: Move;
  token: string;
  /** The hub session that sent it: ended by commitOutcome if the server still runs it. */
  threadId: number | undefined;
  staleParents: Set<string>;
}

/** Test hooks: the process killed just before the hub's COMMIT, or between it and the node's half. */
export const resolveHooks: { beforeHubCommit?: () => unknown; afterHubCommit?: () => unknown } = {};

/**
 * Last in the resolve's hub transaction: its commit token there, and the marker here (its own
 * SQLite transaction, committed before the hub's COMMIT is sent).
 */
export async function beforeHubCommit(
  conn: PoolConnection,
  ctx: SyncContext,
  move: Move,
  staleParents: Set<string> = new Set(),
): Promise<HubCommit> {
  const token = newWriteToken();
  await recordWriteToken(conn, token, ctx.nodeId);
  const r: Resolving = {
    tbl: move.table.name,
    oldKey: move.oldKey,
    newKey: move.newKey,
    token,
    nodeImage: encodeImage(move.nodeRow),
    hubSeq: move.hubSeq === null ? null : move.hubSeq.toString(),
    ...(staleParents.size ? { staleParents: [...staleParents] } : {}),
  };
  ctx.db.transaction(() => ctx.state.setMeta(MARKER, JSON.stringify(r))).immediate();
  await resolveHooks.beforeHubCommit?.();
  return { move, token, threadId: conn.threadId ?? undefined, staleParents };
}

/** The hub committed: the node's half. */
export async function afterHubCommit(ctx: SyncContext, c: HubCommit): Promise<RekeyEvent[]> {
  await resolveHooks.afterHubCommit?.();
  return writeNodeHalf(ctx, c.move, c.token, c.staleParents);
}

/**
 * The COMMIT failed or its answer was lost: the token says whether the hub has the move. Committed,
 * the node's half is written and its event returned; rolled back, the marker goes (the collision
 * stays held) and `e` is thrown; not known (the hub stays away), the marker stays for the next
 * sync or resolve.
 */
export async function settleLostCommit(syncer: Syncer, c: HubCommit, id: number, e: unknown): Promise<RekeyEvent | null> {
  const outcome = await syncer
    .withContext(async (ctx) => {
      const o = await commitOutcome(ctx.hub, c.token, c.threadId, RESOLVE_OUTCOME_DEADLINE_MS);
      if (o === 'committed') return writeNodeHalf(ctx, c.move, c.token, c.staleParents)[0] ?? null;
      if (o === 'rolled-back') forget(ctx, c.token);
      return o;
    })
    .catch(() => 'unknown' as const);
  if (outcome === 'rolled-back') throw e;
  if (outcome === 'unknown')
    throw new DualdbError(
      'REKEY_OUTCOME_UNKNOWN',
      `key collision #${id}: the hub's COMMIT was lost and the hub stays away, so whether the hub's row moved is not known yet`,
      {
        hint: 'run `dualdb sync --once` or this command again when the hub is back: it finishes or forgets this resolve first',
        cause: e,
      },
    );
  return outcome;
}

/**
 * After the hub committed: the node's half and the marker's removal, one SQLite transaction.
 * When the application wrote its own new row under the new key meanwhile (SQLite hands out
 * max + 1, as the hub may), the hub's row cannot go there: that key is held apart as a collision
 * of its own (the hub's row, the application's), and the moved record is done.
 * Once only: another process on this file (`sync --watch` beside the resolve) may have finished
 * it first (the marker is gone): then its event is the record's.
 */
function writeNodeHalf(ctx: SyncContext, move: Move, token: string, staleParents: Set<string>): RekeyEvent[] {
  // moveOnNode's deferred checks end at this COMMIT: a failing one names the row (fk-commit.ts).
  return commitNamingForeignKeys(
    ctx.db,
    (): RekeyEvent[] => {
      if (markerToken(ctx) !== token) return finishedBefore(ctx, move);
      ctx.state.setMeta(MARKER, null);
      if (!rowHere(ctx.db, move.table, move.newKey) && !loggedHere(ctx.db, move.table, move.newKey))
        return moveOnNode(ctx, [move], [], staleParents);
      // The hub's row waits on the hub under the new key, held apart from the application's row.
      ctx.state.bumpMovesGeneration();
      ctx.state.unpark('pull', move.table.name, move.oldKey);
      const store = new RekeyStore(ctx.db);
      const hubImage = encodeImage(move.hubRow ? toSqliteRow(move.table, move.hubRow) : null);
      const id = store.done({
        tbl: move.table.name,
        oldKey: move.oldKey,
        newKey: move.newKey,
        moved: 'hub',
        detectedIn: 'resolve',
        mode: move.mode,
        nodeImage: encodeImage(move.nodeRow),
        hubImage,
        hubSeq: move.hubSeq,
      });
      const mine = new SqliteTableIO(ctx.db, move.table).fetch([move.newKey]).get(move.newKey) ?? null;
      store.hold({
        tbl: move.table.name,
        oldKey: move.newKey,
        detectedIn: 'pull',
        nodeImage: encodeImage(mine),
        hubImage,
        hubSeq: move.hubSeq,
      });
      return [{ id, table: move.table.name, oldKey: move.oldKey, newKey: move.newKey, moved: 'hub' as const }];
    },
    { immediate: true },
  );
}

/** The hub rolled the move back: its marker goes (the collision stays held), unless another replaced it. */
function forget(ctx: SyncContext, token: string): void {
  ctx.db
    .transaction(() => {
      if (markerToken(ctx) === token) ctx.state.setMeta(MARKER, null);
    })
    .immediate();
}

function markerToken(ctx: SyncContext): string | undefined {
  const text = ctx.state.getMeta(MARKER);
  return text ? (JSON.parse(text) as Resolving).token : undefined;
}

/** The event of a move another process on this file finished (none when it was rolled back). */
function finishedBefore(ctx: SyncContext, move: Move): RekeyEvent[] {
  const r = ctx.db
    .prepare("SELECT id FROM _dualdb_rekeys WHERE tbl = ? AND old_key = ? AND new_key = ? AND moved = 'hub' AND status = 'done'")
    .get(move.table.name, move.oldKey, move.newKey) as { id: number | bigint } | undefined;
  return r ? [{ id: Number(r.id), table: move.table.name, oldKey: move.oldKey, newKey: move.newKey, moved: 'hub' }] : [];
}

/**
 * Whether the transaction that wrote `token` committed, without waiting for one still running:
 * 'running' when it holds the token's row (a resolve beside this process, between its marker and
 * its COMMIT).
 */
async function outcomeNow(ctx: SyncContext, token: string): Promise<'committed' | 'rolled-back' | 'running'> {
  return ctx.hub.withConnection(async (conn) => {
    await conn.query('SET SESSION innodb_lock_wait_timeout = 1');
    try {
      const [rows] = await conn.query('SELECT token FROM _dualdb_write_tokens WHERE token = ? LOCK IN SHARE MODE', [token]);
      return (rows as unknown[]).length > 0 ? 'committed' : 'rolled-back';
    } catch (e) {
      if ((e as { code?: string }).code === 'ER_LOCK_WAIT_TIMEOUT') return 'running';
      throw e;
    } finally {
      await conn.query('SET SESSION innodb_lock_wait_timeout = DEFAULT').catch(() => {});
    }
  });
}

/**
 * A resolve whose hub COMMIT was lost, or whose process died before its node's half: finished
 * (the hub committed) or forgotten (it did not). First in every sync (`wait` false: a resolve
 * still committing beside it is left to finish itself) and every resolve (`wait`: until the hub
 * says; throws when it stays away). A no-op (one local read) when there is none.
 */
export async function finishLostResolve(ctx: SyncContext, wait = false): Promise<RekeyEvent | undefined> {
  const text = ctx.state.getMeta(MARKER);
  if (!text) return undefined;
  const r = JSON.parse(text) as Resolving;
  const outcome = wait
    ? await commitOutcome(ctx.hub, r.token, undefined, RESOLVE_OUTCOME_DEADLINE_MS)
    : await outcomeNow(ctx, r.token);
  // Nothing of it is on this node yet: the sync goes on (the hub's echo of the move is skipped, its
  // children wait for their parent), and the resolve writes its node's half itself.
  if (outcome === 'running') return undefined;
  if (outcome === 'unknown')
    throw new DualdbError(
      'REKEY_OUTCOME_UNKNOWN',
      `a resolve of the key collision on ${r.tbl} ${r.oldKey} lost its hub COMMIT and the hub stays away: whether it moved is not known yet`,
      { hint: 'run `dualdb sync --once` again when the hub is back: it finishes or forgets that resolve first' },
    );
  if (outcome === 'rolled-back') {
    forget(ctx, r.token);
    ctx.log.warn(
      `key collision on ${r.tbl} ${r.oldKey}: the hub rolled its resolve back (its COMMIT was lost); still held, resolve it again`,
      { event: 'rekey.resolve-lost', table: r.tbl, old_key: r.oldKey },
    );
    return undefined;
  }
  // A table not synced now (schema drift): finished once it is again.
  const table = ctx.plan.byName.get(r.tbl);
  if (!table) return undefined;
  const hubRow = await ctx.hub.withConnection(async (conn) => {
    const rows = await new MysqlTableIO(table).fetch(conn, [r.newKey]);
    return rows.get(r.newKey) ?? null;
  });
  const [event] = writeNodeHalf(ctx, lostMove(table, r, hubRow), r.token, new Set(r.staleParents ?? []));
  if (event)
    ctx.log.info(
      // From a sync (`wait` false) the resolve may well be alive beside it, between its hub COMMIT
      // and its node's half (`rekeys resolve` beside `sync --watch`): nothing was lost then, so
      // the line says what is known, not that a COMMIT was lost (operator trial 2026-12-07).
      wait
        ? `key collision on ${r.tbl} resolved (its hub COMMIT had been lost; the hub had it): the hub's row moved from ${r.oldKey} to ${r.newKey}`
        : `key collision on ${r.tbl} resolved by \`dualdb rekeys resolve\` (committed on the hub; this sync wrote the node's half): the hub's row moved from ${r.oldKey} to ${r.newKey}`,
      { event: 'rekey', table: r.tbl, old_key: r.oldKey, new_key: r.newKey, moved: 'hub' },
    );
  return event;
}

function lostMove(table: SyncTable, r: Resolving, hubRow: Row | null): Move {
  return {
    table,
    oldKey: r.oldKey,
    newKey: r.newKey,
    nodeRow: decodeImage(r.nodeImage) ?? {},
    hubRow,
    hubSeq: r.hubSeq === null ? null : BigInt(r.hubSeq),
    detectedIn: 'resolve',
    mode: 'manual',
    moved: 'hub',
  };
}
