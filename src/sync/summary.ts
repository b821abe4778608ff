/** Plain summaries of what a sync cycle moved, shared by the CLI, the daemon log and the monitor. */

import type { SyncLog } from '../log/sync-log.js';
import type { BatchResult } from './context.js';
import type { CycleReport, PausedTable } from './syncer.js';

export interface TableSummary {
  table: string;
  pushed: number;
  pulled: number;
  conflicts: number;
  parked: number;
}

export interface CycleSummary {
  pushed: number;
  pulled: number;
  conflicts: number;
  parked: number;
  durationMs: number;
  tables: TableSummary[];
  /** Tables paused by schema drift: nothing of theirs moves until the schemas match. */
  paused: PausedTable[];
  /** Tables not synced at all (no primary key, only on one side, SYNC_EXCLUDE…), with why. */
  skipped: { table: string; reason: string }[];
}

const isMeta = (t: string) => t.startsWith('_dualdb_');

/** What moved, per user table (dualdb's own heartbeat rows are left out). */
export function summarizeCycle(report: CycleReport): CycleSummary {
  const tables = new Map<string, TableSummary>();
  const add = (b: BatchResult, key: 'pushed' | 'pulled') => {
    for (const [t, m] of b.perTable) {
      if (isMeta(t)) continue;
      const s = tables.get(t) ?? { table: t, pushed: 0, pulled: 0, conflicts: 0, parked: 0 };
      s[key] += m.upserts + m.deletes;
      s.conflicts += m.conflicts;
      s.parked += m.parked;
      tables.set(t, s);
    }
  };
  add(report.push, 'pushed');
  add(report.pull, 'pulled');
  const list = [...tables.values()]
    .filter((t) => t.pushed || t.pulled || t.conflicts || t.parked)
    .sort((a, b) => a.table.localeCompare(b.table));
  const sum = (k: keyof Omit<TableSummary, 'table'>) => list.reduce((a, t) => a + t[k], 0);
  return {
    pushed: sum('pushed'),
    pulled: sum('pulled'),
    conflicts: sum('conflicts'),
    parked: sum('parked'),
    durationMs: report.durationMs,
    tables: list,
    paused: report.paused ?? [],
    skipped: report.skipped ?? [],
  };
}

/** "↑3 ↓1 conflicts 1": the compact form for the log and the monitor's header. */
export function cycleCounts(s: Pick<CycleSummary, 'pushed' | 'pulled' | 'conflicts' | 'parked'>): string {
  return `↑${s.pushed} ↓${s.pulled}${s.conflicts ? ` conflicts ${s.conflicts}` : ''}${s.parked ? ` parked ${s.parked}` : ''}`;
}

export function cycleLine(s: CycleSummary): string {
  const per = (k: 'pushed' | 'pulled') =>
    s.tables
      .filter((t) => t[k] > 0)
      .map((t) => `${t.table} ${t[k]}`)
      .join(', ');
  const parts: string[] = [];
  if (s.pushed) parts.push(`↑ ${s.pushed} (${per('pushed')})`);
  if (s.pulled) parts.push(`↓ ${s.pulled} (${per('pulled')})`);
  if (s.conflicts) parts.push(`${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}`);
  if (s.parked) parts.push(`${s.parked} parked`);
  // A paused table has work that cannot move: not "nothing to do".
  if (parts.length === 0) parts.push(s.paused?.length ? 'nothing moved' : 'nothing to do');
  return `${parts.join('  ')}  ${s.durationMs} ms`;
}

/** "table workers paused: schema drift — only in MySQL: reviewer; 2 change(s) wait — fix: …" */
export function pausedLine(p: PausedTable): string {
  const waiting = p.waiting ? `; ${p.waiting} change(s) wait` : '';
  return `table ${p.table} paused: ${p.reason}${waiting}${p.fix ? ` — fix: ${p.fix}` : ''}`;
}

/** "table audit_trail skipped: no primary key on either side: rows cannot be matched; add one to sync this table" */
export function skippedLine(t: { table: string; reason: string }): string {
  return `table ${t.table} skipped: ${t.reason}`;
}

/** The log entry of a cycle that moved or parked something: the same for a daemon, a watcher and a one-shot sync. */
export function logCycle(log: SyncLog, s: CycleSummary): void {
  if (!(s.pushed || s.pulled || s.conflicts || s.parked)) return;
  log.info(`synced: ${cycleCounts(s)}`, {
    event: 'cycle',
    pushed: s.pushed,
    pulled: s.pulled,
    conflicts: s.conflicts,
    parked: s.parked,
    ms: s.durationMs,
  });
}

/** Whether a cycle moved application rows (heartbeats, which every node sends every 10 s, do not count). */
export function movedUserRows(report: CycleReport): boolean {
  for (const b of [report.push, report.pull])
    for (const [table, m] of b.perTable) if (!table.startsWith('_dualdb_') && m.upserts + m.deletes > 0) return true;
  return false;
}
