/**
 * Sync engine throughput and latency (issue "sync engine", "Measure and note").
 *
 *  - push: 100k changed rows (local inserts, captured) pushed to the hub, rows/s;
 *  - pull: 100k rows written centrally on the hub, pulled into a node, rows/s;
 *    both compared in the same run with a plain multi-row INSERT of the same rows
 *    into MySQL (the ceiling of any push); the pull also with a plain copy
 *    hub → SQLite (SELECT + one-transaction insert, no capture, no bookkeeping);
 *  - commit → other side latency: bench/latency.bench.ts.
 *
 * Standalone: `node --import tsx bench/sync.bench.ts [--quick]` starts its own private
 * MariaDB, prints the table and writes bench/results/sync.json. `npm run bench` runs it
 * with the others (`run(options)`).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installMysqlTableCapture } from '../src/capture/mysql-capture.js';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';
import {
  type BenchOptions,
  type BenchServer,
  benchNodeConfig,
  type Figure,
  figure,
  hr,
  machineInfo,
  printTable,
  RESULTS_DIR,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

/** bench/lib.ts BenchOptions (what `npm run bench` passes); each is optional when run alone. */
export type SyncBenchOptions = Partial<BenchOptions>;

const SQLITE_TABLE =
  'CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, score REAL, seen_at TEXT, payload TEXT)';
const MYSQL_TABLE = (name: string) =>
  `CREATE TABLE ${name} (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)`;

type BenchRow = [number, string, number, string, string];

function makeRows(n: number, offset = 0): BenchRow[] {
  const out: BenchRow[] = [];
  for (let i = 1; i <= n; i++) {
    const id = offset + i;
    out.push([
      id,
      `cam-${id % 37}`,
      (id % 1000) / 1000,
      `2024-05-${String(1 + (id % 28)).padStart(2, '0')} 10:${String(id % 60).padStart(2, '0')}:00.${String(id % 1_000_000).padStart(6, '0')}`,
      `detection ${id} helmet=yes vest=no`,
    ]);
  }
  return out;
}

let nodeCounter = 0;

async function makeNode(server: BenchServer, dir: string, label: string, env: Record<string, string> = {}): Promise<Config> {
  const m = await server.freshDatabase(`sync_${label}`);
  const name = `${label}-${++nodeCounter}`;
  const config = benchNodeConfig(dir, name, m, env);
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec(SQLITE_TABLE);
  db.close();
  const hub = await MysqlHub.connect(m);
  await hub.execute(MYSQL_TABLE('bench_rows'));
  await hub.execute(MYSQL_TABLE('bench_plain'));
  await hub.execute(MYSQL_TABLE('bench_captured'));
  await hub.close();
  await initNode(config);
  return config;
}

function insertLocal(db: SqliteDb, rows: BenchRow[]): void {
  const ins = db.prepare('INSERT INTO bench_rows (id, camera, score, seen_at, payload) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const r of rows) ins.run(...r);
  })();
}

/** The ceiling: the same rows as multi-row INSERTs of 1000 rows, straight into a table without capture. */
async function plainInsert(hub: MysqlHub, table: string, rows: BenchRow[]): Promise<number> {
  await hub.execute(`TRUNCATE TABLE ${table}`);
  const t = hr();
  await hub.transaction(async (conn) => {
    for (let i = 0; i < rows.length; i += 1000) await conn.query(`INSERT INTO ${table} VALUES ?`, [rows.slice(i, i + 1000)]);
  });
  return rows.length / (t() / 1000);
}

/** Drains everything one direction has, returns rows/s. */
async function drain(syncer: Syncer, direction: 'push' | 'pull', expected: number): Promise<number> {
  const t = hr();
  let applied = 0;
  for (let guard = 0; guard < 1000 && applied < expected; guard++) {
    const r = direction === 'push' ? await syncer.push(10_000) : await syncer.pull(10_000);
    applied += r.perTable.get('bench_rows')?.upserts ?? 0;
    if (!r.more && r.applied === 0) break;
  }
  const ms = t();
  if (applied < expected) throw new Error(`${direction} moved ${applied} of ${expected} rows`);
  return expected / (ms / 1000);
}

