/**
 * `dualdb status`: per table, what waits each way, conflicts, parked changes and
 * paused tables with the reason; plus the node's queue depth, lag and state.
 * Works with the hub down (hub-side figures are then null).
 */
import type { Config } from '../config/config.js';
import { describeMysql } from '../config/config.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { type Problem, problemOf } from '../log/problem.js';
import { tableKeyKind } from '../schema/key-kind.js';
import type { LagSummary } from './metrics.js';
import { type KeyKind, userTables } from './plan.js';
import type { CollisionCounts } from './rekey-store.js';
import type { Syncer } from './syncer.js';

export type NodeState = 'starting' | 'online' | 'degraded' | 'recovering' | 'resync-needed' | 'paused' | 'local-only' | 'stopped';

export interface TableStatus {
  table: string;
  state: 'syncing' | 'paused' | 'skipped' | 'not-captured';
  reason: string | null;
  pendingPush: number;
  pendingPull: number | null;
  conflictsOpen: number;
  parked: number;
  /** generated: one integer key the database assigns (collisions re-key); natural: anything else. null: not known. */
  keyKind: KeyKind | null;
  /** Rows moved to a new generated key after a key collision (docs/SYNC-CONTRACT.md invariant 13). */
  rekeys: number;
  /** This table's key collisions by state: held (waiting for `dualdb rekeys resolve`), pending, done, unconfirmed, closed. */
  collisions: CollisionCounts;
}

export interface SyncStatus {
  nodeId: string;
  mode: Config['sync']['mode'];
  conflictPolicy: Config['sync']['conflictPolicy'];
  state: NodeState;
  hub: { enabled: boolean; endpoint: string; reachable: boolean | null; error: Problem | null };
  queue: { push: number; oldestPushAgeMs: number | null; pull: number | null };
  lag: { push: LagSummary; pull: LagSummary };
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastError: string | null;
  /** When the last error happened (ISO time); the error is cleared once the node synced after it. */
  lastErrorAt: string | null;
  pullCursor: { upto: string; holes: number };
  conflicts: { open: number; total: number };
  parked: { push: number; pull: number };
  /**
   * Key collisions: rows moved (total), collisions still open (held by manual, pending,
   * unconfirmed), and held ones that closed because one of their rows went (closed).
   */
  rekeys: { total: number; open: number; closed: number };
  resyncNeeded: string | null;
  /** Why the last report of this node's pull position to the hub failed (the hub cannot prune its log past it). */
  pruneReportError: string | null;
  tables: TableStatus[];
}

/**
 * The running service's last error, or the one recorded in the file, unless the node has synced
 * since (a one-shot `sync` that succeeded after it): a healthy side shows no old error.
 */
function lastErrorOf(
  s: Syncer['state'],
  options: { lastError?: string | null; lastErrorAt?: string | null },
): { lastError: string | null; lastErrorAt: string | null } {
  if (options.lastError !== undefined) return { lastError: options.lastError, lastErrorAt: options.lastErrorAt ?? null };
  const error = s.getMeta('last_error') ?? null;
  const at = s.getMeta('last_error_at') ?? null;
  if (error === null) return { lastError: null, lastErrorAt: null };
  const syncedAfter = [s.getMeta('last_push_at'), s.getMeta('last_pull_at')].some(
    (t) => t !== undefined && (at === null || t > at),
  );
  return syncedAfter ? { lastError: null, lastErrorAt: null } : { lastError: error, lastErrorAt: at };
}

/** "14:02:11" (local time) of an error, for a screen that shows time passing itself. */
export function errorClock(at: string | null): string {
  return at === null ? 'time unknown' : new Date(at).toTimeString().slice(0, 8);
}

/** "14:02:11, 35 min ago" for a status line. */
export function errorTime(at: string | null, now = Date.now()): string {
  if (at === null) return 'time unknown';
  const ago = Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));
  const span = ago < 60 ? `${ago} s` : ago < 3600 ? `${Math.round(ago / 60)} min` : `${(ago / 3600).toFixed(1)} h`;
  return `${errorClock(at)}, ${span} ago`;
}

export interface StatusOptions {
  state?: NodeState;
  lastError?: string | null;
  lastErrorAt?: string | null;
  /**
   * false: report the hub only through a connection the syncer already holds. Until it has one the
   * hub shows as not reached, so a status request never waits on (or starts) a connect that can
   * take the whole connect timeout while the hub is away. Default true.
   */
  connect?: boolean;
}

