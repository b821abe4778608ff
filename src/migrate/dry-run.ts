/**
 * A dry run: after the schema plan and the pre-flight, the tables the real run would
 * copy, with their row counts, resume markers and the reasons it would refuse; nothing
 * is written. Tables the run would create are planned with the source's shape as a stand-in.
 */
import { planOptionsOf } from '../compare/compare.js';
import { LocalState } from '../sync/local-state.js';
import { buildSyncPlan } from '../sync/plan.js';
import { NonEmptyTargetError } from './errors.js';
import { HubMarkers, readRunState, SqliteMarkers, type TableMarker } from './markers.js';
import type { SchemaPlan } from './run-context.js';
import { lower, noteRefusal, type RunContext } from './run-context.js';
import { scopeOf, skippedEntries } from './scope.js';
import type { MigrationReport } from './types.js';

export async function dryRunPlan(ctx: RunContext, schema: SchemaPlan): Promise<MigrationReport> {
  const { db, hub, report, options } = ctx;
  const { sqliteTables, hubTables, requested } = schema;
  const onTarget = new Set((ctx.toHub ? hubTables : sqliteTables).map((t) => lower(t.name)));
  const standIn = (ctx.toHub ? sqliteTables : hubTables).filter((t) => !onTarget.has(lower(t.name)));
  const plan = ctx.toHub
    ? buildSyncPlan(sqliteTables, [...hubTables, ...standIn], planOptionsOf(ctx.config))
    : buildSyncPlan([...sqliteTables, ...standIn], hubTables, planOptionsOf(ctx.config));
  const { scope } = scopeOf(ctx, plan, requested);
  const prev = readRunState(db);
  const resuming = Boolean(options.resume && prev?.status === 'running' && prev.direction === ctx.direction);
  let markers = new Map<string, TableMarker>();
  if (resuming && prev) {
    const node = new LocalState(db).getMeta('node_id');
    markers = ctx.toHub ? (node ? await new HubMarkers(hub, node).load() : new Map()) : new SqliteMarkers(db).load();
  }
  report.resumed = resuming;
  const sourceSide = ctx.toHub ? 'sqlite' : 'mysql';
  for (const t of scope) {
    const exists = onTarget.has(lower(t.name));
    const targetRows = exists ? await ctx.countRows(t.name, ctx.targetSide) : 0;
    const marker = markers.get(t.name);
    report.tables.push({
      table: t.name,
      rowsTotal: await ctx.countRows(t.name, sourceSide),
      rowsResumed: marker?.rowsDone ?? 0,
      rowsCopied: 0,
      seconds: 0,
      method: report.method,
      state: marker?.done ? 'done' : 'planned',
      created: !exists,
      targetRows,
      verification: null,
    });
    if (targetRows > 0 && !marker && !options.truncate) {
      const hubOnly = ctx.toHub ? await ctx.hubOnlyRows(t.name) : 0;
      const e = new NonEmptyTargetError(t.name, ctx.targetName, targetRows, ctx.direction, hubOnly);
      noteRefusal(report, e, e.oneLine());
    }
  }
  report.tables.push(...skippedEntries(ctx, plan, requested, report.method));
  report.ok = report.problems.length === 0;
  return ctx.finishReport();
}
