/**
 * The initial migration (issues 5 and 16): rows/s copying a `detections` table of
 * 300,000 rows (`--rows N` for another size) from SQLite to the hub with `dualdb migrate`,
 * run as its own process (peak RSS read from /proc/<pid>/status VmHWM), against
 * baselines measured in the same run on the same server and the same table:
 *
 *  (0) the floor of issue 16: LOAD DATA LOCAL INFILE alone of the same rows, from a CSV
 *      written beforehand (untimed), into the same schema; the whole command (start-up,
 *      pre-flight, copy, verification) and its copy phase are reported against it;
 *  (a) the ceiling: `sqlite3 -csv` writes a CSV, then LOAD DATA LOCAL INFILE of
 *      that file (export and load timed together; NULLs and some REALs do not
 *      survive a CSV, so this copy is not exact — it is the speed bound);
 *  (b) what people do today: `sqlite3 .dump detections` piped into the `mariadb`
 *      client, with the SQLite-only lines stripped (PRAGMA, CREATE TABLE/INDEX,
 *      sqlite_sequence) and BEGIN TRANSACTION turned into START TRANSACTION,
 *      NO_BACKSLASH_ESCAPES set (SQLite strings have no backslash escapes).
 *
 * Every copy runs with foreign-key checks off on the hub, as the migration does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { runSqlFile } from '../src/schema/runner.js';
import { type BenchOptions, benchNodeConfig, type Figure, figure, hr, runStandalone } from './lib.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const EPI_SQLITE = path.join(ROOT, 'sql/sqlite/epi_schema.sql');
const EPI_MYSQL = path.join(ROOT, 'sql/mysql/epi_schema.sql');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');
/** The CLI run (`--cli <main.ts>` measures another checkout's, e.g. a build of main for a before/after). */
let MAIN = path.join(ROOT, 'src/cli/main.ts');
const DEFAULT_ROWS = 300_000;
let ROWS: number | undefined;

function configFor(options: BenchOptions, name: string, m: MysqlConfig): Config {
  return benchNodeConfig(options.dir, name, m);
}

async function hubWithSchema(options: BenchOptions, prefix: string): Promise<{ m: MysqlConfig; hub: MysqlHub }> {
  const m = await options.server.freshDatabase(prefix);
  const hub = await MysqlHub.connect(m);
  await runSqlFile(EPI_MYSQL, { engine: 'mysql', hub });
  return { m, hub };
}

/** The EPI schema with `rows` detections (and their few parents), generated inside SQLite. */
async function sourceFile(config: Config, rows: number): Promise<void> {
  const db = openSqlite(config.sqlitePath, { create: true });
  await runSqlFile(EPI_SQLITE, { engine: 'sqlite', db });
  const seq = (n: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`;
  db.transaction(() => {
    db.exec(`${seq(5)} INSERT INTO training_results (id, model_name, status) SELECT i, 'yolov8', 'completed' FROM n`);
    db.exec(`${seq(40)} INSERT INTO workers (id, employee_code, name) SELECT i, 'E' || i, 'Worker ' || i FROM n`);
    db.exec(`${seq(rows)} INSERT INTO detections (id, camera_id, timestamp, frame_number, class_name, total_persons, has_helmet, has_vest, is_compliant, missing_ppe, confidence, bbox_x, bbox_y, bbox_width, bbox_height, image_path, zone, processing_time_ms, worker_id, training_result_id)
      SELECT i, 'cam-' || (i % 16), strftime('%Y-%m-%d %H:%M:%f', '2024-03-01', '+' || i || ' seconds'), i * 3, 'person', 1 + i % 3, i % 2, i % 3 = 0, i % 6 = 0,
             CASE WHEN i % 6 = 0 THEN NULL ELSE 'helmet,vest' END, (i % 1000) / 1000.0, i * 0.25, 1.0 / i, 64 + i % 100, 128 + i % 50,
             'frames/2024/03/01/' || i || '.jpg', 'Z' || (i % 5), 10 + (i % 17) / 3.0, CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 40 END, 1 + i % 5 FROM n`);
  })();
  db.close();
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Runs `dualdb migrate --json` (or other arguments) as a child; wall time, its report, the peak RSS (VmHWM) and its CPU seconds. */
async function migrateChild(
  config: Config,
  args: string[] = ['migrate', '--json'],
): Promise<{ seconds: number; report: Record<string, unknown>; peakRssMb: number; cpu: number }> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SQLITE_DB_PATH: config.sqlitePath,
    DB_HOST: config.mysql.host,
    DB_PORT: String(config.mysql.port),
    DB_USER: config.mysql.user,
    DB_PASSWORD: config.mysql.password,
    DB_NAME: config.mysql.database,
    NODE_ID: config.nodeId ?? 'bench',
    LOG_FILE: config.log.file,
    NO_COLOR: '1',
  };
  const t = hr();
  const child = spawn(process.execPath, ['--import', `file://${LOADER}`, MAIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errText = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stderr.on('data', (d) => {
    errText += String(d);
  });
  let peakKb = 0;
  let cpu = 0;
  const poll = setInterval(() => {
    cpu = Math.max(cpu, cpuSeconds(child.pid));
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
  }, 25);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  const seconds = t() / 1000;
  if (code !== 0) throw new Error(`dualdb ${args[0]} exited ${code}: ${errText || out}`);
  return {
    seconds,
    report: args[0] === 'migrate' ? (JSON.parse(out) as Record<string, unknown>) : {},
    peakRssMb: peakKb / 1024,
    cpu,
  };
}

