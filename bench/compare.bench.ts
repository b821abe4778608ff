/**
 * Compare speed (issues: compare and repair; 16, compare near one scan).
 * Seconds to compare one table that matches, and the same table with 10
 * scattered differences, at 300,000 and 1,000,000 rows (`--rows N`: that size
 * only; `--quick`: 100,000), next to the floor measured in the same run:
 * streaming every row of both sides once — a plain `SELECT *` of the table
 * through each driver (better-sqlite3 `.iterate()`, mysql2 `.stream()`, arrays,
 * the hub pool's settings), one side after the other. The ratio is the figure
 * (issue 16's goal: ≤ 1.3× with the tables equal).
 *
 *   node --import tsx bench/compare.bench.ts [--quick] [--rows N] [--repetitions N]
 *
 * writes bench/results/compare.json; `run()` is what bench/run.ts calls.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Connection as CoreConnection } from 'mysql2';
import { compareDatabases } from '../src/compare/compare.js';
import type { CompareReport } from '../src/compare/types.js';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import {
  type BenchOptions,
  type BenchServer,
  type Figure,
  figure,
  hr,
  machineInfo,
  printTable,
  RESULTS_DIR,
  repeat,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

/** bench/lib.ts BenchOptions (what `npm run bench` passes), each optional when run alone, plus: */
export interface CompareBenchOptions extends Partial<BenchOptions> {
  /** Rows in the table (default: 300,000 then 1,000,000; 100,000 when quick). */
  rows?: number;
  /** Repetitions per figure (median reported). */
  repetitions?: number;
}

const TABLE = 'bench_compare';
const SQLITE_DDL = `CREATE TABLE ${TABLE} (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, label TEXT NOT NULL, confidence REAL NOT NULL,
  detected_at DATETIME NOT NULL, amount TEXT, payload BLOB, note TEXT)`;
const MYSQL_DDL = `CREATE TABLE ${TABLE} (id BIGINT PRIMARY KEY, camera VARCHAR(32) NOT NULL, label VARCHAR(32) NOT NULL,
  confidence DOUBLE NOT NULL, detected_at DATETIME(6) NOT NULL, amount DECIMAL(12,2) NULL, payload VARBINARY(16) NULL, note VARCHAR(64) NULL)`;
const LABELS = ['helmet', 'vest', 'gloves', 'no-helmet', 'no-vest'];

/** A detection-like row: integer key, text, a double, a DATETIME(6), a DECIMAL, 16 bytes, a nullable note. */
function row(i: number): {
  id: number;
  camera: string;
  label: string;
  confidence: number;
  at: string;
  amount: string;
  payload: Buffer;
  note: string | null;
} {
  const at = `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}`;
  return {
    id: i,
    camera: `cam-${i % 64}`,
    label: LABELS[i % LABELS.length] as string,
    confidence: (i % 10_007) / 10_007,
    at,
    amount: `${i % 100_000}.${String(i % 100).padStart(2, '0')}`,
    payload: createHash('md5').update(String(i)).digest(),
    note: i % 5 === 0 ? null : `seen at gate ${i % 13}`,
  };
}

