/**
 * `dualdb demo`: a whole EPI site on one machine, for a newcomer. A private
 * MariaDB in `.dualdb/demo/` plays the central hub, a SQLite file plays the
 * site's local store; both get the EPI schema (sql/), capture is installed,
 * sample data is written locally (the sync carries it to the hub), then
 * simulated cameras and sensors write locally from another process while a
 * control-room writer changes the hub — so two-way sync can be watched live.
 * `stop()` ends everything this module started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNode } from '../api/init-node.js';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { findServerBinaries, LocalMysqlServer } from '../engines/mysql/local-server.js';
import { openSqlite } from '../engines/sqlite/open.js';
import { runSqlFile } from '../schema/runner.js';
import { DualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';

export const DEFAULT_DEMO_DIR = path.join('.dualdb', 'demo');

/** The EPI schema files shipped with the package. */
export function schemaFiles(): { sqlite: string; mysql: string } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return {
    sqlite: path.join(root, 'sql', 'sqlite', 'epi_schema.sql'),
    mysql: path.join(root, 'sql', 'mysql', 'epi_schema.sql'),
  };
}

export class NoServerBinaryError extends DualdbError {
  constructor() {
    super('NO_SERVER_BINARY', 'the demo needs a MariaDB or MySQL server binary (mariadbd or mysqld), and none is installed', {
      hint: 'install one, e.g. `sudo apt-get install mariadb-server` (Debian/Ubuntu) or `brew install mariadb` (macOS); the demo starts its own private server and never touches a system one',
      exitCode: EXIT.FAILURE,
    });
  }
}

export interface DemoStep {
  step: string;
  detail?: string;
  ms: number;
}

export interface DemoOptions {
  /** Folder for the private server, the SQLite file and the log (wiped first). Default `.dualdb/demo`. */
  dir?: string;
  onStep?: (s: DemoStep) => void;
  /** Pause between writes of the simulated site, ms (default 400). */
  writerIntervalMs?: number;
  /** Pause between writes of the control room on the hub, ms (default 2500). */
  centralIntervalMs?: number;
}

export interface DemoStats {
  /** Rows the site writer process reported. */
  localWrites: number;
  /** Statements the control-room writer ran on the hub. */
  centralWrites: number;
}

export interface Demo {
  config: Config;
  dir: string;
  server: LocalMysqlServer;
  /** Starts the simulated site process and the control-room writer. */
  startWriters(): void;
  /** Stops the writers (the sync keeps running). */
  stopWriters(): Promise<void>;
  stats(): DemoStats;
  /** Stops writers and the server. Idempotent. */
  stop(): Promise<void>;
}

const WORKERS: [string, string, string, string][] = [
  ['E-1001', 'Ana Souza', 'Maintenance', 'welding'],
  ['E-1002', 'Bruno Lima', 'Logistics', 'loading'],
  ['E-1003', 'Carla Mendes', 'Assembly', 'assembly'],
  ['E-1004', 'Diego Alves', 'Assembly', 'assembly'],
  ['E-1005', 'Elisa Rocha', 'Security', 'gate'],
  ['E-1006', 'Fábio Nunes', 'Maintenance', 'welding'],
  ['E-1007', 'Gabriela Dias', 'Logistics', 'loading'],
  ['E-1008', 'Hugo Martins', 'Quality', 'assembly'],
];

const SENSORS: [string, string, string, string, string, number][] = [
  ['S-TEMP-1', 'Welding bay temperature', 'temperature', 'welding', '°C', 45],
  ['S-NOISE-1', 'Assembly noise', 'noise', 'assembly', 'dB', 85],
  ['S-GAS-1', 'Loading dock CO', 'gas', 'loading', 'ppm', 35],
  ['S-HUM-1', 'Gate humidity', 'humidity', 'gate', '%', 80],
];

