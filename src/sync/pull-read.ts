/**
 * Step 1 of a pull: the hub's change log after this node's cursor (and its open holes), coalesced
 * per row (changeset.ts), with the hub's current images and the parents they reference, read in
 * one consistent hub snapshot. Also which holes are provably dead, and rows other nodes moved
 * to new keys (R entries, rekey.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { ChangeSet, type KeyChange, type LoggedOp, type Op } from './changeset.js';
import type { BatchResult, SyncContext } from './context.js';
import { safePruneBound } from './holes.js';
import { type HubMove, hubMovesQuery, toHubMoves } from './hub-moves.js';
import { heldKey, type PullState } from './local-state.js';
import { MysqlTableIO } from './mysql-io.js';
import { admitParent, missingParents } from './parents.js';
import type { SyncTable } from './plan.js';
import { referencingColumns } from './rekey.js';
import { RekeyStore } from './rekey-store.js';
import { type HistoryEntry, rowHistory } from './row-history.js';
import { assertHubUnchanged } from './schema-guard.js';

interface HubEntry {
  seq: string | number;
  tbl: string;
  pk: string | null;
  op: string;
  origin: string | null;
  /** The server's text of the DOUBLE (AT below): Number() where used. */
  at: string | number;
}

export interface HubBatch {
  changes: ChangeSet;
  images: Map<string, Map<string, Row>>;
  /** Every hub seq seen in this read (for the cursor and holes). */
  seen: Set<bigint>;
  readUpto: bigint;
  hubNowMs: number;
  /**
   * Rows other nodes moved to a new key on the hub, every one after the cursor (not only this
   * batch's), read in the batch's snapshot: applied first (hub-moves.ts), so that the batch's rows
   * land under the keys the hub gave them.
   */
  hubMoves: HubMove[];
  /** The hub pruned its log past this node's position. */
  prunedPast?: bigint;
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
export async function deadHoleCandidates(ctx: SyncContext, holes: Map<bigint, number>): Promise<Set<bigint>> {
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

export async function readHubBatch(
  ctx: SyncContext,
  prev: PullState,
  duePulls: { tbl: string; pk: string | null; firstOp?: Op | 'P' | null }[],
  result: BatchResult,
  batchSize = ctx.config.sync.batchSize,
): Promise<HubBatch> {
  const holeList = [...prev.holes.keys()];
  const out: HubBatch = {
    changes: new ChangeSet(),
    images: new Map(),
    seen: new Set(),
    readUpto: prev.upto,
    hubNowMs: 0,
    hubMoves: [],
  };
  const { changes, images, seen } = out;
  const add = (tbl: string, pk: string, seq: bigint, at: number, op: LoggedOp, retry = false) =>
    changes.add(tbl, pk, seq, at, op, retry);
  // Decoded by mysql2's own row parser (MysqlHub.withDriverDecode): DOUBLE columns are read as their
  // text here (the log's `at`, AT below; the images, MysqlTableIO.readList).
  await ctx.hub.withDriverDecode(async (conn) => {
    let schemaChecked: Promise<void> = Promise.resolve();
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    try {
      const t0 = Date.now();
      // The hub's clock and how far it pruned its log, in one round trip.
      const [[clock]] = (await conn.query(
        "SELECT UNIX_TIMESTAMP(NOW(6)) * 1000 AS now_ms, (SELECT v FROM _dualdb_hub_meta WHERE k = 'pruned_upto') AS pruned, (SELECT MAX(seq) FROM _dualdb_changes) AS max_seq",
      )) as unknown as [[{ now_ms: string | number; pruned: string | null; max_seq: string | number | null }]];
      const t1 = Date.now();
      out.hubNowMs = Number(clock.now_ms);
      ctx.hubClockOffsetMs = out.hubNowMs - (t0 + t1) / 2;

      const prunedUpto = BigInt(clock.pruned ?? 0);
      if (prunedUpto > safePruneBound(prev)) {
        // Reported outside withConnection, which would turn any non-SQL error into a MysqlError.
        out.prunedPast = prunedUpto;
        await conn.rollback();
        return;
      }

      // The batch's log entries and every move after the cursor (R entries, hub-moves.ts) in one
      // round trip: `m` tells them apart.
      const moves = hubMovesQuery(ctx, prev);
      const [rows] = await conn.query(
        `(SELECT 0 AS m, seq, tbl, pk, op, origin, ${AT} FROM _dualdb_changes WHERE seq > ? ORDER BY seq LIMIT ?)
         UNION ALL (SELECT 1 AS m, seq, tbl, pk, 'R', origin, 0 FROM (${moves.sql}) mv)`,
        [prev.upto, batchSize, ...moves.params],
      );
      const entries: HubEntry[] = [];
      const moveRows: { seq: string | number; tbl: string; pk: string; origin: string | null }[] = [];
      for (const r of rows as (HubEntry & { m: number | string })[]) {
        if (Number(r.m) === 0) entries.push(r);
        else moveRows.push({ seq: r.seq, tbl: r.tbl, pk: r.pk ?? '', origin: r.origin });
      }
      // The schema check runs on another pooled connection while this one reads on (it needs no
      // snapshot); it is awaited before the batch is handed to the apply. Not for a batch of
      // dualdb's own heartbeat rows alone (an idle fleet's every pull): their table's schema is
      // dualdb's, and the pool need not keep a second connection for them.
      schemaChecked =
        entries.some((e) => ctx.plan.byName.get(e.tbl)?.meta !== true) || duePulls.length > 0
          ? assertHubUnchanged(ctx.hub, ctx.schemaStamp)
          : Promise.resolve();
      schemaChecked.catch(() => {}); // awaited below; no unhandled rejection meanwhile
      result.more = entries.length === batchSize;
      // The union's parts come in no promised order: seqs are converted once, sorted only if needed.
      const bySeq = entries.map((e) => ({ e, seq: BigInt(e.seq) }));
      for (const x of bySeq) if (x.seq > out.readUpto) out.readUpto = x.seq;
      const holeEntries: HubEntry[] = [];
      if (holeList.length > 0 && holeList.length <= 1000) {
        const [h] = await conn.query(`SELECT seq, tbl, pk, op, origin, ${AT} FROM _dualdb_changes WHERE seq IN (?)`, [holeList]);
        holeEntries.push(...(h as HubEntry[]));
      } else if (holeList.length > 1000) {
        // biome-ignore lint/complexity/useMathMinMax: bigint
        const min = holeList.reduce((a, b) => (b < a ? b : a));
        // biome-ignore lint/complexity/useMathMinMax: bigint
        const max = holeList.reduce((a, b) => (b > a ? b : a));
        const [h] = await conn.query(`SELECT seq, tbl, pk, op, origin, ${AT} FROM _dualdb_changes WHERE seq BETWEEN ? AND ?`, [
          min,
          max,
        ]);
        holeEntries.push(...(h as HubEntry[]).filter((e) => prev.holes.has(BigInt(e.seq))));
      }
      const ordered = holeEntries.length ? [...bySeq, ...holeEntries.map((e) => ({ e, seq: BigInt(e.seq) }))] : bySeq;
      if (ordered.some((x, i) => i > 0 && (ordered[i - 1] as { seq: bigint }).seq > x.seq))
        ordered.sort((a, b) => (a.seq < b.seq ? -1 : 1));
      // This node's own insert under a key restarts the key's history (as in the push's unseen
      // changes, push-hub-read.ts): the other nodes' changes before it were of rows no longer there.
      const restart = await ownInserts(conn, ctx, ordered, result.more || holeEntries.length > 0, {
        prevUpto: prev.upto,
        readUpto: out.readUpto,
        maxSeq: BigInt(clock.max_seq ?? 0),
      });
      // The images joined with the log range are asked for now, before this node's own pass over the
      // entries below: the hub runs the join meanwhile (a connection runs its statements in order, so
      // it is sent after the own-inserts read, whose answer that pass needs).
      const joined = joinImagesEarly(conn, ctx, entries, prev.upto, out.readUpto);
      const placed = placedHere(ctx, ordered);
      // Restarted and placed keys are rare: their lookup text is built only when there are any.
      const anyRestart = restart.size > 0;
      const anyPlaced = placed.size > 0;
      for (const { e, seq } of ordered) {
        seen.add(seq);
        if (e.pk === null) continue;
        if (anyRestart && e.origin !== ctx.nodeId && (restart.get(heldKey(e.tbl, e.pk)) ?? 0n) > seq) continue;
        if (e.origin === ctx.nodeId) {
          // This node's own write re-created the row after a hub delete: that delete's cascades
          // hit the hub's children of the old row, not this node's children of its own row.
          const p = e.op === 'D' ? undefined : changes.get(e.tbl, e.pk);
          if (p) p.deleted = false;
          continue;
        }
        if (e.op === 'R') continue; // a move, read below with the others (hub-moves.ts)
        // This node's own collision push placed the hub's row here with this change in its image.
        const placedUpto = anyPlaced ? placed.get(heldKey(e.tbl, e.pk)) : undefined;
        if (placedUpto !== undefined && seq <= placedUpto) continue;
        result.changes++;
        changes.add(e.tbl, e.pk, seq, Number(e.at), e.op as LoggedOp);
      }
      out.hubMoves = toHubMoves(ctx, moveRows);
      // A row another node moved: its changes by identity, not by key (row-history.ts).
      addRowHistories(ctx, changes, out.hubMoves, ordered, (tbl, pk, seq) => {
        const k = heldKey(tbl, pk);
        const placedUpto = placed.get(k);
        return !((restart.get(k) ?? 0n) > seq) && !(placedUpto !== undefined && seq <= placedUpto);
      });
      for (const p of duePulls)
        if (p.pk !== null && !changes.has(p.tbl, p.pk)) add(p.tbl, p.pk, 0n, out.hubNowMs, p.firstOp ?? 'U', true);
      // A parked hub change came before anything read since: its first operation is the key's (a
      // parked insert followed by an update is still a row this node has not taken, not a conflict).
      for (const [tbl, keyed] of changes.byTable) {
        for (const [pk, op] of ctx.state.parkedOps('pull', tbl, [...keyed.keys()])) {
          const c = keyed.get(pk);
          // A parked re-pointing (`P`) is no change of the row: what came since says what the change is.
          if (c && op && op !== 'P') {
            c.firstOp = op;
            c.restored = false;
            c.repointed = false;
          }
        }
      }
      for (const [tbl, keys] of changes.byTable) {
        const table = ctx.plan.byName.get(tbl);
        if (!table) continue;
        images.set(tbl, await fetchImages(conn, table, keys, prev.upto, out.readUpto, joined.get(tbl)));
      }
      // A table whose entries were all skipped (this node's own): its join is not used.
      for (const [tbl, rows] of joined) if (!changes.byTable.has(tbl)) await rows;
      await addChildrenOfRecreated(conn, ctx, changes, images, out.hubNowMs);
      // Parents referenced by these images whose own hub changes come later ride along (parents.ts).
      const work = [...images].flatMap(([tbl, rows]) => {
        const table = ctx.plan.byName.get(tbl);
        return table ? [{ table, rows: [...rows.values()] }] : [];
      });
      for (let w = work.pop(); w; w = work.pop()) {
        for (const [name, missing] of missingParents(w.table, w.rows, changes)) {
          const parent = ctx.plan.byName.get(name);
          if (!parent) continue;
          const later = await laterHubChanges(conn, ctx, name, missing, out.readUpto);
          if (later.size === 0) continue;
          const fetched = await new MysqlTableIO(parent).fetch(conn, [...later.keys()]);
          const admitted: Row[] = [];
          for (const [pk, c] of later) {
            const image = fetched.get(pk);
            if (!image) continue;
            admitted.push(admitParent(changes, images, name, pk, c, image));
          }
          if (admitted.length) work.push({ table: parent, rows: admitted });
        }
      }
      await schemaChecked;
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      // A read that failed because a column went away is the drift the check reports: its answer
      // (re-plan, the table pauses) comes first.
      await schemaChecked;
      throw e;
    }
  });
  return out;
}

/**
 * The log's `at` (DOUBLE) as the server's text, made a number where it is used (Number(e.at)):
 * exact on the pull's connection, which has no typeCast callback (readHubBatch), as through it.
 */
const AT = 'CAST(at AS CHAR) AS at';

/**
 * Sets `row` on the batch's changes under keys other nodes moved a row to (the moves after the
 * cursor): that row's unseen changes among the batch's entries under its keys, the moves' own
 * entries not counted (row-history.ts; null: none). The pull decides a node's copy there by it.
 */
function addRowHistories(
  ctx: SyncContext,
  changes: ChangeSet,
  moves: HubMove[],
  ordered: { e: HubEntry; seq: bigint }[],
  counts: (tbl: string, pk: string, seq: bigint) => boolean,
): void {
  const targets = moves.filter((m) => changes.has(m.table.name, m.newKey));
  if (targets.length === 0) return;
  const tables = new Set(targets.map((m) => m.table.name));
  const byTable = new Map<string, Map<string, HistoryEntry[]>>();
  for (const { e, seq } of ordered) {
    if (e.pk === null || !tables.has(e.tbl)) continue;
    let byKey = byTable.get(e.tbl);
    if (!byKey) {
      byKey = new Map();
      byTable.set(e.tbl, byKey);
    }
    const entry = { seq, pk: e.pk, op: e.op, origin: e.origin, at: Number(e.at) };
    const list = byKey.get(e.pk);
    if (list) list.push(entry);
    else byKey.set(e.pk, [entry]);
  }
  for (const tbl of tables) {
    const links = moves.filter((m) => m.table.name === tbl);
    const byKey = byTable.get(tbl) ?? new Map<string, HistoryEntry[]>();
    for (const m of targets) {
      if (m.table.name !== tbl) continue;
      const c = changes.get(tbl, m.newKey);
      if (!c || c.retry) continue;
      c.row = rowHistory(m.newKey, byKey, links, ctx.nodeId, (pk, e) => counts(tbl, pk, e.seq)) ?? null;
    }
  }
}

/**
 * The latest insert by this node under each key of the batch's entries (`tbl NUL pk` → seq): the
 * batch's own entries, and with `beyond` (a full batch, or entries from holes, older than the
 * batch) the log past them too, read by key. An earlier change by another node under the key was
 * of a row that is gone from it, deleted or moved away by the push that sent this node's insert:
 * applied here, another node's insert made this node's later delete of its own row look like the
 * delete of another row, dropped, and the row written back (operator trial 4, R1).
 */
async function ownInserts(
  conn: PoolConnection,
  ctx: SyncContext,
  ordered: { e: HubEntry; seq: bigint }[],
  beyond: boolean,
  at: { prevUpto: bigint; readUpto: bigint; maxSeq: bigint },
): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  const others = new Map<string, Set<string>>();
  let lowest: bigint | undefined;
  let keyCount = 0;
  for (const { e, seq } of ordered) {
    if (e.pk === null) continue;
    if (e.origin === ctx.nodeId) {
      if (e.op === 'I' || e.op === 'C') out.set(heldKey(e.tbl, e.pk), seq);
      continue;
    }
    if (!beyond) continue;
    let keys = others.get(e.tbl);
    if (!keys) {
      keys = new Set();
      others.set(e.tbl, keys);
    }
    if (!keys.has(e.pk)) keyCount++;
    keys.add(e.pk);
    if (lowest === undefined || seq < lowest) lowest = seq;
  }
  const note = (tbl: string, pk: string, s: string | number) => {
    const k = heldKey(tbl, pk);
    const seq = BigInt(s);
    if (seq > (out.get(k) ?? 0n)) out.set(k, seq);
  };
  if (others.size === 0) return out;
  const from = lowest ?? 0n;
  // The same answer two ways, in the same snapshot: by key (an index probe of the log per key: a
  // few µs of hub time each) or, when the log past the batch's lowest entry is short against the
  // batch's keys (a bulk pull's full batches, the log the node is catching up on), a range scan
  // of the log's primary key, this node's inserts kept (docs/PERFORMANCE.md, "The own inserts'
  // range read"). The range leaves out the batch's own (prevUpto, readUpto]: every entry the
  // snapshot shows there is in `ordered` already, this node's inserts noted above.
  const ranges = ownInsertRanges(from, at.prevUpto, at.readUpto, at.maxSeq);
  if (ranges.rows <= BigInt(keyCount) * OWN_INSERTS_SCAN_PER_KEY) {
    // Nothing past the batch in this snapshot (the log's last full batch): no read at all.
    if (ranges.sql === '') return out;
    const [rows] = await conn.query(
      `SELECT tbl, pk, seq FROM _dualdb_changes FORCE INDEX (PRIMARY)
        WHERE (${ranges.sql}) AND origin = ? AND op IN ('I', 'C') AND tbl IN (?)`,
      [...ranges.params, ctx.nodeId, [...others.keys()]],
    );
    for (const r of rows as { tbl: string; pk: string | null; seq: string | number }[])
      if (r.pk !== null && others.get(r.tbl)?.has(r.pk)) note(r.tbl, r.pk, r.seq);
    return out;
  }
  for (const [tbl, keys] of others) {
    const list = [...keys];
    for (let i = 0; i < list.length; i += 500) {
      const [rows] = await conn.query(
        `SELECT pk, MAX(seq) AS seq FROM _dualdb_changes FORCE INDEX (_dualdb_changes_key)
          WHERE tbl = ? AND pk IN (?) AND origin = ? AND op IN ('I', 'C') AND seq > ? GROUP BY pk`,
        [tbl, list.slice(i, i + 500), ctx.nodeId, from],
      );
      for (const r of rows as { pk: string; seq: string | number }[]) note(tbl, r.pk, r.seq);
    }
  }
  return out;
}

/**
 * The log ranges ownInserts reads past `from` (the batch's lowest entry of another node): `seq >
 * from` less the batch's own range (prevUpto, readUpto], whose entries the batch holds. What is
 * left is the log before the batch back to an older hole's entry, (from, prevUpto], and the log
 * past the batch, (readUpto, …) — no upper bound: `maxSeq` (the snapshot's MAX(seq)) only sizes it
 * (`rows`, an upper bound of the entries scanned). `sql` is '' when both are empty.
 */
export function ownInsertRanges(
  from: bigint,
  prevUpto: bigint,
  readUpto: bigint,
  maxSeq: bigint,
): { sql: string; params: bigint[]; rows: bigint } {
  const parts: string[] = [];
  const params: bigint[] = [];
  let rows = 0n;
  if (from < prevUpto) {
    parts.push('(seq > ? AND seq <= ?)');
    params.push(from, prevUpto);
    rows += prevUpto - from;
  }
  const after = readUpto > from ? readUpto : from;
  if (maxSeq > after) {
    parts.push('seq > ?');
    params.push(after);
    rows += maxSeq - after;
  }
  return { sql: parts.join(' OR '), params, rows };
}

/**
 * Log entries past a full batch's lowest one per key of the batch under which ownInserts reads the
 * range rather than probing by key: a primary-key range row costs the hub a small fraction of a
 * key probe (measured ~25×, docs/PERFORMANCE.md), so a range up to this many times the keys costs
 * at most about what the probes would.
 */
export const OWN_INSERTS_SCAN_PER_KEY = 10n;

/** The key column of a table whose images come from the join with the log range (fetchImages). */
function joinKey(table: SyncTable): { name: string } | undefined {
  const k = table.key.length === 1 ? table.key[0] : undefined;
  return k?.type === 'integer' ? k : undefined;
}

/**
 * The log range (after, upto] joined with the table on the key: the hub's current image for each
 * entry of the range (an index lookup per entry, no key list to send or parse).
 */
function joinImages(conn: PoolConnection, table: SyncTable, key: { name: string }, after: bigint, upto: bigint): Promise<Row[]> {
  const io = new MysqlTableIO(table);
  const cols = io.readList('t');
  // STRAIGHT_JOIN: the log range drives, the table is probed by its primary key (DECIMAL(65,0)
  // holds every signed and unsigned BIGINT exactly).
  return conn
    .query(
      `SELECT STRAIGHT_JOIN ${cols} FROM _dualdb_changes c
         JOIN ${quoteMysqlId(table.name)} t ON t.${quoteMysqlId(key.name)} = CAST(c.pk AS DECIMAL(65,0))
        WHERE c.seq > ? AND c.seq <= ? AND c.tbl = ?`,
      [after, upto, table.name],
    )
    .then(([rows]) => io.numbersFromText(rows as Row[]));
}

/**
 * The joins (joinImages) of the tables with entries of other nodes in the batch, sent at once: the
 * hub runs them while the node goes through the entries (docs/PERFORMANCE.md, "Pull: the images
 * asked for early"). Awaited by fetchImages, or where a table's changes came to nothing.
 */
function joinImagesEarly(
  conn: PoolConnection,
  ctx: SyncContext,
  entries: HubEntry[],
  after: bigint,
  upto: bigint,
): Map<string, Promise<Row[]>> {
  const out = new Map<string, Promise<Row[]>>();
  if (upto <= after) return out;
  let last: string | undefined;
  for (const e of entries) {
    if (e.tbl === last || e.pk === null || e.origin === ctx.nodeId || e.op === 'R' || out.has(e.tbl)) continue;
    last = e.tbl;
    const table = ctx.plan.byName.get(e.tbl);
    const key = table && joinKey(table);
    if (!table || !key) continue;
    const rows = joinImages(conn, table, key, after, upto);
    rows.catch(() => {}); // awaited later; a read failing before then must not go unhandled
    out.set(e.tbl, rows);
  }
  return out;
}

/**
 * The hub's current images of a batch's keys. A table keyed by one integer column is read in one
 * query, the log range joined with the table (joinImages; `joined` when already asked for); keys
 * from outside the range (open holes, parked retries) and every other table are looked up by key
 * lists (mysql-io.ts).
 */
async function fetchImages(
  conn: PoolConnection,
  table: SyncTable,
  keys: Map<string, KeyChange>,
  after: bigint,
  upto: bigint,
  joined?: Promise<Row[]>,
): Promise<Map<string, Row>> {
  const io = new MysqlTableIO(table);
  const k = joinKey(table);
  if (!k || upto <= after) return io.fetch(conn, [...keys.keys()]);
  const out = new Map<string, Row>();
  const rows = await (joined ?? joinImages(conn, table, k, after, upto));
  for (const row of rows) {
    const key = io.keyOf(row);
    if (keys.has(key)) out.set(key, row);
  }
  // Keys seen outside the range (holes, retries, parents) are not in the join.
  const rest: string[] = [];
  for (const [key, c] of keys) if (!out.has(key) && (c.retry || c.maxSeq <= after || c.maxSeq > upto)) rest.push(key);
  if (rest.length) for (const [key, row] of await io.fetch(conn, rest)) out.set(key, row);
  return out;
}

/**
 * Keys (heldKey form) of this batch's hub changes under which this node's own collision push placed
 * the hub's row, its own row moving away: key → the latest hub seq that image held
 * (RekeyStore.placedHubSeqs). Pulled again, such a change is no news; taken for an unseen insert,
 * it made the application's delete of the placed row one "of another row", and the pull wrote the
 * row back (operator trial 5, N1).
 */
function placedHere(ctx: SyncContext, entries: { e: HubEntry }[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const store = new RekeyStore(ctx.db);
  // Only the tables with placed rows at all (RekeyStore.anyPlaced): their keys are collected.
  const tables = new Map<string, boolean>();
  const byTable = new Map<string, Set<string>>();
  for (const { e } of entries) {
    if (e.pk === null || e.origin === ctx.nodeId || e.op === 'R') continue;
    let any = tables.get(e.tbl);
    if (any === undefined) {
      any = store.anyPlaced(e.tbl, 0n);
      tables.set(e.tbl, any);
    }
    if (!any) continue;
    const keys = byTable.get(e.tbl) ?? new Set<string>();
    keys.add(e.pk);
    byTable.set(e.tbl, keys);
  }
  if (byTable.size === 0) return out;
  for (const [tbl, keys] of byTable)
    for (const [k, seq] of store.placedHubSeqs(tbl, [...keys], 0n)) out.set(heldKey(tbl, k), seq);
  return out;
}

/** Hub changes after `after` (not this node's own) to the given keys: key → latest seq and time, first op. */
async function laterHubChanges(
  conn: PoolConnection,
  ctx: SyncContext,
  table: string,
  keys: string[],
  after: bigint,
): Promise<Map<string, { seq: bigint; at: number; firstOp: LoggedOp }>> {
  const out = new Map<string, { seq: bigint; at: number; firstOp: LoggedOp }>();
  for (let i = 0; i < keys.length; i += 500) {
    const [rows] = await conn.query(
      `SELECT pk, seq, op, ${AT} FROM _dualdb_changes
        WHERE tbl = ? AND pk IN (?) AND seq > ? AND (origin IS NULL OR origin <> ?) ORDER BY seq`,
      [table, keys.slice(i, i + 500), after, ctx.nodeId],
    );
    for (const r of rows as { pk: string; seq: string | number; op: LoggedOp; at: number }[]) {
      const prev = out.get(r.pk);
      // A re-pointing (`P`) first is no change of the row: a later entry that is one says what it is.
      const first = prev && (prev.firstOp !== 'P' || r.op === 'P') ? prev.firstOp : r.op;
      out.set(r.pk, { seq: BigInt(r.seq), at: Math.max(prev?.at ?? 0, Number(r.at)), firstOp: first });
    }
  }
  return out;
}

/**
 * A row deleted and re-created on the hub is deleted here first, which runs its ON DELETE
 * cascades locally (pull.ts): the hub's current children of it ride along in this batch, so a
 * child the hub still has (one placed here since the delete, e.g. a moved row) is written again.
 */
async function addChildrenOfRecreated(
  conn: PoolConnection,
  ctx: SyncContext,
  changes: ChangeSet,
  images: Map<string, Map<string, Row>>,
  nowMs: number,
): Promise<void> {
  for (const [tbl, keyed] of [...changes.byTable]) {
    const table = ctx.plan.byName.get(tbl);
    if (!table?.hubCascades) continue;
    const recreated: string[] = [];
    for (const [k, c] of keyed) if (c.deleted) recreated.push(k);
    if (recreated.length === 0) continue;
    for (const { child, column } of referencingColumns(ctx.plan, table)) {
      const io = new MysqlTableIO(child);
      for (let i = 0; i < recreated.length; i += 500) {
        const [rows] = await conn.query(
          `SELECT ${io.readList()} FROM ${quoteMysqlId(child.name)} WHERE ${quoteMysqlId(column)} IN (?)`,
          [recreated.slice(i, i + 500)],
        );
        for (const row of io.numbersFromText(rows as Row[])) {
          const pk = io.keyOf(row);
          if (changes.has(child.name, pk)) continue;
          changes.add(child.name, pk, 0n, nowMs, 'U', true);
          let m = images.get(child.name);
          if (!m) {
            m = new Map();
            images.set(child.name, m);
          }
          m.set(pk, row);
        }
      }
    }
  }
}
