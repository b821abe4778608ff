/**
 * One migration run as its phases, in order: plan schema → pre-flight → create tables →
 * prepare target → copy → verify → finish (see migration.ts for why this order). Each
 * phase is a method that takes what the earlier ones found, announces itself with a
 * `phase` event and adds its time to the report's timings; what they all share lives in
 * the RunContext.
 */
import { planOptionsOf } from '../compare/compare.js';
import { assertNoUnsyncedRows } from '../compare/join-guard.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { isMetaTable } from '../engines/types.js';
import { applySchemaPlan, diffSchemas } from '../schema/diff.js';
import { preflightToHub } from '../schema/preflight.js';
import { keyCollationFor } from '../schema/translate.js';
import { installCapture } from '../sync/init.js';
import { buildSyncPlan } from '../sync/plan.js';
import { attachValueForms } from '../sync/value-forms.js';
import { moveCursors } from './cursors.js';
import { dryRunPlan } from './dry-run.js';
import { PreflightFailedError, VerificationFailedError } from './errors.js';
import { writeRunState } from './markers.js';
import { prepareTarget } from './prepare-target.js';
import {
  type CapturedScope,
  lower,
  noteRefusal,
  type PreparedRun,
  positionOf,
  type RunContext,
  type SchemaPlan,
  startSeqOf,
} from './run-context.js';
import { requestedTables, scopeOf } from './scope.js';
import { copyTables, type HubCapabilities, hubCapabilities } from './table-copy.js';
import type { MigrationPhase, MigrationReport } from './types.js';
import { verifyCopy } from './verify.js';

export class MigrationRun {
  constructor(private readonly ctx: RunContext) {}

  async execute(): Promise<MigrationReport> {
    const schema = await this.phase('schema', () => this.planSchema());
    const caps = await this.phase('preflight', () => this.preflight(schema));
    if (this.ctx.report.dryRun) return this.phase('dry-run', () => dryRunPlan(this.ctx, schema));
    const captured = await this.phase('create-tables', () => this.createTables(schema));
    const prepared = await this.phase('prepare-target', () => prepareTarget(this.ctx, schema, captured, caps));
    await this.phase('copy', () => this.copy(prepared));
    await this.phase('verify', () => this.verify(prepared));
    return this.phase('finish', () => this.finish(prepared));
  }

  private async phase<T>(phase: MigrationPhase, body: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    this.ctx.emitPhase({ phase, state: 'started' });
    const out = await body();
    this.ctx.emitPhase({ phase, state: 'done', ms: Date.now() - t0 });
    return out;
  }

  /** 1. What the target lacks is created (later); what differs is refused. */
  private async planSchema(): Promise<SchemaPlan> {
    const { ctx } = this;
    const { db, hub, report } = ctx;
    const sqliteTables = introspectSqlite(db).filter((t) => !isMetaTable(t.name));
    const hubTables = (await introspectMysql(hub)).filter((t) => !isMetaTable(t.name));
    const source = ctx.toHub ? sqliteTables : hubTables;
    const requested = requestedTables(ctx, source);
    const targetNames = new Set((ctx.toHub ? hubTables : sqliteTables).map((t) => lower(t.name)));
    const diff = diffSchemas(sqliteTables, hubTables, {
      direction: ctx.targetSide,
      keyCollation: await keyCollationFor(hub),
      ...(requested ? { tables: requested } : {}),
      db,
    });
    const creates = diff.plan.filter((s) => s.target === ctx.targetSide && !targetNames.has(lower(s.table)));
    report.created = creates.map((s) => ({ table: s.table, side: s.target, sql: s.sql }));
    const sourceNames = new Set(source.map((t) => lower(t.name)));
    report.warnings = [
      ...diff.warnings.map((w) => `${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${w.reason}`),
      ...diff.untouched
        .filter((u) => sourceNames.has(lower(u.table)) && targetNames.has(lower(u.table)))
        .map((u) => `${u.table}${u.column ? `.${u.column}` : ''}: ${u.problem} — ${u.reason}`),
    ];
    ctx.lap('schemaMs');
    return { sqliteTables, hubTables, requested, creates };
  }

