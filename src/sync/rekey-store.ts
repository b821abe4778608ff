/**
 * The node's record of key collisions (`_dualdb_rekeys`, docs/SYNC-CONTRACT.md invariant 13):
 * every row moved to a new generated key, with both images, which side moved and when; rows
 * held apart by SYNC_KEY_COLLISIONS=manual until `dualdb rekeys resolve`; and collisions a pull
 * saw, which the next push resolves (it holds the hub transaction that allocates keys).
 */

import type Database from 'better-sqlite3';
import { PARKED_DUE_INDEX } from '../capture/sqlite-capture.js';
import type { KeyCollisionMode } from '../config/schema.js';
import type { SqliteDb } from '../engines/sqlite/open.js';

/**
 * `unconfirmed`: a rekey-hub move whose hub COMMIT is not known yet (push-record.ts
 * markPlacedUnsettled): done once the hub is known to have it, dropped if the next collision
 * settles the copy instead (the move did not happen; that collision's record tells what did).
 */
export type RekeyStatus = 'done' | 'held' | 'pending' | 'unconfirmed' | 'closed';

/**
 * Why a held collision closed without a move (`closed`, RekeyStore.closeHeld): whose row left
 * the key — the node's (deleted by the application, or the hub's row itself stands there now),
 * the hub's (deleted or moved away on the hub), or both.
 */
export type RekeyCloseReason = 'node-row-gone' | 'hub-row-gone' | 'both-rows-gone';

/** One table's key collisions by state (`dualdb status`). */
export interface CollisionCounts {
  /** Waiting for `dualdb rekeys resolve` (SYNC_KEY_COLLISIONS=manual). */
  held: number;
  /** Waiting for a held parent, or for the next sync to settle them. */
  pending: number;
  /** Settled: one row moved to a new key. */
  done: number;
  /** Moved by a push whose hub COMMIT is not confirmed yet. */
  unconfirmed: number;
  /** Closed without a move: one of the two rows left the key (manual mode, `reason` says whose). */
  closed: number;
}

