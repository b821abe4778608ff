/** Which tables a run copies: --tables resolved against the source, the synced scope, the tables left out. */
import { isMetaTable, type TableInfo } from '../engines/types.js';
import type { SyncPlan, SyncTable } from '../sync/plan.js';
import { userTables } from '../sync/plan.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { SchemaMismatchError } from './errors.js';
import { lower, noteRefusal, type RunContext } from './run-context.js';
import type { CopyMethod, TableReport } from './types.js';

/** --tables, resolved to the source's spelling; unknown names are an error. */
export function requestedTables(ctx: RunContext, source: TableInfo[]): string[] | undefined {
  const wanted = ctx.options.tables?.filter(Boolean);
  if (!wanted?.length) return undefined;
  const byName = new Map(source.map((t) => [lower(t.name), t.name]));
  const unknown = wanted.filter((w) => !byName.has(lower(w)));
  if (unknown.length) {
    throw new DualdbError(
      'UNKNOWN_TABLE',
      `no table named ${unknown.join(', ')} in ${ctx.toHub ? 'SQLite' : 'MySQL'} (the migration's source)`,
      { hint: 'check the names given to --tables', exitCode: EXIT.CONFIG },
    );
  }
  return wanted.map((w) => byName.get(lower(w)) as string);
}

/**
 * The synced tables to copy (parents first); a requested table that cannot be synced is an
 * error (a dry run lists it among its problems instead).
 */
export function scopeOf(
  ctx: RunContext,
  plan: SyncPlan,
  requested: string[] | undefined,
): { scope: SyncTable[]; complete: boolean } {
  const report = ctx.report;
  const synced = userTables(plan);
  const wanted = requested ? new Set(requested.map(lower)) : undefined;
  const scope = synced.filter((t) => !wanted || wanted.has(lower(t.name)));
  const paused = plan.paused.filter((p) => !wanted || wanted.has(lower(p.table)));
  if (paused.length) {
    const err = new SchemaMismatchError(paused.map((p) => `${p.table}: ${p.reason}`));
    if (!report.dryRun) throw err;
    noteRefusal(report, err);
  }
  if (wanted) {
    const bad = plan.skipped.filter((s) => wanted.has(lower(s.table)));
    if (bad.length) {
      const err = new DualdbError(
        'MIGRATION_TABLE_NOT_SYNCABLE',
        `cannot migrate ${bad.map((b) => `${b.table} (${b.reason})`).join('; ')}`,
        { hint: 'the migration copies the tables the sync engine can keep in sync', exitCode: EXIT.CONFIG },
      );
      if (!report.dryRun) throw err;
      noteRefusal(report, err);
    }
  }
  return { scope, complete: scope.length === synced.length };
}

/** Source tables left out (no primary key, excluded…), listed with the reason rather than dropped silently. */
export function skippedEntries(
  ctx: RunContext,
  plan: SyncPlan,
  requested: string[] | undefined,
  method: CopyMethod,
): TableReport[] {
  const wanted = requested ? new Set(requested.map(lower)) : undefined;
  return plan.skipped
    .filter((s) => !isMetaTable(s.table) && (!wanted || wanted.has(lower(s.table))))
    .filter((s) => !/only in (MySQL|SQLite)/.test(s.reason) || s.reason.includes(ctx.toHub ? 'only in SQLite' : 'only in MySQL'))
    .map((s) => ({
      table: s.table,
      rowsTotal: 0,
      rowsResumed: 0,
      rowsCopied: 0,
      seconds: 0,
      method,
      state: 'skipped' as const,
      created: false,
      targetRows: 0,
      verification: null,
      error: s.reason,
    }));
}
