/**
 * The prepare-target phase, after capture is installed and before any row is copied: an
 * interrupted run's markers are loaded (--resume), a target table that already holds rows
 * is refused or emptied (--truncate), and the positions the sync later goes on from are
 * read and kept in the run state.
 */
import { nodeHoles, readHubPosition } from '../compare/pull-cursor.js';
import type { SyncTable } from '../sync/plan.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { localLogPosition } from './cursors.js';
import { NonEmptyTargetError } from './errors.js';
import { HubMarkers, type RunState, readRunState, SqliteMarkers, type TableMarker, writeRunState } from './markers.js';
import { type CapturedScope, lower, type PreparedRun, type RunContext, type SchemaPlan } from './run-context.js';
import { skippedEntries } from './scope.js';
import { type HubCapabilities, truncateTargets } from './table-copy.js';
import type { TableReport } from './types.js';

/** Resume state, target emptiness (or truncation), the positions the sync goes on from, the report's entries. */
export async function prepareTarget(
  ctx: RunContext,
  schema: SchemaPlan,
  captured: CapturedScope,
  caps: HubCapabilities | undefined,
): Promise<PreparedRun> {
  const { db, hub, report, options: o } = ctx;
  const { scope } = captured;
  const hubMarkers = new HubMarkers(hub, captured.nodeId);
  const sqliteMarkers = new SqliteMarkers(db);
  const prev = readRunState(db);
  if (o.resume && prev?.status === 'running' && prev.direction !== ctx.direction) {
    throw new DualdbError(
      'MIGRATION_BAD_OPTIONS',
      `the interrupted migration copied ${prev.direction === 'sqlite-to-mysql' ? 'SQLite to MySQL' : 'MySQL to SQLite'}; resume it in that direction`,
      {
        hint: `run \`dualdb migrate${prev.direction === 'mysql-to-sqlite' ? ' --from mysql' : ''} --resume\``,
        exitCode: EXIT.CONFIG,
      },
    );
  }
  const resuming = Boolean(o.resume && prev?.status === 'running' && prev.direction === ctx.direction);
  report.resumed = resuming;
  const markers: Map<string, TableMarker> = resuming ? (ctx.toHub ? await hubMarkers.load() : sqliteMarkers.load()) : new Map();
  const toTruncate: SyncTable[] = [];
  const targetRows = new Map<string, number>();
  for (const t of scope) {
    const n = await ctx.countRows(t.name, ctx.targetSide);
    targetRows.set(t.name, n);
    if (markers.has(t.name) || n === 0) continue;
    if (o.truncate) toTruncate.push(t);
    else throw new NonEmptyTargetError(t.name, ctx.targetName, n, ctx.direction, ctx.toHub ? await ctx.hubOnlyRows(t.name) : 0);
  }

  let run: RunState;
  if (resuming && prev) {
    run = prev;
  } else {
    if (toTruncate.length) await truncateTargets(ctx, toTruncate);
    if (ctx.toHub) {
      await hubMarkers.install();
      await hubMarkers.clear(scope.map((t) => t.name));
    } else {
      sqliteMarkers.install();
      sqliteMarkers.clear(scope.map((t) => t.name));
    }
    // After capture is installed, before any row is read: every later write is logged above these.
    const startSeq = localLogPosition(db);
    const position = await readHubPosition(hub, nodeHoles(db));
    if (!position) throw new Error('the hub change log is missing right after capture was installed');
    run = {
      direction: ctx.direction,
      status: 'running',
      startSeq: startSeq.toString(),
      hub: { maxSeq: position.maxSeq.toString(), holes: position.holes.map(String), hubNowMs: position.hubNowMs },
      tables: scope.map((t) => t.name),
      complete: captured.complete,
      startedAt: new Date().toISOString(),
    };
    writeRunState(db, run);
  }

  const entries = new Map<string, TableReport>();
  for (const t of scope) {
    const entry: TableReport = {
      table: t.name,
      rowsTotal: 0,
      rowsResumed: markers.get(t.name)?.rowsDone ?? 0,
      rowsCopied: 0,
      seconds: 0,
      method: report.method,
      state: 'planned',
      created: schema.creates.some((c) => lower(c.table) === lower(t.name)),
      targetRows: targetRows.get(t.name) ?? 0,
      verification: null,
    };
    entries.set(t.name, entry);
    report.tables.push(entry);
    ctx.emitProgress({
      table: t.name,
      rowsDone: entry.rowsResumed,
      rowsTotal: 0,
      rowsPerSec: 0,
      etaSec: null,
      state: 'waiting',
    });
  }
  report.tables.push(...skippedEntries(ctx, captured.plan, schema.requested, report.method));
  ctx.lap('captureMs');
  return { ...captured, caps, hubMarkers, sqliteMarkers, markers, entries, run, copied: new Map() };
}
