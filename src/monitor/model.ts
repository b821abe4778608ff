/**
 * The monitor's model: a store (React's useSyncExternalStore) holding the
 * current snapshot, fed by the sync source (status, log, state, cycles) and by
 * what the monitor reads itself (health, row counts), and the intents the UI
 * sends (sync now, pause/resume, compare).
 *
 * Refresh stays cheap: status every 2 s, health every 5 s, row counts every
 * 5 s or less often when counting is slow; an update is emitted only when
 * something visible changed, so an idle monitor does (almost) nothing.
 */
import { EventEmitter } from 'node:events';
import { COMPARE_METHOD, runMonitorCompare } from '../compare/progress.js';
import type { Config } from '../config/config.js';
import { problemOf } from '../log/problem.js';
import type { LogEntry, LogLevel } from '../log/sync-log.js';
import { RollingMetrics } from '../sync/metrics.js';
import { errorClock, type SyncStatus, type TableStatus } from '../sync/status.js';
import { type CycleSummary, cycleCounts, cycleLine } from '../sync/summary.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { MonitorReader, type RowCounts } from './readings.js';
import { connectSource, type SyncSource } from './source.js';
import {
  type ActivityView,
  type CompareView,
  FRESH_MS,
  initialSnapshot,
  type MonitorController,
  type MonitorSnapshot,
  mergeLog,
  roundAge,
  type SideView,
  same,
  sideChanged,
  type TableView,
} from './view.js';

export interface MonitorModelOptions {
  config: Config;
  statusEveryMs?: number;
  healthEveryMs?: number;
  countsEveryMs?: number;
  /** Full integrity check of SQLite (quick_check), rarely: it reads the whole file. */
  integrityEveryMs?: number;
  logSize?: number;
  /** How the sync is reached (tests inject one); default: attach or run in-process. */
  connect?: (config: Config) => Promise<SyncSource>;
}

export class MonitorModel extends EventEmitter<{ update: [MonitorSnapshot] }> implements MonitorController {
  readonly config: Config;
  private snap: MonitorSnapshot;
  private source: SyncSource | undefined;
  private readonly reader: MonitorReader;
  private readonly metrics = new RollingMetrics();
  private readonly lastSync = new Map<string, number>();
  private readonly counts = new Map<string, RowCounts>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Refreshes and intents in flight: close() waits for them before closing what they use. */
  private readonly inflight = new Set<Promise<unknown>>();
  private emitTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private started = false;
  private countsDueAt = 0;
  private compareAbort: AbortController | undefined;
  private lastIntegrityAt = 0;
  private readonly opts: Required<Omit<MonitorModelOptions, 'config' | 'connect'>>;
  private readonly connect: (config: Config) => Promise<SyncSource>;

  constructor(options: MonitorModelOptions) {
    super();
    this.config = options.config;
    this.opts = {
      statusEveryMs: options.statusEveryMs ?? 2000,
      healthEveryMs: options.healthEveryMs ?? 5000,
      countsEveryMs: options.countsEveryMs ?? 5000,
      integrityEveryMs: options.integrityEveryMs ?? 600_000,
      logSize: options.logSize ?? 200,
    };
    this.connect = options.connect ?? connectSource;
    this.snap = initialSnapshot(this.config);
    this.reader = new MonitorReader(this.config);
  }

  // ── the store interface (React's useSyncExternalStore) ──

  getSnapshot = (): MonitorSnapshot => this.snap;

  subscribe = (listener: () => void): (() => void) => {
    this.on('update', listener);
    return () => {
      this.off('update', listener);
    };
  };

  private patch(p: Partial<MonitorSnapshot>): void {
    if (this.closed) return;
    this.snap = { ...this.snap, ...p, version: this.snap.version + 1 };
    // Coalesce bursts (a fast sync logs many lines) into one update.
    this.emitTimer ??= setTimeout(() => {
      this.emitTimer = undefined;
      this.emit('update', this.snap);
    }, 25);
  }

  /** Patches only the fields whose value changed; returns whether anything did. */
  private patchChanged(p: Partial<MonitorSnapshot>): boolean {
    const changed: Partial<MonitorSnapshot> = {};
    let any = false;
    for (const [k, v] of Object.entries(p) as [keyof MonitorSnapshot, unknown][]) {
      if (!same(this.snap[k], v)) {
        (changed as Record<string, unknown>)[k] = v;
        any = true;
      }
    }
    if (any) this.patch(changed);
    return any;
  }

  // ── lifecycle ──

