/**
 * Everything the live monitor shows, gathered in one domain object with no UI:
 * both sides' health, per-table counts side by side with the difference,
 * pending changes each way, the last sync, queue depth, lag, throughput over
 * the last minute, recent conflicts and parked changes, and the log tail.
 *
 * The sync itself comes from a SyncSource: either this process runs it
 * (SyncService + the control socket, so `dualdb sync --now` reaches it and no
 * daemon can start beside it), or a daemon/watcher already holds the control
 * socket for the same SQLite file and the model attaches to it (status polling,
 * log/state/cycle subscription, commands through the socket).
 *
 * Refresh stays cheap: status every 2 s, health every 5 s, row counts every
 * 5 s or less often when counting is slow; an update is emitted only when
 * something visible changed, so an idle monitor does (almost) nothing.
 */
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { compareNode } from '../compare/compare.js';
import type { DifferenceKind, TableComparison } from '../compare/types.js';
import { type Config, describeMysql } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { listSqliteTables, sqliteRowCount } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { AlreadyRunningError, sendControl, subscribeControl } from '../sync/control.js';
import { LocalState } from '../sync/local-state.js';
import type { LagSummary } from '../sync/metrics.js';
import { RollingMetrics } from '../sync/metrics.js';
import { type RunningSync, startSyncProcess } from '../sync/process.js';
import { collectStatus, errorClock, type NodeState, type SyncStatus, type TableStatus } from '../sync/status.js';
import { type CycleSummary, cycleCounts, cycleLine, summarizeCycle } from '../sync/summary.js';
import type { Syncer } from '../sync/syncer.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { fileBytes, type Problem, probeMysql, probeSqlite, problemOf } from './health.js';
import type { LogEntry, LogLevel } from './log.js';

// ───────────────────────────── sources ─────────────────────────────

export type SourceKind = 'in-process' | 'attached';

export interface SyncSourceEvents {
  log: [LogEntry];
  state: [NodeState];
  cycle: [CycleSummary];
  /** The attached daemon went away. */
  closed: [];
}