/** (a) sqlite3 -csv, then LOAD DATA LOCAL INFILE of the file: both timed (total) and the load alone. */
async function csvBaseline(options: BenchOptions, sqlitePath: string): Promise<{ total: number; load: number; loadCpu: number }> {
  const { hub } = await hubWithSchema(options, 'migrate_csv');
  const csv = path.join(options.dir, 'detections.csv');
  const t = hr();
  const r = spawnSync('sh', ['-c', `sqlite3 -csv '${sqlitePath}' 'SELECT * FROM detections' > '${csv}'`]);
  if (r.status !== 0) throw new Error(`sqlite3 -csv failed: ${String(r.stderr)}`);
  const tLoad = hr();
  const serverCpu0 = cpuSeconds(options.server.pid);
  await hub.withConnection(async (conn) => {
    await conn.query('SET foreign_key_checks = 0');
    await conn.query({
      sql: `LOAD DATA LOCAL INFILE 'detections.csv' INTO TABLE detections CHARACTER SET utf8mb4
            FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n'`,
      infileStreamFactory: () => createReadStream(csv),
    });
    await conn.query('SET foreign_key_checks = 1');
  });
  const load = tLoad() / 1000;
  const loadCpu = cpuSeconds(options.server.pid) - serverCpu0;
  const total = t() / 1000;
  if (statSync(csv).size === 0) throw new Error('empty CSV');
  await hub.close();
  return { total, load, loadCpu };
}

/** (b) sqlite3 .dump piped into the mariadb client. */
async function dumpBaseline(options: BenchOptions, sqlitePath: string): Promise<number> {
  const { m, hub } = await hubWithSchema(options, 'migrate_dump');
  await hub.close();
  const client = spawnSync('sh', ['-c', 'command -v mariadb || command -v mysql'], { encoding: 'utf8' }).stdout.trim();
  if (!client) throw new Error('no mariadb/mysql client for the dump baseline');
  const head = "SET foreign_key_checks=0; SET sql_mode=CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES'); START TRANSACTION;";
  const pipeline =
    `sqlite3 '${sqlitePath}' '.dump detections' | ` +
    `sed -e '/^CREATE TABLE/,/;$/d' -e '/^CREATE INDEX/d' -e '/^PRAGMA/d' -e '/sqlite_sequence/d' -e "s/^BEGIN TRANSACTION;/${head}/" | ` +
    `'${client}' --default-character-set=utf8mb4 -h '${m.host}' -P ${m.port} -u '${m.user}' '${m.database}'`;
  const t = hr();
  const r = spawnSync('sh', ['-c', pipeline], { env: { ...process.env, MYSQL_PWD: m.password }, encoding: 'utf8' });
  const seconds = t() / 1000;
  if (r.status !== 0) throw new Error(`dump pipe failed: ${r.stderr}`);
  return seconds;
}