  /** Connects to (or starts) the sync and begins refreshing; never throws: failures show in the snapshot. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.reader.sqlite();
    this.every(this.opts.healthEveryMs, () => this.refreshHealth());
    await this.attachSource();
    this.every(this.opts.statusEveryMs, () => this.refreshStatus());
    this.every(1000, () => this.refreshCountsIfDue());
  }

  private every(ms: number, task: () => Promise<void>): void {
    const run = async () => {
      if (this.closed) return;
      try {
        await this.track(task());
      } catch {
        // a refresh failing shows in the snapshot; the schedule goes on
      }
      if (this.closed) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        void run();
      }, ms);
      t.unref();
      this.timers.add(t);
    };
    void run();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private async attachSource(): Promise<void> {
    try {
      const source = await this.connect(this.config);
      if (this.closed) {
        await source.close();
        return;
      }
      this.source = source;
      source.on('log', (e) => this.addLog(e));
      source.on('state', (s) => this.patchChanged({ state: s }));
      source.on('cycle', (c) => this.onCycle(c));
      source.on('closed', () => this.onSourceLost(source));
      this.patch({
        source: source.kind === 'attached' ? { kind: 'attached', pid: source.pid } : { kind: 'in-process', pid: source.pid },
        log: mergeLog(this.snap.log, source.backlog(this.opts.logSize), this.opts.logSize),
      });
      await this.refreshStatus();
    } catch (e) {
      this.patch({ source: { kind: 'failed', error: problemOf(e) }, state: 'stopped', lastError: redact(messageOf(e)) });
    }
  }

  private onSourceLost(source: SyncSource): void {
    if (this.closed || this.source !== source) return;
    this.source = undefined;
    this.patch({ source: { kind: 'lost', pid: source.pid } });
    this.addLog({
      time: new Date().toISOString(),
      level: 'warn',
      msg: `the syncer (pid ${source.pid}) went away; taking over`,
    });
    const retry = setTimeout(() => {
      this.timers.delete(retry);
      if (!this.closed) void this.attachSource();
    }, 500);
    retry.unref();
    this.timers.add(retry);
  }

  private addLog(e: LogEntry): void {
    const log = [...this.snap.log, e];
    if (log.length > this.opts.logSize) log.splice(0, log.length - this.opts.logSize);
    this.patch({ log });
  }

  private onCycle(c: CycleSummary): void {
    // Heartbeat-only cycles move no user rows: nothing to show.
    if (c.pushed + c.pulled + c.conflicts + c.parked === 0) return;
    const now = Date.now();
    this.metrics.recordRows(c.pushed + c.pulled, now);
    for (const t of c.tables) this.lastSync.set(t.table, now);
    // Counts moved: look again soon, but not more often than every 2 s.
    this.countsDueAt = Math.min(this.countsDueAt, now + 2000);
    const at = new Date(now).toISOString();
    this.patch({
      ...(c.pushed > 0 ? { lastPushAt: at } : {}),
      ...(c.pulled > 0 ? { lastPullAt: at } : {}),
      throughput: this.metrics.throughput(60, now),
      session: {
        pushed: this.snap.session.pushed + c.pushed,
        pulled: this.snap.session.pulled + c.pulled,
        cycles: this.snap.session.cycles + 1,
      },
      tables: this.snap.tables.map((t) => ({ ...t, lastSyncAt: this.lastSync.get(t.table) ?? t.lastSyncAt })),
    });
  }

  // ── refreshes ──

  private sideUpdate<T extends SideView>(prev: T, next: Omit<T, 'since' | 'checkedAt'>, now: number): T {
    const since = prev.up === next.up && prev.since !== null ? prev.since : now;
    return { ...next, since, checkedAt: now } as T;
  }

  async refreshHealth(): Promise<void> {
    const now = Date.now();
    // The integrity check reads every page: rarely, and once at the start.
    const full = now - this.lastIntegrityAt >= this.opts.integrityEveryMs || this.snap.sqlite.integrity === null;
    const { side: sqlite, integrityChecked } = this.reader.readSqlite(this.snap.sqlite, full);
    if (integrityChecked) this.lastIntegrityAt = now;
    const mysql = await this.reader.readMysql(this.snap.mysql);
    if (this.closed) return;
    const sqliteNext = this.sideUpdate(this.snap.sqlite, sqlite, now);
    const mysqlNext = this.sideUpdate(this.snap.mysql, mysql, now);
    // checkedAt changes every time: compare without it so an unchanged side emits nothing.
    const p: Partial<MonitorSnapshot> = {};
    if (sideChanged(this.snap.sqlite, sqliteNext)) p.sqlite = sqliteNext;
    if (sideChanged(this.snap.mysql, mysqlNext)) p.mysql = mysqlNext;
    if (Object.keys(p).length) this.patch(p);
  }

  async refreshStatus(): Promise<void> {
    const source = this.source;
    if (!source) return;
    const now = Date.now();
    let status: SyncStatus;
    try {
      status = await source.status();
    } catch (e) {
      if (this.source === source) this.patchChanged({ lastError: redact(messageOf(e)) });
      return;
    }
    if (this.closed || this.source !== source) return;
    const { conflicts, parked, rekeys } = this.reader.localLists() ?? {
      conflicts: this.snap.conflicts,
      parked: this.snap.parked,
      rekeys: this.snap.rekeys,
    };
    const tables = this.mergeTables(status.tables);
    const changed = this.patchChanged({
      nodeId: status.nodeId,
      mode: status.mode,
      conflictPolicy: status.conflictPolicy,
      hubEndpoint: status.hub.enabled ? status.hub.endpoint : 'disabled (DUAL_DATABASE=false)',
      state: status.state,
      queue: { ...status.queue, oldestPushAgeMs: roundAge(status.queue.oldestPushAgeMs) },
      lag: status.lag,
      // The syncer stamps these on every cycle (every second): shown are the last times rows moved,
      // from the cycles this monitor sees, starting from what the node had recorded.
      lastPushAt: this.snap.lastPushAt ?? status.lastPushAt,
      lastPullAt: this.snap.lastPullAt ?? status.lastPullAt,
      lastError: status.lastError ? redact(`${status.lastError} (at ${errorClock(status.lastErrorAt)})`) : null,
      resyncNeeded: status.resyncNeeded,
      conflictCounts: status.conflicts,
      // A syncer of an older version reports none.
      rekeyCounts: status.rekeys ?? { total: 0, open: 0 },
      parkedCounts: status.parked,
      tables,
      throughput: this.metrics.throughput(60, now),
      conflicts,
      rekeys,
      parked,
    });
    // "updated Ns ago" comes from this. An idle monitor must not redraw every refresh (a frame costs
    // ~10 ms of CPU in Ink): the time is sent with real changes, or once it is FRESH_MS old.
    if (changed || this.snap.updatedAt === null || now - this.snap.updatedAt >= FRESH_MS) this.patch({ updatedAt: now });
    if (this.snap.tables.length > 0 && this.countsDueAt === 0) this.countsDueAt = now;
  }

  private mergeTables(statusTables: TableStatus[] | null): TableView[] {
    const names = statusTables?.map((t) => t.table) ?? this.reader.sqliteTables();
    const byName = new Map(statusTables?.map((t) => [t.table, t]) ?? []);
    return names.map((name) => {
      const st = byName.get(name);
      const c = this.counts.get(name);
      const sqliteRows = c?.sqlite ?? null;
      const mysqlRows = c?.mysql ?? null;
      return {
        table: name,
        state: st?.state ?? 'unknown',
        reason: st?.reason ?? null,
        sqliteRows,
        mysqlRows,
        diff: sqliteRows !== null && mysqlRows !== null ? sqliteRows - mysqlRows : null,
        pendingPush: st ? st.pendingPush : null,
        pendingPull: st ? st.pendingPull : null,
        conflictsOpen: st?.conflictsOpen ?? 0,
        parked: st?.parked ?? 0,
        lastSyncAt: this.lastSync.get(name) ?? null,
      };
    });
  }

  private async refreshCountsIfDue(): Promise<void> {
    const now = Date.now();
    if (this.countsDueAt === 0 || now < this.countsDueAt) return;
    await this.refreshCounts();
  }

  /** Row counts on both sides for every listed table; the next run waits longer when counting is slow. */
  async refreshCounts(): Promise<void> {
    const t0 = Date.now();
    const tables = this.snap.tables.length ? this.snap.tables.map((t) => t.table) : this.mergeTables(null).map((t) => t.table);
    const counts = await this.reader.countRows(tables);
    if (this.closed) return;
    for (const [t, c] of counts) this.counts.set(t, c);
    const took = Date.now() - t0;
    this.countsDueAt = Date.now() + Math.max(this.opts.countsEveryMs, took * 20);
    const merged = this.snap.tables.length
      ? this.snap.tables.map((v) => {
          const c = this.counts.get(v.table);
          const sqliteRows = c?.sqlite ?? null;
          const mysqlRows = c?.mysql ?? null;
          return {
            ...v,
            sqliteRows,
            mysqlRows,
            diff: sqliteRows !== null && mysqlRows !== null ? sqliteRows - mysqlRows : null,
          };
        })
      : this.mergeTables(null);
    // countsAt is not news by itself: it goes out with the counts when they changed.
    const tablesChanged = !same(this.snap.tables, merged);
    if (tablesChanged) this.patch({ tables: merged, countsAt: Date.now() });
  }