/** Sample data, written locally after capture is installed: the sync engine carries it to the hub. */
function seedLocal(file: string): number {
  const db = openSqlite(file);
  let rows = 0;
  try {
    db.transaction(() => {
      db.prepare(
        `INSERT INTO training_results (model_name, model_version, dataset_name, epochs, batch_size, image_size,
           precision_score, recall_score, map50, map50_95, f1_score, status, is_active, notes)
         VALUES ('yolov8n-ppe', '1.3.0', 'epi-site-2024', 120, 16, 640, 0.912, 0.884, 0.931, 0.702, 0.898, 'completed', 1,
                 'demo model: helmets, vests, gloves')`,
      ).run();
      rows++;
      const w = db.prepare(
        "INSERT INTO workers (employee_code, name, department, job_title, zone, badge_id, required_ppe, hired_on) VALUES (?, ?, ?, 'Operator', ?, ?, 'helmet,vest', '2022-03-01')",
      );
      for (const [code, name, dept, zone] of WORKERS) {
        w.run(code, name, dept, zone, `B-${code.slice(2)}`);
        rows++;
      }
      const s = db.prepare(
        'INSERT INTO iot_sensors (sensor_code, name, sensor_type, location, zone, unit, min_threshold, max_threshold) VALUES (?, ?, ?, ?, ?, ?, 0, ?)',
      );
      for (const [code, name, type, zone, unit, max] of SENSORS) {
        s.run(code, name, type, `${zone} area`, zone, unit, max);
        rows++;
      }
      const d = db.prepare(
        `INSERT INTO detections (camera_id, frame_number, has_helmet, has_vest, is_compliant, missing_ppe, confidence, zone, worker_id, training_result_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
      );
      for (let i = 1; i <= 30; i++) {
        const helmet = i % 7 !== 0;
        const vest = i % 5 !== 0;
        d.run(
          `cam-gate-${1 + (i % 2)}`,
          i,
          helmet ? 1 : 0,
          vest ? 1 : 0,
          helmet && vest ? 1 : 0,
          [helmet ? null : 'helmet', vest ? null : 'vest'].filter(Boolean).join(',') || null,
          0.8 + (i % 10) / 100,
          'gate',
          1 + (i % WORKERS.length),
        );
        rows++;
      }
      db.prepare(
        "INSERT INTO system_logs (level, source, message) VALUES ('INFO', 'demo', 'EPI demo site initialised'), ('WARNING', 'cam-gate-2', 'frame drop rate above 2%')",
      ).run();
      rows += 2;
    })();
  } finally {
    db.close();
  }
  return rows;
}

function writerScript(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./writer${ext}`, import.meta.url));
}

function serverAlreadyRunning(dir: string): number | undefined {
  const pidFile = path.join(dir, 'mysql', 'mysqld.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * A demo server whose demo was killed (SIGKILL, a closed laptop lid) is left
 * orphaned: its parent is gone and its data folder is this demo's. Such a
 * server is stopped; one that still has its demo is left alone (Linux only —
 * elsewhere the user is asked to stop it).
 */
async function stopOrphanedServer(pid: number, dir: string): Promise<boolean> {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (ppid !== 1 || !cmdline.includes(path.join(dir, 'mysql', 'data'))) return false;
  } catch {
    return false;
  }
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

/** Prepares the demo site: server, schema on both sides, capture, sample data. */
export async function prepareDemo(options: DemoOptions = {}): Promise<Demo> {
  if (!findServerBinaries()) throw new NoServerBinaryError();
  const dir = path.resolve(options.dir ?? DEFAULT_DEMO_DIR);
  const step = (name: string, t0: number, detail?: string) =>
    options.onStep?.({ step: name, ...(detail ? { detail } : {}), ms: Date.now() - t0 });
  const running = serverAlreadyRunning(dir);
  if (running && !(await stopOrphanedServer(running, dir))) {
    throw new DualdbError('DEMO_RUNNING', `a demo server (pid ${running}) is already running in ${dir}`, {
      hint: 'quit the other demo first, or pass --dir for a second one',
    });
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  let t0 = Date.now();
  const server = await LocalMysqlServer.start({
    dir: path.join(dir, 'mysql'),
    user: 'dualdb_demo',
    database: 'epi_demo',
    durable: false,
  });
  let stopped = false;
  const stopServer = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop().catch(() => server.kill());
  };
  try {
    const m = server.config();
    const config = loadConfig({
      env: {
        SQLITE_DB_PATH: path.join(dir, 'epi_detection.db'),
        DB_HOST: m.host,
        DB_PORT: String(m.port),
        DB_USER: m.user,
        DB_PASSWORD: m.password,
        DB_NAME: m.database,
        NODE_ID: 'demo-site',
        SYNC_MODE: 'sqlite_primary',
        SYNC_INTERVAL: '1',
        LOG_FILE: path.join(dir, 'dualdb.log'),
        PID_FILE: path.join(dir, 'dualdb.pid'),
      },
      envFile: undefined,
      cwd: dir,
    });
    const hub = await MysqlHub.connect(config.mysql);
    const version = (await hub.serverInfo()).version;
    step(
      'private server started',
      t0,
      `${version} on 127.0.0.1:${m.port}, data in ${path.relative(process.cwd(), server.dir) || server.dir}`,
    );

    t0 = Date.now();
    const files = schemaFiles();
    const db = openSqlite(config.sqlitePath, { create: true });
    try {
      await runSqlFile(files.sqlite, { engine: 'sqlite', db });
    } finally {
      db.close();
    }
    try {
      await runSqlFile(files.mysql, { engine: 'mysql', hub });
    } finally {
      await hub.close();
    }
    step('EPI schema created on both sides', t0, `${path.basename(files.sqlite)} for SQLite and MySQL`);

    t0 = Date.now();
    const report = await initNode(config);
    step('change capture installed', t0, `${report.tables.length} tables, node ${report.nodeId}`);

    t0 = Date.now();
    const seeded = seedLocal(config.sqlitePath);
    step('sample data written locally', t0, `${seeded} rows; the sync carries them to the hub`);

    let writer: ChildProcess | undefined;
    let writerExited: Promise<void> = Promise.resolve();
    let central: NodeJS.Timeout | undefined;
    let centralHub: MysqlHub | undefined;
    let centralBusy: Promise<void> = Promise.resolve();
    const stats: DemoStats = { localWrites: 0, centralWrites: 0 };
    let hires = 0;

    const centralWrite = async () => {
      centralHub ??= await MysqlHub.connect(config.mysql, { connectionLimit: 1 });
      // The first write is always a hire, so even a short run shows a change travelling hub → node.
      if (stats.centralWrites === 0 || Math.random() < 0.35) {
        hires++;
        const id = 1000 + hires;
        await centralHub.execute(
          "INSERT INTO workers (id, employee_code, name, department, job_title, zone, badge_id, required_ppe) VALUES (?, ?, ?, 'Contractors', 'Contractor', 'loading', ?, 'helmet,vest,gloves')",
          [id, `C-${id}`, `Contractor ${hires}`, `BC-${id}`],
        );
      } else {
        await centralHub.execute(
          "UPDATE alerts SET status = 'acknowledged', acknowledged = 1, acknowledged_by = 'control-room', acknowledged_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) WHERE status = 'pending' ORDER BY id LIMIT 1",
        );
      }
      stats.centralWrites++;
    };

    const stopWriters = async () => {
      if (central) clearInterval(central);
      central = undefined;
      await centralBusy;
      await centralHub?.close();
      centralHub = undefined;
      if (writer && writer.exitCode === null && writer.signalCode === null) writer.kill('SIGTERM');
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([writerExited, new Promise((r) => (grace = setTimeout(r, 3000)))]);
      clearTimeout(grace);
      if (writer && writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
      writer = undefined;
    };

    return {
      config,
      dir,
      server,
      startWriters() {
        if (writer) return;
        const w = spawn(
          process.execPath,
          [...process.execArgv, writerScript(), config.sqlitePath, String(options.writerIntervalMs ?? 400)],
          {
            stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
          },
        );
        writer = w;
        writerExited = new Promise((resolve) => w.once('exit', () => resolve()));
        w.on('message', (msg: { written?: number }) => {
          if (typeof msg?.written === 'number') stats.localWrites = msg.written;
        });
        w.on('error', () => {});
        const queueCentralWrite = () => {
          centralBusy = centralBusy.then(centralWrite).catch(() => {
            // The hub may be away for a moment; the control room simply tries again later.
          });
        };
        // The control room starts at once rather than after its first pause: a short run still has
        // central changes, however slow the machine.
        queueCentralWrite();
        central = setInterval(queueCentralWrite, options.centralIntervalMs ?? 2500);
      },
      stopWriters,
      stats: () => ({ ...stats }),
      async stop() {
        await stopWriters();
        await stopServer();
      },
    };
  } catch (e) {
    await stopServer();
    throw e instanceof DualdbError
      ? e
      : new DualdbError('DEMO_FAILED', `the demo could not be prepared: ${messageOf(e)}`, { cause: e });
  }
}
