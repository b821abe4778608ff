/**
 * Commit → other side latency of a running sync (issue 16, rows "commit → hub" and "hub → node"),
 * each next to its floor measured in the same run:
 *
 *  - local commit → visible on the hub: an application connection commits a row to the SQLite
 *    file at random moments (exponential gaps, ~25/s) while a poller on the hub notes when it
 *    appears; the SyncService runs with default settings (WAL watch, backstop, probe). Floor:
 *    moving one row by hand (read it from SQLite, one MySQL transaction inserting it);
 *  - hub client's commit → visible in the node's file: a hub client inserts rows (exponential
 *    gaps, ~5/s) while the application's SQLite connection polls the file for them. Floor: one row
 *    by hand the other way (read it from MySQL, one SQLite transaction);
 *  - hub queries per second of the idle node (the server's `Questions` counter over 10 s, from 6 s
 *    after the last write; our own read of it subtracted): what a node costs the hub at rest.
 *
 *   node --import tsx bench/latency.bench.ts [--quick]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { SyncService } from '../src/sync/service.js';
import { type BenchOptions, benchNodeConfig, type Figure, figure, hr, percentile, runStandalone } from './lib.js';

const SQLITE_TABLE = 'CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, score REAL)';
const MYSQL_TABLE = 'CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL)';

let nodeCounter = 0;

async function makeNode(options: BenchOptions): Promise<Config> {
  const m = await options.server.freshDatabase('latency');
  const config = benchNodeConfig(options.dir, `lat-${++nodeCounter}`, m);
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec(SQLITE_TABLE);
  db.close();
  const hub = await MysqlHub.connect(m);
  await hub.execute(MYSQL_TABLE);
  await hub.close();
  await initNode(config);
  return config;
}

const gap = (meanMs: number) => new Promise((r) => setTimeout(r, -Math.log(1 - Math.random()) * meanMs));

/**
 * Commits `count` rows (ids firstId…) through `write` at random moments (mean gap `meanGapMs`,
 * independent of the syncer's phases) while `seenUpTo` is polled every ms; rows arrive in commit
 * order, so the highest id seen says which did. Returns each row's latency, ms.
 */