  // ── intents ──

  private note(level: LogLevel, msg: string): void {
    if (this.source) this.source.note(level, msg);
    else this.addLog({ time: new Date().toISOString(), level, msg: redact(msg), event: 'monitor' });
  }

  busy(): string | null {
    if (this.snap.activity.syncing) return 'a sync';
    if (this.snap.activity.compare?.running) return 'a compare';
    return null;
  }

  private setActivity(a: Partial<ActivityView>): void {
    this.patch({ activity: { ...this.snap.activity, ...a } });
  }

  /** `s`: push and pull now; the result lands in the log. */
  async syncNow(): Promise<void> {
    const source = this.source;
    if (this.snap.activity.syncing) return;
    if (!source) {
      this.note('warn', 'sync now: no syncer is connected yet');
      return;
    }
    this.setActivity({ syncing: true });
    try {
      const s = await this.track(source.syncNow());
      this.note('info', `sync now: ${cycleLine(s)}`);
      const text = s.pushed + s.pulled ? cycleCounts(s) : 'nothing to move';
      this.setActivity({ lastSyncNow: { at: Date.now(), ok: true, text } });
    } catch (e) {
      this.note('error', `sync now failed: ${messageOf(e)}`);
      this.setActivity({ lastSyncNow: { at: Date.now(), ok: false, text: 'failed (see the log)' } });
    } finally {
      this.setActivity({ syncing: false });
      this.countsDueAt = Math.min(this.countsDueAt || Date.now(), Date.now() + 300);
      void this.track(this.refreshStatus()).catch(() => {});
    }
  }

