/**
 * Reads, write acknowledgment per mode, and replication lag (issue: modes and
 * failover). Baselines in the same run: a point read from MySQL, a bare MySQL
 * autocommit insert, and the lag of a write made directly on the hub as seen by
 * the same poller (the floor of what "visible on the hub" can mean).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DualDatabase } from '../src/api/dual-database.js';
import type { Config } from '../src/config/config.js';
import { loadConfig } from '../src/config/load.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { type BenchOptions, type Figure, figure, hr, percentile, repeat, runStandalone } from './lib.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export async function makeNode(options: BenchOptions, name: string, mode: string): Promise<Config> {
  const m = await options.server.freshDatabase(`modes_${name}`);
  const config = loadConfig({
    env: {
      SQLITE_DB_PATH: path.join(options.dir, `${name}.db`),
      DB_HOST: m.host,
      DB_PORT: String(m.port),
      DB_USER: m.user,
      DB_PASSWORD: m.password,
      DB_NAME: m.database,
      SYNC_MODE: mode,
      NODE_ID: name,
      LOG_FILE: path.join(options.dir, `${name}.log`),
    },
    cwd: options.dir,
  });
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec('CREATE TABLE bench_rows (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT, t_ms REAL)');
  db.close();
  const hub = await MysqlHub.connect(m);
  await hub.execute('CREATE TABLE bench_rows (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(200), t_ms DOUBLE)');
  await hub.close();
  await initNode(config);
  return config;
}

async function reads(options: BenchOptions): Promise<Figure[]> {
  const config = await makeNode(options, 'reads', 'sqlite_primary');
  const rows = options.quick ? 5_000 : 20_000;
  const db = openSqlite(config.sqlitePath);
  db.transaction(() => {
    const ins = db.prepare('INSERT INTO bench_rows (id, payload, t_ms) VALUES (?, ?, ?)');
    for (let i = 1; i <= rows; i++) ins.run(i, `payload ${i}`, i);
  })();
  const hub = await MysqlHub.connect(config.mysql);
  for (let i = 1; i <= rows; i += 1000) {
    const batch = [];
    for (let j = i; j < i + 1000 && j <= rows; j++) batch.push([j, `payload ${j}`, j]);
    await hub.execute('INSERT INTO bench_rows (id, payload, t_ms) VALUES ?', [batch]);
  }
  const n = options.quick ? 1_000 : 5_000;
  const get = db.prepare('SELECT * FROM bench_rows WHERE id = ?');
  const local = await repeat(3, async () => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = hr();
      get.get(1 + Math.floor(Math.random() * rows));
      lat.push(t() * 1000);
    }
    return percentile(lat, 0.5);
  });
  const remote = await repeat(3, async () => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = hr();
      await hub.query('SELECT * FROM bench_rows WHERE id = ?', [1 + Math.floor(Math.random() * rows)]);
      lat.push(t() * 1000);
    }
    return percentile(lat, 0.5);
  });
  db.close();
  await hub.close();
  return [
    figure(
      'point read p50 (local SQLite)',
      'µs',
      local,
      { name: 'MySQL point read', runs: remote },
      'old system claimed 80,000 µs',
    ),
  ];
}

async function writeAck(options: BenchOptions): Promise<Figure[]> {
  const n = options.quick ? 100 : 400;
  const out: Figure[] = [];
  // Baseline: a bare autocommit INSERT on the hub, one round trip and one commit, measured
  // right before each repetition of each mode (the same minutes, whatever else the machine does).
  const baseCfg = await makeNode(options, 'bare', 'sqlite_primary');
  const bare = await MysqlHub.connect(baseCfg.mysql);
  const bareRun = async (): Promise<number[]> => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = hr();
      await bare.execute('INSERT INTO bench_rows (payload, t_ms) VALUES (?, ?)', ['bare', Date.now()]);
      lat.push(t());
    }
    return lat;
  };
  for (const mode of ['sqlite_primary', 'mysql_primary', 'both'] as const) {
    const config = await makeNode(options, `ack_${mode}`, mode);
    const db = await DualDatabase.open({ config });
    const p50: number[] = [];
    const p99: number[] = [];
    const bareRuns = { p50: [] as number[], p99: [] as number[] };
    for (let r = 0; r < 3; r++) {
      const base = await bareRun();
      bareRuns.p50.push(percentile(base, 0.5));
      bareRuns.p99.push(percentile(base, 0.99));
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = hr();
        await db.insert('bench_rows', { payload: mode, t_ms: Date.now() });
        lat.push(t());
      }
      p50.push(percentile(lat, 0.5));
      p99.push(percentile(lat, 0.99));
    }
    await db.close();
    out.push(
      figure(
        `write ack p50 (${mode})`,
        'ms',
        p50,
        { name: 'bare MySQL insert', runs: bareRuns.p50 },
        mode === 'sqlite_primary'
          ? 'old system claimed 2,500 ms'
          : `goal ≤ ${mode === 'both' ? '1.5' : '1.2'}×; runs ${p50.map((v, i) => `${(v / (bareRuns.p50[i] ?? v)).toFixed(2)}×`).join(' ')}`,
      ),
    );
    out.push(figure(`write ack p99 (${mode})`, 'ms', p99, { name: 'bare MySQL insert', runs: bareRuns.p99 }));
  }
  await bare.close();
  return out;
}

/** Inserts at `rate`/s for `seconds` through `write`, while a poller on the hub measures when each row appears. */
async function measureLag(
  hub: MysqlHub,
  rate: number,
  seconds: number,
  write: (i: number) => Promise<void> | void,
): Promise<number[]> {
  const lags: number[] = [];
  let lastId = 0;
  let done = false;
  const poller = (async () => {
    const quietUntil = () => Date.now();
    let idleSince = 0;
    while (!done || Date.now() - idleSince < 3000) {
      const rows = await hub.query<{ id: string; t_ms: number }>('SELECT id, t_ms FROM bench_rows WHERE id > ? ORDER BY id', [
        lastId,
      ]);
      const now = Date.now();
      for (const r of rows) {
        lags.push(now - r.t_ms);
        lastId = Number(r.id);
      }
      if (rows.length) idleSince = quietUntil();
      else if (!idleSince) idleSince = now;
      if (done && rows.length === 0 && now - idleSince > 1500) break;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const total = rate * seconds;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await write(i);
  }
  done = true;
  await poller;
  return lags;
}

async function lag(options: BenchOptions): Promise<Figure[]> {
  const rate = 500;
  const seconds = options.quick ? 4 : 10;
  const p50: number[] = [];
  const p99: number[] = [];
  const base50: number[] = [];
  const base99: number[] = [];
  for (let r = 0; r < (options.quick ? 1 : 3); r++) {
    const config = await makeNode(options, `lag_${r}`, 'sqlite_primary');
    const hub = await MysqlHub.connect(config.mysql);
    // The syncer runs as its own process, like a deployed `dualdb sync --watch`.
    const env = {
      ...process.env,
      SQLITE_DB_PATH: config.sqlitePath,
      DB_HOST: config.mysql.host,
      DB_PORT: String(config.mysql.port),
      DB_USER: config.mysql.user,
      DB_PASSWORD: config.mysql.password,
      DB_NAME: config.mysql.database,
      NODE_ID: config.nodeId ?? 'lag',
      LOG_FILE: config.log.file,
    };
    const watcher = spawn(
      process.execPath,
      ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`, `${ROOT}/src/cli/main.ts`, 'sync', '--watch'],
      {
        env,
        stdio: 'ignore',
      },
    );
    await new Promise((res) => setTimeout(res, 1500));
    const db = openSqlite(config.sqlitePath);
    const ins = db.prepare('INSERT INTO bench_rows (payload, t_ms) VALUES (?, ?)');
    const lags = await measureLag(hub, rate, seconds, () => {
      ins.run('lag', Date.now());
    });
    watcher.kill('SIGTERM');
    await new Promise((res) => watcher.once('exit', res));
    db.close();
    p50.push(percentile(lags, 0.5));
    p99.push(percentile(lags, 0.99));
    // Baseline: the same poller watching rows written straight into the hub.
    await hub.execute('TRUNCATE TABLE bench_rows');
    const writer = await MysqlHub.connect(config.mysql);
    const direct = await measureLag(hub, rate, Math.min(seconds, 3), async () => {
      await writer.execute('INSERT INTO bench_rows (payload, t_ms) VALUES (?, ?)', ['direct', Date.now()]);
    });
    await writer.close();
    await hub.close();
    base50.push(percentile(direct, 0.5));
    base99.push(percentile(direct, 0.99));
  }
  return [
    figure(
      `replication lag p50 @${rate} writes/s`,
      'ms',
      p50,
      { name: 'direct hub write seen by the same poller', runs: base50 },
      'old system: 30,000 ms interval',
    ),
    figure(`replication lag p99 @${rate} writes/s`, 'ms', p99, {
      name: 'direct hub write seen by the same poller',
      runs: base99,
    }),
  ];
}

const PARTS = { reads, ack: writeAck, lag } as const;

/** `parts`: a subset of reads, ack, lag (standalone: `--part ack`); all by default. */
export async function run(options: BenchOptions, parts = Object.keys(PARTS)): Promise<Figure[]> {
  const out: Figure[] = [];
  for (const [name, part] of Object.entries(PARTS)) if (parts.includes(name)) out.push(...(await part(options)));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--part');
  const parts = at >= 0 ? (process.argv[at + 1] ?? '').split(',') : undefined;
  await runStandalone('modes', (o) => run(o, parts));
}
