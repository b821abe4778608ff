/**
 * The running sync of a node: watches the local change log (an inotify watch
 * on the SQLite WAL wakes it at each write, SQLite's data_version then says
 * whether another connection committed; without the watch, data_version every
 * 100 ms), pushes local commits at once, pulls hub changes every SYNC_INTERVAL,
 * and carries the failover state machine:
 *
 *   starting → online ⇄ degraded → recovering → online
 *   any → paused (by request) → previous; any → resync-needed (hub log pruned past us)
 *
 * While the hub is away local writes are untouched (capture is a trigger in the
 * writer's own transaction); the queue is drained with exponential backoff and
 * jitter once it answers again. Stopping waits for the batch in flight: a batch
 * is a transaction on each side, so it is applied whole or not at all.
 */

import { EventEmitter } from 'node:events';
import type { Statement } from 'better-sqlite3';
import type { Config } from '../config/config.js';
import { type CoreConnection, openCoreConnection } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { cutConnection } from '../engines/mysql/pool-cut.js';
import { sqliteFailure } from '../engines/sqlite/open.js';
import type { SyncLog } from '../log/sync-log.js';
import { DualdbError, messageOf, SqliteError } from '../util/errors.js';
import { backoffDelay, RetryCount } from './backoff.js';
import { failureKind, hubLockFailure, isTransientSqlite } from './errors.js';
import { withStallWatch } from './hub-stall.js';
import type { PullState } from './local-state.js';
import { ResyncNeededError } from './pull.js';
import { fixesItself } from './rekey.js';
import { collectStatus, type NodeState, type SyncStatus } from './status.js';
import { movedUserRows } from './summary.js';
import { type CycleReport, Syncer } from './syncer.js';
import { type CommitWatch, watchCommits } from './wal-watch.js';

export interface ServiceOptions {
  log?: SyncLog;
  syncer?: Syncer;
  /** How often the local change log is checked when the WAL is not watched, ms. */
  pollMs?: number;
  /** How long `stop()` lets a batch wait for the hub before cutting its connections, ms (default 5,000). */
  stopGraceMs?: number;
  /** How often it is checked anyway while the WAL is watched (a backstop), ms. */
  backstopMs?: number;
  /** Watch the WAL for commits (default: SYNC_WATCH). */
  watch?: boolean;
  /** How often the hub's change log is probed for news, ms (0: no probe, pull every SYNC_INTERVAL). */
  probeMs?: number;
  /** How often the hub's log is pruned, ms. */
  pruneEveryMs?: number;
  /** The least time between two reports of the pull position, ms (0: after every pull). */
  pullReportFloorMs?: number;
}

/** After a WAL write event, data_version is read again every SETTLE_STEP_MS for SETTLE_MS:
 * SQLite publishes a commit in the wal-index (shared memory, no event) just after its last WAL write. */
const SETTLE_MS = 50;
const SETTLE_STEP_MS = 10;
/** The hub probe's period right after activity (application rows pushed or pulled). */
const PROBE_MS = 100;
/** ... and once nothing happened for PROBE_ACTIVE_MS: one indexed read 4 times a second per idle node. */
const PROBE_IDLE_MS = 250;
const PROBE_ACTIVE_MS = 5000;
/** While probing, a full pull still runs every this many SYNC_INTERVALs (a backstop). */
const PROBED_PULL_FACTOR = 10;
/**
 * ... and every this many while the probe waits on the hub (MariaDB), which sees the same news as
 * the period probe; the heartbeat still goes up every 10 s on its own (a push, no pull). The full
 * pull and its re-plan were half of an idle node's CPU and statements.
 */
const WAITED_PULL_FACTOR = 60;
/**
 * The least time between two reports of the pull position to the hub (Syncer.pullReportFloorMs): a
 * busy fleet's node pulls up to 10 times a second, each report a hub write; a report put off is sent
 * once the floor has passed, by the next pull or by the idle loop.
 */
