/**
 * Push: local changes (node → hub), one batch at a time.
 *
 * Exactly-once (docs/SYNC-CONTRACT.md, invariant 3): the batch and this node's push cursor are
 * written in one hub transaction; the cursor row is locked first, so two
 * syncers on one node cannot interleave. Local log entries are deleted only
 * after the hub committed; a crash in between re-sends entries the hub already
 * has, which the cursor check skips.
 *
 * State-based: for each changed key the *current* local row is sent (or a
 * delete when it is gone), so repeated changes to one row coalesce and
 * re-applying is harmless.
 *
 * Conflicts are detected under the hub rows' locks (READ COMMITTED, SELECT …
 * FOR UPDATE), so a concurrent change by another node cannot slip between the
 * check and the write.
 */
import { decodeKey } from '../capture/keys.js';
import { MYSQL_NOW_MS } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { decideWinner } from './conflicts.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { sameImage, toMysqlRow, toSqliteRow } from './convert.js';
import { isTransientMysql, rowErrorText } from './errors.js';
import { encodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { referencedParents } from './parents.js';
import type { SyncTable } from './plan.js';
import { SqliteTableIO } from './sqlite-io.js';

interface LocalChange {
  maxSeq: bigint;
  lastAt: number;
  firstAt: number;
  /** From a parked entry being retried rather than from the log. */
  retry: boolean;
}

interface TableBatch {
  table: SyncTable;
  changes: Map<string, LocalChange>;
  images: Map<string, Row>;
}

export class PushRaceError extends Error {
  constructor() {
    super('another syncer advanced this node’s push cursor; the batch will be retried');
  }
}

/** Reads the hub's cursor for this node (creating the node row on first contact). */
export async function hubPushCursor(ctx: SyncContext): Promise<bigint> {
  await ctx.hub.execute(
    'INSERT IGNORE INTO _dualdb_nodes (node_id, push_cursor, pull_upto, first_seen, last_seen) VALUES (?, 0, 0, NOW(6), NOW(6))',
    [ctx.nodeId],
  );
  const [row] = await ctx.hub.query<{ push_cursor: string | number }>('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ?', [
    ctx.nodeId,
  ]);
  return BigInt(row?.push_cursor ?? 0);
}

/** Align the local log with the hub's cursor: entries the hub has are dropped. */
export function reconcilePushed(ctx: SyncContext, hubCursor: bigint): void {
  const local = ctx.state.pushedUpto();
  if (hubCursor === local) return;
  if (hubCursor < local) {
    ctx.log.warn(
      'the hub’s push cursor for this node is behind the local one (hub restored, or node id reused); run `dualdb compare`',
      {
        event: 'push.cursor-behind',
        hub: hubCursor.toString(),
        local: local.toString(),
      },
    );
  }
  ctx.db.transaction(() => {
    ctx.state.setPushedUpto(hubCursor);
    ctx.db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ?').run(hubCursor);
  })();
}

/** One push batch; returns what moved. Throws on hub unavailability (nothing applied, nothing lost). */
export async function pushBatch(ctx: SyncContext): Promise<BatchResult> {
  const result = emptyBatch('push');
  const hubCursor = await hubPushCursor(ctx);
  reconcilePushed(ctx, hubCursor);
  const batchSize = ctx.config.sync.batchSize;
  const held = ctx.state.heldKeys();

  // 1. Read the batch and the current local images in one SQLite snapshot.
  const unsyncable = new Map<string, string>([...ctx.plan.skipped, ...ctx.plan.paused].map((i) => [i.table, i.reason]));
  const toPark: { tbl: string; pk: string | null; error: string; waiting?: boolean }[] = [];
  let batchMax = hubCursor;
  const batches = new Map<string, TableBatch>();
  ctx.db.transaction(() => {
    const entries = ctx.db
      .prepare('SELECT seq, tbl, pk, at FROM _dualdb_changes WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(hubCursor, batchSize) as { seq: bigint; tbl: string; pk: string | null; at: number }[];
    result.changes = entries.length;
    result.more = entries.length === batchSize;
    const add = (tbl: string, pk: string, seq: bigint, at: number, retry: boolean) => {
      const table = ctx.plan.byName.get(tbl);
      if (!table) return false;
      let b = batches.get(tbl);
      if (!b) {
        b = { table, changes: new Map(), images: new Map() };
        batches.set(tbl, b);
      }
      const prev = b.changes.get(pk);
      b.changes.set(pk, {
        maxSeq: prev && prev.maxSeq > seq ? prev.maxSeq : seq,
        lastAt: Math.max(prev?.lastAt ?? 0, at),
        firstAt: Math.min(prev?.firstAt ?? Number.POSITIVE_INFINITY, at),
        retry: retry && (prev?.retry ?? true),
      });
      return true;
    };
    for (const e of entries) {
      batchMax = e.seq;
      if (e.pk === null) {
        toPark.push({ tbl: e.tbl, pk: null, error: 'the row’s primary key is NULL; MySQL cannot store it' });
        continue;
      }
      const bad = keyProblem(ctx.plan.byName.get(e.tbl), e.pk);
      if (bad) {
        toPark.push({ tbl: e.tbl, pk: e.pk, error: bad });
        continue;
      }
      if (!add(e.tbl, e.pk, e.seq, Number(e.at), false)) {
        toPark.push({
          tbl: e.tbl,
          pk: e.pk,
          error: `table not synced: ${unsyncable.get(e.tbl) ?? 'not in the sync plan (run `dualdb init`)'}`,
          waiting: true,
        });
      }
    }
    // Parked changes whose retry is due ride along with this batch.
    for (const p of ctx.state.dueParked('push')) {
      const table = ctx.plan.byName.get(p.tbl);
      if (p.pk !== null && table && !keyProblem(table, p.pk)) add(p.tbl, p.pk, 0n, Date.now(), true);
    }
    for (const b of batches.values()) {
      b.images = new SqliteTableIO(ctx.db, b.table).fetch([...b.changes.keys()]);
    }
    // Parents referenced by these images whose own changes come later ride along (parents.ts).
    const work = [...batches.values()].map((b) => ({ table: b.table, rows: [...b.images.values()] }));
    for (let w = work.pop(); w; w = work.pop()) {
      for (const [name, keys] of referencedParents(w.table, w.rows)) {
        const parent = ctx.plan.byName.get(name);
        const known = batches.get(name)?.changes;
        const missing = [...keys].filter((k) => !known?.has(k));
        if (!parent || missing.length === 0) continue;
        const later = ctx.state.changesAfter(name, missing, batchMax);
        if (later.size === 0) continue;
        const images = new SqliteTableIO(ctx.db, parent).fetch([...later.keys()]);
        const admitted: Row[] = [];
        for (const [pk, c] of later) {
          const image = images.get(pk);
          if (!image || !add(name, pk, c.seq, c.at, false)) continue;
          batches.get(name)?.images.set(pk, image);
          admitted.push(image);
        }
        if (admitted.length) work.push({ table: parent, rows: admitted });
      }
    }
  })();
  if (result.changes === 0 && batches.size === 0 && toPark.length === 0) return result;

  const pull = ctx.state.pullState();
  const holes = [...pull.holes.keys()];
  const conflicts: Parameters<typeof ctx.state.recordConflict>[0][] = [];
  const succeeded: { tbl: string; pk: string }[] = [];
  const ordered = [...batches.values()].sort((a, b) => a.table.rank - b.table.rank);

  // 2. Apply on the hub with the cursor in the same transaction.
  let raced = false;
  await ctx.hub.withConnection(async (conn) => {
    await conn.query('SET @dualdb_origin = ?', [ctx.nodeId]);
    await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    try {
      const [cursorRows] = await conn.query('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ? FOR UPDATE', [ctx.nodeId]);
      const current = BigInt((cursorRows as { push_cursor: string | number }[])[0]?.push_cursor ?? -1);
      if (current !== hubCursor) {
        // Thrown outside withConnection, which would turn any non-SQL error into a MysqlError.
        await conn.rollback();
        raced = true;
        return;
      }

      const upserts = new Map<string, { io: MysqlTableIO; rows: { key: string; row: Row; exists: boolean }[] }>();
      const deletes = new Map<string, { io: MysqlTableIO; keys: string[] }>();
      for (const b of ordered) {
        const io = new MysqlTableIO(b.table);
        const m = moved(result, b.table.name);
        const keys = [...b.changes.keys()].filter((k) => {
          if (held.has(heldKey(b.table.name, k))) return false;
          return true;
        });
        if (keys.length === 0) continue;
        // Lock the hub rows, then look for hub changes this node has not pulled yet.
        const hubRows = await io.fetch(conn, keys, { forUpdate: true });
        const unseen = await unseenHubChanges(conn, ctx, b.table.name, keys, pull.upto, holes);
        const rowsOut: { key: string; row: Row; exists: boolean }[] = [];
        const deleteKeys: string[] = [];
        for (const key of keys) {
          const change = b.changes.get(key);
          if (!change) continue;
          const local = b.images.get(key) ?? null;
          const hubSide = unseen.get(key);
          if (hubSide) {
            const hubRow = hubRows.get(key) ?? null;
            const same = sameImage(b.table, local, hubRow);
            if (!same) {
              const winner = decideWinner(ctx.config.sync.conflictPolicy, change.lastAt, hubSide.at - ctx.hubClockOffsetMs);
              conflicts.push({
                tbl: b.table.name,
                pk: key,
                detectedIn: 'push',
                policy: ctx.config.sync.conflictPolicy,
                winner: winner === 'hold' ? null : winner,
                status: winner === 'hold' ? 'open' : 'resolved',
                nodeImage: encodeImage(local),
                hubImage: encodeImage(hubRow ? toSqliteRow(b.table, hubRow) : null),
                nodeAt: change.lastAt,
                hubAt: hubSide.at - ctx.hubClockOffsetMs,
                nodeSeq: change.maxSeq,
                hubSeq: hubSide.seq,
              });
              m.conflicts++;
              result.conflicts++;
              if (winner !== 'node') {
                // hub wins: its version arrives with the next pull; hold: nobody writes until resolved.
                succeeded.push({ tbl: b.table.name, pk: key });
                continue;
              }
            }
          }
          if (local) {
            try {
              rowsOut.push({ key, row: toMysqlRow(b.table, local), exists: hubRows.has(key) });
            } catch (e) {
              toPark.push({ tbl: b.table.name, pk: key, error: rowErrorText(e) });
              m.parked++;
            }
          } else {
            deleteKeys.push(key);
          }
          result.lagsMs.push(Date.now() - change.firstAt);
        }
        upserts.set(b.table.name, { io, rows: rowsOut });
        deletes.set(b.table.name, { io, keys: deleteKeys });
      }
      // Parents first for writes, children first for deletes (DESIGN invariant 7).
      const written: { b: TableBatch; io: MysqlTableIO; keys: string[] }[] = [];
      for (const b of ordered) {
        const u = upserts.get(b.table.name);
        if (!u || u.rows.length === 0) continue;
        const failed = await applyIsolated(conn, u.rows, async (rows) => {
          // Rows the hub has (locked above) are updated in place; new ones are plain inserts, so
          // that a clash on another unique key fails and is parked instead of overwriting that row.
          for (const st of u.io.writeStatements(rows)) await conn.query(st.sql);
        });
        recordOutcome(
          result,
          b.table.name,
          u.rows.map((r) => r.key),
          failed,
          'upserts',
          toPark,
          succeeded,
        );
        written.push({ b, io: u.io, keys: u.rows.filter((r) => !failed.has(r.key)).map((r) => r.key) });
      }
      for (const b of [...ordered].reverse()) {
        const d = deletes.get(b.table.name);
        if (!d || d.keys.length === 0) continue;
        const failed = await applyIsolated(
          conn,
          d.keys.map((key) => ({ key })),
          async (items) => {
            await conn.query(d.io.deleteStatement(items.map((i) => i.key)));
          },
        );
        recordOutcome(result, b.table.name, d.keys, failed, 'deletes', toPark, succeeded);
      }
      for (const w of written) await logHubRewrites(conn, w.b, w.io, w.keys);
      await conn.query('UPDATE _dualdb_nodes SET push_cursor = ?, last_seen = NOW(6) WHERE node_id = ?', [batchMax, ctx.nodeId]);
      // Conflicts and parked changes are recorded locally before the hub commits: if the
      // commit fails, the batch is simply sent again (recording is idempotent).
      ctx.db.transaction(() => {
        for (const c of conflicts) ctx.state.recordConflict(c);
        for (const p of toPark) ctx.state.park('push', p.tbl, p.pk, p.error, { waiting: p.waiting ?? false });
        // Only keys that are parked (one lookup, not a statement per row of the batch).
        const parked = new Set(ctx.state.parked('push').map((p) => heldKey(p.tbl, p.pk ?? '')));
        for (const s of succeeded) if (parked.has(heldKey(s.tbl, s.pk))) ctx.state.unpark('push', s.tbl, s.pk);
      })();
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      throw e;
    }
  });
  if (raced) throw new PushRaceError();
  result.parked = toPark.length;

  // 3. The hub has the batch: forget it locally.
  ctx.db.transaction(() => {
    ctx.state.setPushedUpto(batchMax);
    ctx.db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ?').run(batchMax);
  })();
  for (const p of toPark)
    ctx.log.warn(`parked a change to ${p.tbl} ${p.pk ?? '(null key)'}: ${p.error}`, {
      event: 'push.parked',
      table: p.tbl,
      pk: p.pk,
    });
  for (const c of conflicts) {
    ctx.log.warn(
      `conflict on ${c.tbl} ${c.pk}: ${c.status === 'open' ? 'held for manual resolution' : `${c.winner} wins (${c.policy})`}`,
      {
        event: 'conflict',
        table: c.tbl,
        pk: c.pk,
        direction: 'push',
      },
    );
  }
  return result;
}

/**
 * The hub may keep something else than what was sent: a value rounded to a DECIMAL's scale
 * or a DATETIME's precision, a column set by its own BEFORE trigger. Those rows get a
 * central change-log entry (no origin), so this node pulls the hub's version back instead
 * of skipping the change as its own echo — otherwise the two sides would silently differ.
 */
async function logHubRewrites(conn: PoolConnection, b: TableBatch, io: MysqlTableIO, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const stored = await io.fetch(conn, keys);
  const rewritten = keys.filter((k) => !sameImage(b.table, b.images.get(k) ?? null, stored.get(k) ?? null));
  for (let i = 0; i < rewritten.length; i += 500) {
    const rows = rewritten.slice(i, i + 500).map((pk) => [b.table.name, pk]);
    await conn.query(
      `INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES ${rows.map(() => `(?, ?, 'U', NULL, ${MYSQL_NOW_MS})`).join(', ')}`,
      rows.flat(),
    );
  }
}

/**
 * Why a logged key text cannot be turned back into key values, if it cannot. SQLite's
 * length() stops at a NUL character, so the triggers mis-measure a composite key part
 * that contains one: such a change is parked rather than failing every batch.
 */
function keyProblem(table: SyncTable | undefined, pk: string): string | undefined {
  if (!table) return undefined;
  try {
    decodeKey(pk, table.key.length);
    return undefined;
  } catch (e) {
    return `the key logged for this row cannot be read back (${(e as Error).message}); composite key parts containing a NUL character cannot be synced`;
  }
}

/** Hub changes to these keys that this node has not pulled yet (not its own): key → latest seq and hub time. */
async function unseenHubChanges(
  conn: PoolConnection,
  ctx: SyncContext,
  table: string,
  keys: string[],
  upto: bigint,
  holes: bigint[],
): Promise<Map<string, { seq: bigint; at: number }>> {
  const out = new Map<string, { seq: bigint; at: number }>();
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const holeClause = holes.length ? ' OR seq IN (?)' : '';
    const params: unknown[] = [table, chunk, ctx.nodeId, upto];
    if (holes.length) params.push(holes);
    const [rows] = await conn.query(
      `SELECT pk, MAX(seq) AS seq, MAX(at) AS at FROM _dualdb_changes
        WHERE tbl = ? AND pk IN (?) AND (origin IS NULL OR origin <> ?) AND (seq > ?${holeClause})
        GROUP BY pk`,
      params,
    );
    for (const r of rows as { pk: string; seq: string | number; at: number }[])
      out.set(r.pk, { seq: BigInt(r.seq), at: Number(r.at) });
  }
  return out;
}

/**
 * Applies items in one statement group under a savepoint; when that fails for a
 * row-level reason, retries item by item so that only the poison items fail.
 * Transient failures (connection, deadlock) abort the whole batch.
 */
export async function applyIsolated<T extends { key: string }>(
  conn: PoolConnection,
  items: T[],
  apply: (items: T[]) => Promise<void>,
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
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

function recordOutcome(
  result: BatchResult,
  table: string,
  keys: string[],
  failed: Map<string, string>,
  kind: 'upserts' | 'deletes',
  toPark: { tbl: string; pk: string | null; error: string }[],
  succeeded: { tbl: string; pk: string }[],
): void {
  const m = moved(result, table);
  for (const key of keys) {
    const error = failed.get(key);
    if (error) {
      toPark.push({ tbl: table, pk: key, error });
      m.parked++;
    } else {
      m[kind]++;
      result.applied++;
      succeeded.push({ tbl: table, pk: key });
    }
  }
}