export async function run(options: BenchOptions): Promise<Figure[]> {
  const rows = ROWS ?? DEFAULT_ROWS;
  const { m, hub } = await hubWithSchema(options, 'migrate_ours');
  await hub.close();
  const config = configFor(options, 'migrate', m);
  await sourceFile(config, rows);

  const serverCpu0 = cpuSeconds(options.server.pid);
  const ours = await migrateChild(config);
  const serverCpu = cpuSeconds(options.server.pid) - serverCpu0;
  const tables = ours.report.tables as { table: string; rowsCopied: number; seconds: number }[];
  const det = tables.find((t) => t.table === 'detections');
  if (!det || det.rowsCopied !== rows) throw new Error(`the migration copied ${det?.rowsCopied} detections, expected ${rows}`);
  const copyRate = det.rowsCopied / det.seconds;
  const endToEnd = rows / ours.seconds;
  const timings = (ours.report.timings ?? {}) as Record<string, number>;
  // The copy phase as the command times it (every table, parents included).
  const copyPhaseRate = timings.copyMs ? rows / (timings.copyMs / 1000) : copyRate;
  const verifySeconds = (timings.verifyMs ?? 0) / 1000;
  // The same CLI doing nothing (start-up and the tsx loader): what the migration adds is above it.
  const idle = await migrateChild(config, ['--version']);

  const csv = await csvBaseline(options, config.sqlitePath);
  const csvSeconds = csv.total;
  const dumpSeconds = await dumpBaseline(options, config.sqlitePath);
  const n = rows.toLocaleString('en-US');
  const floor = { name: 'LOAD DATA LOCAL INFILE alone', runs: [rows / csv.load] };
  const phases = Object.entries(timings)
    .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`)
    .join(', ');
  return [
    figure(
      `migrate ${n} detections: whole command rows/s`,
      'rows/s',
      [endToEnd],
      floor,
      `goal ≥ 0.5×; wall time of the process (start-up, pre-flight, copy, verification); ms: ${phases}`,
    ),
    figure(
      `migrate ${n} detections: copy phase rows/s`,
      'rows/s',
      [copyPhaseRate],
      floor,
      `goal ≥ 0.8×; the copy phase's time (copyMs), method ${String(ours.report.method)}`,
    ),
    figure(
      `migrate ${n} detections: CPU seconds, whole command (process + server)`,
      's',
      [ours.cpu + serverCpu],
      { name: 'LOAD DATA alone (server)', runs: [csv.loadCpu] },
      `the CPU the work costs, whatever else the machine runs: process ${ours.cpu.toFixed(2)} s (idle CLI ${idle.cpu.toFixed(2)} s), server ${serverCpu.toFixed(2)} s`,
    ),
    figure(
      `migrate ${n} detections: copy rows/s`,
      'rows/s',
      [copyRate],
      { name: 'sqlite3 -csv + LOAD DATA', runs: [rows / csvSeconds] },
      `method ${String(ours.report.method)}; the CSV copy is not exact (NULLs, REAL digits)`,
    ),
    figure(`migrate ${n} detections: copy rows/s vs dump pipe`, 'rows/s', [copyRate], {
      name: 'sqlite3 .dump | mariadb',
      runs: [rows / dumpSeconds],
    }),
    figure(
      `migrate ${n} detections: end to end rows/s`,
      'rows/s',
      [endToEnd],
      { name: 'sqlite3 .dump | mariadb', runs: [rows / dumpSeconds] },
      `whole process: start-up, pre-flight, schema check, capture, copy of every table, checksum verification (ms: ${Object.entries(
        timings,
      )
        .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`)
        .join(', ')})`,
    ),
    figure(
      `migrate ${n} detections: verification rows/s (every table)`,
      'rows/s',
      [verifySeconds > 0 ? rows / verifySeconds : 0],
      undefined,
      'counts and chunked checksums of every copied table (src/compare), reported apart from the copy',
    ),
    figure(
      `migrate ${n} detections: peak RSS of the migration process`,
      'MB',
      [ours.peakRssMb],
      { name: 'the same CLI, --version', runs: [idle.peakRssMb] },
      'VmHWM of the child process (run through the tsx loader, as the baseline)',
    ),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--cli');
  if (at >= 0) MAIN = path.resolve(argv[at + 1] ?? MAIN);
  const r = argv.indexOf('--rows');
  if (r >= 0) ROWS = Number(argv[r + 1]);
  await runStandalone('migrate', run);
}