const PULL_REPORT_FLOOR_MS = 1000;
/** dualdb's own heartbeat table: other nodes' heartbeats are news of their own (see PROBE_SQL). */
const BEATS = "'_dualdb_heartbeats'";
/**
 * Other nodes' and hub clients' rows of the hub log past the pull position: the count and the
 * highest of those that are not heartbeats, then the count of all. The first two move with any such
 * commit, late ones too. This node's own rows (echoes, which a pull skips) are left out, so that a
 * push does not set off a pull. Other nodes' heartbeats (one per node every 10 s) are not news to
 * pull at once: in a fleet of N nodes they came N / 10 times a second, and every node pulled on each
 * (7.8 statements/s per idle node at 50 nodes, growing with N). They are pulled with the node's own
 * heartbeat instead (one cycle per 10 s, whatever N).
 */
const PROBE_SELECT = `SELECT COUNT(CASE WHEN tbl <> ${BEATS} THEN 1 END), MAX(CASE WHEN tbl <> ${BEATS} THEN seq END), COUNT(*)`;
const PROBE_FROM = 'FROM _dualdb_changes WHERE seq > ? AND (origin IS NULL OR origin <> ?)';
const PROBE_SQL = `${PROBE_SELECT} ${PROBE_FROM}`;
/**
 * On MariaDB the same read waits on the hub: repeated there every probe period (SLEEP) until its
 * answer (rows other than heartbeats) differs from the one the node knows, or PROBE_WAIT_MS is
 * over. One round trip per change (or per wait) instead of one per period; the hub → node latency
 * stays one period.
 */
const PROBE_WAIT_SQL = `BEGIN NOT ATOMIC
  DECLARE n BIGINT; DECLARE x BIGINT UNSIGNED; DECLARE a BIGINT; DECLARE i INT DEFAULT 0;
  w: LOOP
    ${PROBE_SELECT} INTO n, x, a ${PROBE_FROM};
    IF n <> ? OR NOT (x <=> ?) OR i >= ? THEN LEAVE w; END IF;
    DO SLEEP(?);
    SET i = i + 1;
  END LOOP;
  SELECT n, x, a;
END`;
/** The longest a waiting probe stays on the hub, ms: an idle node sends one probe per this. */
const PROBE_WAIT_MS = 10_000;
/** An idle probe's wait ends this long / 2 before the node's heartbeat; one starting later waits the full time. */
const BEAT_MARGIN_MS = 2_000;
/** A probe not back this long after its wait is given up (the stall watch covers a frozen hub sooner). */
const PROBE_LOST_MS = 60_000;

interface Waiter {
  resolve: (r: CycleReport) => void;
  reject: (e: unknown) => void;
}

/** Work handed to the loop (runInLoop): run between two cycles, never beside one. */
interface Task {
  run: () => Promise<unknown>;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
}

