/**
 * The monitor's view model: everything the live monitor shows, as plain data
 * with no UI and no I/O — both sides' health, per-table counts side by side
 * with the difference, pending changes each way, queue depth, lag, throughput
 * over the last minute, recent conflicts and parked changes, the log tail and
 * what the user started (sync now, pause, compare). Also the snapshot before
 * anything is known, and the tests that decide whether a new reading is news
 * (so an idle monitor does not redraw).
 */
import type { CompareRow } from '../compare/progress.js';
import { type Config, describeMysql } from '../config/config.js';
import type { Problem } from '../log/problem.js';
import type { LogEntry } from '../log/sync-log.js';
import type { LagSummary } from '../sync/metrics.js';
import type { NodeState, SyncStatus, TableStatus } from '../sync/status.js';

export type { CompareRow };

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

/** A key collision (docs/SYNC-CONTRACT.md invariant 13): a row moved to a new id, or two held apart. */
export interface RekeyView {
  id: number;
  table: string;
  oldKey: string;
  newKey: string | null;
  moved: 'node' | 'hub' | null;
  /** `unconfirmed`: a move whose hub COMMIT is not known yet (rekey-store.ts RekeyStatus). */
  status: 'done' | 'held' | 'pending' | 'unconfirmed' | 'closed';
  at: string;
}

export interface ParkedView {
  id: number;
  direction: 'push' | 'pull';
  table: string;
  pk: string | null;
  error: string;
  attempts: number;
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
  /** Rows moved to a new key (total) and collisions not settled yet (open). */
  rekeyCounts: { total: number; open: number };
  parkedCounts: { push: number; pull: number };
  tables: TableView[];
  countsAt: number | null;
  /** Rows moved per second over the last minute, oldest first. */
  throughput: number[];
  conflicts: ConflictView[];
  /** The latest key collisions, newest first. */
  rekeys: RekeyView[];
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

export const emptySide = (): SideView => ({
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
    rekeyCounts: { total: 0, open: 0 },
    parkedCounts: { push: 0, pull: 0 },
    tables: [],
    countsAt: null,
    throughput: new Array<number>(60).fill(0),
    conflicts: [],
    rekeys: [],
    parked: [],
    log: [],
    activity: { syncing: false, toggling: false, compare: null },
    session: { pushed: 0, pulled: 0, cycles: 0 },
  };
}

/** Deep equality of plain snapshot values. */
export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

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

/** Ages shown to the second: a queue age that ticks by milliseconds is not news. */
export function roundAge(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms / 1000) * 1000;
}
