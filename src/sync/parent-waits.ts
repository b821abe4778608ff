/**
 * When a hub row must wait for its parent here instead of attaching to the row under the
 * parent's key: that row is one of two rows held apart under one key, or the node's own new row
 * the hub has not seen (invariant 13, docs/SYNC-CONTRACT.md). Used by the pull and by re-keying.
 */
import type { Row } from '../engines/codec.js';
import type { SyncContext } from './context.js';
import type { SyncTable } from './plan.js';
import { SqliteTableIO } from './sqlite-io.js';

/**
 * Whether a hub row references, in a table not synced now (paused by drift), a key under which
 * this node holds its own new row the hub has not seen: the hub cannot mean that row, so the
 * hub's row waits (parked) rather than attach to it (invariant 13).
 */
export function refsUnsentParent(ctx: SyncContext, table: SyncTable, row: Row): boolean {
  for (const fk of table.unsyncedRefs ?? []) {
    const v = fk.columns[0] === undefined ? undefined : row[fk.columns[0]];
    if (v === null || v === undefined) continue;
    if (ctx.state.pendingKeys(fk.parent, [String(v)]).get(String(v))?.firstOp === 'I') return true;
  }
  return false;
}

/** The parent (table, key) this row references that is one of two rows held apart (in `apart`), if any. */
export function parentApart(table: SyncTable, row: Row, apart: Set<string>): { table: string; key: string } | undefined {
  if (apart.size === 0) return undefined;
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    if (fk.columns.length !== 1 || !col) continue;
    const v = row[col];
    if (v !== null && v !== undefined && apart.has(`${fk.parent}\u0000${String(v)}`)) return { table: fk.parent, key: String(v) };
  }
  return undefined;
}

/**
 * The parent (table, key) this hub row references that this node has deleted, its delete not
 * pushed yet, if any. The row cannot be placed here (SQLite's foreign key refuses it); once the
 * delete reaches the hub, the hub's ON DELETE settles it there too (gone, or its reference
 * nulled), and the pull's retry applies that. So it waits, without counting failed attempts.
 */
export function parentDeletedHere(ctx: SyncContext, table: SyncTable, row: Row): { table: string; key: string } | undefined {
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    const parent = ctx.plan.byName.get(fk.parent);
    if (fk.columns.length !== 1 || !col || !parent) continue;
    const v = row[col];
    if (v === null || v === undefined) continue;
    const key = String(v);
    if (!ctx.state.pendingKeys(parent.name, [key]).has(key)) continue;
    if (new SqliteTableIO(ctx.db, parent).fetch([key]).size === 0) return { table: parent.name, key };
  }
  return undefined;
}
