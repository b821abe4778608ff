/**
 * The kind of a table's primary key as `dualdb schema diff` shows it (the sync plan decides the
 * same way, src/sync/plan.ts): *generated* when it is one integer column the database assigns
 * (SQLite INTEGER PRIMARY KEY, with or without AUTOINCREMENT; MySQL AUTO_INCREMENT) on either
 * side, *natural* otherwise. Generated keys handed out on both sides can collide
 * (docs/SYNC-CONTRACT.md invariant 13).
 */
import type { TableInfo } from '../engines/types.js';

export type TableKeyKind = 'generated' | 'natural';

const INTEGER_TYPES = new Set(['integer', 'int', 'bigint', 'mediumint', 'smallint', 'tinyint']);

export function tableKeyKind(...sides: (TableInfo | undefined)[]): TableKeyKind {
  const present = sides.filter((t): t is TableInfo => t !== undefined);
  const single = present.every((t) => t.primaryKey.length === 1);
  const assigned = present.some((t) => {
    const c = t.columns.find((col) => col.pkOrdinal > 0);
    return t.primaryKey.length === 1 && c !== undefined && c.autoIncrement && INTEGER_TYPES.has(c.baseType);
  });
  return present.length > 0 && single && assigned ? 'generated' : 'natural';
}

/** Table name → key kind, over the tables of both sides (matched case-insensitively). */
export function tableKeyKinds(sqlite: TableInfo[], mysql: TableInfo[]): Record<string, TableKeyKind> {
  const m = new Map(mysql.map((t) => [t.name.toLowerCase(), t]));
  const out: Record<string, TableKeyKind> = {};
  // A table without a primary key (on either side) has no key kind: it is not synced.
  const keyed = (...sides: (TableInfo | undefined)[]) => sides.every((t) => !t || t.primaryKey.length > 0);
  for (const s of sqlite) {
    const other = m.get(s.name.toLowerCase());
    if (keyed(s, other)) out[s.name] = tableKeyKind(s, other);
  }
  const seen = new Set(sqlite.map((s) => s.name.toLowerCase()));
  for (const t of mysql) if (!seen.has(t.name.toLowerCase()) && keyed(t)) out[t.name] = tableKeyKind(t);
  return out;
}
