/**
 * Shared pieces of the benchmarks: a private MariaDB for the run, repeated
 * measurement with median and spread, the results table and JSON. Every figure
 * is compared with a baseline measured in the same run on the same machine,
 * because absolute times on shared machines are noise.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, MysqlConfig } from '../src/config/config.js';
import { loadConfig } from '../src/config/load.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { LocalMysqlServer } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

export interface BenchOptions {
  quick: boolean;
  /** A hub the benchmark may create databases on (shared by the whole run). */
  server: BenchServer;
  /** A scratch folder for SQLite files. */
  dir: string;
}

export interface Figure {
  /** What is measured, e.g. "point read p50". */
  name: string;
  unit: string;
  ours: number;
  /** The same-run baseline, when the figure has one. */
  baseline: number | null;
  baselineName: string | null;
  /** ours / baseline (for times: >1 means slower than the baseline). */
  ratio: number | null;
  /** The repetitions behind `ours` (median of them), for the spread. */
  runs: number[];
  baselineRuns?: number[];
  note?: string;
}

/** A node's configuration for a benchmark: SQLite file and log in `dir`, the hub database `m`, extra settings. */
export function benchNodeConfig(dir: string, name: string, m: MysqlConfig, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      SQLITE_DB_PATH: path.join(dir, `${name}.db`),
      DB_HOST: m.host,
      DB_PORT: String(m.port),
      DB_USER: m.user,
      DB_PASSWORD: m.password,
      DB_NAME: m.database,
      NODE_ID: name,
      LOG_FILE: path.join(dir, `${name}.log`),
      ...env,
    },
    envFile: undefined,
    cwd: dir,
  });
}

export interface BenchServer {
  freshDatabase(prefix: string): Promise<MysqlConfig>;
  rootConnection: LocalMysqlServer['rootConnection'] | undefined;
  version: string;
  /** The server process id, when the run started its own server (for CPU accounting from /proc). */
  pid?: number | undefined;
  close(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  // Room for the fleet benches' hundreds of idle nodes (the default max_connections is 151).
  const server = await LocalMysqlServer.start({ durable: true, extraArgs: ['--max-connections=2000'] });
  const c = await server.rootConnection();
  const [[row]] = (await c.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  await c.end();
  let n = 0;
  return {
    freshDatabase: (prefix) => server.createDatabase(`${prefix}_${++n}`),
    rootConnection: server.rootConnection.bind(server),
    version: row.v,
    pid: server.pid,
    close: () => server.destroy(),
  };
}

export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dualdb-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

export function figure(
  name: string,
  unit: string,
  runs: number[],
  baseline?: { name: string; runs: number[] },
  note?: string,
): Figure {
  const ours = median(runs);
  const base = baseline ? median(baseline.runs) : null;
  return {
    name,
    unit,
    ours,
    baseline: base,
    baselineName: baseline?.name ?? null,
    ratio: base ? ours / base : null,
    runs,
    ...(baseline ? { baselineRuns: baseline.runs } : {}),
    ...(note ? { note } : {}),
  };
}

/** Runs `fn` `times` times and returns each result (a figure per repetition). */
export async function repeat(times: number, fn: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(await fn(i));
  return out;
}

export function hr(): () => number {
  const t0 = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - t0) / 1e6;
}

function fmt(v: number | null, unit: string): string {
  if (v === null || Number.isNaN(v)) return '-';
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`;
}

function spread(runs: number[] | undefined): string {
  if (!runs || runs.length < 2) return '';
  return `±${(((Math.max(...runs) - Math.min(...runs)) / 2 / median(runs)) * 100).toFixed(0)}%`;
}

export function printTable(title: string, figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    fmt(f.ours, f.unit),
    spread(f.runs),
    f.baselineName ? `${fmt(f.baseline, f.unit)} (${f.baselineName})` : '-',
    f.ratio === null ? '-' : `${f.ratio.toFixed(2)}×`,
    f.note ?? '',
  ]);
  const head = ['figure', 'ours', 'spread', 'baseline (same run)', 'ratio', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    `\n${title}\n${line(head)}\n${widths.map((w) => '─'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`,
  );
}

export function machineInfo(mysqlVersion: string): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    mariadb: mysqlVersion,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

export function writeResults(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/** `--quick` (and `--only`, which run.ts reads) from a command line. */
export function parseBenchArgs(argv: string[]): { quick: boolean; only: string[] } {
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--only');
  const only = at >= 0 ? (argv[at + 1] ?? '').split(',').filter(Boolean) : [];
  return { quick, only };
}

/**
 * Runs one benchmark file on its own (`node --import tsx bench/<name>.bench.ts [--quick]`):
 * a private MariaDB and a scratch folder for the run, the table on stdout,
 * bench/results/<name>.json. `npm run bench` drives the same `run(options)`.
 */
export async function runStandalone(
  name: string,
  run: (options: BenchOptions) => Promise<Figure[]>,
  argv: string[] = process.argv.slice(2),
): Promise<Figure[]> {
  const { quick } = parseBenchArgs(argv);
  const server = await startBenchServer();
  const scratch = scratchDir();
  try {
    const figures = await run({ quick, server, dir: scratch.dir });
    printTable(`${name}${quick ? ' (quick)' : ''}`, figures);
    const out = path.join(RESULTS_DIR, `${name}.json`);
    writeResults(out, { machine: machineInfo(server.version), quick, figures });
    process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
    return figures;
  } finally {
    await server.close();
    scratch.cleanup();
  }
}

/**
 * The bulk push benches' node (bench/push-cost.ts, bench/push-timeline.ts): a fresh hub database and
 * node with `bench_rows` (the table of sync.bench.ts), `n` local inserts waiting in its change log,
 * and its syncer connected to the hub. `BENCH_BATCH=N` sets SYNC_BATCH_SIZE.
 */
export async function bulkPushNode(server: BenchServer, dir: string, n: number, label: string): Promise<Syncer> {
  const m = await server.freshDatabase(label);
  const config = benchNodeConfig(
    dir,
    `${label}-${m.database}`,
    m,
    process.env.BENCH_BATCH ? { SYNC_BATCH_SIZE: process.env.BENCH_BATCH } : {},
  );
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec('CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, score REAL, seen_at TEXT, payload TEXT)');
  const hub = await MysqlHub.connect(m);
  await hub.execute(
    'CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)',
  );
  await hub.close();
  db.close();
  await initNode(config);
  const local = openSqlite(config.sqlitePath);
  const ins = local.prepare('INSERT INTO bench_rows VALUES (?, ?, ?, ?, ?)');
  local.transaction(() => {
    for (let id = 1; id <= n; id++)
      ins.run(
        id,
        `cam-${id % 37}`,
        (id % 1000) / 1000,
        `2024-05-${String(1 + (id % 28)).padStart(2, '0')} 10:00:00.${String(id % 1_000_000).padStart(6, '0')}`,
        `detection ${id} helmet=yes vest=no`,
      );
  })();
  local.close();
  const s = Syncer.open(config, { log: SyncLog.memory('warn') });
  await s.connectHub();
  return s;
}

/** Pushes until `n` rows of `bench_rows` moved (or nothing is left); the rows moved. */
export async function drainPush(s: Syncer, n: number): Promise<number> {
  let moved = 0;
  for (let i = 0; i < 1000 && moved < n; i++) {
    const r = await s.push(10_000);
    moved += r.perTable.get('bench_rows')?.upserts ?? 0;
    if (!r.more && r.applied === 0) break;
  }
  return moved;
}
