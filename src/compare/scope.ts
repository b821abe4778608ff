/**
 * Which tables a compare or repair covers: the synced tables of the sync plan
 * (optionally narrowed with --tables), and every table that cannot be compared
 * row by row with the reason — only on one side, schema drift, no primary key —
 * so that nothing is left out silently.
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
import type { TableIssue, TableIssueKind } from './types.js';

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
    ...plan.skipped.map((p) => ({ ...p, paused: false })),
  ].filter((i) => included(i.table) && !isMetaTable(i.table));
  for (const issue of entries) {
    const sName = sNames.get(lower(issue.table));
    const mName = mNames.get(lower(issue.table));
    const kind = classify(issue.reason, sName !== undefined, mName !== undefined, issue.paused);
    const rows = {
      sqlite: sName === undefined ? null : sqliteRowCount(db, sName),
      mysql: mName === undefined ? null : await mysqlCount(hub, mName),
    };
    // A table on one side only, or with different columns, is a difference. One that is not
    // synced by design (no usable primary key: setup and `init` said so) is reported but is not,
    // whatever its counts: no sync or repair can make it equal, so exit 20 would never clear.
    const difference = kind === 'only-in-sqlite' || kind === 'only-in-mysql' || kind === 'schema-drift';
    issues.push({ table: issue.table, kind, reason: issue.reason, difference, rows });
  }
  return { plan, tables, issues, complete: tables.length === synced.length };
}

async function mysqlCount(hub: MysqlHub, table: string): Promise<number> {
  const [row] = await hub.query<{ c: string | number }>(`SELECT COUNT(*) AS c FROM ${quoteMysqlId(table)}`);
  return Number(row?.c ?? 0);
}
