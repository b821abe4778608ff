/**
 * Key collisions (docs/SYNC-CONTRACT.md invariant 13, issue 11 "Measure and note").
 *
 *  - re-keying cost: the node and the hub each insert N rows with ids left to the database
 *    (so all N collide), then one push drains the node's queue (SYNC_KEY_COLLISIONS=rekey-node:
 *    every node row takes a new id from the hub's AUTO_INCREMENT) — rows/s against a push of N
 *    non-colliding inserts in the same run (the hub's N rows in a disjoint id range). Goal: ≥ 0.5×.
 *  - prevention: the same steady workload (rounds of: the hub inserts, the node inserts, one
 *    sync) with the hub's writers left alone, with the hub's AUTO_INCREMENT started far above the
 *    node's ids, and with auto_increment_increment/offset on the hub's writers; the figure is the
 *    number of re-keys each produced (the README quotes them).
 *
 * Standalone: `node --import tsx bench/rekey.bench.ts [--quick] [--rows N] [--reps R] [--cost-only]`
 * (private MariaDB, table on stdout, bench/results/rekey.json); `npm run bench -- --only rekey`
 * runs it with the others.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';
import { type BenchOptions, type BenchServer, benchNodeConfig, type Figure, figure, hr, runStandalone } from './lib.js';

const SQLITE_TABLE = 'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL, name TEXT)';
const MYSQL_TABLE =
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL, name VARCHAR(80) NULL) ENGINE=InnoDB';
const FAR = 1_000_000_000;

let counter = 0;

/** A node on a fresh hub database, or (`on`) another node on the same hub database. */
async function makeNode(
  server: BenchServer,
  dir: string,
  label: string,
  on?: MysqlConfig,
): Promise<{ config: Config; hub: MysqlHub }> {
  const m = on ?? (await server.freshDatabase(`rekey_${label}`));
  const name = `${label}-${++counter}`;
  const config = benchNodeConfig(dir, name, m, { SYNC_KEY_COLLISIONS: 'rekey-node' });
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec(SQLITE_TABLE);
  db.close();
  const hub = await MysqlHub.connect(m);
  if (!on) await hub.execute(MYSQL_TABLE);
  await initNode(config);
  return { config, hub };
}

/**
 * The node's application inserts n rows: ids left to SQLite, or (`residue`) chosen by the
 * application as the next id above the largest that leaves `residue` modulo 100.
 */
function insertLocal(config: Config, n: number, tag: string, residue?: number): void {
  const db = openSqlite(config.sqlitePath);
  const ins = db.prepare('INSERT INTO workers (badge, name) VALUES (?, ?)');
  const insId = db.prepare('INSERT INTO workers (id, badge, name) VALUES (?, ?, ?)');
  const max = db.prepare('SELECT coalesce(max(id), 0) AS m FROM workers').pluck();
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      if (residue === undefined) ins.run(`${tag}-${i}`, `worker ${tag} ${i}`);
      else insId.run((Math.floor(Number(max.get()) / 100) + 1) * 100 + residue, `${tag}-${i}`, `worker ${tag} ${i}`);
    }
  })();
  db.close();
}

/** Central writes with ids left to the hub: multi-row INSERTs of 1000, on one connection (`prepare` sets its session). */
async function insertCentral(hub: MysqlHub, n: number, tag: string, prepare: string[] = []): Promise<void> {
  await hub.withConnection(async (conn) => {
    for (const sql of prepare) await conn.query(sql);
    for (let i = 0; i < n; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - i) }, (_, j) => [`${tag}-${i + j}`, `worker ${tag} ${i + j}`]);
      await conn.query('INSERT INTO workers (badge, name) VALUES ?', [rows]);
    }
  });
}

/** One push of everything the node has (as many batches as it takes); rows/s and the re-keys it made. */
async function pushAll(config: Config, n: number): Promise<{ rate: number; rekeys: number }> {
  const syncer = Syncer.open(config, { log: SyncLog.memory('warn') });
  try {
    await syncer.connectHub();
    const t = hr();
    let applied = 0;
    for (let guard = 0; guard < 1000 && applied < n; guard++) {
      const r = await syncer.push(10_000);
      applied += r.perTable.get('workers')?.upserts ?? 0;
      if (!r.more && r.applied === 0) break;
    }
    const ms = t();
    if (applied < n) throw new Error(`push moved ${applied} of ${n} rows`);
    return { rate: n / (ms / 1000), rekeys: syncer.rekeys.counts().total };
  } finally {
    await syncer.close();
  }
}

