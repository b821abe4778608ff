/**
 * The node's own bookkeeping in its SQLite file (`_dualdb_*` tables): node id,
 * cursors, sequence holes, parked changes and conflicts. Every write here that
 * belongs to an apply happens inside that apply's transaction.
 */

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Statement } from 'better-sqlite3';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { asOp, type LoggedOp } from './changeset.js';

/** A key's unpushed local changes, coalesced. */
export interface PendingChange {
  seq: bigint;
  at: number;
  firstOp: 'I' | 'U' | 'D';
  /** A delete is among them (the row was deleted, and maybe created again). */
  deleted: boolean;
  /** Every one is an update a parent's delete made (`N`), none parked (sync/fk-implied.ts). */
  implied: boolean;
}

export interface PullState {
  /** Every hub seq <= upto is applied (or provably dead), except the holes. */
  upto: bigint;
  /** Hub seqs below `upto` not seen yet: maybe a transaction that has not committed. */
  holes: Map<bigint, number>;
}

export interface ParkedChange {
  id: number;
  direction: 'push' | 'pull';
  tbl: string;
  pk: string | null;
  error: string;
  attempts: number;
  firstAt: string;
  lastAt: string;
  nextRetryMs: number | null;
  /**
   * The first logged operation of the parked change (an insert makes it a collision candidate).
   * Pull only, `P`: the hub's change is a re-pointing by a parent's move, no change of the row
   * (changeset.ts `repointed`), unless a later change parked under the key says otherwise.
   */
  firstOp: 'I' | 'U' | 'D' | 'P' | null;
  /**
   * Push only: when the parked change was made (ms, the latest change-log entry it carries), the
   * time its retry is weighed at (newest-wins), not the time of the retry. Null: parked by a
   * version that did not keep it (its last attempt stands in).
   */
  changedMs: number | null;
}

export interface ConflictRecord {
  id: number;
  tbl: string;
  pk: string;
  detectedAt: string;
  /**
   * Which step found it: a push or a pull, or `resolve` (`dualdb rekeys resolve` settling a copy
   * the node had edited, since 2026-12-07; recorded as `push` before). Any other stored text is
   * shown as it is.
   */
  detectedIn: 'push' | 'pull' | 'resolve';
  policy: string;
  winner: 'node' | 'hub' | null;
  status: 'resolved' | 'open';
  nodeImage: string | null;
  hubImage: string | null;
  nodeAt: number | null;
  hubAt: number | null;
  nodeSeq: bigint;
  hubSeq: bigint;
  resolvedAt: string | null;
}

/**
 * Why a parked change waits: its table is paused by schema drift (sent by itself once the schemas
 * match), its parent row is not settled yet (a key collision, a parent parked on its way: it
 * follows by itself), or it failed (fix the cause, then `dualdb parked retry`).
 */
export function parkedCause(p: Pick<ParkedChange, 'error'>): 'paused' | 'waiting' | 'failed' {
  if (p.error.startsWith('table not synced')) return 'paused';
  if (p.error.startsWith('waits for ')) return 'waiting';
  return 'failed';
}

/** A conflict row of a user table, not of dualdb's own (`_dualdb_…`; `_` is a LIKE wildcard, hence substr). */
const USER_TABLE = "substr(tbl, 1, 8) <> '_dualdb_'";

/**
 * SQL: when a parked change was made, in ms: `changed_ms`, or for one parked by a version that did
 * not keep it, its last attempt (whole seconds; no earlier than the change).
 */
export const PARKED_CHANGED_MS = 'coalesce(changed_ms, (julianday(last_at) - 2440587.5) * 86400000.0)';

/** When a parked change was made, in ms (PARKED_CHANGED_MS, read from a ParkedChange). */
export function parkedChangedMs(p: Pick<ParkedChange, 'changedMs' | 'lastAt'>): number {
  return p.changedMs ?? Date.parse(`${p.lastAt.replace(' ', 'T')}Z`);
}