  /** `p`: pause when running, resume when paused. */
  async togglePause(): Promise<void> {
    const source = this.source;
    if (!source || this.snap.activity.toggling) return;
    this.setActivity({ toggling: true });
    try {
      if (this.snap.state === 'paused') {
        await source.resume();
        this.patchChanged({ state: 'starting' });
      } else {
        await source.pause();
        this.patchChanged({ state: 'paused' });
      }
    } catch (e) {
      this.note('error', `pause/resume failed: ${messageOf(e)}`);
    } finally {
      this.setActivity({ toggling: false });
      void this.track(this.refreshStatus()).catch(() => {});
    }
  }

  /** `c`: compare both sides with progress; the result stays on screen until closed. */
  async compare(): Promise<void> {
    if (this.snap.activity.compare?.running) return;
    const view: CompareView = {
      running: true,
      method: COMPARE_METHOD,
      table: null,
      done: 0,
      total: this.snap.tables.filter((t) => t.state === 'syncing').length,
      scanned: 0,
      startedAt: Date.now(),
      finishedAt: null,
      rows: [],
      error: null,
    };
    this.setActivity({ compare: view });
    this.compareAbort = new AbortController();
    let lastProgress = 0;
    try {
      const rows = await this.track(
        runMonitorCompare(
          this.config,
          (p) => {
            const cur = this.snap.activity.compare;
            if (this.closed || !cur) return;
            // Chunks of a big table come fast: a progress update at most every 100 ms.
            const now = Date.now();
            if (p.table === cur.table && p.done === cur.done && now - lastProgress < 100) return;
            lastProgress = now;
            this.setActivity({
              compare: { ...cur, table: p.table, done: p.done, total: p.total, scanned: p.scanned, rows: p.rows },
            });
          },
          this.compareAbort.signal,
        ),
      );
      const differing = rows.filter((r) => r.equal === false).length;
      const unknown = rows.filter((r) => r.equal === null).length;
      const cur = this.snap.activity.compare ?? view;
      this.setActivity({
        compare: { ...cur, running: false, table: null, done: rows.length, total: rows.length, rows, finishedAt: Date.now() },
      });
      this.note(
        differing ? 'warn' : 'info',
        `compare (${COMPARE_METHOD}): ${rows.length - differing - unknown} table(s) identical, ${differing} differ${unknown ? `, ${unknown} not compared` : ''}`,
      );
    } catch (e) {
      const cur = this.snap.activity.compare ?? view;
      const msg = redact(e instanceof DualdbError ? e.oneLine() : messageOf(e));
      this.setActivity({ compare: { ...cur, running: false, finishedAt: Date.now(), error: msg } });
      this.note('error', `compare failed: ${msg}`);
    } finally {
      this.compareAbort = undefined;
    }
  }

  /** Forget the last compare result (the UI closed it). */
  dismissCompare(): void {
    if (this.snap.activity.compare && !this.snap.activity.compare.running) this.setActivity({ compare: null });
  }

  /** Stops refreshing, then stops the in-process sync (the batch in flight finishes) or detaches. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      if (this.emitTimer) clearTimeout(this.emitTimer);
      this.closed = true;
      this.compareAbort?.abort();
      // Let refreshes in flight finish (they use the hub and the syncer), but never hang on one.
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 5000).unref())]);
      const source = this.source;
      this.source = undefined;
      await source?.close().catch(() => {});
      await this.reader.close();
    })();
    return this.closing;
  }
}
