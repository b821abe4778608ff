/**
 * When a hub row must wait for its parent here instead of attaching to the row under the
 * parent's key: that row is one of two rows held apart under one key, or the node's own new row
 * the hub has not seen (invariant 13, docs/SYNC-CONTRACT.md). Used by the pull and by re-keying.
 */
import type { Row } from '../engines/codec.js';
import type { SyncContext } from './context.js';
import type { SyncTable } from './plan.js';

/** Per parent table (paused by drift): the keys looked up, and those of them the node holds as its own unsent new row. */
export type UnsentParents = Map<string, { looked: Set<string>; unsent: Set<string> }>;

/**
 * The keys that `rows` (hub rows of `table`, SQLite form) reference in tables not synced now,
 * looked up in one go per parent table for a whole batch: each lookup reads the unpushed tail
 * of the local change log, once per row it cost a scan per row while a table was paused.
 */
export function unsentParents(ctx: SyncContext, table: SyncTable, rows: Iterable<Row>): UnsentParents {
  const out: UnsentParents = new Map();
  const refs = table.unsyncedRefs ?? [];
  if (refs.length === 0) return out;
  const wanted = new Map<string, Set<string>>();
  for (const row of rows) {
    for (const fk of refs) {
      const v = fk.columns[0] === undefined ? undefined : row[fk.columns[0]];
      if (v === null || v === undefined) continue;
      let keys = wanted.get(fk.parent);
      if (!keys) {
        keys = new Set();
        wanted.set(fk.parent, keys);
      }
      keys.add(String(v));
    }
  }
  for (const [parent, keys] of wanted) out.set(parent, { looked: keys, unsent: unsentKeys(ctx, parent, [...keys]) });
  return out;
}

function unsentKeys(ctx: SyncContext, parent: string, keys: string[]): Set<string> {
  const out = new Set<string>();
  for (const [k, p] of ctx.state.pendingKeys(parent, keys)) if (p.firstOp === 'I') out.add(k);
  return out;
}

/**
 * Whether a hub row references, in a table not synced now (paused by drift), a key under which
 * this node holds its own new row the hub has not seen: the hub cannot mean that row, so the
 * hub's row waits (parked) rather than attach to it (invariant 13). `known`: the batch's lookups
 * (unsentParents); a key they did not cover is looked up on its own.
 */
export function refsUnsentParent(table: SyncTable, row: Row, known: UnsentParents, ctx: SyncContext): boolean {
  for (const fk of table.unsyncedRefs ?? []) {
    const v = fk.columns[0] === undefined ? undefined : row[fk.columns[0]];
    if (v === null || v === undefined) continue;
    const key = String(v);
    const k = known.get(fk.parent);
    if (k?.looked.has(key) ? k.unsent.has(key) : unsentKeys(ctx, fk.parent, [key]).has(key)) return true;
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
