/**
 * Pull: hub changes (hub → node), one batch at a time.
 *
 * The hub's change log and the row images are read in one consistent snapshot;
 * the node applies them in one SQLite transaction that also stores the new pull
 * cursor and holes (exactly-once, docs/SYNC-CONTRACT.md, invariant 3) and raises the
 * `applying` flag so the node's triggers stay quiet (no echo, invariant 2).
 * The node's own pushes (origin = node id) are skipped; everything else — other
 * nodes' pushes, central writes — is applied. Local changes not pushed yet to a
 * row the hub also changed are conflicts (invariant 6), detected under the
 * SQLite write lock so no local writer can slip in between.
 */
import { randomBytes } from 'node:crypto';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { type BatchResult, emptyBatch, moved, type SyncContext } from './context.js';
import { sameImage, toSqliteRow } from './convert.js';
import { decidePull } from './decide.js';
import { isTransientSqlite, rowErrorText } from './errors.js';
import { advanceHoles, safePruneBound } from './holes.js';
import { encodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { referencedParents } from './parents.js';
import type { SyncTable } from './plan.js';
import { decodeMove, followHubMoves, logLocalChanges, parentApart } from './rekey.js';
import { RekeyStore } from './rekey-store.js';
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

export class PullRaceError extends Error {
  constructor() {
    super('another syncer pulled into this SQLite file at the same time; the batch will be retried');
  }
}

interface HubEntry {
  seq: string | number;
  tbl: string;
  pk: string | null;
  op: string;
  origin: string | null;
  at: number;
}

interface HubChange {
  maxSeq: bigint;
  lastAt: number;
  retry: boolean;
  /** A delete is among the coalesced changes: the row was deleted (and maybe re-created) on the hub. */
  deleted: boolean;
  /** The first unseen operation: an insert means the hub's row is new to this node. */
  firstOp: 'I' | 'U' | 'D';
}

/**
 * Holes whose transaction can no longer be open: no InnoDB transaction on the hub started
 * before the hole was seen.
 *
 * InnoDB answers INNODB_TRX from a cache that is refreshed only after 0.1 s without readers,
 * so under steady polling it can be arbitrarily old and miss the transaction that holds a
 * hole. The list is read inside a transaction of our own and trusted only when it shows the
 * very statement reading it: then it was taken after every hole was first seen.
 */
async function deadHoleCandidates(ctx: SyncContext, holes: Map<bigint, number>): Promise<Set<bigint>> {
  const out = new Set<bigint>();
  if (holes.size === 0 || !ctx.canSeeTransactions || ctx.clusteredHub) return out;
  const list = await ctx.hub.withConnection(async (conn) => {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    let fresh: { oldest: string | number | null } | undefined;
    for (let attempt = 0; attempt < 2 && !fresh; attempt++) {
      // A second look after a pause: the cache refreshes once nobody has read it for 0.1 s.
      if (attempt > 0) await new Promise((r) => setTimeout(r, 150));
      // The list is fresh when it shows this very statement (a pooled connection may appear in an
      // old list with an earlier transaction, so its id proves nothing): a nonce in the text marks it.
      const mark = `dualdb-trx-probe-${randomBytes(8).toString('hex')}`;
      const [rows] = await conn.query(
        `SELECT /* ${mark} */ UNIX_TIMESTAMP(MIN(CASE WHEN trx_mysql_thread_id <> CONNECTION_ID() THEN trx_started END)) * 1000 AS oldest,
                COALESCE(SUM(trx_query LIKE '%${mark}%'), 0) AS self
           FROM information_schema.INNODB_TRX`,
      );
      const row = (rows as { oldest: string | number | null; self: string | number }[])[0];
      if (row && Number(row.self) > 0) fresh = row;
    }
    await conn.commit();
    return fresh;
  });
  if (!list) return out; // only stale lists: no proof this time
  const oldest = list.oldest === null || list.oldest === undefined ? Number.POSITIVE_INFINITY : Number(list.oldest);
  // trx_started has one-second resolution and is truncated: a transaction that started
  // just after the hole was seen may look older, which only keeps the hole longer.
  for (const [seq, firstSeen] of holes) if (oldest > firstSeen) out.add(seq);
  return out;
}

/**
 * Applies rows in one savepoint; when that fails for a row-level reason, again row by row
 * (a savepoint each) so that only the poison rows fail: key → error. Transient failures
 * (busy, I/O) abort the whole apply.
 */
function applyRows<T extends { key: string }>(db: SqliteDb, items: T[], apply: (item: T) => void): Map<string, string> {
  const failed = new Map<string, string>();
  if (items.length === 0) return failed;
  try {
    db.transaction(() => {
      for (const item of items) apply(item);
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

/** Hub changes after `after` (not this node's own) to the given keys: key → latest seq and time. */
async function laterHubChanges(
  conn: PoolConnection,
  ctx: SyncContext,
  table: string,
  keys: string[],
  after: bigint,
): Promise<Map<string, { seq: bigint; at: number }>> {
  const out = new Map<string, { seq: bigint; at: number }>();
  for (let i = 0; i < keys.length; i += 500) {
    const [rows] = await conn.query(
      `SELECT pk, MAX(seq) AS seq, MAX(at) AS at FROM _dualdb_changes
        WHERE tbl = ? AND pk IN (?) AND seq > ? AND (origin IS NULL OR origin <> ?) GROUP BY pk`,
      [table, keys.slice(i, i + 500), after, ctx.nodeId],
    );
    for (const r of rows as { pk: string; seq: string | number; at: number }[])
      out.set(r.pk, { seq: BigInt(r.seq), at: Number(r.at) });
  }
  return out;
}

export async function pullBatch(ctx: SyncContext): Promise<BatchResult> {
  const result = emptyBatch('pull');
  const prev = ctx.state.pullState();
  const deadCandidates = await deadHoleCandidates(ctx, prev.holes);
  const batchSize = ctx.config.sync.batchSize;
  const holeList = [...prev.holes.keys()];
  // Changes parked for a table that is not synced now wait until it is (as on the push side).
  const duePulls = ctx.state.dueParked('pull').filter((p) => ctx.plan.byName.has(p.tbl));

  // 1. Read log entries and images in one hub snapshot.
  const changes = new Map<string, Map<string, HubChange>>();
  const images = new Map<string, Map<string, Row>>();
  const seen = new Set<bigint>();
  const hubMoves: { table: SyncTable; oldKey: string; newKey: string }[] = [];
  let readUpto = prev.upto;
  let hubNowMs = 0;
  let resync: ResyncNeededError | undefined;
  await ctx.hub.withConnection(async (conn) => {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    try {
      const t0 = Date.now();
      const [[clock]] = (await conn.query('SELECT UNIX_TIMESTAMP(NOW(6)) * 1000 AS now_ms')) as unknown as [
        [{ now_ms: string | number }],
      ];
      const t1 = Date.now();
      hubNowMs = Number(clock.now_ms);
      ctx.hubClockOffsetMs = hubNowMs - (t0 + t1) / 2;

      const [metaRows] = await conn.query("SELECT v FROM _dualdb_hub_meta WHERE k = 'pruned_upto'");
      const prunedUpto = BigInt((metaRows as { v: string }[])[0]?.v ?? 0);
      if (prunedUpto > safePruneBound(prev)) {
        // Thrown outside withConnection, which would turn any non-SQL error into a MysqlError.
        resync = new ResyncNeededError(prev.upto, prunedUpto);
        await conn.rollback();
        return;
      }

      const [rows] = await conn.query(
        'SELECT seq, tbl, pk, op, origin, at FROM _dualdb_changes WHERE seq > ? ORDER BY seq LIMIT ?',
        [prev.upto, batchSize],
      );
      const entries = rows as HubEntry[];
      result.more = entries.length === batchSize;
      if (entries.length) readUpto = BigInt(entries[entries.length - 1]?.seq ?? prev.upto);
      const holeEntries: HubEntry[] = [];
      if (holeList.length > 0 && holeList.length <= 1000) {
        const [h] = await conn.query('SELECT seq, tbl, pk, op, origin, at FROM _dualdb_changes WHERE seq IN (?)', [holeList]);
        holeEntries.push(...(h as HubEntry[]));
      } else if (holeList.length > 1000) {
        // biome-ignore lint/complexity/useMathMinMax: bigint
        const min = holeList.reduce((a, b) => (b < a ? b : a));
        // biome-ignore lint/complexity/useMathMinMax: bigint
        const max = holeList.reduce((a, b) => (b > a ? b : a));
        const [h] = await conn.query('SELECT seq, tbl, pk, op, origin, at FROM _dualdb_changes WHERE seq BETWEEN ? AND ?', [
          min,
          max,
        ]);
        holeEntries.push(...(h as HubEntry[]).filter((e) => prev.holes.has(BigInt(e.seq))));
      }
      const add = (
        tbl: string,
        pk: string,
        seq: bigint,
        at: number,
        retry: boolean,
        deleted: boolean,
        op: 'I' | 'U' | 'D' = 'U',
      ) => {
        let m = changes.get(tbl);
        if (!m) {
          m = new Map();
          changes.set(tbl, m);
        }
        const p = m.get(pk);
        m.set(pk, {
          maxSeq: p && p.maxSeq > seq ? p.maxSeq : seq,
          lastAt: Math.max(p?.lastAt ?? 0, at),
          retry: retry && (p?.retry ?? true),
          deleted: deleted || (p?.deleted ?? false),
          firstOp: p?.firstOp ?? (retry ? 'U' : op),
        });
      };
      for (const e of [...entries, ...holeEntries].sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1))) {
        const seq = BigInt(e.seq);
        seen.add(seq);
        if (e.pk === null) continue;
        if (e.origin === ctx.nodeId) {
          // This node's own write re-created the row after a hub delete: that delete's cascades
          // hit the hub's children of the old row, not this node's children of its own row.
          const p = e.op === 'D' ? undefined : changes.get(e.tbl)?.get(e.pk);
          if (p) p.deleted = false;
          continue;
        }
        if (e.op === 'R') {
          // Another node moved a hub row to a new key (rekey.ts): this node's children of it follow.
          const moveTable = ctx.plan.byName.get(e.tbl);
          if (moveTable) hubMoves.push({ table: moveTable, ...decodeMove(e.pk) });
          continue;
        }
        result.changes++;
        add(e.tbl, e.pk, seq, Number(e.at), false, e.op === 'D', e.op as 'I' | 'U' | 'D');
      }
      for (const p of duePulls) if (p.pk !== null) add(p.tbl, p.pk, 0n, hubNowMs, true, false);
      for (const [tbl, keys] of changes) {
        const table = ctx.plan.byName.get(tbl);
        if (!table) continue;
        images.set(tbl, await new MysqlTableIO(table).fetch(conn, [...keys.keys()]));
      }
      // Parents referenced by these images whose own hub changes come later ride along (parents.ts).
      const work = [...images].flatMap(([tbl, rows]) => {
        const table = ctx.plan.byName.get(tbl);
        return table ? [{ table, rows: [...rows.values()] }] : [];
      });
      for (let w = work.pop(); w; w = work.pop()) {
        for (const [name, keys] of referencedParents(w.table, w.rows)) {
          const parent = ctx.plan.byName.get(name);
          const known = changes.get(name);
          const missing = [...keys].filter((k) => !known?.has(k));
          if (!parent || missing.length === 0) continue;
          const later = await laterHubChanges(conn, ctx, name, missing, readUpto);
          if (later.size === 0) continue;
          const fetched = await new MysqlTableIO(parent).fetch(conn, [...later.keys()]);
          const admitted: Row[] = [];
          for (const [pk, c] of later) {
            const image = fetched.get(pk);
            if (!image) continue;
            add(name, pk, c.seq, c.at, false, false);
            let m = images.get(name);
            if (!m) {
              m = new Map();
              images.set(name, m);
            }
            m.set(pk, image);
            admitted.push(image);
          }
          if (admitted.length) work.push({ table: parent, rows: admitted });
        }
      }
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      throw e;
    }
  });

  if (resync) throw resync;

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
  ctx.db
    .transaction(() => {
      // Another puller on this file (it should not exist: the control socket is the lock) would
      // have moved the cursor; applying on top of a stale cursor could move it backwards.
      const recheck = ctx.state.pullState();
      if (recheck.upto !== prev.upto || recheck.holes.size !== prev.holes.size) throw new PullRaceError();
      ctx.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      const repointed = hubMoves.length ? followHubMoves(ctx, hubMoves) : [];
      const held = ctx.state.heldKeys();
      const rekeys = new RekeyStore(ctx.db);
      const apart = rekeys.openKeys();
      const parkedPull = new Set(ctx.state.parked('pull').map((p) => heldKey(p.tbl, p.pk ?? '')));
      const tables = [...changes.keys()]
        .map((name) => ctx.plan.byName.get(name))
        .filter((t): t is SyncTable => t !== undefined)
        .sort((a, b) => a.rank - b.rank);
      for (const tbl of changes.keys()) {
        if (ctx.plan.byName.has(tbl)) continue;
        for (const pk of changes.get(tbl)?.keys() ?? []) {
          const error = `table not synced on this node: ${unsyncable.get(tbl) ?? 'not in the sync plan'}`;
          ctx.state.park('pull', tbl, pk, error, { waiting: true });
          parkedNow.push({ tbl, pk, error });
        }
      }
      const parkWaiting = (tbl: string, pk: string): void => {
        const error = 'waits for its parent row, one of two rows created under the same key (resolved by the next push)';
        ctx.state.park('pull', tbl, pk, error, { waiting: true });
        parkedNow.push({ tbl, pk, error });
      };
      const deletions: { table: SyncTable; io: SqliteTableIO; keys: string[] }[] = [];
      for (const table of tables) {
        const io = new SqliteTableIO(ctx.db, table);
        const keyed = changes.get(table.name) ?? new Map<string, HubChange>();
        const hubImages = images.get(table.name) ?? new Map<string, Row>();
        const pending = ctx.state.pendingKeys(table.name, [...keyed.keys()]);
        const localImages = pending.size ? io.fetch([...pending.keys()]) : new Map<string, Row>();
        const m = moved(result, table.name);
        const toDelete: string[] = [];
        const toUpsert: { key: string; row: Row; change: HubChange }[] = [];
        for (const [key, change] of keyed) {
          if (held.has(heldKey(table.name, key))) continue;
          const hubRow = hubImages.get(key) ?? null;
          const hubAsSqlite = hubRow ? toSqliteRow(table, hubRow) : null;
          const local = pending.get(key);
          // Its parent is the hub's half of a key collision not resolved yet: applied now, it would
          // attach to the node's different row under the same key. It waits (parked) until then —
          // unless it collides itself (a row of the node's under its key too): that collision is
          // deferred to the push like any other, so the hub's row is never taken for the node's.
          const waitsForParent = hubAsSqlite !== null && parentApart(table, hubAsSqlite, apart);
          if (local) {
            const localRow = localImages.get(key) ?? null;
            const hubAt = change.lastAt - ctx.hubClockOffsetMs;
            const decision = decidePull(
              {
                keyKind: table.keyKind,
                node: { firstOp: local.firstOp, at: local.at },
                nodeHasRow: localRow !== null,
                hub: { firstOp: change.firstOp, at: hubAt },
                hubHasRow: hubAsSqlite !== null,
                same: sameImage(table, localRow, hubAsSqlite),
              },
              ctx.config.sync.conflictPolicy,
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
              parkWaiting(table.name, key);
              continue;
            }
            if ('conflict' in decision && decision.conflict) {
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
            // node wins, or the hub's new row is gone again: keep the local row; its change goes up with the next push.
            if (decision.action !== 'to-node') continue;
            // The hub's version is taken: the local pending change must not overwrite it later.
            ctx.state.dropPendingKey(table.name, key);
          }
          if (waitsForParent) {
            parkWaiting(table.name, key);
            continue;
          }
          if (!hubAsSqlite) {
            toDelete.push(key);
            continue;
          }
          toUpsert.push({ key, row: hubAsSqlite, change });
        }
        const failed = applyRows(ctx.db, toUpsert, (u) => {
          // Deleted and re-created on the hub: MySQL ran that delete's foreign-key cascades without
          // logging them. Deleting here first runs the same cascades locally (quietly).
          if (u.change.deleted && table.hubCascades) io.delete(u.key);
          io.upsert(u.row);
        });
        for (const { key, change } of toUpsert) {
          const error = failed.get(key);
          if (error !== undefined) {
            ctx.state.park('pull', table.name, key, error);
            parkedNow.push({ tbl: table.name, pk: key, error });
            m.parked++;
            continue;
          }
          m.upserts++;
          result.applied++;
          if (parkedPull.has(heldKey(table.name, key))) ctx.state.unpark('pull', table.name, key);
          if (!change.retry) result.lagsMs.push(Math.max(0, localNow - (change.lastAt - ctx.hubClockOffsetMs)));
        }
        deletions.push({ table, io, keys: toDelete });
      }
      // Children before parents for deletes.
      for (const { table, io, keys } of deletions.reverse()) {
        const m = moved(result, table.name);
        const failed = applyRows(
          ctx.db,
          keys.map((key) => ({ key })),
          (d) => io.delete(d.key),
        );
        for (const key of keys) {
          const error = failed.get(key);
          if (error !== undefined) {
            ctx.state.park('pull', table.name, key, error);
            parkedNow.push({ tbl: table.name, pk: key, error });
            m.parked++;
            continue;
          }
          m.deletes++;
          result.applied++;
          if (parkedPull.has(heldKey(table.name, key))) ctx.state.unpark('pull', table.name, key);
        }
      }
      logLocalChanges(ctx.db, repointed);
      ctx.state.savePullState(holes.next, prev);
      ctx.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    })
    .immediate();
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
