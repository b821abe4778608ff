/**
 * The sync engine of one node: owns the SQLite handle, the hub pool and the sync
 * plan, and runs push/pull cycles on request. Timers, retries and states live
 * in SyncService (service.ts); this class does one thing at a time and throws
 * when the hub is away — nothing is applied half-way, nothing is lost.
 */
import { EventEmitter } from 'node:events';
import type { Statement } from 'better-sqlite3';
import { capturedMysqlTables } from '../capture/mysql-capture.js';
import { capturedSqliteTables, REKEYS_DDL } from '../capture/sqlite-capture.js';
import type { Config } from '../config/config.js';
import { diagnoseIfConnection, MysqlHub } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { capturePrivilegeProblem } from '../engines/mysql/privileges.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { assertIntact, openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import type { TableInfo } from '../engines/types.js';
import { SyncLog } from '../log/sync-log.js';
import { DualdbError, MysqlError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { refreshNodeCapture } from './capture-refresh.js';
import { backfillNewColumns, commonColumns } from './column-backfill.js';
import type { BatchResult, SyncContext, TableMoved } from './context.js';
import { emptyBatch } from './context.js';
import { hubLockFailure } from './errors.js';
import { safePruneBound } from './holes.js';
import { anyUnsettled, confirmPlacedMoves, ensureHubMovesTable } from './hub-moves.js';
import { pruneHubLog } from './hub-prune.js';
import { LocalState } from './local-state.js';
import { RollingMetrics } from './metrics.js';
import { pushPending, reconcileWithHub } from './node-fence.js';
import { OneRowLease } from './one-row-lease.js';
import { buildSyncPlan, type SyncPlan, type TableIssue } from './plan.js';
import { PullRaceError, pullBatch, ResyncNeededError } from './pull.js';
import { PushRaceError, type PushReadAhead, pushBatch } from './push.js';
import { releasePushConnection } from './push-connection.js';
import { type MultiStatementLease, pushOneRow } from './push-one.js';
import { nextPullLimit, nextPushLimit } from './push-size.js';
import { moveHubSequencePast, type RekeyEvent, SEQUENCE_ATTEMPTS, SequenceBehindError, sequenceStillBehind } from './rekey.js';
import { closeGoneHeld } from './rekey-held-gone.js';
import { finishLostResolve } from './rekey-resolve-outcome.js';
import { markFollowers } from './rekey-resolve-parents.js';
import { ensureRekeyTable, RekeyStore } from './rekey-store.js';
import { hubPlanFingerprint, PlanStaleError, type SchemaStamp, sqliteSchemaVersion } from './schema-guard.js';
import { pausedLine, skippedLine } from './summary.js';
import { attachValueForms, unknownFormEntries } from './value-forms.js';

export interface CycleReport {
  push: BatchResult;
  pull: BatchResult;
  durationMs: number;
  /** Tables paused by schema drift after this cycle, with the changes waiting for them. */
  paused?: PausedTable[];
  /** Tables the plan leaves out (no primary key, only on one side, SYNC_EXCLUDE…), with why. */
  skipped?: TableIssue[];
}

export interface PausedTable {
  table: string;
  reason: string;
  fix: string | undefined;
  /** Changes (either way) parked until the schemas match. */
  waiting: number;
}

export interface SyncerOptions {
  log?: SyncLog;
  /** Use this SQLite handle instead of opening one (the library API shares its own). */
  db?: SqliteDb;
  /** How long an introspected plan is trusted before it is read again. */
  planTtlMs?: number;
  /**
   * Reads every page once (`quick_check`) before the first hub contact: a corrupt page otherwise
   * shows only when a batch reads it, after the node registered and pushed from a damaged file.
   * Set by `dualdb sync` and its service (once per process start, O(file size)).
   */
  checkIntegrity?: boolean;
}

const HEARTBEAT_EVERY_MS = 10_000;
/**
 * A watched commit's one-row push gives up on a hub silent this long (its transaction is then
 * rolled back with the connection, or a lost COMMIT looked up): the stall watch reports a frozen
 * hub sooner (service.ts), this only bounds the wait.
 */
const ONE_ROW_TIMEOUT_MS = 30_000;
/** After the one-row push's connection was refused, cycles push generically this long. */
const ONE_ROW_RETRY_MS = 60_000;
const MAX_BATCHES_PER_CYCLE = 50;
/**
 * A batch InnoDB rolled back for a deadlock is tried again at once, this many times, after a short
 * random pause (the other transaction finishes meanwhile): nothing of it was applied on either side.
 */
const DEADLOCK_RETRIES = 3;

export class CaptureMissingError extends DualdbError {
  constructor(path: string) {
    super('CAPTURE_MISSING', `change capture is not installed in ${path}`, {
      hint: 'run `dualdb init` (or `dualdb setup`) once to install it',
      exitCode: EXIT.CONFIG,
    });
  }
}

function mergeInto(total: BatchResult, b: BatchResult): void {
  total.changes += b.changes;
  total.applied += b.applied;
  total.conflicts += b.conflicts;
  total.parked += b.parked;
  for (const ms of b.lagsMs) total.lagsMs.push(ms);
  total.rekeys.push(...b.rekeys);
  total.more = b.more;
  for (const [t, m] of b.perTable) {
    const into: TableMoved = total.perTable.get(t) ?? { upserts: 0, deletes: 0, conflicts: 0, parked: 0 };
    into.upserts += m.upserts;
    into.deletes += m.deletes;
    into.conflicts += m.conflicts;
    into.parked += m.parked;
    total.perTable.set(t, into);
  }
}

export class Syncer extends EventEmitter<{ cycle: [CycleReport]; rekey: [RekeyEvent] }> {
  readonly state: LocalState;
  readonly rekeys: RekeyStore;
  readonly nodeId: string;
  readonly log: SyncLog;
  readonly metrics = new RollingMetrics();
  private hub: MysqlHub | undefined;
  /** The connect in flight, shared by concurrent callers of connectHub. */
  private connecting: Promise<MysqlHub> | undefined;
  private plan: SyncPlan | undefined;
  private planAt = 0;
  private planStamp: SchemaStamp | undefined;
  /** hubPlanFingerprint's `whole` when the plan was made: the plan is reused while it holds. */
  private planPrint: string | undefined;
  private readonly planTtlMs: number;
  /** The SQLite schema version at which the node's triggers were last checked (capture-refresh.ts). */
  private captureCheckedAt: number | undefined;
  /** SYNC_VALUE_FORMS entries already reported as naming nothing (each is said once). */
  private readonly unknownFormsSaid = new Set<string>();
  /** The skipped tables last said in the log (announceSkipped): each is said once, and again when it changes. */
  private skippedSaid: SyncPlan['skipped'] | undefined;
  private readonly ownsDb: boolean;
  private hubClockOffsetMs = 0;
  private canSeeTransactions: boolean | undefined;
  private clusteredHub = false;
  /** MariaDB 10.5+: `INSERT … RETURNING` gives a written row's image in the same round trip. */
  hubReturning = false;
  /** MariaDB: the hub runs `BEGIN NOT ATOMIC` blocks, so the change probe can wait on the server. */
  hubCompound = false;
  private hubMaxPacket = 4 * 1024 * 1024;
  private lastHeartbeat = 0;
  private busy: Promise<unknown> = Promise.resolve();
  lastPushAt: Date | undefined;
  lastPullAt: Date | undefined;

  private constructor(
    readonly config: Config,
    readonly db: SqliteDb,
    options: SyncerOptions,
  ) {
    super();
    this.ownsDb = !options.db;
    this.log = options.log ?? SyncLog.memory();
    this.planTtlMs = options.planTtlMs ?? 5_000;
    if (options.checkIntegrity) {
      try {
        assertIntact(db, config.sqlitePath);
      } catch (e) {
        if (this.ownsDb) db.close();
        throw e;
      }
    }
    if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_changes'").get()) {
      try {
        // A damaged schema page hides the capture tables too: say the file is corrupt, not "run init".
        assertIntact(db, config.sqlitePath);
      } finally {
        if (this.ownsDb) db.close();
      }
      throw new CaptureMissingError(config.sqlitePath);
    }
    this.state = new LocalState(db);
    ensureRekeyTable(db, [REKEYS_DDL]);
    ensureHubMovesTable(db);
    this.rekeys = new RekeyStore(db);
    this.nodeId = this.state.nodeId(config.nodeId);
  }

  /** Opens the node's SQLite file; capture must have been installed (`dualdb init`). */
  static open(config: Config, options: SyncerOptions = {}): Syncer {
    const db = options.db ?? openSqlite(config.sqlitePath);
    return new Syncer(config, db, options);
  }

  /**
   * Serialises operations: one push, pull or hub-first library write (mysql_primary) at a time
   * per node, so that a push never works from a local image older than a hub write in flight.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => {});
    return run;
  }

  /**
   * The hub pool, connected on first use. Concurrent callers share one attempt (the sync loop,
   * a status request and `sync now` may all ask at once: two attempts would open two pools and
   * leak one); a failure leaves nothing behind, so the next call tries again.
   */
  async connectHub(): Promise<MysqlHub> {
    if (!this.config.dualDatabase) {
      throw new DualdbError('HUB_DISABLED', 'the hub is disabled (DUAL_DATABASE=false): SQLite only, changes stay queued', {
        hint: 'set DUAL_DATABASE=true to sync',
        exitCode: EXIT.CONFIG,
      });
    }
    if (this.hub) return this.hub;
    if (!this.connecting) {
      const attempt = this.openHub();
      this.connecting = attempt;
      const forget = () => {
        if (this.connecting === attempt) this.connecting = undefined;
      };
      attempt.then(forget, forget);
    }
    return this.connecting;
  }

  private async openHub(): Promise<MysqlHub> {
    const hub = await MysqlHub.connect(this.config.mysql);
    try {
      const info = await hub.serverInfo();
      this.clusteredHub = info.clustered;
      this.hubReturning = info.returning;
      this.hubCompound = info.compound;
      const priv = await hub.query<{ n: number | string }>(
        "SELECT COUNT(*) AS n FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('PROCESS', 'SUPER')",
      );
      this.canSeeTransactions = Number(priv[0]?.n ?? 0) > 0;
      const [packet] = await hub.query<{ p: string | number }>('SELECT @@max_allowed_packet AS p');
      this.hubMaxPacket = Number(packet?.p ?? this.hubMaxPacket);
      const meta = await hub.query(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_changes'",
      );
      if (meta.length === 0) {
        throw new DualdbError('CAPTURE_MISSING', `change capture is not installed on the hub ${this.config.mysql.database}`, {
          hint: 'run `dualdb init` to install it',
          exitCode: EXIT.CONFIG,
        });
      }
    } catch (e) {
      await hub.close();
      throw e;
    }
    this.hub = hub;
    return hub;
  }

  /** Drops the hub pool after a connection failure. */
  async dropHub(): Promise<void> {
    const h = this.hub;
    this.hub = undefined;
    this.plan = undefined;
    if (h) releasePushConnection(h);
    await this.oneRowLease?.close();
    await h?.close();
  }

  /**
   * Cuts every hub connection at once (the operation in flight fails as a lost connection, as if
   * the process had been killed there): for a stop that must not wait on a frozen hub.
   */
  abortHub(): void {
    this.hub?.abort();
    this.oneRowLease?.abort();
  }

  get hubConnected(): boolean {
    return this.hub !== undefined;
  }

  /**
   * A SYNC_VALUE_FORMS entry naming no table or column of the file forces nothing: said once (a
   * `config.unknown` warning; the CLI prints it on stderr) with the nearest names, instead of the
   * column silently keeping the form the operator meant to override.
   */
  private warnUnknownValueForms(tables: readonly TableInfo[]): void {
    for (const u of unknownFormEntries(tables, this.config.sync.valueForms)) {
      if (this.unknownFormsSaid.has(u.entry)) continue;
      this.unknownFormsSaid.add(u.entry);
      this.log.warn(u.line, { event: 'config.unknown', setting: 'SYNC_VALUE_FORMS', entry: u.entry, nearest: u.nearest });
    }
  }

  async currentPlan(force = false): Promise<SyncPlan> {
    if (!force && this.plan && sqliteSchemaVersion(this.db) === this.planStamp?.sqliteVersion) {
      if (Date.now() - this.planAt < this.planTtlMs) return this.plan;
      // Older than its lifetime: one query says whether the hub's schema is still the one planned
      // (an idle node's heartbeat, every 10 s, would otherwise re-read the whole hub schema).
      const hub = await this.connectHub();
      const print = await hubPlanFingerprint(hub);
      if (this.plan && print.whole === this.planPrint && print.columns === this.planStamp?.hubFingerprint) {
        // Value forms follow the data (value-forms.ts): sampled again, as a new plan would.
        attachValueForms(this.db, this.plan.tables, this.config.sync.valueForms);
        this.planAt = Date.now();
        return this.plan;
      }
    }
    const hub = await this.connectHub();
    // Stamped before reading, so a change during introspection is caught by the next batch.
    const print = await hubPlanFingerprint(hub);
    const stamp: SchemaStamp = { sqliteVersion: sqliteSchemaVersion(this.db), hubFingerprint: print.columns };
    const [s, m] = [introspectSqlite(this.db), await introspectMysql(hub)];
    const plan = buildSyncPlan(s, m, { include: this.config.sync.tables, exclude: this.config.sync.exclude });
    if (this.captureCheckedAt !== stamp.sqliteVersion) {
      // Once per SQLite schema: the node's triggers follow its tables (a foreign key or column
      // added since `init`) and this version's trigger text; then plan again from the new schema.
      const refreshed = refreshNodeCapture(this.db, plan, s);
      this.captureCheckedAt = sqliteSchemaVersion(this.db);
      if (refreshed.length) {
        this.log.info(`capture triggers brought up to date on ${refreshed.join(', ')}`, { event: 'capture.refreshed' });
        return this.currentPlan(true);
      }
    }
    attachValueForms(this.db, plan.tables, this.config.sync.valueForms);
    this.warnUnknownValueForms(s);
    // A column one side just gained holds NULLs there that are no values: filled before any row moves.
    for (const f of await backfillNewColumns(this.db, this.state, hub, this.nodeId, plan, commonColumns(plan, s, m)))
      this.log.info(
        `table ${f.table}: new column(s) ${f.columns.join(', ')} filled from the side that had them (${f.filled} value(s))`,
        {
          event: 'columns.filled',
          table: f.table,
        },
      );
    const previous = this.plan;
    this.plan = plan;
    this.planStamp = stamp;
    this.planPrint = print.whole;
    this.planAt = Date.now();
    for (const p of plan.paused) {
      if (!previous?.paused.some((q) => q.table === p.table && q.reason === p.reason)) {
        // The same line as `sync --once` prints, with the fix: a watcher's console says what to do.
        this.log.error(pausedLine({ table: p.table, reason: p.reason, fix: p.fix, waiting: 0 }), {
          event: 'table.paused',
          table: p.table,
        });
      }
    }
    for (const p of previous?.paused ?? []) {
      if (!plan.paused.some((q) => q.table === p.table))
        this.log.info(`table ${p.table} resumed: its schemas match again`, { event: 'table.resumed', table: p.table });
    }
    this.announceSkipped(plan);
    return plan;
  }

  /**
   * The tables this plan leaves out, each said once — at the first plan, and again only when the
   * set or a reason changes (a table created while the sync runs) — in `sync --once`'s words: a
   * watcher's or daemon's console and log named none of them (operator: "why is audit_log not
   * syncing?" had an answer in `status` and `sync --once` only).
   */
  private announceSkipped(plan: SyncPlan): void {
    // Kept apart from `this.plan`, which a hub outage clears: a reconnect does not repeat them.
    const previous = this.skippedSaid;
    this.skippedSaid = plan.skipped;
    for (const t of plan.skipped) {
      if (previous?.some((q) => q.table === t.table && q.reason === t.reason)) continue;
      // Left out on purpose (SYNC_EXCLUDE) is information; a table left out for its shape is a warning.
      const level = t.reason.startsWith('excluded') ? 'info' : 'warn';
      this.log[level](skippedLine(t), { event: 'table.skipped', table: t.table, reason: t.reason });
    }
    for (const t of previous ?? []) {
      if (plan.skipped.some((q) => q.table === t.table)) continue;
      if (plan.byName.has(t.table)) {
        this.log.info(`table ${t.table} is synced from now on (it was skipped: ${t.reason})`, {
          event: 'table.unskipped',
          table: t.table,
        });
      } else if (!plan.paused.some((q) => q.table === t.table)) {
        this.log.info(`table ${t.table} is gone (it was skipped)`, { event: 'table.unskipped', table: t.table });
      }
    }
  }

  /** The plan known so far, without touching the hub. */
  get knownPlan(): SyncPlan | undefined {
    return this.plan;
  }

  private async context(): Promise<SyncContext> {
    const hub = await this.connectHub();
    const plan = await this.currentPlan();
    const self = this;
    return {
      db: this.db,
      state: this.state,
      hub,
      plan,
      nodeId: this.nodeId,
      config: this.config,
      log: this.log,
      get hubClockOffsetMs() {
        return self.hubClockOffsetMs;
      },
      set hubClockOffsetMs(v: number) {
        self.hubClockOffsetMs = v;
      },
      canSeeTransactions: this.canSeeTransactions ?? false,
      clusteredHub: this.clusteredHub,
      hubReturning: this.hubReturning,
      hubMaxPacket: this.hubMaxPacket,
      schemaStamp: this.planStamp,
    };
  }

  /** Runs `fn` with a sync context, serialised with push and pull (manual resolutions). */
  withContext<T>(fn: (ctx: SyncContext) => Promise<T>): Promise<T> {
    return this.exclusive(async () => fn(await this.context()));
  }

  /** When the next heartbeat is due (the sync service runs a cycle for it even when idle). */
  get heartbeatDueAt(): number {
    return this.lastHeartbeat + HEARTBEAT_EVERY_MS;
  }

  /** Bumps this node's heartbeat row (captured like data, so it measures the real path). */
  heartbeat(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    this.lastHeartbeat = now;
    this.db
      .prepare(
        'INSERT INTO _dualdb_heartbeats (node_id, beat, sent_ms) VALUES (?, 1, ?) ON CONFLICT (node_id) DO UPDATE SET beat = beat + 1, sent_ms = excluded.sent_ms',
      )
      .run(this.nodeId, now);
  }

  /**
   * A `rekeys resolve` whose hub COMMIT was lost, or whose process died before the node's half:
   * finished or forgotten (rekey-resolve-outcome.ts). Finished, its move is told once, as the
   * resolve would have: the log line is finishLostResolve's, the library's `rekey` event here.
   */
  private async finishLostResolve(ctx: SyncContext): Promise<void> {
    const lost = await finishLostResolve(ctx);
    if (lost) this.emit('rekey', lost);
  }

  /** Each re-key, once: the log's `rekey` line and the library's `rekey` event. */
  announceRekeys(events: RekeyEvent[]): void {
    for (const r of events) {
      this.log.warn(
        `key collision on ${r.table} ${r.oldKey}: two different rows were created under this id; the ${r.moved}'s row moved to ${r.newKey} (re-key #${r.id})`,
        { event: 'rekey', table: r.table, old_key: r.oldKey, new_key: r.newKey, moved: r.moved },
      );
      this.emit('rekey', r);
    }
  }

  private async runBatches(direction: 'push' | 'pull', maxBatches: number, beatLag = true): Promise<BatchResult> {
    const total = emptyBatch(direction);
    let bumps = 0;
    let replans = 0;
    let rereads = 0;
    let deadlocks = 0;
    // Push and pull batches grow while a backlog drains (push-size.ts).
    const sizing = { base: this.config.sync.batchSize, grows: !this.config.sync.batchSizeExplicit };
    let limit = sizing.base;
    // The push reads each next batch while the hub writes the current one (push.ts PushReadAhead).
    const readAhead: PushReadAhead | undefined =
      direction === 'push' ? { nextLimit: (entries, bytes) => nextPushLimit(sizing, limit, entries, bytes) } : undefined;
    for (let i = 0; i < maxBatches; i++) {
      const ctx = await this.context();
      if (!beatLag) ctx.beatLag = false;
      let b: BatchResult;
      try {
        // A file that does not hold its node id must not pull either (invariant 17): the holder's
        // changes carry this id, so it would skip them as its own echo. Push checks every batch.
        if (direction === 'pull' && i === 0) {
          await reconcileWithHub(ctx);
          // A push's moves whose COMMIT the reconcile found on the hub: done, and told now.
          this.announceRekeys(await confirmPlacedMoves(ctx));
        }
        // A `rekeys resolve` whose hub COMMIT was lost, or whose process died before the node's
        // half: finished or forgotten before anything else moves (rekey-resolve-outcome.ts).
        if (i === 0) await this.finishLostResolve(ctx);
        if (readAhead) readAhead.first = i === 0 && sizing.grows;
        b = direction === 'push' ? await pushBatch(ctx, limit, readAhead) : await pullBatch(ctx, limit);
      } catch (e) {
        if (e instanceof PlanStaleError && replans < 3) {
          // A schema changed under the cached plan: nothing moved; plan again (a drifted table
          // pauses) and the same batch again.
          replans++;
          await this.currentPlan(true);
          i--;
          continue;
        }
        if (e instanceof SequenceBehindError && bumps < SEQUENCE_ATTEMPTS) {
          // The hub's sequence handed out a key this node holds (the application took it while the
          // batch ran): move it past, with room for the keys the application takes meanwhile, then
          // the same batch again — in this cycle, not a failed one with a backoff.
          await moveHubSequencePast(ctx, e, bumps++);
          i--;
          continue;
        }
        if (e instanceof SequenceBehindError) throw sequenceStillBehind(e, `a ${direction} batch was rolled back`);
        if (((e instanceof PushRaceError && e.again) || e instanceof PullRaceError) && rereads < 3) {
          // Keys moved here while the push decided, or another process on the file pushed or pulled
          // while the pull read the hub (a `rekeys resolve` beside it): read the batch again now,
          // not a whole cycle later (nothing of it was applied).
          rereads++;
          i--;
          continue;
        }
        if (e instanceof PushRaceError || e instanceof PullRaceError) {
          this.log.warn(e.message, { event: 'push.race' });
          break;
        }
        if (hubLockFailure(e) === 'deadlock' && deadlocks < DEADLOCK_RETRIES) {
          // Another transaction wrote the same hub rows: not a failure of the sync (said once it is
          // known whether the retry went through, below), and not a cycle's backoff either.
          deadlocks++;
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 150 * deadlocks));
          i--;
          continue;
        }
        if (e instanceof ResyncNeededError) this.state.setMeta('resync_needed', e.message);
        const err = e instanceof MysqlError && e.kind === 'missing-privileges' ? await this.everyMissingGrant(e) : e;
        if (err instanceof MysqlError || isConnectionError(err)) await this.dropHub();
        throw err;
      }
      if (deadlocks > 0) {
        this.log.info(
          `a ${direction} batch deadlocked on the hub with another transaction writing the same rows (rolled back whole, nothing applied); retried ${deadlocks === 1 ? 'once' : `${deadlocks} times`}, it went through`,
          { event: 'hub.deadlock-retried', direction, retries: deadlocks },
        );
        deadlocks = 0;
      }
      mergeInto(total, b);
      this.announceRekeys(b.rekeys);
      // Under manual, a push moves only children that followed their parent's decision: theirs follow too.
      if (direction === 'push' && this.config.sync.keyCollisions === 'manual') markFollowers(this.db, ctx.plan, b.rekeys);
      this.metrics.recordLags(direction, b.lagsMs);
      this.metrics.recordRows(b.applied);
      if (!b.more) break;
      limit =
        direction === 'push'
          ? nextPushLimit(sizing, limit, b.changes, b.bytes ?? 0)
          : nextPullLimit(sizing, limit, b.more ? limit : 0, b.lockMs ?? 0);
    }
    if (direction === 'pull') await this.reportPullPositionSoon();
    const now = new Date();
    if (direction === 'push') this.lastPushAt = now;
    else this.lastPullAt = now;
    this.state.setMeta(direction === 'push' ? 'last_push_at' : 'last_pull_at', now.toISOString());
    return total;
  }

  /**
   * A statement refused for one privilege ("lacks UPDATE"): name every one the account lacks, with
   * the GRANT for its real user@host, as `init` does — one round of fixing, not one per sync.
   */
  private async everyMissingGrant(refused: MysqlError): Promise<MysqlError> {
    try {
      const all = this.hub ? await capturePrivilegeProblem(this.hub) : undefined;
      return all
        ? new MysqlError('missing-privileges', all.message, { hint: all.hint, context: all.context, cause: refused })
        : refused;
    } catch {
      return refused;
    }
  }

  /**
   * The least time between two reports of the pull position (0: after every pull cycle, as
   * `sync --once` and direct calls do). The sync service sets it (PULL_REPORT_FLOOR_MS): under a
   * busy fleet every node pulls up to 10 times a second, and each report is a hub write (a commit)
   * and a round trip; the bound only lets the hub prune, so a report up to this late prunes later,
   * never wrongly (a lower bound is always safe).
   */
  pullReportFloorMs = 0;
  private lastPullReport = 0;
  /** A pull moved on since the last report, which the floor put off (flushPullReport sends it). */
  private pullReportOwed = false;

  /** When a report put off by the floor is due (Infinity: none owed). */
  get pullReportDueAt(): number {
    return this.pullReportOwed ? this.lastPullReport + this.pullReportFloorMs : Number.POSITIVE_INFINITY;
  }

  /** Sends a report the floor put off (the sync service, once the floor has passed with no pull since). */
  flushPullReport(): Promise<void> {
    return this.exclusive(async () => {
      if (this.pullReportOwed) await this.reportPullPosition();
    });
  }

  /** After a pull cycle: the report now, or owed until the floor has passed (not while a report is failing). */
  private async reportPullPositionSoon(): Promise<void> {
    if (
      this.pullReportFloorMs > 0 &&
      Date.now() - this.lastPullReport < this.pullReportFloorMs &&
      this.state.getMeta('pull_report_error') === undefined
    ) {
      this.pullReportOwed = true;
      return;
    }
    await this.reportPullPosition();
  }

  /**
   * Tells the hub how far this node has pulled: the bound below which the hub may prune its log
   * for this node. A failure does not stop the sync (the data path is exactly-once without it)
   * but is never silent: the log says it once per failing streak, and `status` shows it
   * (`pruneReportError`) until a report succeeds, because a node that cannot report holds the
   * hub's pruning back for everyone.
   */
  private async reportPullPosition(): Promise<void> {
    const failedBefore = this.state.getMeta('pull_report_error');
    this.lastPullReport = Date.now();
    this.pullReportOwed = false;
    try {
      const hub = await this.connectHub();
      await hub.execute('UPDATE _dualdb_nodes SET pull_upto = ?, last_seen = NOW(6) WHERE node_id = ?', [
        safePruneBound(this.state.pullState()),
        this.nodeId,
      ]);
      if (failedBefore) {
        this.state.setMeta('pull_report_error', null);
        this.log.info('the hub accepts this node’s pull position again; its log can be pruned', { event: 'hub.report-ok' });
      }
    } catch (e) {
      const why = e instanceof DualdbError ? e.oneLine() : messageOf(e);
      this.state.setMeta('pull_report_error', why);
      if (!failedBefore)
        this.log.warn(`could not tell the hub how far this node pulled (its log cannot be pruned past it): ${why}`, {
          event: 'hub.report-failed',
        });
    }
  }

  push(maxBatches = MAX_BATCHES_PER_CYCLE): Promise<BatchResult> {
    return this.exclusive(() => this.runBatches('push', maxBatches));
  }

  /**
   * The push that acknowledges a `both` write: the one-row push when the unpushed log is that one
   * insert and nothing is to be decided (push-one.ts, on a connection `lease` lends), otherwise the
   * generic push, which then decides, parks or re-keys as usual.
   */
  pushWrite(lease: () => Promise<MultiStatementLease>, timeoutMs: number): Promise<BatchResult> {
    return this.exclusive(async () => {
      const one = await this.oneRowPush(await this.context(), lease, timeoutMs);
      return one ?? this.runBatches('push', MAX_BATCHES_PER_CYCLE);
    });
  }

  /**
   * The one-row push (push-one.ts), counted and recorded; undefined when the generic push must run.
   * `leaseRefused` picks out the lease's own failure, thrown as it is (the hub pool is not dropped for it).
   */
  private async oneRowPush(
    ctx: SyncContext,
    lease: () => Promise<MultiStatementLease>,
    timeoutMs: number,
    leaseRefused: (e: unknown) => boolean = () => false,
  ): Promise<BatchResult | undefined> {
    let one: BatchResult | 'generic';
    try {
      one = await pushOneRow(ctx, lease, timeoutMs);
    } catch (e) {
      if (leaseRefused(e)) throw e;
      const err = diagnoseIfConnection(e, this.config.mysql);
      if (err instanceof MysqlError || isConnectionError(err)) await this.dropHub();
      throw err;
    }
    if (one === 'generic') return undefined;
    // The row committed, stored as sent, but the hub table's definitions changed (push-one.ts): the
    // next batch makes the plan again (pausing the table if its columns now differ).
    if (one.hubShapeChanged) this.plan = undefined;
    this.oneRowPushes++;
    this.metrics.recordLags('push', one.lagsMs);
    this.metrics.recordRows(one.applied);
    this.lastPushAt = new Date();
    return one;
  }

  /**
   * A cycle's push. When the unpushed log is one insert of a user table (another connection's
   * commit the WAL watch just reported, the usual case of an application writing row by row), the
   * one-row push sends it in one round trip instead of the generic push's seven (issue 16, row
   * "commit → hub"); anything it does not settle on its own, it leaves to the generic push, with
   * nothing written. A log of heartbeats only (an idle node) never takes it, so an idle node
   * opens no connection for it.
   */
  private async cyclePush(maxBatches: number): Promise<BatchResult> {
    // MariaDB's INSERT … RETURNING is known once connected: the first cycle is generic.
    if (this.hubReturning && this.oneRowLease !== null && Date.now() >= this.oneRowRetryAt) {
      const ctx = await this.context();
      // A resolve whose hub COMMIT was lost is settled before anything moves, as runBatches does.
      await this.finishLostResolve(ctx);
      this.oneRowLease ??= new OneRowLease(this.config.mysql);
      const lease = this.oneRowLease;
      let refused: unknown;
      const lend = () =>
        lease.lease().catch((e: unknown) => {
          refused = e;
          throw e;
        });
      try {
        const one = await this.oneRowPush(ctx, lend, ONE_ROW_TIMEOUT_MS, (e) => e === refused);
        if (one) return one;
      } catch (e) {
        // Its own connection could not be opened (the hub's max_connections, a per-user limit):
        // nothing was sent; the generic push, on the pool, goes on (and meets the error itself
        // when the hub is away). Not tried again for a while, so as not to knock every cycle.
        if (e !== refused) throw e;
        this.oneRowRetryAt = Date.now() + ONE_ROW_RETRY_MS;
        this.log.info(`the one-row push could not open its hub connection (${messageOf(e)}): generic pushes for now`, {
          event: 'push.one-row-unavailable',
        });
      }
    }
    return this.runBatches('push', maxBatches);
  }

  /** When a cycle may try the one-row push again after its connection was refused. */
  private oneRowRetryAt = 0;

  /**
   * The connection of cycles' one-row pushes (one-row-lease.ts), opened on first use; set to null,
   * cycles push generically only (a test's or benchmark's comparison).
   */
  oneRowLease: OneRowLease | undefined | null;

  /** Pushes made by the one-row push (push-one.ts) since this syncer opened (tests and benchmarks look). */
  oneRowPushes = 0;

  pull(maxBatches = MAX_BATCHES_PER_CYCLE): Promise<BatchResult> {
    return this.exclusive(() => this.runBatches('pull', maxBatches));
  }

  /** Push then pull (the node's news first, so conflicts are found under the hub's row locks). */
  async syncOnce(options: { push?: boolean; pull?: boolean; maxBatches?: number; beatLag?: boolean } = {}): Promise<CycleReport> {
    const report = await this.exclusive(async () => {
      const t0 = Date.now();
      if (options.push !== false) this.heartbeat();
      const pullFollows = options.pull !== false;
      const push =
        options.push === false
          ? emptyBatch('push')
          : pullFollows && this.nothingToPush()
            ? this.pushFoundNothing()
            : await this.cyclePush(options.maxBatches ?? MAX_BATCHES_PER_CYCLE);
      const pull =
        options.pull === false
          ? emptyBatch('pull')
          : await this.runBatches('pull', options.maxBatches ?? MAX_BATCHES_PER_CYCLE, options.beatLag !== false);
      const report = {
        push,
        pull,
        durationMs: Date.now() - t0,
        paused: this.pausedTables(),
        skipped: (this.plan?.skipped ?? []).map((t) => ({ table: t.table, reason: t.reason })),
      };
      this.emit('cycle', report);
      return report;
    });
    // Held collisions one of whose rows is gone close now (rekey-held-gone.ts): the node's row deleted
    // here, or the hub's deleted there (this pull passed its delete): the node's row goes up, or the
    // hub's row comes here, as any other. Each close takes its own turn of the lock.
    await closeGoneHeld(this);
    return report;
  }

  /**
   * Whether a push would find nothing to do, from this file alone: no change logged (the log keeps
   * only what the hub has not confirmed), no push token pending (a push whose COMMIT's answer was
   * lost), no parked push due, no unsettled copy of a moved row (what learnHubMoves settles or checks
   * on the hub). Then a cycle whose pull follows skips the push's two hub reads (the fence row and
   * the hub's moves): the pull reconciles with the hub first itself (invariant 17) and applies the
   * hub's moves from its own read. In a busy fleet most cycles are such pulls (each node pulls every
   * other node's commits): 2 of their 12 statements.
   */
  private nothingToPush(): boolean {
    this.anyLogged ??= this.db.prepare('SELECT 1 FROM _dualdb_changes LIMIT 1').pluck();
    return (
      this.anyLogged.get() === undefined &&
      !pushPending(this.state) &&
      this.state.dueParked('push', Date.now(), 1).length === 0 &&
      !anyUnsettled(this.db)
    );
  }

  private anyLogged: Statement<unknown[]> | undefined;

  /** A push skipped by nothingToPush: recorded as a push that found nothing, as pushBatch would. */
  private pushFoundNothing(): BatchResult {
    const now = new Date();
    this.lastPushAt = now;
    this.state.setMeta('last_push_at', now.toISOString());
    return emptyBatch('push');
  }

  /** The tables the current plan pauses (schema drift), with how many changes wait for each. */
  pausedTables(): PausedTable[] {
    const paused = this.plan?.paused ?? [];
    const waiting = this.state.parkedCounts(paused.map((p) => p.table));
    return paused.map((p) => ({ table: p.table, reason: p.reason, fix: p.fix, waiting: waiting.get(p.table) ?? 0 }));
  }

  /**
   * Deletes hub log entries every active node has pulled, older than the retention window
   * (hub-prune.ts); first, here, the hub seqs of placed rows this node has pulled past
   * (RekeyStore.forgetPulledSeqs), whether or not the hub can be reached.
   */
  async pruneHubLog(): Promise<{ deleted: number; prunedUpto: bigint }> {
    return this.exclusive(async () => {
      const forgot = this.rekeys.forgetPulledSeqs(safePruneBound(this.state.pullState()));
      if (forgot.records + forgot.taken > 0)
        this.log.debug(
          `forgot the hub seqs of ${forgot.records} re-key record(s) and ${forgot.taken} taken key(s), pulled past`,
          {
            event: 'rekey.seqs-pruned',
          },
        );
      return pruneHubLog(await this.connectHub(), this.nodeId, this.config.sync.logRetentionMs, this.log);
    });
  }

  /** Captured tables on each side (for status: a synced table without capture cannot push). */
  async captureCoverage(): Promise<{ sqlite: Set<string>; mysql: Set<string> | null }> {
    const sqlite = new Set(capturedSqliteTables(this.db).keys());
    let mysql: Set<string> | null = null;
    if (this.hub) mysql = new Set((await capturedMysqlTables(this.hub)).keys());
    return { sqlite, mysql };
  }

  /** Hub-side pending changes for this node, per table (cheap count over the unseen range). */
  async pendingPullByTable(): Promise<Map<string, number>> {
    const hub = await this.connectHub();
    const ps = this.state.pullState();
    const rows = await hub.query<{ tbl: string; n: string | number }>(
      'SELECT tbl, COUNT(*) AS n FROM _dualdb_changes WHERE seq > ? AND (origin IS NULL OR origin <> ?) GROUP BY tbl',
      [ps.upto, this.nodeId],
    );
    return new Map(rows.map((r) => [r.tbl, Number(r.n)]));
  }

  async close(): Promise<void> {
    await this.busy.catch(() => {});
    // A connect in flight (a status request) would otherwise land its pool after the drop.
    await this.connecting?.catch(() => {});
    await this.dropHub();
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