/** Where the sync runs: in this process, or in a daemon we talk to over its control socket. */
export interface SyncSource extends EventEmitter<SyncSourceEvents> {
  readonly kind: SourceKind;
  /** The process that runs the sync. */
  readonly pid: number;
  status(): Promise<SyncStatus>;
  syncNow(): Promise<CycleSummary>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** What was logged before the monitor looked. */
  backlog(n: number): LogEntry[];
  /** A line from the monitor itself (e.g. the result of `s`). */
  note(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** The sync engine running inside this process, holding the control socket like `sync --watch` does. */
export class InProcessSource extends EventEmitter<SyncSourceEvents> implements SyncSource {
  readonly kind = 'in-process' as const;
  readonly pid = process.pid;

  private constructor(private readonly running: RunningSync) {
    super();
    running.log.on('entry', (e) => this.emit('log', e));
    running.service.on('state', (s) => this.emit('state', s));
    running.service.on('cycle', (r) => this.emit('cycle', summarizeCycle(r)));
  }

  /** Takes the single-instance lock; throws AlreadyRunningError when a syncer holds it. */
  static async start(config: Config): Promise<InProcessSource> {
    return new InProcessSource(await startSyncProcess(config, { kind: 'monitor', signals: false }));
  }

  status(): Promise<SyncStatus> {
    const svc = this.running.service;
    if (svc.syncer.hubConnected || !svc.config.dualDatabase) return svc.status();
    // Until the sync loop has a hub, report without touching it: a status request must not wait
    // on (or start) a connect that can take the whole connect timeout while the hub is away.
    return collectStatus(withoutHubConnect(svc.syncer), {
      state: svc.state,
      lastError: svc.lastError,
      lastErrorAt: svc.lastErrorAt,
    });
  }
  async syncNow(): Promise<CycleSummary> {
    return summarizeCycle(await this.running.service.syncNow());
  }
  async pause(): Promise<void> {
    this.running.service.pause();
  }
  async resume(): Promise<void> {
    this.running.service.resume();
  }
  backlog(n: number): LogEntry[] {
    return this.running.log.recent(n);
  }
  note(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    this.running.log[level](msg, { event: 'monitor', ...fields });
  }
  close(): Promise<void> {
    return this.running.stop();
  }
}

/** The syncer, except that the calls that would connect to the hub fail instead. */
function withoutHubConnect(syncer: Syncer): Syncer {
  const notYet = async () => {
    throw new DualdbError('HUB_NOT_CONNECTED', 'the sync has not connected to the hub yet');
  };
  return new Proxy(syncer, {
    get(target, key, receiver) {
      if (key === 'currentPlan' || key === 'pendingPullByTable' || key === 'connectHub') return notYet;
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Reads the last entries of a JSON-lines log file (a daemon's history before we attached). */
export function tailLogFile(file: string, n: number, maxBytes = 64 * 1024): LogEntry[] {
  if (!existsSync(file)) return [];
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    const out: LogEntry[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as Partial<LogEntry>;
        if (typeof e.msg === 'string' && typeof e.level === 'string')
          out.push({ ...e, time: String(e.time ?? ''), level: e.level as LogLevel, msg: redact(e.msg) });
      } catch {
        // not a log line
      }
    }
    return out.slice(-n);
  } catch {
    return [];
  }
}

interface PingInfo {
  pid?: number;
  kind?: string;
  nodeId?: string;
  state?: NodeState;
}

/** The running syncer for this SQLite file, if one answers. */
export async function pingSyncer(sqlitePath: string, timeoutMs = 2000): Promise<PingInfo | null> {
  try {
    return ((await sendControl(sqlitePath, 'ping', timeoutMs)) ?? {}) as PingInfo;
  } catch {
    return null;
  }
}

/** A daemon or watcher that owns the control socket: we poll it and subscribe to its events. */
export class AttachedSource extends EventEmitter<SyncSourceEvents> implements SyncSource {
  readonly kind = 'attached' as const;
  private sub: { close: () => void } | undefined;
  private readonly notes: LogEntry[] = [];
  private closing = false;

  private constructor(
    private readonly config: Config,
    readonly pid: number,
    readonly daemonKind: string,
  ) {
    super();
  }

  static async attach(config: Config, info: PingInfo): Promise<AttachedSource> {
    const src = new AttachedSource(config, info.pid ?? 0, info.kind ?? 'syncer');
    src.sub = await subscribeControl(config.sqlitePath, (event, data) => src.onEvent(event, data));
    return src;
  }

  private onEvent(event: string, data: unknown): void {
    if (event === 'log' && data && typeof data === 'object') this.emit('log', data as LogEntry);
    else if (event === 'state') this.emit('state', (data as { state: NodeState }).state);
    else if (event === 'cycle') this.emit('cycle', data as CycleSummary);
    else if (event === 'closed' && !this.closing) this.emit('closed');
  }

  async status(): Promise<SyncStatus> {
    return (await sendControl(this.config.sqlitePath, 'status', 15_000)) as SyncStatus;
  }
  async syncNow(): Promise<CycleSummary> {
    return (await sendControl(this.config.sqlitePath, 'sync-now', 120_000)) as CycleSummary;
  }
  async pause(): Promise<void> {
    await sendControl(this.config.sqlitePath, 'pause', 10_000);
  }
  async resume(): Promise<void> {
    await sendControl(this.config.sqlitePath, 'resume', 10_000);
  }
  backlog(n: number): LogEntry[] {
    return [...tailLogFile(this.config.log.file, n), ...this.notes].slice(-n);
  }
  note(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    const entry: LogEntry = { time: new Date().toISOString(), level, msg: redact(msg), event: 'monitor', ...fields };
    this.notes.push(entry);
    if (this.notes.length > 50) this.notes.shift();
    this.emit('log', entry);
  }
  async close(): Promise<void> {
    this.closing = true;
    this.sub?.close();
  }
}

/** Attach to the syncer that holds the lock for this file, or become the syncer. */
export async function connectSource(config: Config): Promise<SyncSource> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const info = await pingSyncer(config.sqlitePath);
    if (info) return AttachedSource.attach(config, info);
    try {
      return await InProcessSource.start(config);
    } catch (e) {
      // Someone took the lock between our ping and our listen: attach to them.
      if (!(e instanceof AlreadyRunningError)) throw e;
      lastError = e;
    }
  }
  throw lastError;
}

// ───────────────────────────── snapshot ─────────────────────────────

export type SourceView =
  | { kind: 'connecting' }
  | { kind: 'in-process'; pid: number }
  | { kind: 'attached'; pid: number }
  | { kind: 'lost'; pid: number }
  | { kind: 'failed'; error: Problem };

export interface SideView {
  /** null until the first probe. */
  up: boolean | null;
  /** When it last changed between up and down (ms since epoch). */
  since: number | null;
  checkedAt: number | null;
  version: string | null;
  latencyMs: number | null;
  bytes: number | null;
  error: Problem | null;
}

export interface SqliteView extends SideView {
  path: string;
  walBytes: number | null;
  integrity: string | null;
}

export interface MysqlView extends SideView {
  enabled: boolean;
  endpoint: string;
}

export interface TableView {
  table: string;
  state: TableStatus['state'] | 'unknown';
  reason: string | null;
  sqliteRows: number | null;
  mysqlRows: number | null;
  /** sqlite − mysql, when both are known. */
  diff: number | null;
  pendingPush: number | null;
  pendingPull: number | null;
  conflictsOpen: number;
  parked: number;
  /** Last time a cycle seen by this monitor moved rows of this table. */
  lastSyncAt: number | null;
}

export interface ConflictView {
  id: number;
  table: string;
  pk: string;
  at: string;
  policy: string;
  winner: string | null;
  status: string;
}

export interface ParkedView {
  id: number;
  direction: 'push' | 'pull';
  table: string;
  pk: string | null;
  error: string;
  attempts: number;
}

export interface CompareRow {
  table: string;
  sqliteRows: number | null;
  mysqlRows: number | null;
  /** null: not compared (see error). */
  equal: boolean | null;
  /** Differing rows (missing either side or different), when compared. */
  differences: number | null;
  /** "2 missing in MySQL, 1 different (first: id=7)", or why the table could not be compared. */
  detail: string | null;
  error: string | null;
  /** Of the differences, those that are changes still queued for sync (on their way, not damage). */
  syncing?: number;
}

export interface CompareView {
  running: boolean;
  /** What was compared ("row checksums"). */
  method: string;
  table: string | null;
  done: number;
  total: number;
  /** Rows read so far in the current table. */
  scanned: number;
  startedAt: number;
  finishedAt: number | null;
  rows: CompareRow[];
  error: string | null;
}

export interface ActivityView {
  syncing: boolean;
  /** A pause/resume request in flight. */
  toggling: boolean;
  compare: CompareView | null;
  /** The last `s` and its outcome, shown for a while where it cannot scroll away (the log can). */
  lastSyncNow?: { at: number; ok: boolean; text: string };
}

export interface MonitorSnapshot {
  /** Increases with every change. */
  version: number;
  source: SourceView;
  nodeId: string | null;
  mode: Config['sync']['mode'];
  conflictPolicy: Config['sync']['conflictPolicy'];
  hubEndpoint: string;
  sqlitePath: string;
  state: NodeState | 'connecting';
  /** Last successful status refresh (ms since epoch). */
  updatedAt: number | null;
  sqlite: SqliteView;
  mysql: MysqlView;
  queue: SyncStatus['queue'] | null;
  lag: { push: LagSummary; pull: LagSummary } | null;
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastError: string | null;
  resyncNeeded: string | null;
  conflictCounts: { open: number; total: number };
  parkedCounts: { push: number; pull: number };
  tables: TableView[];
  countsAt: number | null;
  /** Rows moved per second over the last minute, oldest first. */
  throughput: number[];
  conflicts: ConflictView[];
  parked: ParkedView[];
  log: LogEntry[];
  activity: ActivityView;
  /** Rows moved each way while this monitor ran. */
  session: { pushed: number; pulled: number; cycles: number };
}

/** What the UI needs from a model: a snapshot to render and intents to send. */
export interface MonitorController {
  getSnapshot(): MonitorSnapshot;
  subscribe(listener: () => void): () => void;
  syncNow(): Promise<void>;
  togglePause(): Promise<void>;
  compare(): Promise<void>;
  /** What is running that quitting would interrupt ("a sync", "a compare"), or null. */
  busy(): string | null;
  close(): Promise<void>;
}

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

const emptySide = (): SideView => ({
  up: null,
  since: null,
  checkedAt: null,
  version: null,
  latencyMs: null,
  bytes: null,
  error: null,
});

export function initialSnapshot(config: Config): MonitorSnapshot {
  return {
    version: 0,
    source: { kind: 'connecting' },
    nodeId: config.nodeId ?? null,
    mode: config.sync.mode,
    conflictPolicy: config.sync.conflictPolicy,
    hubEndpoint: config.dualDatabase ? describeMysql(config.mysql) : 'disabled (DUAL_DATABASE=false)',
    sqlitePath: config.sqlitePath,
    state: 'connecting',
    updatedAt: null,
    sqlite: { ...emptySide(), path: config.sqlitePath, walBytes: null, integrity: null },
    mysql: { ...emptySide(), enabled: config.dualDatabase, endpoint: describeMysql(config.mysql) },
    queue: null,
    lag: null,
    lastPushAt: null,
    lastPullAt: null,
    lastError: null,
    resyncNeeded: null,
    conflictCounts: { open: 0, total: 0 },
    parkedCounts: { push: 0, pull: 0 },
    tables: [],
    countsAt: null,
    throughput: new Array<number>(60).fill(0),
    conflicts: [],
    parked: [],
    log: [],
    activity: { syncing: false, toggling: false, compare: null },
    session: { pushed: 0, pulled: 0, cycles: 0 },
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class MonitorModel extends EventEmitter<{ update: [MonitorSnapshot] }> implements MonitorController {
  readonly config: Config;
  private snap: MonitorSnapshot;
  private source: SyncSource | undefined;
  private db: SqliteDb | undefined;
  private hub: MysqlHub | undefined;
  private hubConnecting: Promise<MysqlHub | undefined> | undefined;
  private readonly metrics = new RollingMetrics();
  private readonly lastSync = new Map<string, number>();
  private readonly counts = new Map<string, { sqlite: number | null; mysql: number | null }>();
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
    this.openSqlite();
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

  private openSqlite(): SqliteDb | undefined {
    if (this.db?.open) return this.db;
    try {
      this.db = openSqlite(this.config.sqlitePath, { readonly: true });
    } catch {
      try {
        // A WAL file without its -shm cannot be opened read-only: open it normally.
        this.db = openSqlite(this.config.sqlitePath);
      } catch {
        this.db = undefined;
      }
    }
    return this.db;
  }

  private async connectHub(): Promise<MysqlHub | undefined> {
    if (!this.config.dualDatabase) return undefined;
    if (this.hub) return this.hub;
    this.hubConnecting ??= MysqlHub.connect(this.config.mysql, { connectionLimit: 2 })
      .then((h) => {
        if (this.closed) {
          void h.close();
          return undefined;
        }
        this.hub = h;
        return h;
      })
      .finally(() => {
        this.hubConnecting = undefined;
      });
    return this.hubConnecting;
  }

  private dropHub(): void {
    const h = this.hub;
    this.hub = undefined;
    void h?.close();
  }

  private sideUpdate<T extends SideView>(prev: T, next: Omit<T, 'since' | 'checkedAt'>, now: number): T {
    const since = prev.up === next.up && prev.since !== null ? prev.since : now;
    return { ...next, since, checkedAt: now } as T;
  }

  async refreshHealth(): Promise<void> {
    const now = Date.now();
    // SQLite: sizes and a round trip every time; the integrity check (it reads every page) rarely.
    const db = this.openSqlite();
    let sqlite: Omit<SqliteView, 'since' | 'checkedAt'>;
    if (db && existsSync(this.config.sqlitePath)) {
      if (now - this.lastIntegrityAt >= this.opts.integrityEveryMs || this.snap.sqlite.integrity === null) {
        this.lastIntegrityAt = now;
        const full = probeSqlite(this.config.sqlitePath, { db });
        sqlite = {
          up: full.ok,
          path: this.config.sqlitePath,
          version: full.version,
          latencyMs: full.latencyMs,
          bytes: full.bytes,
          walBytes: full.walBytes,
          integrity: full.integrity,
          error: full.error ?? null,
        };
      } else {
        try {
          const t0 = process.hrtime.bigint();
          db.prepare('SELECT 1').get();
          const latencyMs = Number(process.hrtime.bigint() - t0) / 1e6;
          sqlite = {
            ...this.snap.sqlite,
            up: this.snap.sqlite.integrity === 'ok',
            latencyMs,
            bytes: fileBytes(this.config.sqlitePath),
            walBytes: fileBytes(`${this.config.sqlitePath}-wal`),
          };
        } catch (e) {
          sqlite = { ...this.snap.sqlite, up: false, error: problemOf(e) };
        }
      }
    } else {
      sqlite = {
        ...this.snap.sqlite,
        up: false,
        bytes: null,
        walBytes: null,
        error: { code: 'SQLITE_MISSING', message: `${this.config.sqlitePath} cannot be opened`, hint: undefined },
      };
    }
    let mysql: Omit<MysqlView, 'since' | 'checkedAt'>;
    const endpoint = describeMysql(this.config.mysql);
    if (!this.config.dualDatabase) {
      mysql = { ...emptySide(), up: null, enabled: false, endpoint };
    } else {
      try {
        const hub = await this.connectHub();
        if (!hub) throw new Error('hub closed');
        const h = await probeMysql(this.config, { hub });
        if (!h.ok) this.dropHub();
        mysql = {
          up: h.ok,
          enabled: true,
          endpoint,
          version: h.version,
          latencyMs: h.latencyMs,
          bytes: h.bytes,
          error: h.error ?? null,
        };
      } catch (e) {
        this.dropHub();
        mysql = { ...this.snap.mysql, up: false, latencyMs: null, error: problemOf(e) };
      }
    }
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
    const { conflicts, parked } = this.readLocalLists();
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
      parkedCounts: status.parked,
      tables,
      throughput: this.metrics.throughput(60, now),
      conflicts,
      parked,
    });
    // "updated Ns ago" comes from this. An idle monitor must not redraw every refresh (a frame costs
    // ~10 ms of CPU in Ink): the time is sent with real changes, or once it is FRESH_MS old.
    if (changed || this.snap.updatedAt === null || now - this.snap.updatedAt >= FRESH_MS) this.patch({ updatedAt: now });
    if (this.snap.tables.length > 0 && this.countsDueAt === 0) this.countsDueAt = now;
  }

  private readLocalLists(): { conflicts: ConflictView[]; parked: ParkedView[] } {
    const db = this.openSqlite();
    if (!db) return { conflicts: this.snap.conflicts, parked: this.snap.parked };
    try {
      const state = new LocalState(db);
      const conflicts = state.conflicts({ limit: 5 }).map((c) => ({
        id: c.id,
        table: c.tbl,
        pk: c.pk,
        at: c.detectedAt,
        policy: c.policy,
        winner: c.winner,
        status: c.status,
      }));
      const parked = state
        .parked()
        .slice(-5)
        .map((p) => ({
          id: p.id,
          direction: p.direction,
          table: p.tbl,
          pk: p.pk,
          error: redact(p.error),
          attempts: p.attempts,
        }));
      return { conflicts, parked };
    } catch {
      return { conflicts: [], parked: [] };
    }
  }

  private mergeTables(statusTables: TableStatus[] | null): TableView[] {
    const names =
      statusTables?.map((t) => t.table) ??
      (() => {
        const db = this.openSqlite();
        try {
          return db ? listSqliteTables(db) : [];
        } catch {
          return [];
        }
      })();
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
    const db = this.openSqlite();
    const sqliteCounts = new Map<string, number | null>();
    for (const t of tables) {
      try {
        sqliteCounts.set(t, db ? sqliteRowCount(db, t) : null);
      } catch {
        sqliteCounts.set(t, null);
      }
    }
    const mysqlCounts = new Map<string, number | null>();
    let hub: MysqlHub | undefined;
    try {
      hub = await this.connectHub();
    } catch {
      hub = undefined;
    }
    for (const t of tables) {
      if (!hub) {
        mysqlCounts.set(t, null);
        continue;
      }
      try {
        const [row] = await hub.query<{ c: string | number }>(`SELECT COUNT(*) AS c FROM ${quoteMysqlId(t)}`);
        mysqlCounts.set(t, Number(row?.c ?? 0));
      } catch {
        mysqlCounts.set(t, null);
      }
    }
    if (this.closed) return;
    for (const t of tables) this.counts.set(t, { sqlite: sqliteCounts.get(t) ?? null, mysql: mysqlCounts.get(t) ?? null });
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
      await this.hubConnecting?.catch(() => undefined);
      this.dropHub();
      if (this.db?.open) this.db.close();
    })();
    return this.closing;
  }
}

/** Appends entries not already shown (a re-attach replays history we may have seen). */
export function mergeLog(shown: LogEntry[], more: LogEntry[], max: number): LogEntry[] {
  const seen = new Set(shown.map((e) => `${e.time}\u0000${e.msg}`));
  const out = [...shown, ...more.filter((e) => !seen.has(`${e.time}\u0000${e.msg}`))];
  out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return out.slice(-max);
}

/** How long a refresh that changed nothing may go unannounced ("updated Ns ago" stays honest within this). */
export const FRESH_MS = 5000;

/** Latency jitter is not news: a change counts when it is beyond 2 ms and half the shown value. */
export function latencyChanged(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a !== b;
  return Math.abs(a - b) > Math.max(2, 0.5 * a);
}

/** A file that grows by a few pages (the WAL, on every cycle) is not news either: 5 % or 64 KB. */
export function sizeChanged(a: number | null | undefined, b: number | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a !== b;
  return Math.abs(a - b) > Math.max(64 * 1024, 0.05 * a);
}

/** Whether a side's health changed in a way worth a redraw (the check time, jitter and growth by a few pages are not). */
export function sideChanged<T extends SideView & { walBytes?: number | null }>(prev: T, next: T): boolean {
  if (latencyChanged(prev.latencyMs, next.latencyMs)) return true;
  if (sizeChanged(prev.bytes, next.bytes) || sizeChanged(prev.walBytes, next.walBytes)) return true;
  const plain = (v: T) => ({ ...v, checkedAt: 0, latencyMs: 0, bytes: 0, walBytes: 0 });
  return !same(plain(prev), plain(next));
}

function roundAge(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms / 1000) * 1000;
}

