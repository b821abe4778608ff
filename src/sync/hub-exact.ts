/**
 * Which columns of a bulk push the hub stores exactly as sent (issue 16: read back only what can be
 * rewritten). A push reads back what the hub stored for every row it wrote (INSERT … RETURNING, or a
 * SELECT of updated rows) to log the rows the hub rewrote, so that the node pulls the hub's version
 * (push.ts `logHubRewrites`). Most columns cannot be rewritten at all: a canonical value (an integer
 * in an integer column, a well-formed string that fits in a utf8mb4 VARCHAR/TEXT, a finite normal
 * double in a plain DOUBLE, a buffer in a VARBINARY/BLOB) is stored exactly or refused, when
 *
 *  - the session is in strict mode and has no mode that changes what is stored (EMPTY_STRING_IS_NULL,
 *    NO_BACKSLASH_ESCAPES, PAD_CHAR_TO_FULL_LENGTH…): only the modes of `HARMLESS_MODES` are allowed;
 *  - the table has no trigger but dualdb's (AFTER triggers that only log): no BEFORE trigger rewrites;
 *  - the column's type is one of those above, read from the hub in the same statement as the
 *    triggers, inside the push's transaction (not from the plan, whose fingerprint has no collations).
 *
 * Such columns are left out of the read-back; a row any of whose values there is not canonical
 * (`canonicalOn`) is logged as rewritten without looking (a needless pull of one row at worst, never
 * a difference left unseen). DATETIME columns too, for values in MySQL's own form with the column's
 * fraction digits (canonicalDatetime). TIMESTAMP, DATE, TIME, DECIMAL, FLOAT, CHAR, ENUM/SET, BINARY,
 * BIT, YEAR and JSON columns are always read back. When no column but the key is left, nothing is
 * read back at all (no RETURNING, no SELECT): the rows are checked on the node alone.
 */

import { mysqlTriggerNames } from '../capture/mysql-capture.js';
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import type { SyncTable } from './plan.js';

/** A column the hub stores exactly, given a canonical value (`canonicalOn`). */
export interface ExactColumn {
  name: string;
  kind: 'integer' | 'double' | 'text' | 'blob' | 'datetime';
  /** DATETIME: fraction digits the column keeps (0–6). */
  precision?: number;
  /** Characters (text) the column holds at most; null: no limit known besides bytes. */
  maxChars: number | null;
  /** Bytes (text, blob) the column holds at most; null: unknown (then only the char limit). */
  maxBytes: number | null;
}

export interface HubBulkFacts {
  /** Only dualdb's three triggers are on the table: set-based capture is equivalent (hub-capture-bulk.ts). */
  captureAllowed: boolean;
  /** Synced non-key columns stored exactly; empty when the session or the triggers allow none. */
  exact: ExactColumn[];
}

/** sql_mode flags that change nothing a canonical value becomes (MariaDB's and MySQL's defaults, and a few more). */
const HARMLESS_MODES = new Set([
  'STRICT_TRANS_TABLES',
  'STRICT_ALL_TABLES',
  'ERROR_FOR_DIVISION_BY_ZERO',
  'NO_AUTO_CREATE_USER',
  'NO_ENGINE_SUBSTITUTION',
  'ONLY_FULL_GROUP_BY',
  'NO_ZERO_IN_DATE',
  'NO_ZERO_DATE',
  'NO_AUTO_VALUE_ON_ZERO',
  'NO_DIR_IN_CREATE',
  // The parser's, not the values': MariaDB's default on some installs (function names followed by a space).
  'IGNORE_SPACE',
]);

