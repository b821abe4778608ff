/**
 * The initial migration: copies a site's existing data between its
 * SQLite file and the hub while the application keeps running.
 *
 * The consistent-snapshot model, in order:
 *  1. schema: missing target tables are created from the translated source
 *     schema (src/schema diff/apply); tables whose columns differ are refused
 *     (`dualdb schema diff|apply` first);
 *  2. pre-flight (SQLite → MySQL): values MySQL would refuse or change stop
 *     the run before anything is written;
 *  3. capture is installed on both sides (the sync engine's installCapture);
 *  4. the positions are read *after* capture and *before* any row is copied:
 *     the local change log's MAX(seq) and the hub's (with its uncommitted holes);
 *  5. tables are copied parents first, in batches, each batch with its resume
 *     marker in one target transaction; the copy is written with capture
 *     suppressed on the target (hub: `@dualdb_capture_off` on a pinned
 *     connection; SQLite: the `applying` flag), so nothing echoes back;
 *  6. verification: counts and chunked checksums (src/compare); a differing key
 *     that was changed on either side after the positions of step 4 is
 *     "explained" (the sync replays it), any other difference fails the run;
 *  7. cursors: local log entries of the copied tables up to the start position
 *     are dropped (the copy holds them) and the push cursor moves there; the
 *     pull cursor moves to the hub position of step 4. Whatever was written on
 *     either side during or after the copy is then replayed by the sync —
 *     applying a change the copy already holds is a harmless idempotent upsert.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { compareOn, connectHubFor, planOptionsOf } from '../compare/compare.js';
import { type HubPosition, nodeHoles, readHubPosition, reportPullPosition, resumePullAt } from '../compare/pull-cursor.js';
import type { TableComparison } from '../compare/types.js';
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { isMetaTable, type TableInfo } from '../engines/types.js';
import { applySchemaPlan, diffSchemas } from '../schema/diff.js';
import { preflightToHub } from '../schema/preflight.js';
import { keyCollationFor } from '../schema/translate.js';
import { installCapture } from '../sync/init.js';
import { LocalState } from '../sync/local-state.js';
import { buildSyncPlan, type SyncPlan, type SyncTable, userTables } from '../sync/plan.js';
import { attachValueForms } from '../sync/value-forms.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { copyTableToHub } from './copy-to-mysql.js';
import { copyTableFromHub } from './copy-to-sqlite.js';
import {
  MigrationInterruptedError,
  NonEmptyTargetError,
  PreflightFailedError,
  SchemaMismatchError,
  VerificationFailedError,
} from './errors.js';
import { HubMarkers, type RunState, readRunState, SqliteMarkers, type TableMarker, writeRunState } from './markers.js';
import { Meter } from './progress.js';
import type {
  CopyMethod,
  CursorReport,
  HubMethod,
  MigrateOptions,
  MigrationDirection,
  MigrationReport,
  MigrationTimings,
  TableProgress,
  TableReport,
  TableVerification,
} from './types.js';

/**
 * Rows per batch: one target transaction with its resume marker each. SQLite → MySQL
 * streams a batch without holding it, so its size costs no memory there; the commit
 * and marker per batch do cost time, hence fairly large batches.
 */
export const DEFAULT_BATCH_SIZE = 50_000;
/** MySQL → SQLite holds a batch in memory: it also ends at this many bytes (rough in-memory size). */
const MAX_BATCH_BYTES = 32 * 1024 * 1024;
/** SQLite → MySQL: a batch also ends after this many bytes of encoded rows (bounds one hub transaction). */
const MAX_HUB_BATCH_BYTES = 64 * 1024 * 1024;
const MAX_STATEMENT_BYTES = 32 * 1024 * 1024;
/** Differences the verification looks at per table (more are reported as unexplained). */
const MAX_VERIFY_DIFFERENCES = 100_000;

const lower = (s: string) => s.toLowerCase();

interface HubCapabilities {
  method: HubMethod;
  reason?: string;
  maxStatementBytes: number;
}