export async function collectStatus(syncer: Syncer, options: StatusOptions = {}): Promise<SyncStatus> {
  const config = syncer.config;
  const s = syncer.state;
  const pending = s.pendingPush(true);
  const pushByTable = s.pendingPushByTable();
  const parked = s.parked();
  const openConflicts = s.conflicts({ status: 'open' });
  const pull = s.pullState();
  const rekeys = syncer.rekeys.counts();
  let reachable: boolean | null = null;
  let error: Problem | null = null;
  let pullByTable: Map<string, number> | null = null;
  let plan = syncer.knownPlan;
  if (config.dualDatabase && options.connect === false && !syncer.hubConnected) {
    reachable = false;
    error = { code: 'HUB_NOT_CONNECTED', message: 'the sync has not connected to the hub yet', hint: undefined };
  } else if (config.dualDatabase) {
    try {
      plan = await syncer.currentPlan();
      pullByTable = await syncer.pendingPullByTable();
      reachable = true;
    } catch (e) {
      reachable = false;
      error = problemOf(e);
    }
  }
  const coverage = await syncer.captureCoverage().catch(() => ({ sqlite: new Set<string>(), mysql: null }));
  const rows: TableStatus[] = [];
  const seen = new Set<string>();
  const add = (table: string, state: TableStatus['state'], reason: string | null, keyKind: KeyKind | null = null) => {
    seen.add(table);
    rows.push({
      table,
      state,
      reason,
      pendingPush: pushByTable.get(table) ?? 0,
      pendingPull: pullByTable ? (pullByTable.get(table) ?? 0) : null,
      conflictsOpen: openConflicts.filter((c) => c.tbl === table).length,
      parked: parked.filter((p) => p.tbl === table).length,
      keyKind,
      rekeys: rekeys.byTable.get(table) ?? 0,
      collisions: rekeys.collisions.get(table) ?? { held: 0, pending: 0, done: 0, unconfirmed: 0, closed: 0 },
    });
  };
  if (plan) {
    for (const t of userTables(plan)) {
      const captured = coverage.sqlite.has(t.name) && (coverage.mysql === null || coverage.mysql.has(t.name));
      add(
        t.name,
        captured ? 'syncing' : 'not-captured',
        captured ? null : 'capture not installed on both sides: run `dualdb init`',
        t.keyKind,
      );
    }
    // A paused table is not in the plan: its key kind is read from the local schema (never `?`).
    const local = plan.paused.length ? new Map(introspectSqlite(syncer.db).map((t) => [t.name.toLowerCase(), t])) : new Map();
    for (const p of plan.paused) {
      const info = local.get(p.table.toLowerCase());
      add(p.table, 'paused', p.fix ? `${p.reason} — fix: ${p.fix}` : p.reason, info ? tableKeyKind(info) : null);
    }
    for (const p of plan.skipped) add(p.table, 'skipped', p.reason);
  } else {
    for (const t of coverage.sqlite) if (!t.startsWith('_dualdb_')) add(t, 'syncing', null);
  }
  for (const [t] of pushByTable)
    if (!seen.has(t) && !t.startsWith('_dualdb_')) add(t, 'skipped', 'changes queued for a table that is not synced');
  rows.sort((a, b) => a.table.localeCompare(b.table));
  const resync = s.getMeta('resync_needed') ?? null;
  const state: NodeState =
    options.state ??
    (resync
      ? 'resync-needed'
      : !config.dualDatabase
        ? 'local-only'
        : reachable
          ? pending.count > 0
            ? 'recovering'
            : 'online'
          : 'degraded');
  return {
    nodeId: syncer.nodeId,
    mode: config.sync.mode,
    conflictPolicy: config.sync.conflictPolicy,
    state,
    hub: { enabled: config.dualDatabase, endpoint: describeMysql(config.mysql), reachable, error },
    queue: {
      push: pending.count,
      oldestPushAgeMs: pending.oldestMs === null ? null : Math.max(0, Date.now() - pending.oldestMs),
      // Other nodes' heartbeats are pulled too, but they are not changes waiting: counted, the
      // queue never read 0 while another site ran (operator trial 2026-12-07: "↓ 1" with every
      // table at 0 pending).
      pull: pullByTable ? [...pullByTable].filter(([t]) => !t.startsWith('_dualdb_')).reduce((a, [, n]) => a + n, 0) : null,
    },
    lag: { push: syncer.metrics.lag('push'), pull: syncer.metrics.lag('pull') },
    lastPushAt: s.getMeta('last_push_at') ?? null,
    lastPullAt: s.getMeta('last_pull_at') ?? null,
    ...lastErrorOf(s, options),
    pullCursor: { upto: pull.upto.toString(), holes: pull.holes.size },
    conflicts: s.conflictCounts(),
    parked: {
      push: parked.filter((p) => p.direction === 'push').length,
      pull: parked.filter((p) => p.direction === 'pull').length,
    },
    rekeys: { total: rekeys.total, open: rekeys.open, closed: rekeys.closed },
    resyncNeeded: resync,
    pruneReportError: s.getMeta('pull_report_error') ?? null,
    tables: rows,
  };
}
