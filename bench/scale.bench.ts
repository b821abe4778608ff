/**
 * Many sites on one hub (issue 8): N nodes, each a SQLite file with its own
 * `dualdb sync --watch` process (past 20 nodes, ten processes host the nodes'
 * sync loops: see defaultPerProcess), write steadily (4 commits/s each) while a
 * control room writes on the hub; lag probes (a row written on node A, timed
 * until it is in node B's file — the path data and heartbeats take, through
 * the hub) give the end-to-end convergence lag. Reported per node count:
 * lag p50/p99 node→node and node→hub, hub CPU (mariadbd utime+stime from
 * /proc), the node processes' CPU and the whole machine's, the hub change-log
 * size before and after retention pruning, the time to drain after the writers
 * stop, and the first node count where this machine saturates. The baseline of
 * each figure is the same measurement with 2 nodes in the same run. Every node
 * must end identical to the hub (by `compare`) or the bench fails.
 *
 *   node --import tsx bench/scale.bench.ts [--quick] [--nodes 20,50] [--per-process K]
 *
 * quick: 6 nodes (and the 2-node baseline), full: 20 and 50.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Syncer } from '../src/sync/syncer.js';
import { Fleet, machineCpuSeconds, processCpuSeconds } from '../test/helpers/scale.js';
import {
  type BenchOptions,
  type Figure,
  machineInfo,
  percentile,
  printTable,
  RESULTS_DIR,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

export interface ScaleBenchOptions extends Partial<BenchOptions> {
  /** Node counts to measure (the 2-node baseline is always added). */
  nodeCounts?: number[];
  /** Nodes per sync process (default: one process per node up to 20 nodes, ten processes beyond). */
  perProcess?: number;
}

/**
 * One process per node as deployed, while the machine allows it: past 20 nodes, 2 cores spend
 * more on starting and scheduling 50 Node.js processes than on syncing (the 50-process run
 * never settled), so the nodes share ten processes, each node still with its own connection,
 * lock, log and poller.
 */
const defaultPerProcess = (nodes: number) => (nodes > 20 ? Math.ceil(nodes / 10) : 1);

const cores = os.cpus().length;
const RATE_PER_NODE = 4;
const CENTRAL_RATE = 10;
const PROBE_EVERY_MS = 100;
/** Retention used for the pruning measurement (the default is 168 h). */
const PRUNE_RETENTION_MS = 3_000;

interface Step {
  nodes: number;
  writesPerSecond: number;
  probes: number;
  e2e: number[];
  e2eWindows: { p50: number[]; p99: number[] };
  toHub: number[];
  hubCpuPct: number;
  nodesCpuPct: number;
  /** This process: the application writers, the control-room writer and the probes. */
  benchCpuPct: number;
  machineBusyPct: number;
  drainSeconds: number;
  logBefore: number;
  logAfter: number;
  startupSeconds: number;
  processes: number;
}

/** p50/p99 in each third of the measuring window (by send time): the spread of a single run. */
function windows(probes: { endToEndMs: number }[]): { p50: number[]; p99: number[] } {
  const third = Math.ceil(probes.length / 3);
  const parts = [0, 1, 2].map((i) => probes.slice(i * third, (i + 1) * third).map((p) => p.endToEndMs)).filter((p) => p.length);
  return { p50: parts.map((p) => percentile(p, 0.5)), p99: parts.map((p) => percentile(p, 0.99)) };
}

