/**
 * Which captured updates SQLite made itself for a parent's delete (docs/SYNC-CONTRACT.md
 * invariant 6, "an update a parent's delete made"). A foreign key `ON DELETE SET NULL` or
 * `SET DEFAULT` makes SQLite update every child of a deleted parent, and SQLite fires the
 * child's AFTER UPDATE trigger for it (MySQL does not). The capture trigger logs such an update
 * as `N` instead of `U`: the row's key and every column outside those foreign keys unchanged,
 * at least one such key changed, and the parent each changed key named before is gone (the
 * trigger runs after the parent's row is deleted and before the parent's own AFTER DELETE trigger,
 * so its `D` comes just after). With foreign keys enforced nothing else can leave a child without
 * its parent; with them off, an application that nulls the reference after deleting the parent,
 * and changes nothing else, did the same thing by hand, and counts the same.
 *
 * The sync reads `N` as an update everywhere (changeset.ts); it only matters when the other side
 * deleted the row: then the delete stands (sync/fk-implied.ts).
 */

import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { ForeignKeyInfo, TableInfo } from '../engines/types.js';

/** The foreign keys whose ON DELETE updates the row, and the row's other columns, as the trigger needs them. */
export interface ImpliedUpdateSpec {
  /** Every column outside those foreign keys (the key's columns included): all must stay the same. */
  others: string[];
  fks: Pick<ForeignKeyInfo, 'columns' | 'refTable' | 'refColumns'>[];
}

/** Undefined when the table has no foreign key that updates it on a parent's delete. */
export function impliedUpdateSpec(table: TableInfo): ImpliedUpdateSpec | undefined {
  const key = new Set(table.primaryKey.map((c) => c.toLowerCase()));
  const fks = table.foreignKeys.filter(
    (fk) =>
      /^set (null|default)$/i.test(fk.onDelete) &&
      fk.columns.length > 0 &&
      fk.columns.length === fk.refColumns.length &&
      // A key column nulled is a move of the row (a delete and a write), not an update of it.
      !fk.columns.some((c) => key.has(c.toLowerCase())),
  );
  if (fks.length === 0) return undefined;
  const inFk = new Set(fks.flatMap((fk) => fk.columns.map((c) => c.toLowerCase())));
  return {
    others: table.columns.map((c) => c.name).filter((c) => !inFk.has(c.toLowerCase())),
    fks: fks.map((fk) => ({ columns: fk.columns, refTable: fk.refTable, refColumns: fk.refColumns })),
  };
}

/** The op the AFTER UPDATE trigger logs: 'N' for an update a parent's delete made, else 'U'. */
export function sqliteUpdateOpExpr(spec: ImpliedUpdateSpec | undefined): string {
  if (!spec) return "'U'";
  const col = (row: 'OLD' | 'NEW', c: string) => `${row}.${quoteSqliteId(c)}`;
  const same = (cols: string[]) => cols.map((c) => `${col('OLD', c)} IS ${col('NEW', c)}`).join(' AND ');
  const changed = spec.fks.map((fk) => `NOT (${same(fk.columns)})`);
  const settled = spec.fks.map((fk) => {
    const named = fk.columns.map((c) => `${col('OLD', c)} IS NOT NULL`).join(' AND ');
    const match = fk.columns.map((c, i) => `${quoteSqliteId(fk.refColumns[i] as string)} = ${col('OLD', c)}`).join(' AND ');
    return `(${same(fk.columns)} OR (${named} AND NOT EXISTS (SELECT 1 FROM ${quoteSqliteId(fk.refTable)} WHERE ${match})))`;
  });
  // The cheapest test first: most updates leave the foreign keys alone and stop there.
  const parts = [`(${changed.join(' OR ')})`, ...settled, ...(spec.others.length ? [same(spec.others)] : [])];
  return `CASE WHEN ${parts.join(' AND ')} THEN 'N' ELSE 'U' END`;
}