/** Strict, and nothing else that alters a stored value (see HARMLESS_MODES). */
export function modeKeepsValues(sqlMode: string): boolean {
  const flags = sqlMode
    .toUpperCase()
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  return (
    (flags.includes('STRICT_TRANS_TABLES') || flags.includes('STRICT_ALL_TABLES')) && flags.every((f) => HARMLESS_MODES.has(f))
  );
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
const TEXT_TYPES = new Set(['varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
const BLOB_TYPES = new Set(['varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);

interface HubColumnRow {
  k: 'T' | 'C';
  name: string;
  dataType: string | null;
  columnType: string | null;
  collation: string | null;
  scale: number | string | null;
  extra: string | null;
  dtPrecision: number | string | null;
  maxChars: number | string | null;
  maxBytes: number | string | null;
  mode: string;
}

/** The kind of exact column a hub column is, or undefined: read it back. */
export function exactKind(col: {
  dataType: string;
  columnType: string;
  collation: string | null;
  scale: number | null;
  extra?: string | null;
}): ExactColumn['kind'] | undefined {
  const type = col.dataType.toLowerCase();
  const full = col.columnType.toLowerCase();
  // AUTO_INCREMENT (a NULL or 0 becomes the next value), generated, ON UPDATE…: the hub sets it.
  if ((col.extra ?? '').trim() !== '') return undefined;
  // ZEROFILL changes the text the server sends back; UNSIGNED DOUBLE is deprecated and odd.
  if (full.includes('zerofill')) return undefined;
  if (INTEGER_TYPES.has(type)) return 'integer';
  if (type === 'double' && col.scale === null && !full.includes('unsigned')) return 'double';
  if (TEXT_TYPES.has(type) && (col.collation ?? '').toLowerCase().startsWith('utf8mb4_')) return 'text';
  if (BLOB_TYPES.has(type)) return 'blob';
  // DATETIME, not TIMESTAMP (stored in UTC, shown in the session's time zone).
  if (type === 'datetime') return 'datetime';
  return undefined;
}

/**
 * One statement, inside the push's transaction: the table's triggers, its columns' types and the
 * session's sql_mode. `captureAllowed` is what bulkCaptureAllowed said before (only dualdb's
 * triggers); `exact` the columns left out of the read-back.
 */
export async function hubBulkFacts(conn: PoolConnection, table: SyncTable): Promise<HubBulkFacts> {
  const [rows] = await conn.query(
    `SELECT 'T' AS k, TRIGGER_NAME AS name, NULL AS dataType, NULL AS columnType, NULL AS collation, NULL AS scale,
            NULL AS extra, NULL AS dtPrecision, NULL AS maxChars, NULL AS maxBytes, @@session.sql_mode AS mode
       FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?
     UNION ALL
     SELECT 'C', COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COLLATION_NAME, NUMERIC_SCALE, EXTRA, DATETIME_PRECISION,
            CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, @@session.sql_mode
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
    [table.name, table.name],
  );
  const all = rows as HubColumnRow[];
  const ours = new Set(mysqlTriggerNames(table.name));
  const triggers = all.filter((r) => r.k === 'T').map((r) => r.name);
  // All three of ours present and nothing else: the log rows written set-based are exactly the triggers'.
  const captureAllowed = triggers.length === ours.size && triggers.every((n) => ours.has(n));
  const mode = all[0]?.mode ?? '';
  if (!captureAllowed || !modeKeepsValues(String(mode))) return { captureAllowed, exact: [] };
  const num = (v: number | string | null) => (v === null || v === undefined ? null : Number(v));
  const hubCols = new Map(all.filter((r) => r.k === 'C').map((r) => [r.name.toLowerCase(), r]));
  const keyNames = new Set(table.key.map((k) => k.name));
  const exact: ExactColumn[] = [];
  for (const c of table.columns) {
    if (keyNames.has(c.name)) continue; // the key is always read back: the rows are found by it
    const h = hubCols.get(c.name.toLowerCase());
    if (!h?.dataType || !h.columnType) continue;
    const kind = exactKind({
      dataType: h.dataType,
      columnType: h.columnType,
      collation: h.collation,
      scale: num(h.scale),
      extra: h.extra,
    });
    if (kind)
      exact.push({
        name: c.name,
        kind,
        maxChars: num(h.maxChars),
        maxBytes: num(h.maxBytes),
        ...(kind === 'datetime' ? { precision: num(h.dtPrecision) ?? 0 } : {}),
      });
  }
  return { captureAllowed, exact };
}

/** The smallest normal double: a subnormal's text may be read back as another value, or as 0. */
const MIN_NORMAL = 2.2250738585072014e-308;

/**
 * Whether the node's value (SQLite form, as the push sends it) is one the hub stores exactly in that
 * column, or refuses: then the column's read-back tells nothing the node does not know.
 */
export function canonicalValue(col: ExactColumn, v: unknown): boolean {
  if (v === null || v === undefined) return true; // NULL is stored as NULL, or refused (NOT NULL, strict)
  switch (col.kind) {
    case 'integer':
      return typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v));
    case 'double':
      return typeof v === 'number' && Number.isFinite(v) && (v === 0 ? !Object.is(v, -0) : Math.abs(v) >= MIN_NORMAL);
    case 'text': {
      if (typeof v !== 'string' || !isWellFormed(v)) return false;
      // Past the limit the hub refuses the value (strict), except excess trailing spaces, which it
      // cuts with a note: such a value is not canonical. UTF-16 units bound code points and (× 3) bytes.
      if (col.maxChars !== null && v.length > col.maxChars) return false;
      return col.maxBytes === null || v.length * 3 <= col.maxBytes || Buffer.byteLength(v) <= col.maxBytes;
    }
    case 'blob':
      return Buffer.isBuffer(v) && (col.maxBytes === null || v.length <= col.maxBytes);
    case 'datetime':
      return typeof v === 'string' && canonicalDatetime(v, col.precision ?? 0);
  }
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * A DATETIME the hub stores as sent (the push sends MySQL's form as it is: codec.ts
 * normaliseDatetimeText) and reads back as the same text (convert.ts drops an all-zero fraction):
 * MySQL's own form, a real date and time in 1000–9999, and either no fraction or exactly the
 * column's digits, not all zero. Anything else (a fraction cut or padded, ISO `T`/`Z`, 24:00:00,
 * 2024-02-30) is not canonical: read back as before, in effect (logged for the node to pull).
 */
export function canonicalDatetime(v: string, precision: number): boolean {
  const m = DATETIME.exec(v);
  if (!m) return false;
  const [, y, mo, d, h, mi, s, frac] = m as unknown as string[];
  if (frac !== undefined && (frac.length !== precision || /^0+$/.test(frac))) return false;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1000 || month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return day <= days && Number(h) <= 23 && Number(mi) <= 59 && Number(s) <= 59;
}

/** No lone surrogate: the driver would send U+FFFD for it (String.prototype.isWellFormed, Node 20; not in the ES2022 lib). */
function isWellFormed(v: string): boolean {
  return (v as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Every exact column of the row holds a canonical value (`canonicalValue`). */
export function canonicalOn(exact: readonly ExactColumn[], row: Row): boolean {
  for (const c of exact) if (!canonicalValue(c, row[c.name])) return false;
  return true;
}

/** The table's synced columns without the exact ones: what the push reads back (the key included). */
export function readBackColumns(table: SyncTable, exact: readonly ExactColumn[]): SyncTable['columns'] {
  if (exact.length === 0) return table.columns;
  const skip = new Set(exact.map((c) => c.name));
  return table.columns.filter((c) => !skip.has(c.name));
}

/**
 * Nothing to read back: every synced column but the key is exact, and the key is integers (a text
 * key the hub compares by collation may name its row under another spelling: read back, it is
 * compared like any column). Then the push sends no RETURNING and no SELECT for the rows' images.
 */
export function nothingToReadBack(table: SyncTable, exact: readonly ExactColumn[]): boolean {
  return (
    exact.length > 0 && readBackColumns(table, exact).length === table.key.length && table.key.every((k) => k.type === 'integer')
  );
}
