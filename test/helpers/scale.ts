/**
 * Many sites on one hub, for the scale test and `bench/scale.bench.ts`: N nodes
 * (one SQLite file and one `dualdb sync --watch` process each, as deployed),
 * application writers on every node and a control-room writer on the hub,
 * end-to-end lag probes (a row written on one side, timed until it is seen on
 * another, the path heartbeats take), CPU accounting from /proc, and the
 * convergence check by `compare` (every node against the hub, row by row).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareDatabases } from '../../src/compare/compare.js';
import type { Config, MysqlConfig } from '../../src/config/config.js';
import { MysqlHub } from '../../src/engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../../src/engines/sqlite/open.js';
import { initNode } from '../../src/sync/init.js';
import { MysqlError } from '../../src/util/errors.js';
import { cliEnv, envOf, type RunningCli, running, spawnCli, tsArgs } from './cli.js';
import { createSqlite, nodeConfig } from './node.js';

export const SCALE_SQLITE_DDL = [
  'CREATE TABLE zones (id INTEGER PRIMARY KEY, name TEXT NOT NULL, max_workers INTEGER, updated_at TEXT)',
  `CREATE TABLE detections (site TEXT NOT NULL, n INTEGER NOT NULL, camera_id TEXT, confidence REAL, is_compliant INTEGER,
     detected_at DATETIME, zone_id INTEGER, PRIMARY KEY (site, n))`,
  'CREATE TABLE probes (id TEXT PRIMARY KEY, origin TEXT NOT NULL, target TEXT NOT NULL, sent_ms REAL NOT NULL)',
];

export const SCALE_MYSQL_DDL = [
  'CREATE TABLE zones (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, max_workers BIGINT NULL, updated_at VARCHAR(40) NULL)',
  `CREATE TABLE detections (site VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, n BIGINT NOT NULL, camera_id VARCHAR(40) NULL,
     confidence DOUBLE NULL, is_compliant BIGINT NULL, detected_at DATETIME(6) NULL, zone_id BIGINT NULL, PRIMARY KEY (site, n))`,
  `CREATE TABLE probes (id VARCHAR(40) COLLATE utf8mb4_bin PRIMARY KEY, origin VARCHAR(40) NOT NULL, target VARCHAR(40) NOT NULL,
     sent_ms DOUBLE NOT NULL)`,
];

const ZONES = 8;

export interface FleetNode {
  name: string;
  config: Config;
  /** The application's own connection (plain writes; capture triggers see them). */
  app: SqliteDb;
  proc: RunningCli | undefined;
  seq: number;
}

export interface LoadOptions {
  /** Local commits per second on each node. */
  ratePerNode: number;
  /** Statements per second on the hub by a plain mysql client. */
  centralRate: number;
  /** A lag probe every this many ms (0: none). */
  probeEveryMs: number;
}

export interface ProbeResult {
  origin: string;
  target: string;
  /** Written on the origin node until visible on the hub (null for central probes). */
  toHubMs: number | null;
  /** Written on the origin until visible in the target node's SQLite file. */
  endToEndMs: number;
}

export interface LoadStats {
  localWrites: number;
  centralWrites: number;
  /** Central writes that had to be tried again because no hub connection could be opened in time. */
  centralRetries: number;
  seconds: number;
  probes: ProbeResult[];
  /** Probes not seen on their target within the deadline when the load stopped. */
  probesLost: number;
}

export interface RunningLoad {
  stop(): Promise<LoadStats>;
}

const stamp = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

/** CPU time (user + system) of a process, in seconds, from /proc (0 when unreadable). */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return { busy: 0, total: 0 };
  }
}

const FLEET_HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet-host.ts');