export interface RekeyRecord {
  id: number;
  tbl: string;
  oldKey: string;
  newKey: string | null;
  /** Which side's row got the new key. */
  moved: 'node' | 'hub' | null;
  status: RekeyStatus;
  detectedIn: 'push' | 'pull' | 'resolve';
  mode: KeyCollisionMode;
  nodeImage: string | null;
  hubImage: string | null;
  hubSeq: bigint | null;
  at: string;
  resolvedAt: string | null;
  /** Set on `closed` records only: whose row left the key. */
  reason: RekeyCloseReason | null;
}

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/** Keys whose hub row a push took here, with the hub seq its image held (RekeyStore.recordTake). */
const TAKEN_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_taken (
     tbl TEXT NOT NULL,
     pk TEXT NOT NULL,
     hub_seq INTEGER NOT NULL,
     PRIMARY KEY (tbl, pk)
   )`;

export class RekeyStore {
  /** Prepared once per store: a batch may record thousands of moves. */
  private readonly statements = new Map<string, Database.Statement<unknown[]>>();

  constructor(private readonly db: SqliteDb) {}

  private sql(text: string): Database.Statement<unknown[]> {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare<unknown[]>(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** Open records (held or pending) of these keys: key → record. */
  open(tbl: string, keys: string[]): Map<string, RekeyRecord> {
    const out = new Map<string, RekeyRecord>();
    for (let i = 0; i < keys.length; i += 400) {
      const chunk = keys.slice(i, i + 400);
      const rows = this.sql(
        `SELECT * FROM _dualdb_rekeys WHERE tbl = ? AND status IN ('held', 'pending') AND old_key IN (${chunk.map(() => '?').join(', ')})`,
      ).all(tbl, ...chunk) as Record<string, unknown>[];
      for (const r of rows) out.set(String(r.old_key), toRecord(r));
    }
    return out;
  }

  /**
   * Keys under which this node wrote the hub's row itself: when its own row moved away (`moved =
   * 'node'`), or when its colliding row was gone and the push took the hub's (`_dualdb_taken`,
   * `recordTake`): key → the latest hub seq that row's image held. Only where there was a row to
   * write: its lookup locked it, so nothing under the key came after that seq. A key found empty was
   * not locked (READ COMMITTED): a hub writer may have inserted there before the log was read. Those hub changes are seen here
   * although the pull cursor has not passed them: a delete of the row by the application here is of
   * that row, not of another (decide.ts `deletesAnotherRow`; operator trial 5, N1 and N1b).
   */
  placedHubSeqs(tbl: string, keys: string[], after: bigint): Map<string, bigint> {
    const out = new Map<string, bigint>();
    const taken = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_taken'").get() !== undefined;
    if (!this.anyPlaced(tbl, after, taken)) return out;
    for (let i = 0; i < keys.length; i += 400) {
      const chunk = keys.slice(i, i + 400);
      const list = chunk.map(() => '?').join(', ');
      const rows = this.sql(
        `SELECT old_key, MAX(hub_seq) AS hub_seq FROM _dualdb_rekeys
          WHERE tbl = ? AND old_key IN (${list}) AND moved = 'node' AND status = 'done' AND hub_image IS NOT NULL AND hub_seq > ?
          GROUP BY old_key${taken ? ` UNION ALL SELECT pk, hub_seq FROM _dualdb_taken WHERE tbl = ? AND pk IN (${list}) AND hub_seq > ?` : ''}`,
      )
        .safeIntegers()
        .all(tbl, ...chunk, after, ...(taken ? [tbl, ...chunk, after] : [])) as { old_key: string; hub_seq: bigint }[];
      for (const r of rows) {
        const prev = out.get(r.old_key);
        if (prev === undefined || BigInt(r.hub_seq) > prev) out.set(r.old_key, BigInt(r.hub_seq));
      }
    }
    return out;
  }

  /**
   * Whether placedHubSeqs can find anything for `tbl` at all (the same conditions without the keys):
   * a bulk pull's batch of thousands of keys then skips the key lists (almost always: placed rows
   * are few and forgotten once pulled past).
   */
  anyPlaced(
    tbl: string,
    after: bigint,
    taken = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_taken'").get() !== undefined,
  ): boolean {
    const row = this.sql(
      `SELECT 1 FROM _dualdb_rekeys WHERE tbl = ? AND moved = 'node' AND status = 'done' AND hub_image IS NOT NULL AND hub_seq > ?${
        taken ? ' UNION ALL SELECT 1 FROM _dualdb_taken WHERE tbl = ? AND hub_seq > ?' : ''
      } LIMIT 1`,
    )
      .safeIntegers()
      .get(tbl, after, ...(taken ? [tbl, after] : []));
    return row !== undefined;
  }

  /** The push took the hub's row under `key` (its image up to hub seq `hubSeq`): see placedHubSeqs. */
  recordTake(tbl: string, key: string, hubSeq: bigint): void {
    if (hubSeq <= 0n) return;
    if (this.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_taken'").get() === undefined) this.db.exec(TAKEN_DDL);
    this.sql(
      `INSERT INTO _dualdb_taken (tbl, pk, hub_seq) VALUES (?, ?, ?)
       ON CONFLICT (tbl, pk) DO UPDATE SET hub_seq = MAX(hub_seq, excluded.hub_seq)`,
    ).run(tbl, key, hubSeq);
  }

  /**
   * Forgets the hub seqs placedHubSeqs reads that this node has pulled past: `bound` is its pull
   * cursor, below every hole (holes.ts `safePruneBound`). Such a seq covers no hub change still to
   * be pulled, so it is never read again (placedHubSeqs reads only those past the cursor). Finished
   * records keep their row (the history `dualdb rekeys` shows) with `hub_seq` NULL; open ones
   * (held, pending) keep theirs for their resolution; taken keys go.
   */
  forgetPulledSeqs(bound: bigint): { records: number; taken: number } {
    if (bound <= 0n) return { records: 0, taken: 0 };
    return this.db
      .transaction(() => {
        const records = this.sql(
          "UPDATE _dualdb_rekeys SET hub_seq = NULL WHERE hub_seq <= ? AND status NOT IN ('held', 'pending')",
        ).run(bound).changes;
        const hasTaken = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_taken'").get() !== undefined;
        const taken = hasTaken ? this.db.prepare('DELETE FROM _dualdb_taken WHERE hub_seq <= ?').run(bound).changes : 0;
        return { records, taken };
      })
      .immediate();
  }

  /** Table-and-key texts (heldKey form) of every open collision, held or pending. */
  openKeys(): Set<string> {
    const rows = this.sql("SELECT tbl, old_key FROM _dualdb_rekeys WHERE status IN ('held', 'pending')").all() as {
      tbl: string;
      old_key: string;
    }[];
    return new Set(rows.map((r) => `${r.tbl}\u0000${r.old_key}`));
  }

  /** Keys of held (manual) collisions: neither push nor pull moves them until resolved. */
  heldKeys(): { tbl: string; pk: string }[] {
    return (
      this.sql("SELECT tbl, old_key AS pk FROM _dualdb_rekeys WHERE status = 'held'").all() as {
        tbl: string;
        pk: string;
      }[]
    ).map((r) => ({ tbl: r.tbl, pk: r.pk }));
  }

  /** A collision a pull saw and left to the next push (idempotent per key). */
  markPending(
    tbl: string,
    oldKey: string,
    mode: KeyCollisionMode,
    hubSeq: bigint,
    nodeImage: string | null,
    hubImage: string | null,
  ): void {
    if (this.open(tbl, [oldKey]).size) return;
    this.sql(
      `INSERT INTO _dualdb_rekeys (tbl, old_key, status, detected_in, mode, node_image, hub_image, hub_seq, at)
         VALUES (?, ?, 'pending', 'pull', ?, ?, ?, ?, ${NOW})`,
    ).run(tbl, oldKey, mode, nodeImage, hubImage, hubSeq);
  }

  /**
   * Pending records that follow a parent's decision (`rekeys resolve`): the next push settles each
   * by `mode` (the side the parent's row moved) instead of holding it for a decision of its own.
   */
  follow(ids: number[], mode: 'rekey-node' | 'rekey-hub'): void {
    for (const id of ids) this.sql("UPDATE _dualdb_rekeys SET mode = ? WHERE id = ? AND status = 'pending'").run(mode, id);
  }

  /** A manual collision: both rows stay where they are until resolved. Returns its id. */
  hold(r: {
    tbl: string;
    oldKey: string;
    detectedIn: 'push' | 'pull';
    nodeImage: string | null;
    hubImage: string | null;
    hubSeq: bigint | null;
  }): number {
    const existing = this.open(r.tbl, [r.oldKey]).get(r.oldKey);
    if (existing) {
      this.sql("UPDATE _dualdb_rekeys SET status = 'held', mode = 'manual', node_image = ?, hub_image = ? WHERE id = ?").run(
        r.nodeImage,
        r.hubImage,
        existing.id,
      );
      return existing.id;
    }
    const info = this.sql(
      `INSERT INTO _dualdb_rekeys (tbl, old_key, status, detected_in, mode, node_image, hub_image, hub_seq, at)
         VALUES (?, ?, 'held', ?, 'manual', ?, ?, ?, ${NOW})`,
    ).run(r.tbl, r.oldKey, r.detectedIn, r.nodeImage, r.hubImage, r.hubSeq);
    return Number(info.lastInsertRowid);
  }

  /** A finished move; closes any open record of the same key. Returns the record's id. */
  done(r: {
    tbl: string;
    oldKey: string;
    newKey: string;
    moved: 'node' | 'hub';
    detectedIn: 'push' | 'pull' | 'resolve';
    mode: KeyCollisionMode;
    nodeImage: string | null;
    hubImage: string | null;
    hubSeq: bigint | null;
  }): number {
    const existing = this.open(r.tbl, [r.oldKey]).get(r.oldKey);
    if (existing) {
      this.sql(
        `UPDATE _dualdb_rekeys SET status = 'done', new_key = ?, moved = ?, mode = ?, node_image = ?, hub_image = ?, resolved_at = ${NOW} WHERE id = ?`,
      ).run(r.newKey, r.moved, r.mode, r.nodeImage, r.hubImage, existing.id);
      return existing.id;
    }
    const info = this.sql(
      `INSERT INTO _dualdb_rekeys (tbl, old_key, new_key, moved, status, detected_in, mode, node_image, hub_image, hub_seq, at, resolved_at)
         VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ${NOW}, ${NOW})`,
    ).run(r.tbl, r.oldKey, r.newKey, r.moved, r.detectedIn, r.mode, r.nodeImage, r.hubImage, r.hubSeq);
    return Number(info.lastInsertRowid);
  }

  /** An open record that turned out not to be a collision any more (one side's row is gone). */
  close(tbl: string, oldKey: string): void {
    this.sql(
      `UPDATE _dualdb_rekeys SET status = 'done', resolved_at = ${NOW} WHERE tbl = ? AND old_key = ? AND status IN ('held', 'pending') AND new_key IS NULL AND moved IS NULL`,
    ).run(tbl, oldKey);
    // A record closed without a move is not a re-key: forget it.
    this.sql("DELETE FROM _dualdb_rekeys WHERE tbl = ? AND old_key = ? AND status = 'done' AND moved IS NULL").run(tbl, oldKey);
  }

  /**
   * A held collision that is not one any more, one of its rows gone (docs/SYNC-CONTRACT.md
   * invariant 13): `closed`, with why, kept for `dualdb rekeys` (an operator who saw it held sees
   * what became of it). Only a held record: a pending one closes as ever (`close`).
   */
  closeHeld(id: number, reason: RekeyCloseReason): boolean {
    return (
      this.sql(
        `UPDATE _dualdb_rekeys SET status = 'closed', reason = ?, resolved_at = ${NOW} WHERE id = ? AND status = 'held'`,
      ).run(reason, id).changes > 0
    );
  }

  /** Whether any collision is held (one indexed-free read of a small table; the sync asks every cycle). */
  anyHeld(): boolean {
    return this.sql("SELECT 1 FROM _dualdb_rekeys WHERE status = 'held' LIMIT 1").get() !== undefined;
  }

  /** A rekey-hub move of a push whose hub COMMIT is about to be sent: not done until it is known. */
  markUnconfirmed(ids: number[]): void {
    for (const id of ids) this.sql("UPDATE _dualdb_rekeys SET status = 'unconfirmed' WHERE id = ? AND status = 'done'").run(id);
  }

  /** The hub has that move after all: done. Returns whether the record was waiting for it. */
  confirm(id: number): boolean {
    return this.sql("UPDATE _dualdb_rekeys SET status = 'done' WHERE id = ? AND status = 'unconfirmed'").run(id).changes > 0;
  }

  /** The hub never had that move (its COMMIT was lost): the record goes, it told of a move that did not happen. */
  dropUnconfirmed(id: number): void {
    this.sql("DELETE FROM _dualdb_rekeys WHERE id = ? AND status = 'unconfirmed'").run(id);
  }

  get(id: number): RekeyRecord | undefined {
    const r = this.sql('SELECT * FROM _dualdb_rekeys WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toRecord(r) : undefined;
  }

  /**
   * Newest first; with `heldFirst`, those waiting for a decision (held) before the pending ones
   * (children that follow their parent's decision) and those before the moves done: an operator
   * sees first what needs them.
   */
  list(options: { status?: RekeyStatus; table?: string; limit?: number; heldFirst?: boolean } = {}): RekeyRecord[] {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (options.status) {
      conds.push('status = ?');
      params.push(options.status);
    }
    if (options.table) {
      conds.push('tbl = ?');
      params.push(options.table);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return (
      this.sql(
        `SELECT * FROM _dualdb_rekeys ${where} ORDER BY ${options.heldFirst ? "CASE status WHEN 'held' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, " : ''}id DESC LIMIT ?`,
      ).all(...params, options.limit ?? 1000) as Record<string, unknown>[]
    ).map(toRecord);
  }

  /** How many records per status (optionally of one table): what a capped listing must still say. */
  statusCounts(table?: string): Record<RekeyStatus, number> & { total: number } {
    const rows = (
      table
        ? this.sql('SELECT status, count(*) AS n FROM _dualdb_rekeys WHERE tbl = ? GROUP BY status').all(table)
        : this.sql('SELECT status, count(*) AS n FROM _dualdb_rekeys GROUP BY status').all()
    ) as { status: RekeyStatus; n: number | bigint }[];
    const out = { held: 0, pending: 0, done: 0, unconfirmed: 0, closed: 0, total: 0 };
    for (const r of rows) {
      out[r.status] = Number(r.n);
      out.total += Number(r.n);
    }
    return out;
  }

  /** The open record (held or pending) of one key, if any. */
  openRecord(tbl: string, oldKey: string): RekeyRecord | undefined {
    return this.open(tbl, [oldKey]).get(oldKey);
  }

  /** Re-keys per table (moves done), open ones (held, pending, unconfirmed), closed ones (one row gone), and each table's by state. */
  counts(): {
    total: number;
    open: number;
    closed: number;
    byTable: Map<string, number>;
    collisions: Map<string, CollisionCounts>;
  } {
    const rows = this.sql(
      `SELECT tbl, sum(status = 'done') AS done, sum(status NOT IN ('done', 'closed')) AS open, sum(status = 'held') AS held,
              sum(status = 'pending') AS pending, sum(status = 'unconfirmed') AS unconfirmed, sum(status = 'closed') AS closed
         FROM _dualdb_rekeys GROUP BY tbl`,
    ).all() as Record<'tbl' | 'done' | 'open' | 'held' | 'pending' | 'unconfirmed' | 'closed', number | bigint | string>[];
    let total = 0;
    let open = 0;
    let closed = 0;
    const byTable = new Map<string, number>();
    const collisions = new Map<string, CollisionCounts>();
    for (const r of rows) {
      const tbl = String(r.tbl);
      total += Number(r.done);
      open += Number(r.open);
      closed += Number(r.closed);
      byTable.set(tbl, Number(r.done));
      collisions.set(tbl, {
        held: Number(r.held),
        pending: Number(r.pending),
        done: Number(r.done),
        unconfirmed: Number(r.unconfirmed),
        closed: Number(r.closed),
      });
    }
    return { total, open, closed, byTable, collisions };
  }
}

/**
 * Brings a node installed by an earlier version up to date: the re-key table, the parked changes'
 * first op, change time and due index (cheap when present).
 */
export function ensureRekeyTable(db: SqliteDb, ddl: string[]): void {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_rekeys'").get() !== undefined;
  const parkedCols = db.prepare("SELECT name FROM pragma_table_info('_dualdb_parked')").all() as { name: string }[];
  const hasOp = parkedCols.length === 0 || parkedCols.some((c) => c.name === 'first_op');
  const hasChanged = parkedCols.length === 0 || parkedCols.some((c) => c.name === 'changed_ms');
  const hasIndex =
    parkedCols.length === 0 || db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_parked_due'").get() !== undefined;
  // `reason` (closed records, RekeyStore.closeHeld) is in the DDL of a new file; an older file gets
  // it here, once. Read first and altered only when missing: any change of the schema bumps SQLite's
  // schema_version, which the running syncer's plan is stamped with (a one-row push steps aside, a
  // pull replans), so opening a file that is up to date must change nothing.
  const hasReason =
    !hasTable ||
    (db.prepare("SELECT name FROM pragma_table_info('_dualdb_rekeys')").all() as { name: string }[]).some(
      (c) => c.name === 'reason',
    );
  if (hasTable && hasOp && hasChanged && hasIndex && hasReason) return;
  db.transaction(() => {
    if (!hasTable) for (const d of ddl) db.exec(d);
    if (!hasReason) db.exec('ALTER TABLE _dualdb_rekeys ADD COLUMN reason TEXT');
    // A parked change remembers whether it began with an insert (a collision candidate).
    if (!hasOp) db.exec('ALTER TABLE _dualdb_parked ADD COLUMN first_op TEXT');
    // A parked push remembers when the change was made (its rows parked before: their last attempt).
    if (!hasChanged) db.exec('ALTER TABLE _dualdb_parked ADD COLUMN changed_ms REAL');
    if (!hasIndex) db.exec(PARKED_DUE_INDEX);
  }).immediate();
}

function toRecord(r: Record<string, unknown>): RekeyRecord {
  return {
    id: Number(r.id),
    tbl: String(r.tbl),
    oldKey: String(r.old_key),
    newKey: r.new_key === null ? null : String(r.new_key),
    moved: (r.moved as 'node' | 'hub' | null) ?? null,
    status: r.status as RekeyStatus,
    detectedIn: r.detected_in as RekeyRecord['detectedIn'],
    mode: r.mode as KeyCollisionMode,
    nodeImage: (r.node_image as string | null) ?? null,
    hubImage: (r.hub_image as string | null) ?? null,
    hubSeq: r.hub_seq === null || r.hub_seq === undefined ? null : BigInt(r.hub_seq as number | bigint),
    at: String(r.at),
    resolvedAt: (r.resolved_at as string | null) ?? null,
    reason: (r.reason as RekeyCloseReason | null | undefined) ?? null,
  };
}
