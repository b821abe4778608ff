/**
 * Text keys that SQLite keeps apart and the hub's collation folds together: `abc`, `ABC` and
 * `abc ` are three keys in SQLite (binary comparison) and one under MySQL's case-insensitive,
 * pad-space collations (utf8mb4_unicode_ci, utf8mb4_general_ci…). The second to arrive fails
 * with ER_DUP_ENTRY on PRIMARY; this turns that bare error into its cause and its fix, so the
 * parked row, `compare` and `repair` say what to do (issue 12 item 4).
 */
import { decodeKey } from '../capture/keys.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SyncTable } from './plan.js';

/** The part of the hub connection this needs (a pool or a pooled connection). */
export interface HubQuery {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Whether an error text is a duplicate of the hub's primary key (not of another unique key). */
export function isPrimaryDuplicate(error: string): boolean {
  return /ER_DUP_ENTRY|Duplicate entry/.test(error) && /for key '(?:[^']*\.)?PRIMARY'/.test(error);
}

/** The hub's non-binary collations of the table's text key columns (column → collation). */
export async function foldingKeyCollations(hub: HubQuery, table: SyncTable): Promise<Map<string, string>> {
  const text = table.key.filter((k) => k.type === 'text').map((k) => k.name);
  if (text.length === 0) return new Map();
  const [rows] = (await hub.query(
    `SELECT COLUMN_NAME AS col, COLLATION_NAME AS coll FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME IN (?)`,
    [table.name, text],
  )) as [{ col: string; coll: string | null }[]];
  return new Map(rows.filter((r) => r.coll && !/_bin$/i.test(r.coll)).map((r) => [r.col, r.coll as string]));
}

export function foldedKeyText(key: string, equals: string, collation: string): string {
  return `key '${key}' equals '${equals}' under the hub's collation ${collation}: give the key column a binary collation — \`dualdb schema fit\``;
}

/**
 * The hub's key that `key` equals under its collation, as it is stored there, when the two
 * differ byte for byte (a folded key); undefined when the key is not folded.
 */
export async function foldedOnto(
  hub: HubQuery,
  table: SyncTable,
  key: string,
  collations: Map<string, string>,
): Promise<{ equals: string; collation: string } | undefined> {
  if (collations.size === 0) return undefined;
  const parts = decodeKey(key, table.key.length);
  const where = table.key.map((k) => `${quoteMysqlId(k.name)} = ?`).join(' AND ');
  const cols = table.key.map((k) => `CAST(${quoteMysqlId(k.name)} AS BINARY) AS ${quoteMysqlId(k.name)}`).join(', ');
  const [rows] = (await hub.query(`SELECT ${cols} FROM ${quoteMysqlId(table.name)} WHERE ${where} LIMIT 1`, parts)) as [
    Record<string, Buffer | string | null>[],
  ];
  const row = rows[0];
  if (!row) return undefined;
  const stored = table.key.map((k) => {
    const v = row[k.name];
    return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  });
  if (stored.every((s, i) => s === parts[i])) return undefined;
  const collation = [...collations.values()][0] as string;
  return { equals: table.key.length === 1 ? (stored[0] as string) : stored.join(', '), collation };
}

/** Rewrites the duplicate-key errors of folded keys in `failed` (key → error text) to their cause. */
export async function explainFoldedKeys(hub: HubQuery, table: SyncTable, failed: Map<string, string>): Promise<void> {
  const dups = [...failed].filter(([, e]) => isPrimaryDuplicate(e));
  if (dups.length === 0) return;
  const collations = await foldingKeyCollations(hub, table);
  for (const [key] of dups) {
    const f = await foldedOnto(hub, table, key, collations);
    if (f) failed.set(key, foldedKeyText(key, f.equals, f.collation));
  }
}

/** Sets `folded` on the differences that are keys the hub's collation folds onto another key. */
export async function markFoldedKeys(
  hub: HubQuery,
  table: SyncTable,
  differences: { key: string; kind: string; folded?: string }[],
): Promise<void> {
  const missing = differences.filter((d) => d.kind === 'missing-in-mysql');
  if (missing.length === 0) return;
  const collations = await foldingKeyCollations(hub, table);
  if (collations.size === 0) return;
  for (const d of missing) {
    const f = await foldedOnto(hub, table, d.key, collations);
    if (f) d.folded = foldedKeyText(d.key, f.equals, f.collation);
  }
}