export class SyncService extends EventEmitter<{
  state: [NodeState, NodeState, string | undefined];
  cycle: [CycleReport];
  failure: [unknown];
}> {
  readonly syncer: Syncer;
  private current: NodeState = 'starting';
  private beforePause: NodeState = 'starting';
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = true;
  private waiters: Waiter[] = [];
  private tasks: Task[] = [];
  private lastPull = 0;
  private lastPrune = 0;
  /** Failures in a row of one kind (the backoff's attempt number): starts again when the kind changes. */
  private readonly retries = new RetryCount();
  private retryAt = 0;
  private dataVersion = -1;
  private commitWatch: CommitWatch | null = null;
  private lastWalWrite = 0;
  private readonly watchWal: boolean;
  private readonly backstopMs: number;
  private readonly stopGraceMs: number;
  private readonly probeMs: number;
  private readonly probeIdleMs: number;
  private lastProbe = 0;
  /** The probe's last answer (position, count, highest), compared without allocating. */
  private probeUpto = -1n;
  private probeCount = -1;
  private probeMax: unknown;
  /** When application rows last moved either way (not heartbeats): the probe runs fast for a while. */
  private lastActivity = 0;
  /** The pull position, read once per change instead of several times per loop turn (idle CPU). */
  private pullSnapshot: { state: PullState; at: number } | undefined;
  private dataVersionQuery: Statement<unknown[]> | undefined;
  /** The probe's own hub connection (outside the pool: a waiting probe holds it on the server). */
  private probeConn: CoreConnection | undefined;
  /** Whether the probe may wait on the hub (MariaDB); off for good after the hub refused it. */
  private probeWaits = true;
  /** A probe is in flight (it runs beside the loop, which a local commit still wakes at once). */
  private probeBusy = false;
  /** Bumped to disown a probe in flight (stop, lost connection): its late answer is ignored. */
  private probeGen = 0;
  private cancelProbe: ((e: Error) => void) | undefined;
  /** The probe saw other nodes' changes not pulled yet: the loop pulls. */
  private hubNews = false;
  /** The probe saw other nodes' heartbeats not pulled yet: the next heartbeat cycle pulls them. */
  private beatNews = false;
  lastError: string | null = null;
  /** When lastError happened (ISO time). */
  lastErrorAt: string | null = null;
  lastCycle: CycleReport | undefined;
  private readonly pollMs: number;
  private readonly pruneEveryMs: number;

  constructor(
    readonly config: Config,
    options: ServiceOptions = {},
  ) {
    super();
    this.syncer = options.syncer ?? Syncer.open(config, { checkIntegrity: true, ...(options.log ? { log: options.log } : {}) });
    this.pollMs = options.pollMs ?? 100;
    this.backstopMs = options.backstopMs ?? 1000;
    this.stopGraceMs = options.stopGraceMs ?? 5000;
    this.watchWal = options.watch ?? config.sync.watch;
    this.probeMs = options.probeMs ?? PROBE_MS;
    this.probeIdleMs = options.probeMs ?? PROBE_IDLE_MS;
    this.pruneEveryMs = options.pruneEveryMs ?? 300_000;
    this.syncer.pullReportFloorMs = options.pullReportFloorMs ?? PULL_REPORT_FLOOR_MS;
  }

  get state(): NodeState {
    return this.current;
  }

  get log(): SyncLog {
    return this.syncer.log;
  }

  private setState(next: NodeState, why?: string): void {
    if (next === this.current) return;
    const prev = this.current;
    this.current = next;
    const level = next === 'degraded' || next === 'resync-needed' ? 'warn' : 'info';
    this.log[level](`state ${prev} → ${next}${why ? `: ${why}` : ''}`, { event: 'state', from: prev, to: next });
    this.emit('state', next, prev, why);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (!this.config.dualDatabase) this.setState('local-only', 'DUAL_DATABASE=false: changes are captured and queued');
    else if (this.syncer.state.getMeta('resync_needed'))
      this.setState('resync-needed', this.syncer.state.getMeta('resync_needed'));
    if (this.watchWal) this.startWatch();
    this.loop = this.run();
  }

  /** Whether commits are being watched (false: the change log is polled). */
  get watching(): boolean {
    return this.commitWatch !== null;
  }

  private startWatch(): void {
    this.commitWatch = watchCommits(
      this.config.sqlitePath,
      () => {
        this.lastWalWrite = Date.now();
        this.wake?.();
      },
      (e) => {
        this.commitWatch = null;
        this.log.warn(`cannot watch ${this.config.sqlitePath} for commits (${messageOf(e)}): polling every ${this.pollMs} ms`, {
          event: 'watch.failed',
        });
      },
    );
  }

  /** The probe's period now: short right after activity, longer once the node is idle. */
  private probeEvery(now: number): number {
    return now - this.lastActivity < PROBE_ACTIVE_MS ? this.probeMs : this.probeIdleMs;
  }

  /** The pull position; cached between sync cycles, read again at least every backstop period. */
  private pullState(now: number): PullState {
    const snap = this.pullSnapshot;
    if (snap && now - snap.at < this.backstopMs) return snap.state;
    const state = this.syncer.state.pullState();
    this.pullSnapshot = { state, at: now };
    return state;
  }

  /** How long the loop sleeps with nothing to do: until the next poll, backstop, probe or pull. */
  private idleMs(now: number): number {
    const untilProbe = this.probing && !this.probeBusy ? this.lastProbe + this.probeEvery(now) - now : Number.POSITIVE_INFINITY;
    if (!this.commitWatch) return Math.max(1, Math.min(this.pollMs, untilProbe));
    if (now - this.lastWalWrite < SETTLE_MS) return SETTLE_STEP_MS;
    const untilPull = this.lastPull + this.pullEveryMs(now) - now;
    const untilBeat = this.probing ? this.syncer.heartbeatDueAt - now : Number.POSITIVE_INFINITY;
    const untilReport = this.syncer.pullReportDueAt - now;
    return Math.max(SETTLE_STEP_MS, Math.min(this.backstopMs, untilPull, untilProbe, untilBeat, untilReport));
  }

  /** Whether hub news is found by probing (online, nothing left behind) rather than by pulling every SYNC_INTERVAL. */
  private get probing(): boolean {
    return this.probeMs > 0 && (this.current === 'online' || this.current === 'recovering');
  }

  /**
   * Full pulls are due every SYNC_INTERVAL, or, while the probe watches the hub, every
   * PROBED_PULL_FACTOR of them — unless the last pull left holes (a late commit lands below the
   * highest sequence, where the probe's count may not move: docs/SYNC-CONTRACT.md invariant 4).
   */
  private pullEveryMs(now: number): number {
    const base = this.config.sync.intervalMs;
    if (!this.probing || this.pullState(now).holes.size > 0) return base;
    return base * (this.probeWaits && this.syncer.hubCompound ? WAITED_PULL_FACTOR : PROBED_PULL_FACTOR);
  }

  /**
   * Starts one probe of the hub's change log past this node's pull position, beside the loop; its
   * answer wakes the loop, with `hubNews` set when there is news to pull: other nodes' rows past the
   * position that were not there at the last look. None past the position means nothing to pull,
   * whatever the last look said. A failure says "pull", which meets the error.
   */
  private startProbe(now: number): void {
    const gen = ++this.probeGen;
    this.probeBusy = true;
    this.lastProbe = now;
    const upto = this.pullState(now).upto;
    const active = now - this.lastActivity < PROBE_ACTIVE_MS;
    const step = active ? this.probeMs : this.probeIdleMs;
    // Right after activity the wait ends with the active period, so the next probe goes back to the idle period.
    // Idle, it ends a little before the node's heartbeat (the block overruns its SLEEPs a few %): its
    // answer then says whether that cycle also pulls other nodes' heartbeats (a wait past it would
    // leave them to the next one, 20 s late). A probe starting just before the heartbeat waits the full time.
    const untilBeat = this.syncer.heartbeatDueAt - now;
    const waitMs = active
      ? this.lastActivity + PROBE_ACTIVE_MS - now
      : untilBeat > BEAT_MARGIN_MS
        ? Math.min(PROBE_WAIT_MS, untilBeat - BEAT_MARGIN_MS / 2)
        : PROBE_WAIT_MS;
    // The stall watch starts after twice the wait: on a loaded hub the block overruns its SLEEPs, and
    // a fresh connection's ping could then fail for load alone (a heartbeat's cycle still sees a frozen hub in seconds).
    this.watched(() => this.askHub(gen, upto, step, waitMs), 2 * waitMs).then(
      (row) => this.probeAnswered(gen, upto, row),
      (e) => this.probeFailed(gen, e),
    );
  }

  /** The probe's statements and values, built once. */
  private readonly probeValues: unknown[] = [0n, ''];
  private readonly probeQuery = { sql: PROBE_SQL, rowsAsArray: true, values: this.probeValues };
  private readonly waitValues: unknown[] = [0n, '', 0, null, 0, 0];
  private readonly waitQuery = { sql: PROBE_WAIT_SQL, rowsAsArray: true, values: this.waitValues };

  /** One probe on the probe's connection: the row (count, highest sequence). */
  private async askHub(gen: number, upto: bigint, stepMs: number, waitMs: number): Promise<unknown[]> {
    await this.syncer.connectHub(); // the hub's flavour, and the same "hub away" errors as a cycle
    if (!this.probeConn) {
      const opened = await openCoreConnection(this.config.mysql);
      if (gen !== this.probeGen) {
        cutConnection(opened); // stopped meanwhile: a polite close would wait for a frozen hub's goodbye
        throw new Error('the change probe was closed');
      }
      this.probeConn = opened;
    }
    const conn = this.probeConn;
    const wait = this.probeWaits && this.syncer.hubCompound;
    let query: { sql: string; rowsAsArray: boolean; values: unknown[] };
    if (wait) {
      const known = upto === this.probeUpto;
      const v = this.waitValues;
      v[0] = upto;
      v[1] = this.syncer.nodeId;
      v[2] = known ? this.probeCount : 0;
      v[3] = known ? this.probeMax : null;
      v[4] = Math.max(0, Math.ceil(waitMs / stepMs));
      v[5] = stepMs / 1000;
      query = this.waitQuery;
    } else {
      this.probeValues[0] = upto;
      this.probeValues[1] = this.syncer.nodeId;
      query = this.probeQuery;
    }
    return new Promise<unknown[]>((resolve, reject) => {
      this.cancelProbe = reject;
      conn.query(query, (err, rows) => {
        this.cancelProbe = undefined;
        if (err) reject(err);
        // A compound statement answers its SELECT's rows, then its own OK.
        else resolve((wait ? (rows as unknown[][][])[0]?.[0] : (rows as unknown[][])[0]) ?? [0, null, 0]);
      });
    });
  }

  private probeAnswered(gen: number, upto: bigint, row: unknown[]): void {
    if (gen !== this.probeGen) return;
    this.probeBusy = false;
    if (this.stopped) return;
    // A pull moved the position meanwhile: the answer is about rows it may have taken; ask again.
    if (this.pullState(Date.now()).upto === upto) {
      const count = Number(row[0]);
      const max = row[1];
      const moved = count > 0 && (upto !== this.probeUpto || count !== this.probeCount || String(max) !== String(this.probeMax));
      this.probeUpto = upto;
      this.probeCount = count;
      this.probeMax = max;
      if (moved) this.hubNews = true;
      if (Number(row[2] ?? 0) > count) this.beatNews = true;
    }
    this.wake?.();
  }

  private probeFailed(gen: number, e: unknown): void {
    if (gen !== this.probeGen) return;
    this.probeBusy = false;
    this.dropProbe();
    if (this.stopped) return;
    const sqlState = (e as { sqlState?: unknown } | null)?.sqlState;
    if (this.probeWaits && this.syncer.hubCompound && typeof sqlState === 'string' && !isConnectionError(e)) {
      // The hub refused the waiting form (a proxy, a restricted account): probe by period instead.
      this.probeWaits = false;
      this.log.info(`the hub refused the waiting change probe (${messageOf(e)}): probing every period instead`, {
        event: 'probe.no-wait',
      });
    }
    this.hubNews = true;
    this.wake?.();
  }

  /** Closes the probe's connection at once (a waiting probe would keep the socket, and the process, for its wait). */
  private dropProbe(): void {
    const conn = this.probeConn;
    this.probeConn = undefined;
    this.probeGen++;
    this.probeBusy = false;
    this.cancelProbe?.(new Error('the change probe was closed'));
    this.cancelProbe = undefined;
    if (conn) cutConnection(conn);
  }

  /**
   * Finish the batch in flight, then stop. A batch still waiting on the hub after `stopGraceMs`
   * (a frozen or unreachable hub never answers, and the process would stay alive as long) has its
   * hub connections cut: it fails as if killed there, which loses and duplicates nothing.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.commitWatch?.close();
    this.commitWatch = null;
    this.wake?.();
    this.dropProbe();
    const loop = this.loop ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.stopGraceMs);
    });
    const outcome = await Promise.race([loop.then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.log.warn(
        `the batch in flight has waited ${(this.stopGraceMs / 1000).toFixed(0)} s for the hub while stopping: its connections are cut (nothing is lost: what it had not confirmed is sent again at the next start)`,
        { event: 'stop.hub-cut' },
      );
      this.syncer.abortHub();
    }
    await this.loop;
    this.dropProbe();
    for (const w of [...this.waiters.splice(0), ...this.tasks.splice(0)])
      w.reject(new DualdbError('STOPPED', 'the sync service stopped'));
    this.setState('stopped');
  }

  async close(): Promise<void> {
    await this.stop();
    await this.syncer.close();
  }

  /** A local write happened in this process: push it now. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /**
   * Push and pull now (the monitor's `s`, `dualdb sync --now`), even while backing off. When the
   * loop is not running (never started, or stopped) the cycle runs here, so the promise always settles.
   */
  syncNow(): Promise<CycleReport> {
    if (this.stopped) {
      if (!this.config.dualDatabase)
        return Promise.reject(new DualdbError('HUB_DISABLED', 'the hub is disabled (DUAL_DATABASE=false)'));
      return this.syncer.syncOnce();
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.retryAt = 0;
      this.wake?.();
    });
  }

  /**
   * Runs `fn` in the loop, between two of its cycles (paused or backing off too), never beside its
   * own push or pull: `rekeys resolve` asked through the control socket (rekey-resolve-request.ts).
   * A cycle follows at once (what it settled goes up). When the loop is not running, `fn` runs here.
   */
  runInLoop<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopped) return fn();
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({ run: fn, resolve: resolve as (r: unknown) => void, reject });
      this.wake?.();
    });
  }

  /** The tasks queued so far, one after the other; a failure is the task's own, not the loop's. */
  private async runTasks(): Promise<void> {
    for (const t of this.tasks.splice(0)) {
      try {
        t.resolve(await this.watched(t.run));
      } catch (e) {
        t.reject(e);
      }
    }
    this.nudged = true;
    this.pullSnapshot = undefined;
  }

  pause(): void {
    if (this.current === 'paused') return;
    this.beforePause = this.current;
    this.setState('paused', 'paused by request');
  }

  resume(): void {
    if (this.current !== 'paused') return;
    this.setState(this.beforePause === 'paused' ? 'starting' : this.beforePause, 'resumed');
    this.retryAt = 0;
    this.nudge();
  }

  /** connect: false reports the hub only through a connection already open (see StatusOptions). */
  async status(options: { connect?: boolean } = {}): Promise<SyncStatus> {
    return collectStatus(this.syncer, {
      ...options,
      state: this.current,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** True when another process committed to the SQLite file since the last look. */
  private localChanged(): boolean {
    try {
      // Compiled once: the loop asks several times a second.
      this.dataVersionQuery ??= this.syncer.db.prepare('PRAGMA data_version').pluck();
      const v = Number(this.dataVersionQuery.get());
      const changed = v !== this.dataVersion;
      this.dataVersion = v;
      return changed;
    } catch {
      return true;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.tasks.length > 0) {
        await this.runTasks();
        continue;
      }
      const now = Date.now();
      const manual = this.waiters.length > 0;
      if (this.current === 'paused' && !manual) {
        await this.sleep(1000);
        continue;
      }
      if (!this.config.dualDatabase) {
        for (const w of this.waiters.splice(0))
          w.reject(new DualdbError('HUB_DISABLED', 'the hub is disabled (DUAL_DATABASE=false)'));
        await this.sleep(1000);
        continue;
      }
      if (!manual && now < this.retryAt) {
        await this.sleep(Math.min(this.retryAt - now, 1000));
        continue;
      }
      // The heartbeat goes up on time even when no full pull is due (a push-only cycle).
      const beatDue = this.probing && now >= this.syncer.heartbeatDueAt;
      const localDue = this.nudged || this.localChanged() || beatDue;
      if (localDue) this.pullSnapshot = undefined; // another process may have moved the pull position
      const newsDue =
        this.hubNews ||
        now - this.lastPull >= this.pullEveryMs(now) ||
        this.current === 'degraded' ||
        this.current === 'starting';
      // Other nodes' heartbeats alone ride on this node's own heartbeat cycle.
      const beatsOnly = !newsDue && !manual && beatDue && this.beatNews;
      const pullDue = newsDue || beatsOnly;
      if (!manual && !localDue && !pullDue) {
        // A probe that outlived its wait by far (a connection dropped without a reset): given up.
        if (this.probeBusy && now - this.lastProbe > PROBE_WAIT_MS + PROBE_LOST_MS) this.dropProbe();
        // At most one probe per period, one at a time.
        if (this.probing && !this.probeBusy && now - this.lastProbe >= this.probeEvery(now)) this.startProbe(now);
        // A pull position report the floor put off, with no pull since (it never fails the loop: a failed report is recorded).
        if (now >= this.syncer.pullReportDueAt) {
          await this.watched(() => this.syncer.flushPullReport()).catch(() => {});
          continue;
        }
        await this.sleep(this.idleMs(now));
        continue;
      }
      this.nudged = false;
      const waiters = manual ? this.waiters.splice(0) : [];
      try {
        const resync = this.syncer.state.getMeta('resync_needed');
        const wantPull = (pullDue || manual) && !resync;
        this.hubNews = false; // this cycle pulls it (or, resync needed, nothing can be pulled)
        if (wantPull) this.beatNews = false;
        let report: CycleReport;
        try {
          // Heartbeats pulled up to 10 s late say nothing of the data path's lag: not counted then.
          report = await this.watched(() => this.syncer.syncOnce({ push: true, pull: wantPull, beatLag: !beatsOnly }));
        } finally {
          this.pullSnapshot = undefined;
        }
        if (wantPull) this.lastPull = Date.now();
        if (movedUserRows(report)) this.lastActivity = Date.now();
        this.lastCycle = report;
        this.retries.reset();
        this.retryAt = 0;
        if (this.lastError !== null || this.syncer.state.getMeta('last_error') !== undefined) {
          // Healthy again: the error stays in the log, no longer in status or the monitor.
          this.recordError(null, null);
        }
        this.lastError = null;
        this.lastErrorAt = null;
        const pending = this.syncer.state.pendingPush().count;
        const backlog = pending > 0 || report.push.more || report.pull.more;
        if (resync) this.setState('resync-needed', resync);
        else if (this.current === 'degraded' || (this.current === 'starting' && backlog))
          this.setState(backlog ? 'recovering' : 'online', 'hub reachable');
        else if (this.current === 'recovering' && !backlog) this.setState('online', 'queue drained');
        else if (this.current === 'starting' || this.current === 'resync-needed') this.setState('online');
        if (backlog) this.nudged = true;
        if (
          report.push.applied ||
          report.pull.applied ||
          report.push.parked ||
          report.pull.parked ||
          report.push.conflicts ||
          report.pull.conflicts
        ) {
          this.emit('cycle', report);
        }
        for (const w of waiters) w.resolve(report);
        if (Date.now() - this.lastPrune > this.pruneEveryMs) {
          this.lastPrune = Date.now();
          // Under the stall watch too: a hub frozen during the prune would otherwise hold the loop unseen.
          await this.watched(() => this.syncer.pruneHubLog()).catch((e) =>
            this.log.warn(`pruning the hub log failed: ${messageOf(e)}`, { event: 'hub.prune-failed' }),
          );
        }
      } catch (e) {
        for (const w of waiters) w.reject(e);
        // The retry runs the whole cycle again: the hub's news and the local change this cycle took
        // on were not applied (the probe would not report the same rows as news again, and the file
        // changed no further: an application's lock outlasting busy_timeout left both waiting for the
        // next periodic pull).
        this.hubNews = true;
        this.nudged = true;
        this.handleFailure(e, await this.hubAnswersAfter(e));
      }
    }
  }

  /** A hub round (probe, cycle) under the stall watch: a frozen hub turns the node degraded, said once. */
  private watched<T>(round: () => Promise<T>, waitsMs = 0): Promise<T> {
    return withStallWatch(this.config.mysql, round, waitsMs, (waitedMs) => {
      if (this.stopped || this.current === 'degraded' || this.current === 'paused') return;
      this.lastError = `the hub has not answered for ${(waitedMs / 1000).toFixed(0)} s (stopped, frozen or overloaded?)`;
      this.lastErrorAt = new Date().toISOString();
      this.log.warn(`${this.lastError}; local writes continue and are queued`, { event: 'hub.stalled', waitedMs });
      this.setState('degraded', 'hub stalled');
    });
  }

  /** A hub failure seen outside the loop (a library write in mysql_primary/both mode): degrade and back off like the loop would. */
  reportHubFailure(e: unknown): void {
    this.handleFailure(e);
  }

  /** Whether writes should go to the hub now (not while it is known to be away). */
  get hubUsable(): boolean {
    return this.config.dualDatabase && this.current !== 'degraded' && this.current !== 'local-only';
  }

  /**
   * The last error as `status` and the monitor read it from the file. Best effort: the failure
   * being recorded may be the file itself locked by the application (a write here would wait out
   * busy_timeout and throw again, which once ended the watcher: operator trial, 2026-12-07).
   */
  private recordError(error: string | null, at: string | null): void {
    try {
      this.syncer.state.setMeta('last_error', error);
      this.syncer.state.setMeta('last_error_at', at);
    } catch (e) {
      this.log.debug(`could not record the last error in the SQLite file: ${messageOf(e)}`);
    }
  }

  /**
   * After a cycle failed for a reason other than the hub while the node was degraded: whether the
   * hub answers now (the cycle reached it, or a connect does). Then the node is recovering, not
   * degraded with a hub-down story while the real cause is, say, the application's write lock. A
   * cycle can fail on the SQLite file before it reaches the hub (its heartbeat write), hence the
   * connect. undefined: not asked (not degraded, or a hub failure).
   */
  private async hubAnswersAfter(failure: unknown): Promise<boolean | undefined> {
    if (this.current !== 'degraded' || !this.config.dualDatabase || failure instanceof ResyncNeededError) return undefined;
    const e = isTransientSqlite(failure) ? sqliteFailure(failure, this.config.sqlitePath) : failure;
    if (failureKind(e) === 'hub') return undefined;
    if (this.syncer.hubConnected) return true;
    return this.syncer.connectHub().then(
      () => true,
      () => false,
    );
  }

  private handleFailure(failure: unknown, hubAnswers?: boolean): void {
    // A cycle that waited out busy_timeout behind the application's write transaction: say whose
    // lock it is (the same line as a locked file at start), and go on waiting.
    const e = isTransientSqlite(failure) ? sqliteFailure(failure, this.config.sqlitePath) : failure;
    this.lastError = e instanceof DualdbError ? e.oneLine() : messageOf(e);
    this.lastErrorAt = new Date().toISOString();
    this.recordError(this.lastError, this.lastErrorAt);
    this.emit('failure', e);
    if (e instanceof ResyncNeededError) {
      this.setState('resync-needed', e.message);
      return;
    }
    // Any hub failure (away, or refusing us) degrades the node; local work goes on either way.
    const kind = failureKind(e);
    const hubAway = kind === 'hub';
    // The backoff counts failures of this kind only: a lock met after a long outage is retried soon.
    // A condition the next cycle fixes by itself (the hub's AUTO_INCREMENT behind this node's keys,
    // its move meeting a busy table) earns none: it is not counted, the next cycle comes at once.
    const soon = fixesItself(e);
    const attempt = soon ? 1 : this.retries.fail(kind);
    const delay = backoffDelay(attempt);
    this.retryAt = Date.now() + delay;
    // The hub is back but the cycle failed for another reason: recovering (the queue is not
    // drained yet), with that reason as the last error, not degraded as if the hub were down.
    if (!hubAway && this.current === 'degraded' && hubAnswers === true)
      this.setState('recovering', `hub reachable; the sync failed for another reason: ${this.lastError}`);
    if (hubAway) {
      if (this.current !== 'degraded') this.setState('degraded', `${this.lastError}; local writes continue and are queued`);
      this.log.info(`hub unreachable, retry ${attempt} in ${(delay / 1000).toFixed(1)} s`, {
        event: 'retry',
        attempt,
        delayMs: delay,
      });
    } else if (e instanceof SqliteError && e.kind === 'locked') {
      // Nothing was applied (the batch's SQLite transaction never began or was rolled back whole).
      this.log.warn(
        `${e.message}; the sync tries again in ${(delay / 1000).toFixed(1)} s (let that program commit or roll back)`,
        {
          event: 'sqlite.locked',
          attempt,
        },
      );
    } else if (soon) {
      this.log.warn(`${this.lastError}; the sync tries again in ${(delay / 1000).toFixed(1)} s`, {
        event: 'sync.retry',
        attempt,
      });
    } else if (hubLockFailure(e)) {
      // Rolled back whole on the hub, nothing applied: a retry, not a failure of the sync (a
      // deadlock was tried again within the cycle already, syncer.ts).
      this.log.warn(
        `a sync cycle met a ${hubLockFailure(e)} on the hub (another transaction writing the same rows; rolled back whole, nothing applied): retry in ${(delay / 1000).toFixed(1)} s`,
        { event: 'sync.retry', attempt },
      );
    } else {
      this.log.error(`sync failed: ${this.lastError}; retry in ${(delay / 1000).toFixed(1)} s`, {
        event: 'sync.failed',
        attempt,
      });
    }
  }
}