async function load(db: SqliteDb, hub: MysqlHub, rows: number): Promise<void> {
  db.exec(`DROP TABLE IF EXISTS ${TABLE}`);
  db.exec(SQLITE_DDL);
  const ins = db.prepare(`INSERT INTO ${TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) {
      const r = row(i);
      // SQLite keeps the ISO form with 'T' (as Python writes it); MySQL its own: compare must see them equal.
      ins.run(r.id, r.camera, r.label, r.confidence, r.at.replace(' ', 'T'), r.amount, r.payload, r.note);
    }
  })();
  await hub.execute(`DROP TABLE IF EXISTS ${TABLE}`);
  await hub.execute(MYSQL_DDL);
  const per = 5_000;
  await hub.withConnection(async (conn) => {
    await conn.query('START TRANSACTION');
    for (let i = 1; i <= rows; i += per) {
      const batch: unknown[][] = [];
      for (let j = i; j < i + per && j <= rows; j++) {
        const r = row(j);
        batch.push([r.id, r.camera, r.label, r.confidence, r.at, r.amount, r.payload, r.note]);
      }
      await conn.query(`INSERT INTO ${TABLE} VALUES ?`, [batch]);
    }
    await conn.query('COMMIT');
  });
}

/** The floor on SQLite: every row of the table through better-sqlite3, as arrays. */
function scanSqlite(db: SqliteDb): number {
  const t = hr();
  let n = 0;
  for (const _ of db.prepare(`SELECT * FROM ${TABLE}`).raw(true).iterate()) n++;
  if (n === 0) throw new Error('empty table');
  return t() / 1000;
}

/** The floor on MySQL: every row streamed through mysql2 with the hub pool's settings, as arrays. */
async function scanMysql(hub: MysqlHub): Promise<number> {
  return hub.withConnection(async (conn) => {
    const t = hr();
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      const stream = (conn.connection as unknown as CoreConnection)
        .query({ sql: `SELECT * FROM ${TABLE}`, rowsAsArray: true })
        .stream();
      stream.on('data', () => {
        n++;
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    if (n === 0) throw new Error('empty table');
    return t() / 1000;
  });
}

/** 10 differences spread over the table: values changed on either side, rows missing on either side. */
async function scatterDifferences(db: SqliteDb, hub: MysqlHub, rows: number): Promise<string[]> {
  // Ids spread over the table, none a multiple of 5 (those have no note to clear).
  const ids = [0.03, 0.14, 0.27, 0.35, 0.48, 0.52, 0.66, 0.71, 0.88, 0.97].map((f) => {
    const id = Math.max(1, Math.floor(rows * f));
    return id % 5 === 0 ? id + 1 : id;
  });
  const [a, b, c, d, e, f, g, h, i, j] = ids as [number, number, number, number, number, number, number, number, number, number];
  // One ulp of a double, one microsecond, one cent, one bit, one word's case, a note gone.
  await hub.execute(`UPDATE ${TABLE} SET confidence = ? WHERE id = ?`, [row(a).confidence + Number.EPSILON, a]);
  await hub.execute(`UPDATE ${TABLE} SET detected_at = DATE_ADD(detected_at, INTERVAL 1 MICROSECOND) WHERE id = ?`, [b]);
  const [units, cents] = row(c).amount.split('.').map(Number) as [number, number];
  const more = units * 100 + cents + 1;
  db.prepare(`UPDATE ${TABLE} SET amount = ? WHERE id = ?`).run(
    `${Math.floor(more / 100)}.${String(more % 100).padStart(2, '0')}`,
    c,
  );
  const p = Buffer.from(row(d).payload);
  p[15] = (p[15] ?? 0) ^ 1;
  db.prepare(`UPDATE ${TABLE} SET payload = ? WHERE id = ?`).run(p, d);
  await hub.execute(`UPDATE ${TABLE} SET label = UPPER(label) WHERE id = ?`, [e]);
  db.prepare(`DELETE FROM ${TABLE} WHERE id IN (?, ?)`).run(f, g);
  await hub.execute(`DELETE FROM ${TABLE} WHERE id IN (?, ?)`, [h, i]);
  db.prepare(`UPDATE ${TABLE} SET note = NULL WHERE id = ?`).run(j);
  return ids.map(String).sort();
}

function keysOf(report: CompareReport): string[] {
  return (report.tables[0]?.differences ?? []).map((d) => d.key).sort();
}

async function ownServer(): Promise<BenchServer> {
  const url = process.env.MYSQL_URL;
  if (!url) return startBenchServer();
  const u = new URL(url);
  const config: MysqlConfig = {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.replace(/^\//, '') || 'test',
    ssl: false,
    sslCa: undefined,
    connectTimeoutMs: 5000,
  };
  const hub = await MysqlHub.connect(config);
  const [v] = await hub.query<{ v: string }>('SELECT VERSION() AS v');
  await hub.close();
  return { freshDatabase: async () => config, rootConnection: undefined, version: v?.v ?? '?', close: async () => {} };
}

/** The figures for one table size, on a fresh table. */
async function runSize(hub: MysqlHub, dir: string, rows: number, reps: number): Promise<Figure[]> {
  const sqlitePath = path.join(dir, `compare-${rows}.db`);
  const db = openSqlite(sqlitePath, { create: true });
  try {
    const tLoad = hr();
    await load(db, hub, rows);
    process.stderr.write(`  loaded ${rows.toLocaleString('en-US')} rows on each side in ${(tLoad() / 1000).toFixed(1)} s\n`);
    const sources = { sqlitePath, hub, planOptions: { include: [TABLE] } };
    const compare = async (): Promise<{ seconds: number; report: CompareReport }> => {
      const t = hr();
      const report = await compareDatabases(sources, { maxDifferences: 100 });
      return { seconds: t() / 1000, report };
    };
    // Warm both sides' caches once, as a second compare in production would find them.
    scanSqlite(db);
    await scanMysql(hub);

    const sqliteScan: number[] = [];
    const mysqlScan: number[] = [];
    const matching: number[] = [];
    // Floor and compare alternate, so that both see the same load on a shared machine.
    for (let i = 0; i < reps; i++) {
      sqliteScan.push(scanSqlite(db));
      mysqlScan.push(await scanMysql(hub));
      const { seconds, report } = await compare();
      if (!report.match)
        throw new Error(`identical tables compared as different: ${JSON.stringify(report.tables[0]?.differences.slice(0, 3))}`);
      matching.push(seconds);
    }
    const floor = sqliteScan.map((s, i) => s + (mysqlScan[i] ?? 0));

    const expected = await scatterDifferences(db, hub, rows);
    let found: string[] = [];
    const differing = await repeat(reps, async () => {
      const { seconds, report } = await compare();
      found = keysOf(report);
      return seconds;
    });
    if (JSON.stringify(found) !== JSON.stringify(expected)) {
      throw new Error(`expected differences ${expected.join(',')} but compare found ${found.join(',')}`);
    }

    const label = `${rows.toLocaleString('en-US')} rows`;
    const baseline = { name: 'every row of both sides streamed once', runs: floor };
    const figures = [
      figure(`full scan SQLite, ${label}`, 's', sqliteScan, undefined, 'better-sqlite3 .iterate(), arrays'),
      figure(`full scan MySQL, ${label}`, 's', mysqlScan, undefined, 'mysql2 .stream(), arrays'),
      figure(`compare, tables match, ${label}`, 's', matching, baseline, 'goal: ratio <= 1.3'),
      figure(`compare, 10 scattered differences, ${label}`, 's', differing, baseline, `found ${found.length}/10 keys`),
    ];
    const perSecond = matching.map((s) => (2 * rows) / s / 1000);
    figures.push(figure(`compare throughput, ${label}`, 'k rows/s', perSecond, undefined, 'rows on both sides per second'));
    return figures;
  } finally {
    db.close();
  }
}

export async function run(options: CompareBenchOptions = {}): Promise<Figure[]> {
  const sizes = options.rows ? [options.rows] : options.quick ? [100_000] : [300_000, 1_000_000];
  const reps = options.repetitions ?? 3;
  const server = options.server ?? (await ownServer());
  const scratch = options.dir ? undefined : scratchDir();
  const dir = options.dir ?? (scratch?.dir as string);
  const mysqlConfig = await server.freshDatabase('bench_compare');
  const hub = await MysqlHub.connect(mysqlConfig);
  try {
    const figures: Figure[] = [];
    for (const rows of sizes) figures.push(...(await runSize(hub, dir, rows, reps)));
    return figures;
  } finally {
    await hub.close();
    if (!options.server) await server.close();
    scratch?.cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const rowsAt = args.indexOf('--rows');
  const rows = rowsAt >= 0 ? Number(args[rowsAt + 1]) : undefined;
  if (rows !== undefined && (!Number.isInteger(rows) || rows < 100)) {
    process.stderr.write('--rows needs a whole number of at least 100\n');
    process.exit(2);
  }
  const repsAt = args.indexOf('--repetitions');
  const repetitions = repsAt >= 0 ? Number(args[repsAt + 1]) : undefined;
  if (repetitions !== undefined && (!Number.isInteger(repetitions) || repetitions < 1)) {
    process.stderr.write('--repetitions needs a whole number of at least 1\n');
    process.exit(2);
  }
  const server = await ownServer();
  try {
    const figures = await run({ quick, ...(rows ? { rows } : {}), ...(repetitions ? { repetitions } : {}), server });
    printTable(`compare${quick ? ' (quick)' : ''}`, figures);
    const out = path.join(RESULTS_DIR, 'compare.json');
    writeResults(out, {
      machine: machineInfo(server.version),
      quick,
      rows: rows ?? (quick ? [100_000] : [300_000, 1_000_000]),
      figures,
    });
    process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
  } finally {
    await server.close();
  }
}