export class Migration extends EventEmitter<{ progress: [TableProgress] }> {
  readonly direction: MigrationDirection;
  private readonly toHub: boolean;
  private readonly batchSize: number;

  constructor(
    private readonly config: Config,
    private readonly options: MigrateOptions = {},
  ) {
    super();
    this.direction = options.direction ?? 'sqlite-to-mysql';
    this.toHub = this.direction === 'sqlite-to-mysql';
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  private emitProgress(p: TableProgress): void {
    this.emit('progress', p);
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) throw new MigrationInterruptedError(this.direction);
  }

  async run(): Promise<MigrationReport> {
    const o = this.options;
    if (o.truncate && o.resume) {
      throw new DualdbError('MIGRATION_BAD_OPTIONS', '--truncate and --resume cannot be combined', {
        hint: '--resume continues an interrupted copy; --truncate starts again from empty tables',
        exitCode: EXIT.CONFIG,
      });
    }
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new DualdbError('MIGRATION_BAD_OPTIONS', `batch size must be a whole number of 1 or more (got ${this.batchSize})`, {
        exitCode: EXIT.CONFIG,
      });
    }
    this.checkAbort();
    const db = this.openLocal();
    let hub: MysqlHub | undefined;
    try {
      hub = await connectHubFor(this.config);
      return await this.migrate(db, hub);
    } finally {
      await hub?.close();
      db.close();
    }
  }

  /** The SQLite file; seeding a new site creates it (a dry run reads an empty stand-in instead). */
  private openLocal(): SqliteDb {
    const missing = !existsSync(this.config.sqlitePath);
    if (missing && !this.toHub && this.options.dryRun) {
      const mem = new Database(':memory:');
      mem.defaultSafeIntegers(true);
      return mem;
    }
    return openSqlite(this.config.sqlitePath, { create: !this.toHub });
  }

  private async migrate(db: SqliteDb, hub: MysqlHub): Promise<MigrationReport> {
    const o = this.options;
    const started = Date.now();
    const report: MigrationReport = {
      direction: this.direction,
      dryRun: o.dryRun ?? false,
      ok: true,
      resumed: false,
      method: this.toHub ? 'load-data' : 'sqlite-upsert',
      batchSize: this.batchSize,
      tables: [],
      created: [],
      warnings: [],
      preflight: null,
      cursors: null,
      problems: [],
      rowsCopied: 0,
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      timings: { schemaMs: 0, preflightMs: 0, captureMs: 0, copyMs: 0, verifyMs: 0, cursorsMs: 0 },
    };
    let mark = started;
    const lap = (phase: keyof MigrationTimings) => {
      const now = Date.now();
      report.timings[phase] += now - mark;
      mark = now;
    };
    const targetSide = this.toHub ? 'mysql' : 'sqlite';

    // 1. Schema: what the target lacks is created; what differs is refused.
    let sqliteTables = introspectSqlite(db).filter((t) => !isMetaTable(t.name));
    let hubTables = (await introspectMysql(hub)).filter((t) => !isMetaTable(t.name));
    const source = this.toHub ? sqliteTables : hubTables;
    const requested = this.requestedTables(source);
    const targetNames = new Set((this.toHub ? hubTables : sqliteTables).map((t) => lower(t.name)));
    const diff = diffSchemas(sqliteTables, hubTables, {
      direction: targetSide,
      keyCollation: await keyCollationFor(hub),
      ...(requested ? { tables: requested } : {}),
      db,
    });
    const creates = diff.plan.filter((s) => s.target === targetSide && !targetNames.has(lower(s.table)));
    report.created = creates.map((s) => ({ table: s.table, side: s.target, sql: s.sql }));
    const sourceNames = new Set(source.map((t) => lower(t.name)));
    report.warnings = [
      ...diff.warnings.map((w) => `${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${w.reason}`),
      ...diff.untouched
        .filter((u) => sourceNames.has(lower(u.table)) && targetNames.has(lower(u.table)))
        .map((u) => `${u.table}${u.column ? `.${u.column}` : ''}: ${u.problem} — ${u.reason}`),
    ];

    lap('schemaMs');

    // 2. Pre-flight: before anything is written.
    if (this.toHub) {
      const scopeNames = requested ?? sqliteTables.map((t) => t.name);
      const pf = await preflightToHub(db, hub, { tables: scopeNames, samplesPerCheck: 5 });
      report.preflight = { ok: pf.ok, findings: pf.findings, counts: pf.counts, truncated: pf.truncated };
      if (!pf.ok) {
        if (!report.dryRun) throw new PreflightFailedError(pf);
        report.problems.push(new PreflightFailedError(pf).message);
      }
    }
    lap('preflightMs');
    this.checkAbort();
    const caps = this.toHub ? await this.hubCapabilities(hub) : undefined;
    if (caps) {
      report.method = caps.method;
      if (caps.reason) report.methodReason = caps.reason;
    }

    if (report.dryRun) return this.dryRunPlan(db, hub, report, sqliteTables, hubTables, requested, started);

    // 3. Create missing target tables, then install capture everywhere.
    if (creates.length) {
      const applied = await applySchemaPlan(creates, { db, hub });
      if (!applied.ok && applied.error) throw applied.error;
      sqliteTables = introspectSqlite(db).filter((t) => !isMetaTable(t.name));
      hubTables = (await introspectMysql(hub)).filter((t) => !isMetaTable(t.name));
    }
    lap('schemaMs');
    const plan = buildSyncPlan(sqliteTables, hubTables, planOptionsOf(this.config));
    // Before any row lands: the forms come from the rows the application wrote, not from the copy.
    attachValueForms(db, plan.tables, this.config.sync.valueForms);
    const { scope, complete } = this.scopeOf(plan, requested, report);
    const init = await installCapture(db, hub, this.config);
    const nodeId = init.nodeId;
    this.checkAbort();

    // 4. Resume state, target emptiness, positions.
    const hubMarkers = new HubMarkers(hub, nodeId);
    const sqliteMarkers = new SqliteMarkers(db);
    const prev = readRunState(db);
    if (o.resume && prev?.status === 'running' && prev.direction !== this.direction) {
      throw new DualdbError(
        'MIGRATION_BAD_OPTIONS',
        `the interrupted migration copied ${prev.direction === 'sqlite-to-mysql' ? 'SQLite to MySQL' : 'MySQL to SQLite'}; resume it in that direction`,
        {
          hint: `run \`dualdb migrate${prev.direction === 'mysql-to-sqlite' ? ' --from mysql' : ''} --resume\``,
          exitCode: EXIT.CONFIG,
        },
      );
    }
    const resuming = Boolean(o.resume && prev?.status === 'running' && prev.direction === this.direction);
    report.resumed = resuming;
    const markers: Map<string, TableMarker> = resuming
      ? this.toHub
        ? await hubMarkers.load()
        : sqliteMarkers.load()
      : new Map();
    const toTruncate: SyncTable[] = [];
    const targetRows = new Map<string, number>();
    for (const t of scope) {
      const n = await this.countRows(db, hub, t.name, this.toHub ? 'mysql' : 'sqlite');
      targetRows.set(t.name, n);
      if (markers.has(t.name) || n === 0) continue;
      if (o.truncate) toTruncate.push(t);
      else throw new NonEmptyTargetError(t.name, this.toHub ? 'MySQL' : 'SQLite', n, this.direction);
    }

    let run: RunState;
    if (resuming && prev) {
      run = prev;
    } else {
      if (toTruncate.length) await this.truncate(db, hub, toTruncate);
      if (this.toHub) {
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
        direction: this.direction,
        status: 'running',
        startSeq: startSeq.toString(),
        hub: { maxSeq: position.maxSeq.toString(), holes: position.holes.map(String), hubNowMs: position.hubNowMs },
        tables: scope.map((t) => t.name),
        complete,
        startedAt: new Date().toISOString(),
      };
      writeRunState(db, run);
    }

    // 5. Copy, parents first.
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
        created: creates.some((c) => lower(c.table) === lower(t.name)),
        targetRows: targetRows.get(t.name) ?? 0,
        verification: null,
      };
      entries.set(t.name, entry);
      report.tables.push(entry);
      this.emitProgress({
        table: t.name,
        rowsDone: entry.rowsResumed,
        rowsTotal: 0,
        rowsPerSec: 0,
        etaSec: null,
        state: 'waiting',
      });
    }
    report.tables.push(...this.skippedEntries(plan, requested, report.method));
    lap('captureMs');
    try {
      if (this.toHub) await this.copyToHub(db, hub, scope, markers, entries, hubMarkers, caps as HubCapabilities, report);
      else await this.copyToSqlite(db, hub, scope, markers, entries, sqliteMarkers);
    } catch (e) {
      for (const entry of entries.values()) {
        if (entry.state === 'planned') {
          entry.state = 'failed';
          entry.error = (e as Error).message;
          this.emitProgress({
            table: entry.table,
            rowsDone: entry.rowsResumed + entry.rowsCopied,
            rowsTotal: entry.rowsTotal,
            rowsPerSec: 0,
            etaSec: null,
            state: 'failed',
            error: (e as Error).message,
          });
          break;
        }
      }
      throw e;
    }
    report.rowsCopied = [...entries.values()].reduce((n, e) => n + e.rowsCopied, 0);
    lap('copyMs');

    // 6. Verification.
    const position: HubPosition = {
      maxSeq: BigInt(run.hub.maxSeq),
      holes: run.hub.holes.map((h) => BigInt(h)),
      hubNowMs: run.hub.hubNowMs,
    };
    const startSeq = BigInt(run.startSeq);
    if (!o.skipVerify) await this.verify(db, hub, scope, entries, startSeq, position);
    lap('verifyMs');
    const failed = [...entries.values()].filter(
      (e) => e.verification && (e.verification.status === 'differ' || e.verification.status === 'error'),
    );

    // 7. Cursors, then the run is done.
    report.cursors = {
      startSeq: run.startSeq,
      hubSeq: run.hub.maxSeq,
      hubHoles: run.hub.holes.length,
      push: { moved: false, dropped: 0 },
      pull: { moved: false },
    };
    if (failed.length) {
      report.ok = false;
      lap('cursorsMs');
      report.cursors.push.reason = report.cursors.pull.reason = 'verification failed: cursors left where they were';
      report.durationMs = Date.now() - started;
      throw new VerificationFailedError(report);
    }
    await this.moveCursors(db, hub, nodeId, scope, startSeq, position, complete, report.cursors);
    writeRunState(db, { ...run, status: 'done' });
    if (this.toHub) await hubMarkers.clear(scope.map((t) => t.name));
    else sqliteMarkers.clear(scope.map((t) => t.name));
    lap('cursorsMs');
    report.durationMs = Date.now() - started;
    return report;
  }

  /** --tables, resolved to the source's spelling; unknown names are an error. */
  private requestedTables(source: TableInfo[]): string[] | undefined {
    const wanted = this.options.tables?.filter(Boolean);
    if (!wanted?.length) return undefined;
    const byName = new Map(source.map((t) => [lower(t.name), t.name]));
    const unknown = wanted.filter((w) => !byName.has(lower(w)));
    if (unknown.length) {
      throw new DualdbError(
        'UNKNOWN_TABLE',
        `no table named ${unknown.join(', ')} in ${this.toHub ? 'SQLite' : 'MySQL'} (the migration's source)`,
        { hint: 'check the names given to --tables', exitCode: EXIT.CONFIG },
      );
    }
    return wanted.map((w) => byName.get(lower(w)) as string);
  }

  /** The synced tables to copy (parents first); a requested table that cannot be synced is an error. */
  private scopeOf(
    plan: SyncPlan,
    requested: string[] | undefined,
    report: MigrationReport,
  ): { scope: SyncTable[]; complete: boolean } {
    const synced = userTables(plan);
    const wanted = requested ? new Set(requested.map(lower)) : undefined;
    const scope = synced.filter((t) => !wanted || wanted.has(lower(t.name)));
    const paused = plan.paused.filter((p) => !wanted || wanted.has(lower(p.table)));
    if (paused.length) {
      const err = new SchemaMismatchError(paused.map((p) => `${p.table}: ${p.reason}`));
      if (!report.dryRun) throw err;
      report.problems.push(err.message);
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
        report.problems.push(err.message);
      }
    }
    return { scope, complete: scope.length === synced.length };
  }

  /** Source tables left out (no primary key, excluded…), listed with the reason rather than dropped silently. */
  private skippedEntries(plan: SyncPlan, requested: string[] | undefined, method: CopyMethod): TableReport[] {
    const wanted = requested ? new Set(requested.map(lower)) : undefined;
    return plan.skipped
      .filter((s) => !isMetaTable(s.table) && (!wanted || wanted.has(lower(s.table))))
      .filter(
        (s) => !/^only in (MySQL|SQLite)/.test(s.reason) || s.reason.includes(this.toHub ? 'only in SQLite' : 'only in MySQL'),
      )
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

  private async hubCapabilities(hub: MysqlHub): Promise<HubCapabilities> {
    const [v] = await hub.query<{ li: string | number | null; map: string | number }>(
      'SELECT @@GLOBAL.local_infile AS li, @@max_allowed_packet AS map',
    );
    const packet = Number(v?.map ?? 4 * 1024 * 1024);
    const maxStatementBytes = Math.max(64 * 1024, Math.min(MAX_STATEMENT_BYTES, Math.floor(packet * 0.9) - 1024));
    if (this.options.method === 'insert') return { method: 'insert', reason: 'INSERT requested', maxStatementBytes };
    const on = String(v?.li ?? '0') === '1' || String(v?.li).toUpperCase() === 'ON';
    if (!on)
      return {
        method: 'insert',
        reason: 'the server has local_infile OFF: multi-row INSERTs sized to max_allowed_packet',
        maxStatementBytes,
      };
    return { method: 'load-data', maxStatementBytes };
  }

  private async countRows(db: SqliteDb, hub: MysqlHub, table: string, side: 'sqlite' | 'mysql'): Promise<number> {
    if (side === 'sqlite') {
      const r = db.prepare(`SELECT count(*) AS n FROM ${quoteSqliteId(table)}`).get() as { n: bigint | number };
      return Number(r.n);
    }
    const [r] = await hub.query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM ${quoteMysqlId(table)}`);
    return Number(r?.n ?? 0);
  }

  private async dryRunPlan(
    db: SqliteDb,
    hub: MysqlHub,
    report: MigrationReport,
    sqliteTables: TableInfo[],
    hubTables: TableInfo[],
    requested: string[] | undefined,
    started: number,
  ): Promise<MigrationReport> {
    // Tables the run would create are planned with the source's shape as a stand-in.
    const onTarget = new Set((this.toHub ? hubTables : sqliteTables).map((t) => lower(t.name)));
    const standIn = (this.toHub ? sqliteTables : hubTables).filter((t) => !onTarget.has(lower(t.name)));
    const plan = this.toHub
      ? buildSyncPlan(sqliteTables, [...hubTables, ...standIn], planOptionsOf(this.config))
      : buildSyncPlan([...sqliteTables, ...standIn], hubTables, planOptionsOf(this.config));
    const { scope } = this.scopeOf(plan, requested, report);
    const prev = readRunState(db);
    const resuming = Boolean(this.options.resume && prev?.status === 'running' && prev.direction === this.direction);
    let markers = new Map<string, TableMarker>();
    if (resuming && prev) {
      const node = new LocalState(db).getMeta('node_id');
      markers = this.toHub ? (node ? await new HubMarkers(hub, node).load() : new Map()) : new SqliteMarkers(db).load();
    }
    report.resumed = resuming;
    for (const t of scope) {
      const exists = onTarget.has(lower(t.name));
      const targetRows = exists ? await this.countRows(db, hub, t.name, this.toHub ? 'mysql' : 'sqlite') : 0;
      const marker = markers.get(t.name);
      report.tables.push({
        table: t.name,
        rowsTotal: await this.countRows(db, hub, t.name, this.toHub ? 'sqlite' : 'mysql'),
        rowsResumed: marker?.rowsDone ?? 0,
        rowsCopied: 0,
        seconds: 0,
        method: report.method,
        state: marker?.done ? 'done' : 'planned',
        created: !exists,
        targetRows,
        verification: null,
      });
      if (targetRows > 0 && !marker && !this.options.truncate) {
        report.problems.push(
          new NonEmptyTargetError(t.name, this.toHub ? 'MySQL' : 'SQLite', targetRows, this.direction).oneLine(),
        );
      }
    }
    report.tables.push(...this.skippedEntries(plan, requested, report.method));
    report.ok = report.problems.length === 0;
    report.durationMs = Date.now() - started;
    return report;
  }

  /** Empties target tables, children first, without capturing the deletes. */
  private async truncate(db: SqliteDb, hub: MysqlHub, tables: SyncTable[]): Promise<void> {
    const ordered = [...tables].sort((a, b) => b.rank - a.rank);
    if (this.toHub) {
      await hub.withConnection(async (conn) => {
        await conn.query('SET @dualdb_capture_off = 1, foreign_key_checks = 0');
        try {
          // DELETE, not TRUNCATE: it needs no DROP privilege and is transactional.
          for (const t of ordered) await conn.query(`DELETE FROM ${quoteMysqlId(t.name)}`);
        } finally {
          await conn.query('SET foreign_key_checks = 1');
        }
      });
    } else {
      db.transaction(() => {
        db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
        for (const t of ordered) db.prepare(`DELETE FROM ${quoteSqliteId(t.name)}`).run();
        db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
      }).immediate();
    }
  }

  private startTable(entry: TableReport, rowsTotal: number): Meter {
    entry.rowsTotal = rowsTotal;
    const meter = new Meter(entry.table, rowsTotal, entry.rowsResumed);
    this.emitProgress(meter.progress(entry.rowsResumed));
    return meter;
  }

  private finishTable(entry: TableReport, meter: Meter, rowsDone: number, copied: number): void {
    entry.rowsCopied = copied;
    entry.seconds = Math.round(meter.seconds * 1000) / 1000;
    entry.state = 'done';
    entry.rowsTotal = Math.max(entry.rowsTotal, rowsDone);
    this.emitProgress(meter.progress(rowsDone, this.options.skipVerify ? 'done' : 'verifying'));
  }

  private async copyToHub(
    db: SqliteDb,
    hub: MysqlHub,
    scope: SyncTable[],
    markers: Map<string, TableMarker>,
    entries: Map<string, TableReport>,
    hubMarkers: HubMarkers,
    caps: HubCapabilities,
    report: MigrationReport,
  ): Promise<void> {
    const method = { current: caps.method, ...(caps.reason ? { reason: caps.reason } : {}) } as {
      current: HubMethod;
      reason?: string;
    };
    // A batch's row iterator stays open while the batch streams to the hub: nothing else may
    // run a statement on `db` meanwhile (better-sqlite3 refuses: "connection is busy"). One
    // connection is enough; a second one once saw SQLITE_CORRUPT while the `sqlite3` shell wrote,
    // caused by openSqlite peeking at the file header with fs (see engines/sqlite/open.ts).
    await hub.withConnection(async (conn) => {
      // Capture off for this session only (reset before the connection goes back to the pool);
      // tables come parents first, and foreign keys are checked by the pre-flight.
      await conn.query('SET @dualdb_capture_off = 1, foreign_key_checks = 0');
      for (const t of scope) {
        const entry = entries.get(t.name) as TableReport;
        const marker = markers.get(t.name);
        const meter = this.startTable(entry, await this.countRows(db, hub, t.name, 'sqlite'));
        if (marker?.done) {
          this.finishTable(entry, meter, marker.rowsDone, 0);
          continue;
        }
        const { copied, rowsDone } = await copyTableToHub(
          {
            reader: db,
            conn,
            markers: hubMarkers,
            direction: this.direction,
            batchSize: this.batchSize,
            maxBatchBytes: MAX_HUB_BATCH_BYTES,
            maxStatementBytes: caps.maxStatementBytes,
            method,
            ...(this.options.signal ? { signal: this.options.signal } : {}),
            onBatch: (done) => {
              entry.rowsCopied = done - entry.rowsResumed;
              if (meter.due()) this.emitProgress(meter.progress(done));
            },
          },
          t,
          marker,
        );
        entry.method = method.current;
        this.finishTable(entry, meter, rowsDone, copied);
      }
      await conn.query('SET foreign_key_checks = 1');
    });
    report.method = method.current;
    if (method.reason) report.methodReason = method.reason;
  }

  private async copyToSqlite(
    db: SqliteDb,
    hub: MysqlHub,
    scope: SyncTable[],
    markers: Map<string, TableMarker>,
    entries: Map<string, TableReport>,
    sqliteMarkers: SqliteMarkers,
  ): Promise<void> {
    // Parents come first; a self-referencing table may hold a child before its parent.
    db.pragma('foreign_keys = OFF');
    try {
      for (const t of scope) {
        const entry = entries.get(t.name) as TableReport;
        const marker = markers.get(t.name);
        const meter = this.startTable(entry, await this.countRows(db, hub, t.name, 'mysql'));
        if (marker?.done) {
          this.finishTable(entry, meter, marker.rowsDone, 0);
          continue;
        }
        const { copied, rowsDone } = await copyTableFromHub(
          {
            db,
            hub,
            markers: sqliteMarkers,
            batchSize: this.batchSize,
            maxBatchBytes: MAX_BATCH_BYTES,
            ...(this.options.signal ? { signal: this.options.signal } : {}),
            onBatch: (done) => {
              entry.rowsCopied = done - entry.rowsResumed;
              if (meter.due()) this.emitProgress(meter.progress(done));
            },
          },
          t,
          marker,
        );
        this.finishTable(entry, meter, rowsDone, copied);
      }
    } finally {
      db.pragma('foreign_keys = ON');
    }
  }

  private async verify(
    db: SqliteDb,
    hub: MysqlHub,
    scope: SyncTable[],
    entries: Map<string, TableReport>,
    startSeq: bigint,
    position: HubPosition,
  ): Promise<void> {
    if (scope.length === 0) return;
    const cmp = await compareOn(
      db,
      { sqlitePath: this.config.sqlitePath, hub, planOptions: planOptionsOf(this.config) },
      {
        tables: scope.map((t) => t.name),
        maxDifferences: MAX_VERIFY_DIFFERENCES,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      },
    ).catch((e) => {
      if (this.options.signal?.aborted) throw new MigrationInterruptedError(this.direction);
      throw e;
    });
    for (const tc of cmp.tables) {
      const entry = [...entries.values()].find((e) => lower(e.table) === lower(tc.table));
      if (!entry) continue;
      entry.verification = await explain(db, hub, tc, startSeq, position);
      const ok = entry.verification.status === 'match' || entry.verification.status === 'explained';
      if (!ok) {
        entry.state = 'failed';
        entry.error = `verification: ${entry.verification.error ?? `${entry.verification.differences - entry.verification.explained} differing key(s)`}`;
      }
      const done = entry.rowsResumed + entry.rowsCopied;
      this.emitProgress({
        table: entry.table,
        rowsDone: done,
        rowsTotal: Math.max(entry.rowsTotal, done),
        rowsPerSec: entry.seconds > 0 ? Math.round(entry.rowsCopied / entry.seconds) : 0,
        etaSec: 0,
        state: ok ? 'done' : 'failed',
        ...(entry.error ? { error: entry.error } : {}),
      });
    }
  }

  private async moveCursors(
    db: SqliteDb,
    hub: MysqlHub,
    nodeId: string,
    scope: SyncTable[],
    startSeq: bigint,
    position: HubPosition,
    complete: boolean,
    cursors: CursorReport,
  ): Promise<void> {
    const state = new LocalState(db);
    if (this.toHub) {
      // The copy holds every change logged up to startSeq for these tables: drop them; what
      // was logged after (during and after the copy) stays and is pushed by the sync.
      const names = scope.map((t) => t.name);
      let dropped = 0;
      let remaining = 0;
      db.transaction(() => {
        const del = db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ? AND tbl = ?');
        for (const n of names) dropped += del.run(startSeq, n).changes;
        const r = db
          .prepare('SELECT count(*) AS n FROM _dualdb_changes WHERE seq <= ? AND seq > ?')
          .get(startSeq, state.pushedUpto()) as { n: bigint | number };
        remaining = Number(r.n);
      }).immediate();
      const [row] = await hub.query<{ push_cursor: string | number }>('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ?', [
        nodeId,
      ]);
      const hubCursor = BigInt(row?.push_cursor ?? 0);
      // Nothing else waits below startSeq: the cursor moves there (also down, from a stale hub
      // row of a re-created file). Otherwise it may only move down, never over those entries.
      const target = remaining === 0 ? startSeq : hubCursor < startSeq ? hubCursor : startSeq;
      await hub.execute('UPDATE _dualdb_nodes SET push_cursor = ?, last_seen = NOW(6) WHERE node_id = ?', [target, nodeId]);
      db.transaction(() => state.setPushedUpto(target))();
      cursors.push = {
        moved: true,
        cursor: target.toString(),
        dropped,
        ...(remaining ? { reason: `${remaining} earlier change(s) of other tables still wait to be pushed` } : {}),
      };
    } else {
      cursors.push = { moved: false, dropped: 0, reason: 'seeding writes nothing to the local change log' };
    }
    if (complete) {
      const moved = resumePullAt(db, position);
      await reportPullPosition(hub, db, moved.next);
      cursors.pull = { moved: true, upto: moved.next.upto.toString() };
    } else {
      cursors.pull = {
        moved: false,
        reason: 'only some tables were copied: pulls go on from where they were (re-applying changes is harmless)',
      };
    }
  }
}

/** The local change log's position: every change committed later gets a higher seq. */
function localLogPosition(db: SqliteDb): bigint {
  const r = db
    .prepare(
      "SELECT max(COALESCE((SELECT max(seq) FROM _dualdb_changes), 0), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '_dualdb_changes'), 0)) AS s",
    )
    .get() as { s: bigint | number };
  return BigInt(r.s);
}

/**
 * A differing key is explained when it was changed on either side after the positions
 * read before the copy: the sync replays that change. Anything else is a copy error.
 */
async function explain(
  db: SqliteDb,
  hub: MysqlHub,
  tc: TableComparison,
  startSeq: bigint,
  position: HubPosition,
): Promise<TableVerification> {
  const base: TableVerification = {
    status: 'match',
    rows: tc.rows,
    differences: tc.differenceCount,
    explained: 0,
    unexplainedKeys: [],
  };
  if (tc.status === 'error') return { ...base, status: 'error', error: tc.error ?? 'compare failed' };
  if (tc.status === 'match') return base;
  const keys = tc.differences.map((d) => d.key);
  const changed = new Set(new LocalState(db).changesAfter(tc.table, keys, startSeq).keys());
  const holes = position.holes;
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500).filter((k) => !changed.has(k));
    if (chunk.length === 0) continue;
    const rows = await hub.query<{ pk: string }>(
      `SELECT DISTINCT pk FROM _dualdb_changes WHERE tbl = ? AND pk IN (?) AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
      [tc.table, chunk, position.maxSeq, ...(holes.length ? [holes] : [])],
    );
    for (const r of rows) changed.add(r.pk);
  }
  const unexplained = keys.filter((k) => !changed.has(k));
  const explained = keys.length - unexplained.length;
  const unlisted = tc.differenceCount - keys.length;
  const status = unexplained.length === 0 && unlisted === 0 ? 'explained' : 'differ';
  return { ...base, status, explained, unexplainedKeys: unexplained.slice(0, 20) };
}