async function visibility(
  count: number,
  meanGapMs: number,
  write: (id: number) => Promise<void> | void,
  seenUpTo: (first: number, last: number) => Promise<number> | number,
  firstId = 1,
): Promise<number[]> {
  const committed = new Map<number, number>();
  const lat: number[] = [];
  let writing = true;
  let seen = firstId - 1;
  const last = firstId + count - 1;
  const poller = (async () => {
    let giveUp = Date.now() + 10_000;
    while (writing || seen < last) {
      const max = await seenUpTo(firstId, last);
      const now = performance.now();
      for (let id = seen + 1; id <= max; id++) {
        const t = committed.get(id);
        if (t !== undefined) lat.push(now - t);
      }
      if (max > seen) {
        seen = max;
        giveUp = Date.now() + 10_000;
      }
      if (Date.now() > giveUp) throw new Error(`rows after ${seen} did not arrive within 10 s`);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  try {
    for (let id = firstId; id <= last; id++) {
      await gap(meanGapMs);
      committed.set(id, performance.now());
      await write(id);
    }
  } finally {
    writing = false;
  }
  await poller;
  return lat;
}

/** A scratch SQLite file and hub database for the floors, so that the node under test never sees them. */
async function scratchPair(options: BenchOptions) {
  const m = await options.server.freshDatabase('latency_floor');
  const hub = await MysqlHub.connect(m);
  await hub.execute(MYSQL_TABLE);
  const db = openSqlite(path.join(options.dir, `floor-${++nodeCounter}.db`), { create: true });
  db.exec(SQLITE_TABLE);
  return { hub, db };
}

/** Times of moving one committed SQLite row to the hub by hand: read it, one MySQL transaction inserting it. */
async function floorToHub(options: BenchOptions, count: number): Promise<number[]> {
  const { hub, db } = await scratchPair(options);
  const ins = db.prepare("INSERT INTO bench_rows (id, camera, score) VALUES (?, 'floor', 0.5)");
  db.transaction(() => {
    for (let id = 1; id <= count; id++) ins.run(id);
  })();
  const read = db.prepare('SELECT id, camera, score FROM bench_rows WHERE id = ?');
  const lat: number[] = [];
  for (let id = 1; id <= count; id++) {
    const t = hr();
    const r = read.get(id) as { id: number; camera: string; score: number };
    await hub.transaction(async (conn) => {
      await conn.query('INSERT INTO bench_rows (id, camera, score) VALUES (?, ?, ?)', [r.id, r.camera, r.score]);
    });
    lat.push(t());
  }
  db.close();
  await hub.close();
  return lat;
}

/** p50 of moving one committed hub row into a SQLite file by hand: read it, one SQLite transaction inserting it. */
async function floorToNode(options: BenchOptions, count: number): Promise<number> {
  const { hub, db } = await scratchPair(options);
  await hub.execute('INSERT INTO bench_rows VALUES ?', [Array.from({ length: count }, (_, i) => [i + 1, 'floor', 0.5])]);
  const put = db.prepare('INSERT INTO bench_rows (id, camera, score) VALUES (?, ?, ?)');
  const lat: number[] = [];
  for (let id = 1; id <= count; id++) {
    const t = hr();
    const [r] = await hub.query<{ id: string; camera: string; score: number }>(
      'SELECT id, camera, score FROM bench_rows WHERE id = ?',
      [id],
    );
    db.transaction(() => put.run(Number(r?.id), r?.camera, r?.score))();
    lat.push(t());
  }
  db.close();
  await hub.close();
  return percentile(lat, 0.5);
}

interface Runs {
  p50: number[];
  p90: number[];
  floor: number[];
}

/** A local commit until the hub shows it, and the floor: one row moved by hand (SQLite read + one MySQL transaction). */
async function toHub(options: BenchOptions, runs: Runs): Promise<void> {
  const count = options.quick ? 100 : 300;
  const config = await makeNode(options);
  const app = openSqlite(config.sqlitePath); // the application's own connection
  const ins = app.prepare("INSERT INTO bench_rows (id, camera, score) VALUES (?, 'lat', 0.5)");
  const hub = await MysqlHub.connect(config.mysql);
  const maxOnHub = async (a: number, b: number) => {
    const [row] = await hub.query<{ m: string | null }>('SELECT MAX(id) AS m FROM bench_rows WHERE id BETWEEN ? AND ?', [a, b]);
    return Number(row?.m ?? 0);
  };
  // The floor is taken before and after the measured run (half each), so that both see the same load.
  const floor = await floorToHub(options, count / 2);
  const service = new SyncService(config, { log: SyncLog.memory('warn') });
  service.start();
  try {
    await visibility(5, 40, (i) => void ins.run(i), maxOnHub, 1_000_000); // warm-up
    const lat = await visibility(count, 40, (i) => void ins.run(i), maxOnHub);
    runs.p50.push(percentile(lat, 0.5));
    runs.p90.push(percentile(lat, 0.9));
  } finally {
    await service.close();
    app.close();
    await hub.close();
  }
  floor.push(...(await floorToHub(options, count / 2)));
  runs.floor.push(percentile(floor, 0.5));
}

/**
 * A hub client's commit until the node's file shows it; the floor: one row moved by hand the other
 * way (MySQL read + one SQLite transaction). Also the idle node's hub queries per second.
 */
async function toNode(options: BenchOptions, runs: Runs, qps: number[]): Promise<void> {
  const count = options.quick ? 40 : 100;
  const config = await makeNode(options);
  const app = openSqlite(config.sqlitePath);
  const maxInFile = app.prepare('SELECT MAX(id) FROM bench_rows WHERE id BETWEEN ? AND ?').pluck();
  const writer = await MysqlHub.connect(config.mysql);
  runs.floor.push(await floorToNode(options, count));
  const service = new SyncService(config, { log: SyncLog.memory('warn') });
  service.start();
  try {
    const hubInsert = async (i: number) => {
      await writer.execute("INSERT INTO bench_rows (id, camera, score) VALUES (?, 'hub', 0.5)", [i]);
    };
    await visibility(3, 200, hubInsert, (a, b) => Number(maxInFile.get(a, b) ?? 0), 1_000_000); // warm-up
    const lat = await visibility(count, 200, hubInsert, (a, b) => Number(maxInFile.get(a, b) ?? 0));
    runs.p50.push(percentile(lat, 0.5));
    runs.p90.push(percentile(lat, 0.9));
    // Idle: nothing written for 6 s (past the probe's fast period after activity), then the
    // server's statement count over 10 s.
    await new Promise((r) => setTimeout(r, 6000));
    const questions = async () => {
      const [row] = await writer.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Questions'");
      return Number(row?.Value);
    };
    const q0 = await questions();
    const t = hr();
    await new Promise((r) => setTimeout(r, 10_000));
    const q1 = await questions();
    qps.push((q1 - q0 - 1) / (t() / 1000));
  } finally {
    await service.close();
    app.close();
    await writer.close();
  }
}

export async function run(options: BenchOptions): Promise<Figure[]> {
  const reps = options.quick ? 1 : 3;
  const hubRuns: Runs = { p50: [], p90: [], floor: [] };
  const nodeRuns: Runs = { p50: [], p90: [], floor: [] };
  const qps: number[] = [];
  for (let r = 0; r < reps; r++) {
    await toHub(options, hubRuns);
    await toNode(options, nodeRuns, qps);
  }
  const byHand = { name: 'one row by hand: SQLite read + one MySQL transaction', runs: hubRuns.floor };
  const byHandBack = { name: 'one row by hand: MySQL read + one SQLite transaction', runs: nodeRuns.floor };
  return [
    figure('local commit → visible on hub p50', 'ms', hubRuns.p50, byHand, 'goal ratio ≤ 8 (issue 16)'),
    figure('local commit → visible on hub p90', 'ms', hubRuns.p90, byHand),
    figure('hub commit → visible in node file p50', 'ms', nodeRuns.p50, byHandBack, 'goal ≤ 150 ms (issue 16)'),
    figure('hub commit → visible in node file p90', 'ms', nodeRuns.p90, byHandBack, 'goal ≤ 400 ms (issue 16)'),
    figure('idle node: hub queries/s', 'queries/s', qps, undefined, 'goal ≤ 10/s (issue 16)'),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runStandalone('latency', run);
}