// ───────────────────────────── compare (the `c` key) ─────────────────────────────

/** Shown with the result: what was compared. */
export const COMPARE_METHOD = 'row checksums';

export interface CompareProgress {
  table: string;
  done: number;
  total: number;
  /** Rows read so far in the current table (the larger side). */
  scanned: number;
  rows: CompareRow[];
}

const KIND_WORDS: Record<DifferenceKind, string> = {
  'missing-in-mysql': 'missing in MySQL',
  'missing-in-sqlite': 'missing in SQLite',
  different: 'different',
};

function rowOf(t: TableComparison): CompareRow {
  const kinds = (Object.entries(t.byKind) as [DifferenceKind, number][])
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${KIND_WORDS[k]}`);
  const first = t.differences[0];
  return {
    table: t.table,
    sqliteRows: t.rows.sqlite,
    mysqlRows: t.rows.mysql,
    equal: t.status === 'error' ? null : t.status === 'match',
    differences: t.status === 'error' ? null : t.differenceCount,
    detail: kinds.length
      ? `${kinds.join(', ')}${first ? ` (first: ${t.key.map((k, i) => `${k}=${first.keyParts[i] ?? '?'}`).join(', ')})` : ''}`
      : null,
    error: t.error ? redact(t.error) : null,
    ...(t.queued ? { syncing: t.queued } : {}),
  };
}

/** Differences listed (and looked up in the change logs) per table: "syncing" needs all of them known. */
const LISTED_DIFFERENCES = 200;

/**
 * The one place the monitor's `c` key (and the demo's final check) calls: the
 * compare library (src/compare) on every synced table — counts and chunked
 * checksums of canonical rows on both sides, down to the differing keys —
 * reporting progress per table and per chunk.
 */
export async function runMonitorCompare(
  config: Config,
  onProgress: (p: CompareProgress) => void,
  signal?: AbortSignal,
): Promise<CompareRow[]> {
  const rows: CompareRow[] = [];
  let total = 0;
  let table = '';
  const report = await compareNode(config, {
    maxDifferences: LISTED_DIFFERENCES,
    ...(signal ? { signal } : {}),
    onEvent: (e) => {
      if (e.type === 'start') total = e.tables.length;
      else if (e.type === 'table-start') {
        table = e.table;
        onProgress({ table, done: e.index, total, scanned: 0, rows: [...rows] });
      } else if (e.type === 'chunk') {
        onProgress({
          table,
          done: rows.length,
          total,
          scanned: Math.max(e.rowsScanned.sqlite, e.rowsScanned.mysql),
          rows: [...rows],
        });
      } else if (e.type === 'table-done') rows.push(rowOf(e.result));
    },
  });
  // Tables that could not be compared row by row (only on one side, drifted, no key) say why.
  for (const i of report.issues) {
    if (i.kind === 'excluded') continue;
    rows.push({
      table: i.table,
      sqliteRows: i.rows.sqlite,
      mysqlRows: i.rows.mysql,
      equal: i.difference ? false : null,
      differences: null,
      detail: i.reason,
      error: i.difference ? null : i.reason,
    });
  }
  onProgress({ table: '', done: total, total, scanned: 0, rows: [...rows] });
  return rows;
}
