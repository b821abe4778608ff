/**
 * Deterministic cost of a bulk push (issue 16): `n` local inserts (default 100,000) pushed to a
 * private hub, and what it cost in figures that do not depend on the machine's load — the hub's
 * statements (`Queries`), commits and redo-log fsyncs per 2,000 rows, and CPU time per 100k
 * rows of this process and of the hub server (from /proc). Wall time is printed too (noise under
 * load). `node --import tsx bench/push-cost.ts [n] [reps]`; `BENCH_BATCH=N` sets SYNC_BATCH_SIZE,
 * `PUSH_PROF=path` writes a CPU profile of each push (path.<rep>.cpuprofile).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { bulkPushNode, drainPush, hr, median, scratchDir, startBenchServer } from './lib.js';

const n = Number(process.argv[2] ?? 100_000);
const reps = Number(process.argv[3] ?? 1);
const server = await startBenchServer();
const { dir, cleanup } = scratchDir();

const COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_savepoint',
  'Com_commit',
  'Innodb_data_fsyncs',
  'Innodb_log_writes',
  'Handler_read_key',
  'Handler_write',
  'Bytes_received',
  'Bytes_sent',
];

function hubCpuMs(): number {
  if (!server.pid) return 0;
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function status(): Promise<Record<string, number>> {
  const c = await (server.rootConnection as NonNullable<typeof server.rootConnection>)();
  const [rows] = (await c.query('SHOW GLOBAL STATUS')) as unknown as [{ Variable_name: string; Value: string }[]];
  await c.end();
  const out: Record<string, number> = {};
  for (const r of rows) if (COUNTERS.includes(r.Variable_name)) out[r.Variable_name] = Number(r.Value);
  return out;
}

const out: Record<string, number[]> = { wallMs: [], nodeCpuMs: [], hubCpuMs: [] };
try {
  for (let rep = 0; rep < reps; rep++) {
    const s = await bulkPushNode(server, dir, n, 'cost');
    const before = await status();
    // PUSH_PROF=file.cpuprofile: a CPU profile of the push alone (open it in Chrome DevTools).
    const session = process.env.PUSH_PROF ? new Session() : undefined;
    session?.connect();
    await session?.post('Profiler.enable');
    await session?.post('Profiler.start');
    const cpu0 = process.cpuUsage();
    const hub0 = hubCpuMs();
    const t = hr();
    const moved = await drainPush(s, n);
    const wall = t();
    const cpu = process.cpuUsage(cpu0);
    const hubCpu = hubCpuMs() - hub0;
    const after = await status();
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${process.env.PUSH_PROF}.${rep}.cpuprofile`, JSON.stringify(profile));
      session.disconnect();
    }
    await s.close();
    if (moved < n) throw new Error(`pushed ${moved} of ${n}`);
    out.wallMs?.push(wall);
    out.nodeCpuMs?.push(((cpu.user + cpu.system) / 1000) * (100_000 / n));
    out.hubCpuMs?.push(hubCpu * (100_000 / n));
    const per2k = (k: string) => (((after[k] ?? 0) - (before[k] ?? 0)) * 2000) / n;
    for (const k of COUNTERS) {
      const name = `${k} /2k rows`;
      out[name] = [...(out[name] ?? []), Math.round(per2k(k) * 10) / 10];
    }
  }
  for (const [k, v] of Object.entries(out))
    process.stdout.write(
      `${k.padEnd(30)} median ${median(v).toFixed(1).padStart(10)}   runs ${v.map((x) => x.toFixed(1)).join(' / ')}\n`,
    );
  process.stdout.write('(CPU ms are per 100k rows; statements etc. per 2,000 rows pushed)\n');
} finally {
  cleanup();
  await server.close();
}
