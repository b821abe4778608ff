/**
 * An idle node's resident cost: `dist/cli/main.js sync --watch` (the built CLI, as deployed)
 * against a private hub, nothing written; after a warm-up of 30 s (quick: 15 s; `--settle S`),
 * /proc/<pid>/stat (CPU) and /proc/<pid>/status (RSS) are sampled for 30 s (quick: 10 s). The
 * warm-up is past start-up: module loading, the first sync and plan, and the garbage collections
 * after them (V8's memory reducer, 8–9 s after start), which a 5 s warm-up still sampled: what an
 * idle node costs for hours is the steady window. Baseline in the same run: a bare `node` process
 * idling on a timer, sampled alongside (Node's own floor). The hub's own counters over
 * the same window give what the idle node costs the hub: statements/s (`Questions`, the bench's
 * own reads left out) and connections held (`Threads_connected` less the bench's one).
 *
 *   node --import tsx bench/idle.bench.ts [--quick] [--settle S] [--cli /other/dist/cli/main.js]
 *
 * `--cli` measures another build instead (e.g. the one before a change, for a before/after).
 * Needs `npx tsc -p tsconfig.build.json` first (dist/ is not built by the bench).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { type BenchOptions, benchNodeConfig, type Figure, figure, runStandalone } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** CPU (% of one core) over `seconds` and the median RSS of one sample a second. */
async function sample(pid: number, seconds: number): Promise<{ cpu: number; rss: number }> {
  const t0 = cpuTicks(pid);
  const started = process.hrtime.bigint();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(rssMb(pid));
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  rss.sort((a, b) => a - b);
  return { cpu: ((cpuTicks(pid) - t0) / TICKS / wall) * 100, rss: rss[Math.floor(rss.length / 2)] ?? 0 };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function run(
  options: BenchOptions,
  cli = path.join(ROOT, 'dist/cli/main.js'),
  settleSeconds = options.quick ? 15 : 30,
): Promise<Figure[]> {
  const seconds = options.quick ? 10 : 30;
  const m = await options.server.freshDatabase('idle');
  const config = benchNodeConfig(options.dir, 'idle', m);
  const hub = await MysqlHub.connect(m);
  await hub.execute('CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100))');
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)');
  db.close();
  await initNode(config);
  const env = {
    ...process.env,
    SQLITE_DB_PATH: config.sqlitePath,
    DB_HOST: m.host,
    DB_PORT: String(m.port),
    DB_USER: m.user,
    DB_PASSWORD: m.password,
    DB_NAME: m.database,
    NODE_ID: 'idle',
    LOG_FILE: config.log.file,
  };
  const cpu: number[] = [];
  const rss: number[] = [];
  const baseCpu: number[] = [];
  const baseRss: number[] = [];
  const qps: number[] = [];
  const conns: number[] = [];
  const counters = async () => {
    const rows = await hub.query<{ Variable_name: string; Value: string }>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Threads_connected')",
    );
    const v = (n: string) => Number(rows.find((r) => r.Variable_name === n)?.Value ?? 0);
    return { questions: v('Questions'), threads: v('Threads_connected') };
  };
  const alone = (await counters()).threads;
  for (let r = 0; r < 3; r++) {
    const watcher = spawn(process.execPath, [cli, 'sync', '--watch'], { env, stdio: 'ignore', cwd: options.dir });
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    try {
      // Start-up (module loading, first sync, the collections after them) is not idle: let it settle.
      await new Promise((res) => setTimeout(res, settleSeconds * 1000));
      if (watcher.exitCode !== null) throw new Error(`sync --watch exited with ${watcher.exitCode}`);
      const c0 = await counters();
      const t0 = Date.now();
      const [w, b] = await Promise.all([sample(watcher.pid as number, seconds), sample(bare.pid as number, seconds)]);
      const c1 = await counters();
      qps.push((c1.questions - c0.questions - 1) / ((Date.now() - t0) / 1000));
      conns.push(c1.threads - alone);
      cpu.push(w.cpu);
      rss.push(w.rss);
      baseCpu.push(b.cpu);
      baseRss.push(b.rss);
    } finally {
      await Promise.all([stop(watcher), stop(bare)]);
    }
  }
  await hub.close();
  return [
    figure(
      `idle sync --watch CPU (${seconds} s, after ${settleSeconds} s)`,
      '% of a core',
      cpu,
      { name: 'bare node idling', runs: baseCpu },
      'goal ≤ 0.3 %',
    ),
    figure('idle sync --watch RSS', 'MB', rss, { name: 'bare node idling', runs: baseRss }, 'goal ≤ 80 MB'),
    figure('idle node: hub statements/s', 'statements/s', qps, undefined, 'goal ≤ 10/s'),
    figure('idle node: hub connections held', 'connections', conns, undefined, 'at the end of each window'),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--cli');
  const cli = at >= 0 ? path.resolve(process.argv[at + 1] ?? '') : undefined;
  const settle = process.argv.indexOf('--settle');
  const settleSeconds = settle >= 0 ? Number(process.argv[settle + 1]) : undefined;
  await runStandalone('idle', (o) => run(o, cli, settleSeconds));
}