/** Delays of the automatic retries of a parked change; after the last, only `dualdb parked retry`. */
export const PARK_RETRY_MS = [5_000, 30_000, 120_000, 600_000, 3_600_000];

/** Key-list lengths of the keyed lookups' statements (NULL-padded up to the next one). */
const KEY_LIST_SIZES = [8, 64, 400];

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v ?? 0))));

export function generateNodeId(): string {
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .slice(0, 40) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

export class LocalState {
  constructor(readonly db: SqliteDb) {}

  /** Statements the sync loop runs several times a second, compiled once (idle CPU). */
  private readonly cached = new Map<string, Statement<unknown[]>>();

  private cachedStatement(sql: string): Statement<unknown[]> {
    let st = this.cached.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.cached.set(sql, st);
    }
    return st;
  }

  /**
   * Rows of `FROM … WHERE where` whose `pk` is one of `keys`. When the rows matching `where` alone
   * are few (at most four per key: the usual case, nothing or little parked or unpushed), they are
   * read in one go and filtered here; otherwise the keys go in lists, each padded with NULLs (which
   * match no key) to one of a few lengths, so that every statement is compiled once, not once per
   * chunk (a 2,000-row pull compiled fifteen 400-key statements and probed the index per key).
   */
  private keyedRows<R extends { pk: string }>(
    select: string,
    where: string,
    params: unknown[],
    keys: readonly string[],
    orderBy = '',
  ): R[] {
    if (keys.length === 0) return [];
    const limit = Math.max(64, keys.length * 4);
    const few = this.cachedStatement(`${select} WHERE ${where} ${orderBy} LIMIT ?`).all(...params, limit + 1) as R[];
    if (few.length <= limit) {
      if (few.length === 0) return few;
      const wanted = new Set(keys);
      return few.filter((r) => wanted.has(r.pk));
    }
    const out: R[] = [];
    const largest = KEY_LIST_SIZES[KEY_LIST_SIZES.length - 1] as number;
    for (let i = 0; i < keys.length; i += largest) {
      const left = keys.length - i;
      const size = KEY_LIST_SIZES.find((n) => n >= left) ?? largest;
      const list = new Array<string | null>(size).fill(null);
      for (let j = 0; j < size && i + j < keys.length; j++) list[j] = keys[i + j] as string;
      const st = this.cachedStatement(`${select} WHERE ${where} AND pk IN (${new Array(size).fill('?').join(', ')}) ${orderBy}`);
      for (const r of st.all(...params, ...list) as R[]) out.push(r);
    }
    return out;
  }

  getMeta(key: string): string | undefined {
    const r = this.cachedStatement('SELECT value FROM _dualdb_meta WHERE key = ?').get(key) as
      | { value: string | null }
      | undefined;
    return r?.value ?? undefined;
  }

  setMeta(key: string, value: string | null): void {
    // Compiled once: a push sets several of these (cursor, token, pending marker) for every batch.
    if (value === null) this.cachedStatement('DELETE FROM _dualdb_meta WHERE key = ?').run(key);
    else
      this.cachedStatement(
        'INSERT INTO _dualdb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ).run(key, value);
  }

  /** The stable node id: from NODE_ID when given (and then stored), else the stored one, else a new one. */
  nodeId(configured?: string): string {
    const stored = this.getMeta('node_id');
    if (configured && configured !== stored) {
      this.setMeta('node_id', configured);
      return configured;
    }
    if (stored) return stored;
    const id = generateNodeId();
    this.setMeta('node_id', id);
    return id;
  }

  /**
   * The local moves generation: bumped by every move of keys on this node (a re-key's node half,
   * a hub move applied or settled here), in the move's own SQLite transaction. A push compares it
   * with the one its batch was read under before it records anything (push-record.ts): a move in
   * between (`rekeys resolve` in another process, operator trial 4, M1) makes the batch stale.
   */
  movesGeneration(): bigint {
    return BigInt(this.getMeta('moves_generation') ?? '0');
  }

  /** Call inside the move's transaction. */
  bumpMovesGeneration(): void {
    this.cachedStatement(
      "INSERT INTO _dualdb_meta (key, value) VALUES ('moves_generation', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    ).run();
  }

  /** Local copy of the hub's push cursor for this node (the hub's copy is authoritative). */
  pushedUpto(): bigint {
    return BigInt(this.getMeta('pushed_upto') ?? '0');
  }

  setPushedUpto(seq: bigint): void {
    this.setMeta('pushed_upto', seq.toString());
  }

  /** The pull cursor alone: every hub log position up to it was taken before it was stored. */
  pullUpto(): bigint {
    const r = this.cachedStatement('SELECT upto FROM _dualdb_pull_state WHERE id = 1').get() as
      | { upto: bigint | number }
      | undefined;
    return big(r?.upto ?? 0);
  }

  pullState(): PullState {
    const upto = this.pullUpto();
    const holes = new Map<bigint, number>();
    for (const h of this.cachedStatement('SELECT seq, first_seen_ms FROM _dualdb_pull_holes').all() as {
      seq: bigint;
      first_seen_ms: number;
    }[]) {
      holes.set(big(h.seq), Number(h.first_seen_ms));
    }
    return { upto, holes };
  }

  /** Call inside the apply transaction. */
  savePullState(state: PullState, previous: PullState): void {
    this.db.prepare("UPDATE _dualdb_pull_state SET upto = ?, updated_at = datetime('now') WHERE id = 1").run(state.upto);
    const del = this.db.prepare('DELETE FROM _dualdb_pull_holes WHERE seq = ?');
    for (const seq of previous.holes.keys()) if (!state.holes.has(seq)) del.run(seq);
    const ins = this.db.prepare('INSERT OR IGNORE INTO _dualdb_pull_holes (seq, first_seen_ms) VALUES (?, ?)');
    for (const [seq, first] of state.holes) if (!previous.holes.has(seq)) ins.run(seq, first);
  }

  /** Local changes not pushed yet (count and age of the oldest). */
  /** Unpushed local changes; `userOnly` leaves out dualdb's own heartbeat rows. */
  pendingPush(userOnly = false): { count: number; oldestMs: number | null; maxSeq: bigint } {
    const pushed = this.pushedUpto();
    const filter = userOnly ? " AND tbl NOT LIKE '\\_dualdb\\_%' ESCAPE '\\'" : '';
    const r = this.db
      .prepare(`SELECT count(*) AS n, min(at) AS oldest, max(seq) AS maxSeq FROM _dualdb_changes WHERE seq > ?${filter}`)
      .get(pushed) as {
      n: bigint;
      oldest: number | null;
      maxSeq: bigint | null;
    };
    return { count: Number(r.n), oldestMs: r.oldest === null ? null : Number(r.oldest), maxSeq: big(r.maxSeq ?? pushed) };
  }

  pendingPushByTable(): Map<string, number> {
    const rows = this.db
      .prepare('SELECT tbl, count(*) AS n FROM _dualdb_changes WHERE seq > ? GROUP BY tbl')
      .all(this.pushedUpto()) as { tbl: string; n: bigint }[];
    return new Map(rows.map((r) => [r.tbl, Number(r.n)]));
  }

  /** Unpushed local changes of the given keys: key → latest seq and time, first op. Call inside the apply transaction. */
  pendingKeys(table: string, keys: string[]): Map<string, PendingChange> {
    const out = this.changesAfter(table, keys, this.pushedUpto());
    // A parked push is local data the hub does not have yet, as much as a logged one.
    const rows = this.keyedRows<{ pk: string; first_op: 'I' | 'U' | 'D' | null; at: number }>(
      `SELECT pk, first_op, ${PARKED_CHANGED_MS} AS at FROM _dualdb_parked`,
      "direction = 'push' AND tbl = ?",
      [table],
      keys,
    );
    for (const r of rows) {
      const logged = out.get(r.pk);
      out.set(r.pk, {
        seq: logged?.seq ?? 0n,
        at: logged?.at ?? Number(r.at),
        firstOp: r.first_op ?? logged?.firstOp ?? 'U',
        deleted: (logged?.deleted ?? false) || r.first_op === 'D',
        implied: false,
      });
    }
    return out;
  }

  /**
   * Local change-log entries after `after` for the given keys: key → latest seq and time, the first
   * op, and whether a delete is among them (the row was deleted, and maybe created again).
   */
  changesAfter(table: string, keys: string[], after: bigint): Map<string, PendingChange> {
    const out = new Map<string, PendingChange>();
    // In log order per key (a key is in one chunk only, and each chunk comes sorted).
    const rows = this.keyedRows<{ pk: string; seq: bigint; op: LoggedOp; at: number }>(
      'SELECT pk, seq, op, at FROM _dualdb_changes',
      'seq > ? AND tbl = ?',
      [after, table],
      keys,
      'ORDER BY seq',
    );
    for (const r of rows) {
      const prev = out.get(r.pk);
      out.set(r.pk, {
        seq: big(r.seq),
        at: Math.max(prev?.at ?? 0, Number(r.at)),
        firstOp: prev?.firstOp ?? asOp(r.op),
        deleted: (prev?.deleted ?? false) || r.op === 'D',
        implied: (prev?.implied ?? true) && r.op === 'N',
      });
    }
    return out;
  }

  /** Forget unpushed local changes of a key (the hub's version won a conflict and was applied). */
  dropPendingKey(table: string, key: string): void {
    this.db.prepare('DELETE FROM _dualdb_changes WHERE tbl = ? AND pk = ? AND seq > ?').run(table, key, this.pushedUpto());
  }

  // ---- parked changes (docs/SYNC-CONTRACT.md, invariant 11) ----

  /**
   * Park a change that failed; it is retried automatically with growing delays, then only on request.
   * `waiting`: not a failure but a table that is not synced now (paused by schema drift): no attempt
   * is counted and the change is due as soon as the table is synced again.
   */
  park(
    direction: 'push' | 'pull',
    tbl: string,
    pk: string | null,
    error: string,
    options: { waiting?: boolean; firstOp?: ParkedChange['firstOp']; changedMs?: number } = {},
  ): void {
    // When the change was made (push; the newest of what it carries once parked again with a later edit).
    const changed = options.changedMs ?? null;
    const prev = this.db
      .prepare('SELECT attempts FROM _dualdb_parked WHERE direction = ? AND tbl = ? AND pk IS ?')
      .get(direction, tbl, pk) as { attempts: bigint | number } | undefined;
    const attempts = Number(prev?.attempts ?? 0) + (options.waiting ? 0 : 1);
    const delay = options.waiting ? 0 : PARK_RETRY_MS[attempts - 1];
    const next = delay === undefined ? null : Date.now() + delay;
    if (prev) {
      this.db
        .prepare(
          "UPDATE _dualdb_parked SET error = ?, attempts = ?, last_at = datetime('now'), next_retry_ms = ?, first_op = CASE WHEN first_op IS NULL OR first_op = 'P' THEN ? ELSE first_op END, changed_ms = coalesce(max(changed_ms, ?), ?, changed_ms) WHERE direction = ? AND tbl = ? AND pk IS ?",
        )
        // A re-pointing parked first (`P`) gives way to a change of the row parked after it.
        .run(error, attempts, next, options.firstOp ?? null, changed, changed, direction, tbl, pk);
    } else {
      this.db
        .prepare(
          `INSERT INTO _dualdb_parked (direction, tbl, pk, error, attempts, first_at, last_at, next_retry_ms, first_op, changed_ms)
           VALUES (?, ?, ?, ?, ?, datetime('now'), datetime('now'), ?, ?, ?)`,
        )
        .run(direction, tbl, pk, error, attempts, next, options.firstOp ?? null, changed);
    }
  }

  /** How many changes (either way) are parked per table, for the given tables. */
  parkedCounts(tables: string[]): Map<string, number> {
    if (tables.length === 0) return new Map();
    const rows = this.db
      .prepare(`SELECT tbl, COUNT(*) AS n FROM _dualdb_parked WHERE tbl IN (${tables.map(() => '?').join(', ')}) GROUP BY tbl`)
      .all(...tables) as { tbl: string; n: bigint | number }[];
    return new Map(rows.map((r) => [r.tbl, Number(r.n)]));
  }

  unpark(direction: 'push' | 'pull', tbl: string, pk: string | null): void {
    this.db.prepare('DELETE FROM _dualdb_parked WHERE direction = ? AND tbl = ? AND pk IS ?').run(direction, tbl, pk);
  }

  parked(direction?: 'push' | 'pull'): ParkedChange[] {
    const rows = (
      direction
        ? this.db.prepare('SELECT * FROM _dualdb_parked WHERE direction = ? ORDER BY id').all(direction)
        : this.db.prepare('SELECT * FROM _dualdb_parked ORDER BY id').all()
    ) as Record<string, unknown>[];
    return rows.map(toParked);
  }

  /**
   * Parked changes whose automatic retry is due, at most `limit`, soonest first: read through the
   * (direction, next_retry_ms) index, so a batch costs the same whether 10 or 100,000 are parked.
   */
  dueParked(direction: 'push' | 'pull', now = Date.now(), limit = 1000): ParkedChange[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM _dualdb_parked WHERE direction = ? AND next_retry_ms IS NOT NULL AND next_retry_ms <= ? ORDER BY next_retry_ms, id LIMIT ?',
      )
      .all(direction, now, limit) as Record<string, unknown>[];
    return rows.map(toParked);
  }

  /** Which of these keys of one table are parked (a keyed lookup, not a scan of every parked change). */
  parkedKeys(direction: 'push' | 'pull', tbl: string, keys: string[]): Set<string> {
    return new Set(this.parkedOps(direction, tbl, keys).keys());
  }

  /** The parked changes of these keys of one table: key → the operation they began with, if known. */
  parkedOps(direction: 'push' | 'pull', tbl: string, keys: string[]): Map<string, ParkedChange['firstOp']> {
    const out = new Map<string, ParkedChange['firstOp']>();
    const rows = this.keyedRows<{ pk: string; first_op: ParkedChange['firstOp'] }>(
      'SELECT pk, first_op FROM _dualdb_parked',
      'direction = ? AND tbl = ?',
      [direction, tbl],
      keys,
    );
    for (const r of rows) out.set(r.pk, r.first_op ?? null);
    return out;
  }

  /**
   * The ids of the parked push retries among these keys (a push's sent rows: push-record.ts takes
   * them before the batch's moves re-key them, and drops them by id once the hub's COMMIT is known).
   * One statement, compiled once: the keys go in as one JSON list, each looked up on the
   * (direction, tbl, pk) key; CROSS JOIN keeps the list the outer loop, so the cost follows the
   * batch, not the number parked.
   */
  parkedPushIds(keys: readonly { tbl: string; pk: string }[]): number[] {
    if (keys.length === 0) return [];
    const rows = this.cachedStatement(
      "SELECT DISTINCT p.id FROM json_each(?) AS k CROSS JOIN _dualdb_parked AS p WHERE p.direction = 'push' AND p.tbl = k.value ->> 0 AND p.pk = k.value ->> 1",
    ).all(JSON.stringify(keys.map((x) => [x.tbl, x.pk]))) as { id: number | bigint }[];
    return rows.map((r) => Number(r.id));
  }

  /** Make parked changes due now (after the user fixed the cause). */
  retryParked(ids?: number[]): number {
    if (ids?.length) {
      let n = 0;
      for (const id of ids) n += this.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE id = ?').run(id).changes;
      return n;
    }
    return this.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0').run().changes;
  }

  // ---- conflicts (docs/SYNC-CONTRACT.md, invariant 6) ----

  recordConflict(c: Omit<ConflictRecord, 'id' | 'detectedAt' | 'resolvedAt'>): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO _dualdb_conflicts
           (tbl, pk, detected_at, detected_in, policy, winner, status, node_image, hub_image, node_at, hub_at, node_seq, hub_seq, resolved_at)
         VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? = 'resolved' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END)`,
      )
      .run(
        c.tbl,
        c.pk,
        c.detectedIn,
        c.policy,
        c.winner,
        c.status,
        c.nodeImage,
        c.hubImage,
        c.nodeAt,
        c.hubAt,
        c.nodeSeq,
        c.hubSeq,
        c.status,
      );
  }

  /** User conflicts: dualdb's own tables (heartbeats, recorded by older versions) are left out. */
  conflicts(options: { status?: 'open' | 'resolved'; limit?: number } = {}): ConflictRecord[] {
    const where = `WHERE ${USER_TABLE}${options.status ? ' AND status = ?' : ''}`;
    const params: unknown[] = options.status ? [options.status] : [];
    const rows = this.db
      .prepare(`SELECT * FROM _dualdb_conflicts ${where} ORDER BY id DESC LIMIT ?`)
      .all(...params, options.limit ?? 1000) as Record<string, unknown>[];
    return rows.map(toConflict);
  }

  conflict(id: number): ConflictRecord | undefined {
    const r = this.db.prepare('SELECT * FROM _dualdb_conflicts WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toConflict(r) : undefined;
  }

  settleConflict(id: number, winner: 'node' | 'hub'): void {
    this.db
      .prepare(
        "UPDATE _dualdb_conflicts SET status = 'resolved', winner = ?, resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
      )
      .run(winner, id);
  }

  /** Keys held by open (manual) conflicts and key collisions: neither push nor pull touches them until resolved. */
  heldKeys(): Set<string> {
    const rows = this.db
      .prepare(
        `SELECT tbl, pk FROM _dualdb_conflicts WHERE status = 'open'
         UNION ALL SELECT tbl, old_key FROM _dualdb_rekeys WHERE status = 'held'`,
      )
      .all() as { tbl: string; pk: string }[];
    return new Set(rows.map((r) => heldKey(r.tbl, r.pk)));
  }

  conflictCounts(): { open: number; total: number } {
    const r = this.db
      .prepare(`SELECT count(*) AS total, sum(status = 'open') AS open FROM _dualdb_conflicts WHERE ${USER_TABLE}`)
      .get() as {
      total: bigint;
      open: bigint | null;
    };
    return { open: Number(r.open ?? 0), total: Number(r.total) };
  }
}

export function heldKey(table: string, pk: string): string {
  return `${table}\u0000${pk}`;
}

function toConflict(r: Record<string, unknown>): ConflictRecord {
  return {
    id: Number(r.id),
    tbl: String(r.tbl),
    pk: String(r.pk),
    detectedAt: String(r.detected_at),
    detectedIn: String(r.detected_in) as ConflictRecord['detectedIn'],
    policy: String(r.policy),
    winner: (r.winner as 'node' | 'hub' | null) ?? null,
    status: r.status as 'open' | 'resolved',
    nodeImage: (r.node_image as string | null) ?? null,
    hubImage: (r.hub_image as string | null) ?? null,
    nodeAt: r.node_at === null ? null : Number(r.node_at),
    hubAt: r.hub_at === null ? null : Number(r.hub_at),
    nodeSeq: big(r.node_seq),
    hubSeq: big(r.hub_seq),
    resolvedAt: (r.resolved_at as string | null) ?? null,
  };
}

function toParked(r: Record<string, unknown>): ParkedChange {
  return {
    id: Number(r.id),
    direction: r.direction as 'push' | 'pull',
    tbl: String(r.tbl),
    pk: r.pk === null ? null : String(r.pk),
    error: String(r.error),
    attempts: Number(r.attempts),
    firstAt: String(r.first_at),
    lastAt: String(r.last_at),
    nextRetryMs: r.next_retry_ms === null ? null : Number(r.next_retry_ms),
    firstOp: (r.first_op as ParkedChange['firstOp'] | undefined) ?? null,
    changedMs: r.changed_ms === null || r.changed_ms === undefined ? null : Number(r.changed_ms),
  };
}