  /** 2. SQLite → MySQL: values the hub would refuse or change stop the run before anything is written. */
  private async preflight(schema: SchemaPlan): Promise<HubCapabilities | undefined> {
    const { ctx } = this;
    const { report } = ctx;
    if (ctx.toHub) {
      const scopeNames = schema.requested ?? schema.sqliteTables.map((t) => t.name);
      const pf = await preflightToHub(ctx.db, ctx.hub, { tables: scopeNames, samplesPerCheck: 5 });
      report.preflight = { ok: pf.ok, findings: pf.findings, counts: pf.counts, truncated: pf.truncated };
      if (!pf.ok) {
        if (!report.dryRun) throw new PreflightFailedError(pf);
        noteRefusal(report, new PreflightFailedError(pf));
      }
    }
    ctx.lap('preflightMs');
    ctx.checkAbort();
    const caps = ctx.toHub ? await hubCapabilities(ctx) : undefined;
    if (caps) {
      report.method = caps.method;
      if (caps.reason) report.methodReason = caps.reason;
    }
    return caps;
  }

  /** 3. Missing target tables are created, then capture is installed on both sides. */
  private async createTables(schema: SchemaPlan): Promise<CapturedScope> {
    const { ctx } = this;
    const { db, hub } = ctx;
    let { sqliteTables, hubTables } = schema;
    if (schema.creates.length) {
      const applied = await applySchemaPlan(schema.creates, { db, hub });
      if (!applied.ok && applied.error) throw applied.error;
      sqliteTables = introspectSqlite(db).filter((t) => !isMetaTable(t.name));
      hubTables = (await introspectMysql(hub)).filter((t) => !isMetaTable(t.name));
    }
    ctx.lap('schemaMs');
    const plan = buildSyncPlan(sqliteTables, hubTables, planOptionsOf(ctx.config));
    // Before any row lands: the forms come from the rows the application wrote, not from the copy.
    attachValueForms(db, plan.tables, ctx.config.sync.valueForms);
    const { scope, complete } = scopeOf(ctx, plan, schema.requested);
    // The join guard (invariant 15) runs unless the copy is told to empty its targets (--truncate:
    // the target becomes the source's copy) or resumes one (capture is already there): a refused
    // copy into a non-empty target must not leave this file captured with rows that never sync.
    const init = await installCapture(db, hub, ctx.config, {
      joinGuard: ctx.options.truncate || ctx.options.resume ? undefined : assertNoUnsyncedRows,
    });
    ctx.checkAbort();
    return { plan, scope, complete, nodeId: init.nodeId };
  }

  /** 5. The copy, parents first; the table it failed in is marked failed. */
  private async copy(job: PreparedRun): Promise<void> {
    const { ctx } = this;
    try {
      await copyTables(ctx, job);
    } catch (e) {
      const entry = [...job.entries.values()].find((x) => x.state === 'planned');
      if (entry) {
        entry.state = 'failed';
        entry.error = (e as Error).message;
        ctx.emitProgress({
          table: entry.table,
          rowsDone: entry.rowsResumed + entry.rowsCopied,
          rowsTotal: entry.rowsTotal,
          rowsPerSec: 0,
          etaSec: null,
          state: 'failed',
          error: (e as Error).message,
        });
      }
      throw e;
    }
    ctx.report.rowsCopied = [...job.entries.values()].reduce((n, e) => n + e.rowsCopied, 0);
    ctx.lap('copyMs');
  }

  /** 6. Counts and checksums; a difference changed after the positions is explained. */
  private async verify(job: PreparedRun): Promise<void> {
    if (!this.ctx.options.skipVerify)
      await verifyCopy(this.ctx, job.scope, job.entries, startSeqOf(job.run), positionOf(job.run), job.copied);
    this.ctx.lap('verifyMs');
  }

  /** 7. Cursors move (unless the verification failed), then the run is done. */
  private async finish(job: PreparedRun): Promise<MigrationReport> {
    const { ctx } = this;
    const { report } = ctx;
    const { run } = job;
    const failed = [...job.entries.values()].filter(
      (e) => e.verification && (e.verification.status === 'differ' || e.verification.status === 'error'),
    );
    report.cursors = {
      startSeq: run.startSeq,
      hubSeq: run.hub.maxSeq,
      hubHoles: run.hub.holes.length,
      push: { moved: false, dropped: 0 },
      pull: { moved: false },
    };
    if (failed.length) {
      report.ok = false;
      ctx.lap('cursorsMs');
      report.cursors.push.reason = report.cursors.pull.reason = 'verification failed: cursors left where they were';
      ctx.finishReport();
      throw new VerificationFailedError(report);
    }
    Object.assign(report.cursors, await moveCursors(ctx, job, startSeqOf(run), positionOf(run)));
    writeRunState(ctx.db, { ...run, status: 'done' });
    const names = job.scope.map((t) => t.name);
    if (ctx.toHub) await job.hubMarkers.clear(names);
    else job.sqliteMarkers.clear(names);
    ctx.lap('cursorsMs');
    return ctx.finishReport();
  }
}
