/**
 * Drift is caught before data moves (docs/SYNC-CONTRACT.md invariants 9 and 16). The sync plan
 * (which columns each table has on both sides) is cached for a few seconds, then kept while one
 * fingerprint of all it was built from (PLAN_FINGERPRINT_SQL) holds; a column added in between would otherwise let a row travel without it. So every batch that moves rows first
 * checks that neither side's schema changed since the plan was made — cheaply: SQLite's
 * `schema_version` (bumped by every DDL, read in the batch's own transaction) and a fingerprint
 * of the hub's column definitions (one information_schema query, only for batches with work).
 * A change throws PlanStaleError; the syncer re-plans (pausing the drifted table) and retries.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError } from '../util/errors.js';

export class PlanStaleError extends DualdbError {
  constructor(readonly side: 'sqlite' | 'hub') {
    super('PLAN_STALE', `the ${side === 'sqlite' ? 'SQLite' : 'hub'} schema changed since the sync plan was made`);
  }
}

export interface SchemaStamp {
  sqliteVersion: number;
  hubFingerprint: string;
}

const schemaVersionReads = new WeakMap<SqliteDb, { get(): unknown }>();

export function sqliteSchemaVersion(db: SqliteDb): number {
  // Compiled once per connection: `db.pragma` prepares its statement on every call, and every
  // `both` write reads this twice (the plan's check, the one-row push's).
  let read = schemaVersionReads.get(db);
  if (!read) {
    read = db.prepare('PRAGMA schema_version').pluck();
    schemaVersionReads.set(db, read);
  }
  return Number(read.get());
}

/** User tables only (not dualdb's own `_dualdb_` ones), in the database connected to. */
const USER_TABLES = `TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_dualdb\\_%'`;
/** Per column: name, type, nullability, key, position (the batches' stamp). */
const COLUMN_DIGEST = `SUM(CRC32(CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, ORDINAL_POSITION)))`;

/** The query of hubSchemaFingerprint (n, h), for a caller that sends it along with others (push-one.ts). */
export const SCHEMA_FINGERPRINT_SQL = `SELECT COUNT(*) AS n, ${COLUMN_DIGEST} AS h FROM information_schema.COLUMNS WHERE ${USER_TABLES}`;

/**
 * The hub's column fingerprint as one text, in the stamp's form (`n:h`, hubSchemaFingerprint), for a
 * statement that compares it on the server (push-one.ts).
 */
export const SCHEMA_FINGERPRINT_TEXT_SQL = `SELECT CONCAT(COUNT(*), ':', COALESCE(${COLUMN_DIGEST}, 0)) FROM information_schema.COLUMNS WHERE ${USER_TABLES}`;

/** A digest of every user column's definition on the hub (name, type, nullability, key, position). */
export async function hubSchemaFingerprint(hub: MysqlHub): Promise<string> {
  const [r] = await hub.query<{ n: string | number; h: string | number | null }>(SCHEMA_FINGERPRINT_SQL);
  return `${r?.n ?? 0}:${r?.h ?? 0}`;
}

/**
 * Everything of the hub's schema a sync plan is built from (introspectMysql): each user column's
 * full definition (type, nullability, default, extra, collation, key, position), each index
 * column and each foreign key column with its rules; `c` is the same digest as
 * SCHEMA_FINGERPRINT_SQL (the batches' stamp). NULLs are spelt out: CONCAT_WS would skip them.
 */
export const PLAN_FINGERPRINT_SQL = `SELECT
  (SELECT CONCAT(COUNT(*), ':', COALESCE(${COLUMN_DIGEST}, 0)) FROM information_schema.COLUMNS WHERE ${USER_TABLES}) AS c,
  (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, DATA_TYPE, COALESCE(COLUMN_DEFAULT, '<none>'), EXTRA,
            COALESCE(COLLATION_NAME, '-'), COALESCE(CHARACTER_MAXIMUM_LENGTH, '-'), COALESCE(NUMERIC_PRECISION, '-'), COALESCE(NUMERIC_SCALE, '-')))), 0)
     FROM information_schema.COLUMNS WHERE ${USER_TABLES}) AS d,
  (SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COALESCE(COLUMN_NAME, '<expr>')))), 0))
     FROM information_schema.STATISTICS WHERE ${USER_TABLES}) AS i,
  (SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.ORDINAL_POSITION,
            k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE))), 0))
     FROM information_schema.KEY_COLUMN_USAGE k
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
    WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME NOT LIKE '\\_dualdb\\_%' AND k.REFERENCED_TABLE_NAME IS NOT NULL) AS f`;

/**
 * The hub's schema as a plan sees it, in one round trip: `columns` is the stamp the batches
 * compare with (hubSchemaFingerprint's form), `whole` covers every part of the plan's input.
 */
export async function hubPlanFingerprint(hub: MysqlHub): Promise<{ columns: string; whole: string }> {
  const [r] = await hub.query<{ c: string; d: string | number; i: string; f: string }>(PLAN_FINGERPRINT_SQL);
  const columns = String(r?.c ?? '0:0');
  return { columns, whole: [columns, r?.d ?? 0, r?.i ?? '0:0', r?.f ?? '0:0'].join('/') };
}

/** Throws PlanStaleError when SQLite's schema moved on; call inside the batch's SQLite transaction. */
export function assertSqliteUnchanged(db: SqliteDb, stamp: SchemaStamp | undefined): void {
  if (stamp && sqliteSchemaVersion(db) !== stamp.sqliteVersion) throw new PlanStaleError('sqlite');
}

/** Throws PlanStaleError when the hub's columns changed. */
export async function assertHubUnchanged(hub: MysqlHub, stamp: SchemaStamp | undefined): Promise<void> {
  if (stamp && (await hubSchemaFingerprint(hub)) !== stamp.hubFingerprint) throw new PlanStaleError('hub');
}