async function throughput(server: BenchServer, dir: string, quick: boolean): Promise<Figure[]> {
  const n = quick ? 20_000 : 100_000;
  const reps = quick ? 1 : 3;
  const push: number[] = [];
  const pull: number[] = [];
  const ceiling: number[] = [];
  const captured: number[] = [];
  const copy: number[] = [];
  for (let r = 0; r < reps; r++) {
    const rows = makeRows(n);
    // push: n captured local inserts → hub
    const config = await makeNode(server, dir, 'push');
    const local = openSqlite(config.sqlitePath);
    insertLocal(local, rows);
    local.close();
    const syncer = Syncer.open(config, { log: SyncLog.memory('warn') });
    await syncer.connectHub();
    push.push(await drain(syncer, 'push', n));
    const hub = await MysqlHub.connect(config.mysql);
    ceiling.push(await plainInsert(hub, 'bench_plain', rows));
    // The same with dualdb's capture triggers on the table: what logging each row costs the hub.
    await installMysqlTableCapture(hub, 'bench_captured', [{ name: 'id', type: 'integer' }]);
    captured.push(await plainInsert(hub, 'bench_captured', rows));
    await syncer.close();

    // pull: n central writes (captured on the hub) → a fresh node
    const config2 = await makeNode(server, dir, 'pull');
    const hub2 = await MysqlHub.connect(config2.mysql);
    for (let i = 0; i < rows.length; i += 1000) await hub2.execute('INSERT INTO bench_rows VALUES ?', [rows.slice(i, i + 1000)]);
    const puller = Syncer.open(config2, { log: SyncLog.memory('warn') });
    await puller.connectHub();
    pull.push(await drain(puller, 'pull', n));
    await puller.close();
    // plain copy hub → SQLite: one SELECT, one transaction, no capture
    const target = openSqlite(path.join(dir, `copy-${r}.db`), { create: true });
    target.exec(SQLITE_TABLE.replace('bench_rows', 'bench_copy'));
    const t = hr();
    const fetched = await hub2.query<Record<string, unknown>>('SELECT id, camera, score, seen_at, payload FROM bench_rows');
    const ins = target.prepare('INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?)');
    target.transaction(() => {
      for (const f of fetched) ins.run(BigInt(f.id as string), f.camera, f.score, f.seen_at, f.payload);
    })();
    copy.push(n / (t() / 1000));
    target.close();
    await hub.close();
    await hub2.close();
  }
  const ceilingRuns = { name: 'plain multi-row INSERT into MySQL', runs: ceiling };
  return [
    figure(`push ${n / 1000}k changed rows`, 'rows/s', push, ceilingRuns, 'goal ratio ≥ 0.5 (issue 16)'),
    figure(`push ${n / 1000}k changed rows (vs captured INSERT)`, 'rows/s', push, {
      name: 'the same INSERT into a table with capture triggers',
      runs: captured,
    }),
    figure(`pull ${n / 1000}k changed rows`, 'rows/s', pull, ceilingRuns),
    figure(
      `pull ${n / 1000}k changed rows (vs plain copy)`,
      'rows/s',
      pull,
      { name: 'plain copy hub → SQLite', runs: copy },
      'goal ratio ≥ 0.5 (issue 16)',
    ),
  ];
}

export async function run(options: SyncBenchOptions = {}): Promise<Figure[]> {
  const quick = options.quick ?? false;
  const server = options.server ?? (await startBenchServer());
  const scratch = options.dir ? undefined : scratchDir();
  const dir = options.dir ?? (scratch as { dir: string }).dir;
  try {
    // Commit → other side latency is bench/latency.bench.ts (`--throughput-only` kept for old scripts).
    const figures = await throughput(server, dir, quick);
    writeResults(path.join(RESULTS_DIR, 'sync.json'), { machine: machineInfo(server.version), quick, figures });
    return figures;
  } finally {
    if (!options.server) await server.close();
    scratch?.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const figures = await run({ quick });
  printTable(`sync${quick ? ' (quick)' : ''}`, figures);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'sync.json'))}\n`);
}
