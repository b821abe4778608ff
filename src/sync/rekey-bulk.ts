/**
 * Re-key records of a whole batch at once (`_dualdb_rekeys`): thousands of rows may move in one
 * push, and a lookup of open records per moved row cost more than the move itself. The open
 * records (held or pending) are read once per table and closed in place; the others are
 * inserted in multi-row statements. Runs in the caller's SQLite transaction. The result
 * is the same as `RekeyStore.done` called once per move.
 */
import type Database from 'better-sqlite3';
import type { Row } from '../engines/codec.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { Move } from './rekey.js';
import type { RekeyStore } from './rekey-store.js';

/** What `RekeyStore.done` records for one move. */
export type DoneRecord = Parameters<RekeyStore['done']>[0];

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/** Rows per multi-row INSERT of records (9 parameters each). */
const CHUNK = 100;

/** Records finished moves; returns each record's id, in the order given. */
export function recordMovesDone(db: SqliteDb, records: DoneRecord[]): number[] {
  const close = db.prepare<unknown[]>(
    `UPDATE _dualdb_rekeys SET status = 'done', new_key = ?, moved = ?, mode = ?, node_image = ?, hub_image = ?, resolved_at = ${NOW} WHERE id = ?`,
  );
  const ids: number[] = new Array(records.length);
  const fresh: number[] = [];
  const openOf = new Map<string, Map<string, number>>();
  records.forEach((r, i) => {
    let open = openOf.get(r.tbl);
    if (!open) {
      open = openIds(db, r.tbl);
      openOf.set(r.tbl, open);
    }
    const id = open.get(r.oldKey);
    if (id === undefined) {
      fresh.push(i);
      return;
    }
    close.run(r.newKey, r.moved, r.mode, r.nodeImage, r.hubImage, id);
    open.delete(r.oldKey);
    ids[i] = id;
  });
  // The new records in multi-row INSERTs of one prepared statement (the last one shorter): a
  // statement's rows take consecutive ids, in order.
  const inserts = new Map<number, Database.Statement<unknown[]>>();
  for (let at = 0; at < fresh.length; at += CHUNK) {
    const chunk = fresh.slice(at, at + CHUNK);
    let insert = inserts.get(chunk.length);
    if (!insert) {
      insert = db.prepare<unknown[]>(
        `INSERT INTO _dualdb_rekeys (tbl, old_key, new_key, moved, status, detected_in, mode, node_image, hub_image, hub_seq, at, resolved_at)
         VALUES ${chunk.map(() => `(?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ${NOW}, ${NOW})`).join(', ')}`,
      );
      inserts.set(chunk.length, insert);
    }
    const info = insert.run(
      ...chunk.flatMap((i) => {
        const r = records[i] as DoneRecord;
        return [r.tbl, r.oldKey, r.newKey, r.moved, r.detectedIn, r.mode, r.nodeImage, r.hubImage, r.hubSeq];
      }),
    );
    const last = Number(info.lastInsertRowid);
    chunk.forEach((i, j) => {
      ids[i] = last - chunk.length + 1 + j;
    });
  }
  return ids;
}

/** Open (held or pending) record ids of one table, read once: key → id (few; collisions a pull left). */
function openIds(db: SqliteDb, tbl: string): Map<string, number> {
  const rows = db
    .prepare<unknown[]>("SELECT id, old_key FROM _dualdb_rekeys WHERE tbl = ? AND status IN ('held', 'pending') ORDER BY id")
    .all(tbl) as { id: number | bigint; old_key: string }[];
  return new Map(rows.map((r) => [r.old_key, Number(r.id)]));
}

/**
 * The images the hub holds for rows this push moved to a new key (rekey-node), by new key: the
 * push checks them for values the hub rewrote, as it does for the rows it wrote.
 */
export function movedUpImages(moves: Move[]): { keys: string[]; images: Map<string, Row>; stored: Map<string, Row> } {
  const images = new Map<string, Row>();
  // What the hub's INSERT … RETURNING gave back, when it did: those rows are not read again.
  const stored = new Map<string, Row>();
  for (const m of moves) {
    if (m.moved !== 'node') continue;
    const kc = m.table.key[0]?.name ?? '';
    images.set(m.newKey, { ...m.nodeRow, [kc]: BigInt(m.newKey) });
    if (m.hubStored) stored.set(m.newKey, m.hubStored);
  }
  return { keys: [...images.keys()], images, stored };
}

/**
 * Once the hub has committed a push, the log entries moveOnNode wrote for the rows it moved are
 * spent (the hub has those rows under their new keys): dropped, so the next batch does not send
 * every moved row a second time. Later changes to those rows have entries of their own. Runs in
 * the caller's SQLite transaction; a crash before it only means the rows are sent again.
 */
export function forgetLoggedMoves(db: SqliteDb, moves: Move[]): void {
  const seqs = moves.flatMap((m) => (m.moved === 'node' && m.loggedSeq !== undefined ? [m.loggedSeq.toString()] : []));
  // One statement for the batch (seqs as one JSON array), each a primary-key lookup.
  if (seqs.length)
    db.prepare('DELETE FROM _dualdb_changes WHERE seq IN (SELECT value FROM json_each(?))').run(`[${seqs.join(',')}]`);
}
