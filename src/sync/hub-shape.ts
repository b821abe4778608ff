/**
 * A hub table's shape as the server states it in the column definitions of a result: for each
 * column of `INSERT … RETURNING *`, its name, table, type, length, fraction digits, flags (NOT NULL,
 * primary/unique/multiple key, unsigned, zerofill, binary, auto-increment…) and character set, in
 * the table's order. The one-row push (push-one.ts) reads the hub's schema fingerprint
 * (information_schema.COLUMNS, as much server time as the insert itself) only until it has seen a
 * table's shape under the plan's stamp; after that the insert's own column definitions say whether
 * the table is still the one planned, in the same statement, under the insert's metadata lock.
 *
 * What the column definitions cannot tell is never trusted: a table with an ENUM or SET column
 * (its members are not in them) keeps the fingerprint on every push. A shape is remembered only
 * from a push whose fingerprint, read after the insert, matched the stamp; it belongs to one plan's
 * table (a new plan starts over) and is forgotten at the first difference.
 */
import type { SyncTable } from './plan.js';

interface ColumnDefinition {
  name?: string;
  orgName?: string;
  orgTable?: string;
  columnType?: number;
  columnLength?: number;
  decimals?: number;
  flags?: number | number[];
  characterSet?: number;
}

const ENUM_FLAG = 256;
const SET_FLAG = 2048;

/** The shape of `fields` (one result's column definitions); undefined when they cannot tell it. */
export function shapeOf(fields: unknown): string | undefined {
  if (!Array.isArray(fields) || fields.length === 0) return undefined;
  const parts: string[] = [];
  for (const f of fields as ColumnDefinition[]) {
    const flags = typeof f.flags === 'number' ? f.flags : undefined;
    if (flags === undefined || f.columnType === undefined) return undefined;
    if (flags & (ENUM_FLAG | SET_FLAG)) return undefined;
    parts.push(
      [f.orgTable, f.orgName ?? f.name, f.name, f.columnType, f.columnLength, f.decimals, flags, f.characterSet].join('\u0001'),
    );
  }
  return parts.join('\u0002');
}

const verified = new WeakMap<SyncTable, { stamp: string; shape: string }>();

/** The shape seen for `table` under `stamp` by a push that checked the fingerprint, if any. */
export function verifiedShape(table: SyncTable, stamp: string | undefined): string | undefined {
  const v = verified.get(table);
  return stamp !== undefined && v?.stamp === stamp ? v.shape : undefined;
}

export function rememberShape(table: SyncTable, stamp: string, shape: string): void {
  verified.set(table, { stamp, shape });
}

export function forgetShape(table: SyncTable): void {
  verified.delete(table);
}
