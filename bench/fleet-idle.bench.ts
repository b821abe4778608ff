/**
 * What an idle node costs the hub (issue 16: "200 idle nodes measured: hub CPU and queries/s
 * per node"). N nodes run their sync loops (`dualdb sync --watch`'s, hosted 20 to a process as
 * in bench/scale.bench.ts: 200 Node.js processes do not fit on 2 cores) with nobody writing, and
 * for a window the bench reads the hub's own counters: statements (`Questions`), connections
 * (`Threads_connected`), mariadbd CPU from /proc, plus the node processes' CPU and memory.
 * The baselines, same run: the hub with no node at all, and 2 idle nodes (one process each,
 * as deployed) per node.
 *
 *   node --import tsx bench/fleet-idle.bench.ts [--quick] [--nodes 200] [--seconds 30]
 *
 * quick: 20 nodes for 10 s. Each window starts 35 s after the nodes are online (SETTLE_MS).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { Fleet, processCpuSeconds } from '../test/helpers/scale.js';
import {
  type BenchOptions,
  type BenchServer,
  type Figure,
  machineInfo,
  printTable,
  RESULTS_DIR,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

export interface FleetIdleOptions extends Partial<BenchOptions> {
  nodes?: number;
  seconds?: number;
}

interface Sample {
  nodes: number;
  /** Statements the hub received per second (the bench's own two reads left out). */
  queriesPerSecond: number;
  /** mariadbd CPU, % of one core. */
  hubCpuPct: number;
  /** Open client connections on the hub during the window. */
  connections: number;
  /** All node processes together, % of one core. */
  nodesCpuPct: number;
  /** Resident memory of all node processes together, MB. */
  nodesRssMb: number;
  processes: number;
}

/** Start-up to the steady idle state: past the hub pool's idle timeout (poolOptions: 30 s). */
const SETTLE_MS = 35_000;

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function hubCounters(root: MysqlHub): Promise<{ questions: number; threads: number }> {
  const rows = await root.query<{ Variable_name: string; Value: string }>(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Threads_connected')",
  );
  const v = (n: string) => Number(rows.find((r) => r.Variable_name === n)?.Value ?? 0);
  return { questions: v('Questions'), threads: v('Threads_connected') };
}

/** The hub's counters over `seconds` while `count` nodes sit idle (0: the hub alone). */
async function measure(server: BenchServer, dir: string, count: number, seconds: number): Promise<Sample> {
  const mysql: MysqlConfig = await server.freshDatabase(`idle${count}`);
  const root = await MysqlHub.connect(mysql, { connectionLimit: 1 });
  const fleet = count > 0 ? await Fleet.create(mysql, path.join(dir, `idle-${count}`), count) : undefined;
  try {
    if (fleet) {
      const t0 = Date.now();
      await fleet.startSyncers(600_000, count > 20 ? 20 : 1);
      process.stderr.write(`  ${count} idle nodes online in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    // Past start-up: the first pulls, the probes' switch from the active to the idle interval, and
    // the pool's idle timeout (30 s), which closes a connection a start-up pull needed beside its
    // read (the schema check): what an idle node holds for hours is what is counted.
    if (count > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
    const pids = fleet?.syncerPids() ?? [];
    const c0 = await hubCounters(root);
    const hub0 = processCpuSeconds(server.pid);
    const nodes0 = fleet?.syncersCpuSeconds() ?? 0;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = await hubCounters(root);
    const wall = (Date.now() - t0) / 1000;
    const hubCpu = processCpuSeconds(server.pid) - hub0;
    const nodesCpu = (fleet?.syncersCpuSeconds() ?? 0) - nodes0;
    return {
      nodes: count,
      // The SHOW itself counts once per reading.
      queriesPerSecond: (c1.questions - c0.questions - 1) / wall,
      hubCpuPct: (hubCpu / wall) * 100,
      connections: c1.threads,
      nodesCpuPct: (nodesCpu / wall) * 100,
      nodesRssMb: pids.reduce((s, p) => s + rssMb(p), 0),
      processes: pids.length,
    };
  } finally {
    await fleet?.close();
    await root.close();
  }
}

const fig = (name: string, unit: string, ours: number, base?: { name: string; value: number }, note?: string): Figure => ({
  name,
  unit,
  ours,
  baseline: base?.value ?? null,
  baselineName: base?.name ?? null,
  ratio: base?.value ? ours / base.value : null,
  runs: [ours],
  ...(note ? { note } : {}),
});

export async function run(options: FleetIdleOptions = {}): Promise<Figure[]> {
  const quick = options.quick ?? false;
  const server = options.server ?? (await startBenchServer());
  const scratch = options.dir ? undefined : scratchDir();
  const dir = options.dir ?? (scratch as { dir: string }).dir;
  const count = options.nodes ?? (quick ? 20 : 200);
  const seconds = options.seconds ?? (quick ? 10 : 30);
  try {
    const alone = await measure(server, dir, 0, seconds);
    const two = await measure(server, dir, 2, seconds);
    const many = await measure(server, dir, count, seconds);
    const per = (s: Sample, k: keyof Sample) => (Number(s[k]) - Number(alone[k])) / s.nodes;
    const at = `@${count} idle nodes`;
    const twoPer = (k: keyof Sample) => ({ name: '2 idle nodes, per node', value: per(two, k) });
    return [
      fig(
        `hub queries/s per node ${at}`,
        'q/s',
        per(many, 'queriesPerSecond'),
        twoPer('queriesPerSecond'),
        `hub in all: ${many.queriesPerSecond.toFixed(0)} q/s; alone: ${alone.queriesPerSecond.toFixed(1)} q/s`,
      ),
      fig(
        `hub CPU per node ${at}`,
        '% of a core',
        per(many, 'hubCpuPct'),
        twoPer('hubCpuPct'),
        `mariadbd in all: ${many.hubCpuPct.toFixed(1)} %; alone: ${alone.hubCpuPct.toFixed(2)} %`,
      ),
      fig(
        `hub connections per node ${at}`,
        'conn',
        per(many, 'connections'),
        twoPer('connections'),
        `in all: ${many.connections} (the server's max_connections must allow it)`,
      ),
      fig(
        `node CPU per node ${at}`,
        '% of a core',
        many.nodesCpuPct / count,
        { name: '2 idle nodes, per node', value: two.nodesCpuPct / 2 },
        `${many.processes} processes hosting ${count} nodes; 2 nodes: one process each`,
      ),
      fig(
        `node memory per node ${at}`,
        'MB',
        many.nodesRssMb / count,
        { name: '2 idle nodes, per node', value: two.nodesRssMb / 2 },
        'resident memory of the sync processes, shared by the nodes each hosts',
      ),
    ];
  } finally {
    if (!options.server) await server.close();
    scratch?.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const num = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const quick = args.includes('--quick');
  const nodes = num('--nodes');
  const seconds = num('--seconds');
  const server = await startBenchServer();
  try {
    const figures = await run({ quick, server, ...(nodes ? { nodes } : {}), ...(seconds ? { seconds } : {}) });
    printTable(`fleet-idle${quick ? ' (quick)' : ''}`, figures);
    writeResults(path.join(RESULTS_DIR, 'fleet-idle.json'), { machine: machineInfo(server.version), quick, figures });
  } finally {
    await server.close();
  }
}
