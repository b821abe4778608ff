/**
 * `dualdb demo --no-ui --seconds N`: the demo without the screen (tests, CI,
 * a quick look): the sync runs in this process while the simulated site and
 * the control room write for N seconds; then the writers stop, the sync runs
 * until nothing moves, and the row counts of both sides are compared.
 */
import { type CompareRow, runMonitorCompare } from '../compare/progress.js';
import { startSyncProcess } from '../sync/process.js';
import { summarizeCycle } from '../sync/summary.js';
import type { Demo } from './site.js';

export interface HeadlessReport {
  seconds: number;
  /** User rows moved SQLite → MySQL and MySQL → SQLite. */
  pushed: number;
  pulled: number;
  cycles: number;
  localWrites: number;
  centralWrites: number;
  conflicts: number;
  parked: number;
  tables: CompareRow[];
  /** Every table holds the same rows on both sides (checksum compare). */
  converged: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export async function runHeadlessDemo(
  demo: Demo,
  seconds: number,
  options: { onLine?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<HeadlessReport> {
  const say = options.onLine ?? (() => {});
  const running = await startSyncProcess(demo.config, { kind: 'watch', signals: false });
  const totals = { pushed: 0, pulled: 0, cycles: 0, conflicts: 0, parked: 0 };
  running.service.on('cycle', (r) => {
    const s = summarizeCycle(r);
    if (s.pushed + s.pulled + s.conflicts + s.parked === 0) return;
    totals.pushed += s.pushed;
    totals.pulled += s.pulled;
    totals.conflicts += s.conflicts;
    totals.parked += s.parked;
    totals.cycles++;
  });
  try {
    demo.startWriters();
    say(`site and control room writing for ${seconds} s…`);
    await sleep(seconds * 1000, options.signal);
    await demo.stopWriters();
    say('writers stopped; syncing until nothing moves…');
    // Two quiet rounds in a row: the last pull may reveal a late hub commit.
    let quiet = 0;
    for (let round = 0; round < 20 && quiet < 2; round++) {
      const s = summarizeCycle(await running.service.syncNow());
      quiet = s.pushed + s.pulled === 0 ? quiet + 1 : 0;
    }
    const status = await running.service.status();
    // The same compare as the monitor's `c`: checksums of every row on both sides, not only counts.
    const tables = await runMonitorCompare(demo.config, () => {});
    const stats = demo.stats();
    return {
      seconds,
      ...totals,
      conflicts: status.conflicts.total,
      parked: status.parked.push + status.parked.pull,
      localWrites: stats.localWrites,
      centralWrites: stats.centralWrites,
      tables,
      converged: tables.every((t) => t.equal === true),
    };
  } finally {
    await demo.stopWriters();
    await running.stop();
  }
}
