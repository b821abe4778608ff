/**
 * When a row must wait for its parent instead of attaching to the row under the parent's key:
 * that row is one of two rows held apart under one key, or the node's own new row the other side
 * has not received (invariant 13, docs/SYNC-CONTRACT.md). Used by the pull, the push and re-keying.
 */
import type { Row } from '../engines/codec.js';
import type { SyncContext } from './context.js';
import { heldKey } from './local-state.js';
import type { SyncTable } from './plan.js';
import { SqliteTableIO } from './sqlite-io.js';

/**
 * The parent tables whose keys these rows reference, with the values: single-column references
 * to generated-key tables (two rows under one such key are two entities) and to tables not synced
 * now (paused by drift: their key kind is unknown here).
 */
function referencedKeys(
  ctx: SyncContext,
  table: SyncTable,
  rows: Iterable<Row>,
): Map<string, { column: string; values: Set<string> }[]> {
  const refs: { parent: string; column: string }[] = [];
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    if (fk.columns.length === 1 && col && ctx.plan.byName.get(fk.parent)?.keyKind === 'generated')
      refs.push({ parent: fk.parent, column: col });
  }
  for (const fk of table.unsyncedRefs ?? []) if (fk.columns[0]) refs.push({ parent: fk.parent, column: fk.columns[0] });
  const out = new Map<string, { column: string; values: Set<string> }[]>();
  if (refs.length === 0) return out;
  const byRef = refs.map((r) => ({ ...r, values: new Set<string>() }));
  for (const row of rows)
    for (const r of byRef) {
      const v = row[r.column];
      if (v !== null && v !== undefined) r.values.add(String(v));
    }
  for (const r of byRef) {
    if (r.values.size === 0) continue;
    out.set(r.parent, [...(out.get(r.parent) ?? []), { column: r.column, values: r.values }]);
  }
  return out;
}

/**
 * Parent keys (`heldKey(parent, key)`) that hub rows reference and under which this node holds
 * its own new row the hub has not received (logged, or parked: refused by the hub, a paused
 * table's): the hub cannot mean that row, so a hub row naming it waits (parked) rather than attach
 * to it (invariant 13). One look-up per parent table, not per row.
 */
export function unsentParentKeys(ctx: SyncContext, table: SyncTable, rows: Iterable<Row>): Set<string> {
  const out = new Set<string>();
  for (const [parent, refs] of referencedKeys(ctx, table, rows)) {
    const keys = [...new Set(refs.flatMap((r) => [...r.values]))];
    const reused: string[] = [];
    for (const [k, p] of ctx.state.pendingKeys(parent, keys)) {
      if (p.firstOp === 'I') out.add(heldKey(parent, k));
      else if (p.deleted) reused.push(k);
    }
    // A key deleted here and handed out again (SQLite reuses a freed max(id)) holds a new row too:
    // the hub's row under it is the deleted one, whose children must not attach to the new row.
    const parentTable = ctx.plan.byName.get(parent);
    if (reused.length && parentTable)
      for (const k of new SqliteTableIO(ctx.db, parentTable).fetch(reused).keys()) out.add(heldKey(parent, k));
  }
  return out;
}

/**
 * Parent keys that node rows of a push reference whose own insert is not on the hub: parked now
 * (`parkedNow`, this batch) or parked before and not sent by this batch, a new row or a re-used
 * key whose hub delete was refused. Sent now, such a child
 * would attach to whatever the hub holds under that key: another writer's row (invariant 13).
 */
export function unpushedParentKeys(
  ctx: SyncContext,
  table: SyncTable,
  rows: Iterable<Row>,
  parkedNow: Set<string>,
  sentNow: (parent: string, key: string) => boolean,
): Set<string> {
  const out = new Set<string>();
  for (const [parent, refs] of referencedKeys(ctx, table, rows)) {
    const keys = [...new Set(refs.flatMap((r) => [...r.values]))];
    const earlier = ctx.state.parkedOps('push', parent, keys);
    for (const k of keys) {
      const hk = heldKey(parent, k);
      // 'D': the hub refused the delete of a key handed out again here (a RESTRICT child there); the
      // new row waits with it (push-reused.ts), so its children do too.
      const op = earlier.get(k);
      if (parkedNow.has(hk) || ((op === 'I' || op === 'D') && !sentNow(parent, k))) out.add(hk);
    }
  }
  return out;
}