/** `--name value` from the standalone command line. */
function arg(name: string): number | undefined {
  const at = process.argv.indexOf(name);
  const v = at >= 0 ? Number(process.argv[at + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

async function cost(server: BenchServer, dir: string, quick: boolean): Promise<Figure[]> {
  const n = arg('--rows') ?? (quick ? 2_000 : 10_000);
  const reps = arg('--reps') ?? (quick ? 1 : 3);
  const colliding: number[] = [];
  const plain: number[] = [];
  const moved: number[] = [];
  for (let r = 0; r < reps; r++) {
    // Baseline: the hub's own N rows sit far above the node's, nothing collides.
    const a = await makeNode(server, dir, 'plain');
    await a.hub.execute(`ALTER TABLE workers AUTO_INCREMENT = ${FAR}`);
    await insertCentral(a.hub, n, 'hub');
    insertLocal(a.config, n, 'node');
    const p = await pushAll(a.config, n);
    if (p.rekeys !== 0) throw new Error(`the baseline re-keyed ${p.rekeys} rows`);
    plain.push(p.rate);
    await a.hub.close();
    // Colliding: both sides hand out 1…N.
    const b = await makeNode(server, dir, 'collide');
    await insertCentral(b.hub, n, 'hub');
    insertLocal(b.config, n, 'node');
    const c = await pushAll(b.config, n);
    moved.push(c.rekeys);
    colliding.push(c.rate);
    const [count] = await b.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM workers');
    if (Number(count?.n) !== 2 * n) throw new Error(`the hub holds ${count?.n} rows, expected ${2 * n}`);
    await b.hub.close();
  }
  return [
    figure(
      `push ${n / 1000}k colliding inserts (re-keyed)`,
      'rows/s',
      colliding,
      { name: `push ${n / 1000}k non-colliding inserts`, runs: plain },
      `goal ratio ≥ 0.5; re-keys per run: ${moved.join(', ')}`,
    ),
  ];
}

interface Prevention {
  name: string;
  /** Statements on the hub table once, before the workload. */
  table: string[];
  /** Statements on the hub writer's session. */
  session: string[];
  /** Rows each node inserts between two syncs (default: as many as the hub). */
  nodeRows?: number;
  /** Nodes writing (default 1). */
  nodes?: number;
  /** Node i's application chooses ids that leave i + 2 modulo 100 (the hub's writers leave 1). */
  nodeResidues?: boolean;
}

const PREVENTIONS: Prevention[] = [
  { name: 'none (both sides count from 1)', table: [], session: [] },
  { name: `hub AUTO_INCREMENT starts at ${FAR}`, table: [`ALTER TABLE workers AUTO_INCREMENT = ${FAR}`], session: [] },
  {
    name: 'hub writers auto_increment_increment=100, offset=1',
    table: [],
    session: ['SET SESSION auto_increment_increment = 100', 'SET SESSION auto_increment_offset = 1'],
  },
  {
    name: 'the same, the node inserting more rows between syncs than the increment',
    table: [],
    session: ['SET SESSION auto_increment_increment = 100', 'SET SESSION auto_increment_offset = 1'],
    nodeRows: 150,
  },
  {
    name: 'the same increment, two nodes',
    table: [],
    session: ['SET SESSION auto_increment_increment = 100', 'SET SESSION auto_increment_offset = 1'],
    nodes: 2,
  },
  {
    name: 'the same increment, two nodes whose application picks ids ending in 02 and 03',
    table: [],
    session: ['SET SESSION auto_increment_increment = 100', 'SET SESSION auto_increment_offset = 1'],
    nodes: 2,
    nodeResidues: true,
  },
];

/** Rounds of: the hub inserts k rows, each node inserts its rows, each node syncs once. Returns the re-keys made. */
async function steady(server: BenchServer, dir: string, p: Prevention, rounds: number, k: number): Promise<number> {
  const first = await makeNode(server, dir, 'steady');
  const hub = first.hub;
  const configs = [first.config];
  for (let i = 1; i < (p.nodes ?? 1); i++) {
    const other = await makeNode(server, dir, 'steady', first.config.mysql);
    await other.hub.close();
    configs.push(other.config);
  }
  const syncers = configs.map((c) => Syncer.open(c, { log: SyncLog.memory('warn') }));
  const nodeRows = p.nodeRows ?? k;
  try {
    for (const sql of p.table) await hub.execute(sql);
    for (let r = 0; r < rounds; r++) {
      await insertCentral(hub, k, `hub${r}`, p.session);
      for (const [i, c] of configs.entries()) insertLocal(c, nodeRows, `node${i}-${r}`, p.nodeResidues ? i + 2 : undefined);
      for (const s of syncers) await s.syncOnce();
    }
    for (let i = 0; i < 2; i++) for (const s of syncers) await s.syncOnce();
    const [count] = await hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM workers');
    if (Number(count?.n) !== rounds * (k + configs.length * nodeRows))
      throw new Error(`${p.name}: the hub holds ${count?.n} rows`);
    return syncers.reduce((sum, s) => sum + s.rekeys.counts().total, 0);
  } finally {
    for (const s of syncers) await s.close();
    await hub.close();
  }
}

async function prevention(server: BenchServer, dir: string, quick: boolean): Promise<Figure[]> {
  const rounds = quick ? 5 : 20;
  const k = 50;
  const out: Figure[] = [];
  for (const p of PREVENTIONS) {
    const n = await steady(server, dir, p, rounds, k);
    const nodeRows = p.nodeRows ?? k;
    out.push(
      figure(
        `re-keys, ${rounds}×(${k} hub + ${nodeRows} node inserts, sync): ${p.name}`,
        're-keys',
        [n],
        undefined,
        `of ${rounds * nodeRows * (p.nodes ?? 1)} node rows`,
      ),
    );
  }
  return out;
}

export async function run(options: BenchOptions): Promise<Figure[]> {
  const figures = await cost(options.server, options.dir, options.quick);
  if (process.argv.includes('--cost-only')) return figures;
  return [...figures, ...(await prevention(options.server, options.dir, options.quick))];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runStandalone('rekey', run);
}
