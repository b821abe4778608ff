/**
 * What the hub's column definitions tell about how MySQL prints their values, read once per
 * table so that each row's checksum text needs fewer functions (engine-hash.ts `mysqlPart`):
 * a utf8 column needs no CONVERT, and a DATETIME/TIME/DECIMAL with a fixed number of
 * fraction digits always (or never) prints a point, so the trim needs no test for one.
 */
import type { PoolConnection } from '../engines/mysql/connect.js';

export interface HubColumnFact {
  /** The column's bytes are already UTF-8 (utf8mb3 or utf8mb4): CONVERT(… USING utf8mb4) changes nothing. */
  utf8: boolean;
  /** Fraction digits MySQL always prints (DATETIME/TIME precision, DECIMAL scale); null: not such a type. */
  fractionDigits: number | null;
}

export type HubColumnFacts = ReadonlyMap<string, HubColumnFact>;

/** Facts of one hub table's columns, keyed by lower-case column name. */
export async function readHubColumnFacts(conn: PoolConnection, table: string): Promise<HubColumnFacts> {
  const [rows] = (await conn.query(
    `SELECT COLUMN_NAME AS name, CHARACTER_SET_NAME AS charset, DATA_TYPE AS type,
       DATETIME_PRECISION AS fsp, NUMERIC_SCALE AS scale
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
    [table],
  )) as unknown as [{ name: string; charset: string | null; type: string; fsp: unknown; scale: unknown }[]];
  const facts = new Map<string, HubColumnFact>();
  for (const r of rows) {
    const type = String(r.type).toLowerCase();
    const digits =
      type === 'datetime' || type === 'timestamp' || type === 'time'
        ? r.fsp
        : type === 'decimal' || type === 'numeric'
          ? r.scale
          : null;
    facts.set(String(r.name).toLowerCase(), {
      utf8: r.charset !== null && /^utf8(mb[34])?$/i.test(r.charset),
      fractionDigits: digits === null || digits === undefined ? null : Number(digits),
    });
  }
  return facts;
}
