/**
 * Where the monitor gets the sync from: either this process runs it
 * (SyncService + the control socket, so `dualdb sync --now` reaches it and no
 * daemon can start beside it), or a daemon/watcher already holds the control
 * socket for the same SQLite file and the monitor attaches to it (status
 * polling, log/state/cycle subscription, commands through the socket).
 */
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { LogEntry, LogLevel } from '../log/sync-log.js';
import { AlreadyRunningError, sendControl, subscribeControl } from '../sync/control.js';
import { type RunningSync, startSyncProcess } from '../sync/process.js';
import type { NodeState, SyncStatus } from '../sync/status.js';
import { type CycleSummary, summarizeCycle } from '../sync/summary.js';
import { redact } from '../util/redact.js';

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
    // Until the sync loop has a hub, report without touching it: a status request must not wait
    // on (or start) a connect that can take the whole connect timeout while the hub is away.
    return this.running.service.status({ connect: false });
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