async function step(options: BenchOptions, nodes: number, seconds: number, perProcess: number): Promise<Step> {
  const mysql = await options.server.freshDatabase(`scale${nodes}`);
  const fleet = await Fleet.create(mysql, path.join(options.dir, `scale-${nodes}`), nodes);
  try {
    const t0 = Date.now();
    await fleet.startSyncers(300_000, perProcess);
    const startupSeconds = (Date.now() - t0) / 1000;
    const processes = fleet.syncerPids().length;
    process.stderr.write(`  ${nodes} nodes: ${processes} sync processes online in ${startupSeconds.toFixed(1)} s\n`);
    // Let the start-up work settle before measuring.
    await new Promise((r) => setTimeout(r, 2000));
    const hub0 = processCpuSeconds(options.server.pid);
    const nodes0 = fleet.syncersCpuSeconds();
    const m0 = machineCpuSeconds();
    const self0 = process.cpuUsage();
    const load = fleet.startLoad({ ratePerNode: RATE_PER_NODE, centralRate: CENTRAL_RATE, probeEveryMs: PROBE_EVERY_MS });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = seconds;
    const hubCpu = processCpuSeconds(options.server.pid) - hub0;
    const nodesCpu = fleet.syncersCpuSeconds() - nodes0;
    const m1 = machineCpuSeconds();
    const self = process.cpuUsage(self0);
    const stats = await load.stop();
    const tDrain = Date.now();
    const differences = await fleet.waitConverged(120_000);
    const drainSeconds = (Date.now() - tDrain) / 1000;
    if (differences.length) throw new Error(`${nodes} nodes did not converge: ${differences.slice(0, 5).join('; ')}`);
    // Converged means every probe row is now in every node: one still pending was only slower than the wait.
    if (stats.probesLost) process.stderr.write(`  ${nodes} nodes: ${stats.probesLost} probes took longer than 2 min\n`);
    if (stats.centralRetries)
      process.stderr.write(
        `  ${nodes} nodes: ${stats.centralRetries} central writes waited for a hub connection (machine saturated)\n`,
      );

    // Retention pruning: entries every node has pulled and older than the window go.
    const logBefore = await fleet.hubLogRows();
    await new Promise((r) => setTimeout(r, PRUNE_RETENTION_MS + 1000));
    const first = fleet.nodes[0];
    if (!first) throw new Error('no nodes');
    const pruner = Syncer.open({ ...first.config, sync: { ...first.config.sync, logRetentionMs: PRUNE_RETENTION_MS } });
    try {
      await pruner.pruneHubLog();
    } finally {
      await pruner.close();
    }
    const logAfter = await fleet.hubLogRows();
    await fleet.stopSyncers();
    const final = await fleet.divergence();
    if (final.length) throw new Error(`${nodes} nodes differ from the hub after pruning: ${final.slice(0, 5).join('; ')}`);

    const e2e = stats.probes.map((p) => p.endToEndMs);
    return {
      nodes,
      writesPerSecond: (stats.localWrites + stats.centralWrites) / stats.seconds,
      probes: e2e.length,
      e2e,
      e2eWindows: windows(stats.probes),
      toHub: stats.probes.map((p) => p.toHubMs).filter((v): v is number => v !== null),
      hubCpuPct: (hubCpu / wall) * 100,
      nodesCpuPct: (nodesCpu / wall) * 100,
      benchCpuPct: ((self.user + self.system) / 1e6 / wall) * 100,
      machineBusyPct: m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * cores : 0,
      drainSeconds,
      logBefore,
      logAfter,
      startupSeconds,
      processes,
    };
  } finally {
    await fleet.close();
  }
}

function fig(
  name: string,
  unit: string,
  ours: number,
  runs: number[],
  base: { name: string; value: number; runs?: number[] } | undefined,
  note?: string,
): Figure {
  return {
    name,
    unit,
    ours,
    baseline: base?.value ?? null,
    baselineName: base?.name ?? null,
    ratio: base?.value ? ours / base.value : null,
    runs,
    ...(base?.runs ? { baselineRuns: base.runs } : {}),
    ...(note ? { note } : {}),
  };
}

/** The first node count where the machine is saturated: CPU near all cores, or p99 lag growing faster than the node count. */
function saturation(steps: Step[], base: Step): string {
  const baseP99 = percentile(base.e2e, 0.99);
  for (const s of steps) {
    const p99 = percentile(s.e2e, 0.99);
    const cpuBound = s.machineBusyPct >= 0.9 * 100 * cores;
    const superlinear = p99 / baseP99 > s.nodes / base.nodes;
    if (cpuBound || superlinear) {
      return `saturated at ${s.nodes} nodes (${[
        cpuBound ? `machine CPU ${s.machineBusyPct.toFixed(0)}% of ${cores * 100}%` : '',
        superlinear ? `p99 lag ×${(p99 / baseP99).toFixed(1)} for ×${s.nodes / base.nodes} nodes` : '',
      ]
        .filter(Boolean)
        .join(', ')})`;
    }
  }
  const last = steps[steps.length - 1];
  return last ? `not saturated up to ${last.nodes} nodes` : 'no steps';
}

