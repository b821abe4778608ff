/**
 * Drift is caught before data moves (docs/SYNC-CONTRACT.md invariants 9 and 16). The sync plan
 * (which columns each table has on both sides) is cached for a few seconds; a column added in
 * between would otherwise let a row travel without it. So every batch that moves rows first
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

export function sqliteSchemaVersion(db: SqliteDb): number {
  return Number(db.pragma('schema_version', { simple: true }));
}

/** The query of hubSchemaFingerprint (n, h), for a caller that sends it along with others (push-one.ts). */
export const SCHEMA_FINGERPRINT_SQL = `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, ORDINAL_POSITION))) AS h
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_dualdb\\_%'`;

/** A digest of every user column's definition on the hub (name, type, nullability, key, position). */
export async function hubSchemaFingerprint(hub: MysqlHub): Promise<string> {
  const [r] = await hub.query<{ n: string | number; h: string | number | null }>(SCHEMA_FINGERPRINT_SQL);
  return `${r?.n ?? 0}:${r?.h ?? 0}`;
}

/** Throws PlanStaleError when SQLite's schema moved on; call inside the batch's SQLite transaction. */
export function assertSqliteUnchanged(db: SqliteDb, stamp: SchemaStamp | undefined): void {
  if (stamp && sqliteSchemaVersion(db) !== stamp.sqliteVersion) throw new PlanStaleError('sqlite');
}

/** Throws PlanStaleError when the hub's columns changed. */
export async function assertHubUnchanged(hub: MysqlHub, stamp: SchemaStamp | undefined): Promise<void> {
  if (stamp && (await hubSchemaFingerprint(hub)) !== stamp.hubFingerprint) throw new PlanStaleError('hub');
}