/** The parent (table, key) this row references that is in `keys` (`heldKey` form), if any. */
export function parentIn(table: SyncTable, row: Row, keys: Set<string>): { table: string; key: string } | undefined {
  if (keys.size === 0) return undefined;
  for (const fk of [...table.foreignKeys, ...(table.unsyncedRefs ?? [])]) {
    const col = fk.columns[0];
    if (fk.columns.length !== 1 || !col) continue;
    const v = row[col];
    if (v !== null && v !== undefined && keys.has(heldKey(fk.parent, String(v)))) return { table: fk.parent, key: String(v) };
  }
  return undefined;
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

/** The parents (table, key) this row references through a declared foreign key that are not here. */
function parentsMissingHere(ctx: SyncContext, table: SyncTable, row: Row): { table: string; key: string }[] {
  const out: { table: string; key: string }[] = [];
  for (const fk of table.foreignKeys) {
    const col = fk.columns[0];
    const parent = ctx.plan.byName.get(fk.parent);
    if (fk.columns.length !== 1 || !col || !parent) continue;
    const v = row[col];
    if (v === null || v === undefined) continue;
    const key = String(v);
    if (new SqliteTableIO(ctx.db, parent).fetch([key]).size === 0) out.push({ table: parent.name, key });
  }
  return out;
}

/**
 * The parent (table, key) this hub row references that this node has deleted, its delete not
 * pushed yet, if any. The row cannot be placed here (SQLite's foreign key refuses it); once the
 * delete reaches the hub, the hub's ON DELETE settles it there too (gone, or its reference
 * nulled), and the pull's retry applies that. So it waits, without counting failed attempts.
 */
export function parentDeletedHere(ctx: SyncContext, table: SyncTable, row: Row): { table: string; key: string } | undefined {
  return parentsMissingHere(ctx, table, row).find((p) => ctx.state.pendingKeys(p.table, [p.key]).has(p.key));
}

/**
 * A FOREIGN KEY refusal's error text with the parent it waits for, when one is missing here: read
 * back by wakeParkedChildren (and shown by `dualdb parked`).
 */
export function withMissingParent(ctx: SyncContext, table: SyncTable, row: Row, error: string): string {
  const [p] = parentsMissingHere(ctx, table, row);
  return p ? `${error} (its parent ${p.table} ${p.key} is not here)` : error;
}

const MISSING_PARENT = /\(its parent (.+) (\S+) is not here\)$/;

/**
 * Hub changes this node parked because SQLite's FOREIGN KEY refused them (their parent missing
 * here), of tables that reference one of `written` (table → keys of the rows just written here, by
 * a pull or by a push that placed the hub's rows): due now, instead of after their retry delay (up
 * to 10 minutes, then only by hand: N6). Only those waiting for one of those rows, when their error
 * names the parent (withMissingParent); a retry that fails again is parked again.
 */
export function wakeParkedChildren(ctx: SyncContext, written: Map<string, Pick<Set<string>, 'has'>>): void {
  if (written.size === 0) return;
  const parked = ctx.db.prepare(
    "SELECT id, error FROM _dualdb_parked WHERE direction = 'pull' AND tbl = ? AND error LIKE '%FOREIGN KEY%' AND next_retry_ms IS NOT 0",
  );
  const wake = ctx.db.prepare('UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE id = ?');
  for (const t of ctx.plan.tables) {
    if (!t.foreignKeys.some((fk) => written.has(fk.parent))) continue;
    for (const p of parked.all(t.name) as { id: number | bigint; error: string }[]) {
      const m = MISSING_PARENT.exec(p.error);
      if (!m || written.get(m[1] as string)?.has(m[2] as string)) wake.run(p.id);
    }
  }
}
