/**
 * Which tables a compare or repair covers: the synced tables of the sync plan
 * (optionally narrowed with --tables), and every table that cannot be compared
 * row by row with the reason — skipped by the sync (only on one side, no primary
 * key, SYNC_EXCLUDE) or paused by schema drift — so that nothing is left out silently.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { introspectSqlite, sqliteRowCount } from '../engines/sqlite/introspect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { isMetaTable } from '../engines/types.js';
import { buildSyncPlan, type PlanOptions, type SyncPlan, type SyncTable, userTables } from '../sync/plan.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { PausedTable, SkippedTable, TableIssue, TableIssueKind } from './types.js';

export interface CompareScope {
  plan: SyncPlan;
  /** Synced tables to compare, parents first (the plan's rank order). */
  tables: SyncTable[];
  issues: TableIssue[];
  /** Whether every synced table of the plan is in `tables` (no --tables narrowing). */
  complete: boolean;
}

const lower = (s: string) => s.toLowerCase();

function classify(reason: string, inSqlite: boolean, inMysql: boolean, paused: boolean): TableIssueKind {
  if (paused) return 'schema-drift';
  if (reason.startsWith('excluded')) return 'excluded';
  if (inSqlite && !inMysql) return 'only-in-sqlite';
  if (inMysql && !inSqlite) return 'only-in-mysql';
  if (!inSqlite && !inMysql) return 'not-found';
  if (reason.startsWith('no primary key')) return 'no-primary-key';
  return 'unsupported-key';
}

export async function resolveScope(
  db: SqliteDb,
  hub: MysqlHub,
  planOptions: PlanOptions = {},
  requested: string[] = [],
): Promise<CompareScope> {
  const sqliteTables = introspectSqlite(db);
  const mysqlTables = await introspectMysql(hub);
  const plan = buildSyncPlan(sqliteTables, mysqlTables, planOptions);
  const sNames = new Map(sqliteTables.filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t.name]));
  const mNames = new Map(mysqlTables.filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t.name]));
  const wanted = new Set(requested.map(lower));
  const unknown = [...wanted].filter((w) => !sNames.has(w) && !mNames.has(w));
  if (unknown.length) {
    throw new DualdbError('UNKNOWN_TABLE', `no table named ${unknown.join(', ')} in SQLite or MySQL`, {
      hint: 'check the names given to --tables (`dualdb status` lists the tables)',
      exitCode: EXIT.CONFIG,
    });
  }
  const included = (name: string) => wanted.size === 0 || wanted.has(lower(name));
  const synced = userTables(plan);
  const tables = synced.filter((t) => included(t.name));

  const issues: TableIssue[] = [];
  const entries = [
    ...plan.paused.map((p) => ({ ...p, paused: true })),
    ...plan.skipped.map((p) => ({ ...p, paused: false, fix: undefined })),
  ].filter((i) => included(i.table) && !isMetaTable(i.table));
  for (const issue of entries) {
    const sName = sNames.get(lower(issue.table));
    const mName = mNames.get(lower(issue.table));
    const kind = classify(issue.reason, sName !== undefined, mName !== undefined, issue.paused);
    const rows = {
      sqlite: sName === undefined ? null : sqliteRowCount(db, sName),
      mysql: mName === undefined ? null : await mysqlCount(hub, mName),
    };
    // Compare checks what the sync keeps equal. A table it skips (no usable primary key, on one
    // side only, SYNC_EXCLUDE: `sync`, `status` and `init` say so) is listed with why but is no
    // difference, whatever its counts: no sync or repair makes it equal, so exit 20 would never
    // clear (operator: an `audit_log` without a key, in SQLite only, failed every scripted
    // compare). A table paused by schema drift is one the sync means to keep equal and cannot:
    // that is a difference, and its fix is the schema's, not a repair's.
    const difference = kind === 'schema-drift';
    issues.push({
      table: issue.table,
      kind,
      reason: issue.reason,
      difference,
      ...(issue.fix ? { fix: issue.fix } : {}),
      rows,
    });
  }
  return { plan, tables, issues, complete: tables.length === synced.length };
}

/** The skipped tables, as `sync --once --json` lists them. */
export function skippedOf(issues: readonly TableIssue[]): SkippedTable[] {
  return issues.filter((i) => i.kind !== 'schema-drift').map((i) => ({ table: i.table, reason: i.reason }));
}

/** The tables paused by schema drift, with their fix. */
export function pausedOf(issues: readonly TableIssue[]): PausedTable[] {
  return issues
    .filter((i) => i.kind === 'schema-drift')
    .map((i) => ({ table: i.table, reason: i.reason, ...(i.fix ? { fix: i.fix } : {}) }));
}

async function mysqlCount(hub: MysqlHub, table: string): Promise<number> {
  const [row] = await hub.query<{ c: string | number }>(`SELECT COUNT(*) AS c FROM ${quoteMysqlId(table)}`);
  return Number(row?.c ?? 0);
}