/** One process running several nodes' sync loops; their settings go in on stdin, not in arguments. */
function spawnHost(nodes: { env: Record<string, string>; cwd: string }[]): RunningCli {
  const child = spawn(process.execPath, tsArgs(FLEET_HOST), {
    env: cliEnv({ PATH: process.env.PATH, HOME: process.env.HOME }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(JSON.stringify(nodes));
  return running(child);
}

export class Fleet {
  private constructor(
    readonly mysql: MysqlConfig,
    readonly hub: MysqlHub,
    readonly nodes: FleetNode[],
  ) {}

  /** A hub database with the tables and seeded zones, and `count` nodes with capture installed. */
  static async create(mysql: MysqlConfig, dir: string, count: number, env: Record<string, string> = {}): Promise<Fleet> {
    const hub = await MysqlHub.connect(mysql);
    for (const ddl of SCALE_MYSQL_DDL) await hub.execute(ddl);
    const nodes: FleetNode[] = [];
    for (let i = 0; i < count; i++) {
      const name = `site${String(i + 1).padStart(2, '0')}`;
      // One folder per node: its pid file, control socket and log live beside its SQLite file.
      const config = nodeConfig(path.join(dir, name), name, mysql, { LOG_LEVEL: 'warn', ...env });
      createSqlite(config, SCALE_SQLITE_DDL).close();
      await initNode(config);
      // The application waits for the file's write lock as long as a loaded machine may need: at load
      // ~30 (other work beside 50 nodes) a sync apply held it past the 5 s default and the bench died.
      nodes.push({ name, config, app: openSqlite(config.sqlitePath, { busyTimeoutMs: 60_000 }), proc: undefined, seq: 0 });
    }
    // Seeded centrally once capture is installed on the hub, so every node pulls them.
    const zones: unknown[][] = [];
    for (let z = 1; z <= ZONES; z++) zones.push([z, `zone ${z}`, 10 + z, stamp()]);
    await hub.execute('INSERT INTO zones (id, name, max_workers, updated_at) VALUES ?', [zones]);
    return new Fleet(mysql, hub, nodes);
  }

  /**
   * Starts one `dualdb sync --watch` process per node (or, with `perProcess` > 1, hosts that
   * many nodes' sync loops in each process: test/helpers/fleet-host.ts) and waits until each
   * node has pulled the hub's zones.
   */
  async startSyncers(timeoutMs = 120_000, perProcess = 1): Promise<void> {
    if (perProcess <= 1) {
      for (const n of this.nodes) n.proc = spawnCli(['sync', '--watch'], envOf(n.config));
    } else {
      for (let i = 0; i < this.nodes.length; i += perProcess) {
        const group = this.nodes.slice(i, i + perProcess);
        const host = spawnHost(
          group.map((n) => ({ env: envOf(n.config) as Record<string, string>, cwd: path.dirname(n.config.sqlitePath) })),
        );
        for (const n of group) n.proc = host;
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (const n of this.nodes) {
      const count = n.app.prepare('SELECT count(*) FROM zones').pluck();
      for (;;) {
        if (n.proc?.child.exitCode !== null && n.proc?.child.exitCode !== undefined) {
          throw new Error(`sync process of ${n.name} exited with ${n.proc.child.exitCode}: ${n.proc.output()}`);
        }
        if (Number(count.get()) >= ZONES) break;
        if (Date.now() > deadline)
          throw new Error(`${n.name} did not pull the hub's zones in time; output: ${n.proc?.output() ?? ''}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Pids of the node sync processes (each once, when several nodes share a process). */
  syncerPids(): number[] {
    return [...new Set(this.nodes.map((n) => n.proc?.child.pid).filter((p): p is number => typeof p === 'number'))];
  }

  /** CPU seconds used so far by all node sync processes. */
  syncersCpuSeconds(): number {
    return this.syncerPids().reduce((s, p) => s + processCpuSeconds(p), 0);
  }

  private localWrite(n: FleetNode): void {
    const op = ++n.seq;
    if (op % 10 === 0 && op > 20) {
      n.app.prepare('DELETE FROM detections WHERE site = ? AND n = ?').run(n.name, op - 20);
    } else if (op % 4 === 0 && op > 4) {
      n.app
        .prepare('UPDATE detections SET confidence = ?, is_compliant = 1 - is_compliant WHERE site = ? AND n = ?')
        .run(Math.round(Math.random() * 1000) / 1000, n.name, op - 3);
    } else {
      n.app
        .prepare(
          'INSERT INTO detections (site, n, camera_id, confidence, is_compliant, detected_at, zone_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(n.name, op, `cam-${op % 4}`, Math.round(Math.random() * 1000) / 1000, op % 3 ? 1 : 0, stamp(), 1 + (op % ZONES));
    }
  }

  private async centralWrite(k: number): Promise<void> {
    if (k % 3 === 0) {
      await this.hub.execute('UPDATE zones SET max_workers = max_workers + 1, updated_at = ? WHERE id = ?', [
        stamp(),
        1 + (k % ZONES),
      ]);
    } else {
      await this.hub.execute(
        'INSERT INTO detections (site, n, camera_id, confidence, is_compliant, detected_at, zone_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ['hub', k, 'control-room', 0.5, 1, stamp(), 1 + (k % ZONES)],
      );
    }
  }

  /**
   * Steady writes on every node and on the hub, and lag probes, until `stop()`.
   * Each probe is a row written on one node (or the hub) and timed until it is
   * visible on the hub and in another node's file.
   */
  startLoad(options: LoadOptions): RunningLoad {
    const nodes = this.nodes;
    let running = true;
    let localWrites = 0;
    let centralWrites = 0;
    let centralRetries = 0;
    const t0 = Date.now();
    const errors: unknown[] = [];
    const tickMs = 1000 / options.ratePerNode;
    const local = (async () => {
      for (let tick = 0; running; tick++) {
        const due = t0 + tick * tickMs;
        // Always yield, even behind schedule: the writes are synchronous, and a loop that never
        // awaited starved the timer that stops it (CI on 7f2cc08 at load 40: the test hung 20 min).
        const wait = Math.max(0, due - Date.now());
        await new Promise((r) => setTimeout(r, wait));
        for (const n of nodes) {
          if (!running) break;
          n.app.transaction(() => this.localWrite(n))();
          localWrites++;
        }
      }
    })().catch((e) => errors.push(e));
    const central = (async () => {
      if (options.centralRate <= 0) return;
      for (let k = 1; running; k++) {
        const wait = t0 + (k * 1000) / options.centralRate - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // A saturated machine may not open a new hub connection within DB_CONNECT_TIMEOUT:
        // nothing was sent, so the central application tries the same write again.
        for (;;) {
          try {
            await this.centralWrite(k);
            break;
          } catch (e) {
            if (!(e instanceof MysqlError && (e.kind === 'timeout' || e.kind === 'connection-refused')) || !running) throw e;
            centralRetries++;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        centralWrites++;
      }
    })().catch((e) => errors.push(e));

    interface Pending {
      id: string;
      origin: string;
      target: FleetNode;
      sent: number;
      atHub: number | null;
    }
    const pending = new Map<string, Pending>();
    const probes: ProbeResult[] = [];
    let probeNo = 0;
    let stoppedAt = 0;
    const prober = (async () => {
      if (!options.probeEveryMs) return;
      let nextProbe = Date.now();
      while (running || pending.size > 0) {
        const now = performance.now();
        if (running && Date.now() >= nextProbe && nodes.length > 1) {
          nextProbe += options.probeEveryMs;
          // One probe in eight starts on the hub (a central write); the others on a random node.
          const central = probeNo % 8 === 7;
          const oi = Math.floor(Math.random() * nodes.length);
          let ti = Math.floor(Math.random() * (nodes.length - 1));
          if (!central && ti >= oi) ti++;
          const origin = central ? 'hub' : (nodes[oi]?.name as string);
          const target = nodes[ti] as FleetNode;
          const id = `p${++probeNo}`;
          const sent = performance.now();
          if (central) {
            await this.hub.execute('INSERT INTO probes (id, origin, target, sent_ms) VALUES (?, ?, ?, ?)', [
              id,
              origin,
              target.name,
              Date.now(),
            ]);
          } else {
            (nodes[oi] as FleetNode).app
              .prepare('INSERT INTO probes (id, origin, target, sent_ms) VALUES (?, ?, ?, ?)')
              .run(id, origin, target.name, Date.now());
          }
          pending.set(id, { id, origin, target, sent, atHub: central ? sent : null });
        }
        const notAtHub = [...pending.values()].filter((p) => p.atHub === null);
        if (notAtHub.length) {
          const rows = await this.hub.query<{ id: string }>('SELECT id FROM probes WHERE id IN (?)', [notAtHub.map((p) => p.id)]);
          const t = performance.now();
          for (const r of rows) {
            const p = pending.get(r.id);
            if (p && p.atHub === null) p.atHub = t;
          }
        }
        for (const p of pending.values()) {
          if (p.target.app.prepare('SELECT 1 FROM probes WHERE id = ?').get(p.id)) {
            const t = performance.now();
            probes.push({
              origin: p.origin,
              target: p.target.name,
              toHubMs: p.origin === 'hub' ? null : (p.atHub ?? t) - p.sent,
              endToEndMs: t - p.sent,
            });
            pending.delete(p.id);
          }
        }
        if (!running && stoppedAt === 0) stoppedAt = now;
        if (stoppedAt && now - stoppedAt > 120_000) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    })().catch((e) => errors.push(e));

    return {
      stop: async () => {
        running = false;
        await Promise.all([local, central]);
        const seconds = (Date.now() - t0) / 1000;
        await prober;
        if (errors.length) throw errors[0];
        return { localWrites, centralWrites, centralRetries, seconds, probes, probesLost: pending.size };
      },
    };
  }

  /** Nodes whose tables differ from the hub's, by `compare` (empty when all are identical). */
  async divergence(): Promise<string[]> {
    const out: string[] = [];
    for (const n of this.nodes) {
      const report = await compareDatabases({ sqlitePath: n.config.sqlitePath, hub: this.hub }, { maxDifferences: 5 });
      if (report.tables.length < SCALE_SQLITE_DDL.length) out.push(`${n.name}: compared only ${report.tables.length} tables`);
      for (const t of report.tables) {
        if (t.status !== 'match') {
          out.push(
            `${n.name} ${t.table}: ${t.status} ${t.error ?? ''} sqlite ${t.rows.sqlite} rows, hub ${t.rows.mysql}; ${t.differences
              .map((d) => `${d.kind} ${d.key}`)
              .join(', ')}`,
          );
        }
      }
    }
    return out;
  }

  /** Polls `divergence()` until it is empty; returns the last differences found (empty when converged). */
  async waitConverged(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let last: string[] = [];
    while (Date.now() < deadline) {
      last = await this.divergence();
      if (last.length === 0) return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    return last;
  }

  /** Entries in the hub change log. */
  async hubLogRows(): Promise<number> {
    const [r] = await this.hub.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM _dualdb_changes');
    return Number(r?.n ?? 0);
  }

  /** SIGTERM every sync process (each finishes its batch in flight) and waits for the exits. */
  async stopSyncers(): Promise<(number | null)[]> {
    for (const n of this.nodes) n.proc?.child.kill('SIGTERM');
    const codes = await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.proc) return null;
        const timer = setTimeout(() => n.proc?.child.kill('SIGKILL'), 30_000);
        const code = await n.proc.exited;
        clearTimeout(timer);
        return code;
      }),
    );
    for (const n of this.nodes) n.proc = undefined;
    return codes;
  }

  async close(): Promise<void> {
    await this.stopSyncers();
    for (const n of this.nodes) if (n.app.open) n.app.close();
    await this.hub.close();
  }
}