export async function run(options: ScaleBenchOptions = {}): Promise<Figure[]> {
  const quick = options.quick ?? false;
  const server = options.server ?? (await startBenchServer());
  const scratch = options.dir ? undefined : scratchDir();
  const dir = options.dir ?? (scratch as { dir: string }).dir;
  const opts: BenchOptions = { quick, server, dir };
  const counts = options.nodeCounts ?? (quick ? [6] : [20, 50]);
  const seconds = quick ? 6 : 20;
  try {
    const base = await step(opts, 2, seconds, 1);
    const steps: Step[] = [];
    for (const n of counts) steps.push(await step(opts, n, seconds, options.perProcess ?? defaultPerProcess(n)));
    const b = (name: string, value: number, runs?: number[]) => ({ name: `2 nodes: ${name}`, value, ...(runs ? { runs } : {}) });
    const figures: Figure[] = [];
    for (const s of steps) {
      const at = `@${s.nodes} nodes`;
      const p50 = percentile(s.e2e, 0.5);
      const p99 = percentile(s.e2e, 0.99);
      figures.push(
        fig(
          `convergence lag p50 node→node ${at}`,
          'ms',
          p50,
          s.e2eWindows.p50,
          b('same', percentile(base.e2e, 0.5), base.e2eWindows.p50),
          `${s.probes} probes; SYNC_INTERVAL 1 s; ${s.writesPerSecond.toFixed(0)} writes/s in all`,
        ),
        fig(
          `convergence lag p99 node→node ${at}`,
          'ms',
          p99,
          s.e2eWindows.p99,
          b('same', percentile(base.e2e, 0.99), base.e2eWindows.p99),
        ),
        fig(`commit → hub p50 ${at}`, 'ms', percentile(s.toHub, 0.5), [], b('same', percentile(base.toHub, 0.5))),
        fig(`commit → hub p99 ${at}`, 'ms', percentile(s.toHub, 0.99), [], b('same', percentile(base.toHub, 0.99))),
        fig(`hub CPU (mariadbd) ${at}`, '%', s.hubCpuPct, [], b('same', base.hubCpuPct), `of ${cores * 100}%`),
        fig(`node sync processes CPU ${at}`, '%', s.nodesCpuPct, [], b('same', base.nodesCpuPct), 'all nodes together'),
        fig(`writers + probes CPU ${at}`, '%', s.benchCpuPct, [], b('same', base.benchCpuPct), 'the bench process itself'),
        fig(
          `machine CPU busy ${at}`,
          '%',
          s.machineBusyPct,
          [],
          b('same', base.machineBusyPct),
          '/proc/stat: everything on the machine',
        ),
        fig(
          `drain after writers stop ${at}`,
          's',
          s.drainSeconds,
          [],
          b('same', base.drainSeconds),
          'until compare finds every node identical to the hub',
        ),
        fig(
          `hub change log before pruning ${at}`,
          'rows',
          s.logBefore,
          [],
          undefined,
          `after pruning (retention ${PRUNE_RETENTION_MS / 1000} s): ${s.logAfter} rows`,
        ),
        fig(
          `sync processes start-up ${at}`,
          's',
          s.startupSeconds,
          [],
          b('same', base.startupSeconds),
          `until each pulled; ${s.processes} processes`,
        ),
      );
    }
    const verdict = saturation(steps, base);
    const last = figures[figures.length - 1];
    if (last) last.note = `${last.note ?? ''}; ${verdict}`;
    figures.push(
      fig(
        'saturation point (first node count)',
        'nodes',
        verdict.startsWith('saturated at') ? Number(/saturated at (\d+)/.exec(verdict)?.[1]) : Number.NaN,
        [],
        undefined,
        verdict,
      ),
    );
    return figures;
  } finally {
    if (!options.server) await server.close();
    scratch?.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const at = args.indexOf('--nodes');
  const nodeCounts =
    at >= 0
      ? (args[at + 1] ?? '')
          .split(',')
          .map(Number)
          .filter((n) => n > 0)
      : undefined;
  const pp = args.indexOf('--per-process');
  const perProcess = pp >= 0 ? Number(args[pp + 1]) : undefined;
  const server = await startBenchServer();
  try {
    const figures = await run({ quick, server, ...(nodeCounts ? { nodeCounts } : {}), ...(perProcess ? { perProcess } : {}) });
    printTable(`scale${quick ? ' (quick)' : ''}`, figures);
    writeResults(path.join(RESULTS_DIR, 'scale.json'), { machine: machineInfo(server.version), quick, figures });
  } finally {
    await server.close();
  }
}
