/**
 * Where a bulk pull's time goes (issue 16): `n` rows written on the hub (captured), pulled into a
 * fresh node, next to the plain copy hub → SQLite of the same rows. Prints, per repetition, wall
 * time and CPU — this process (process.cpuUsage) and the hub server (/proc) — for both, and the
 * node's CPU per 100k rows pulled, which depends little on the machine's load.
 *
 *   node --import tsx bench/pull-probe.ts [n=100000] [reps=3] [--prof DIR]
 *
 * `--prof DIR` writes a V8 CPU profile of each pull alone (inspector, started after the hub
 * rows are written) to DIR, `--heap DIR` a sampling heap profile (what allocated, for the
 * garbage collector's share); `--alloc` (or `--heap`) reports the bytes the node allocated over
 * each pull, the sampling profile's total (objects collected since included: an estimate that
 * does not depend on when collections ran; the sampling itself costs CPU, so not with CPU figures); `SYNC_BATCH_SIZE` is passed through to the node. `--no-index` drops
 * the log's moves index after init (a hub set up before it). "hub rows read" is the server's
 * Handler_read_* counters over the pull (rows the hub examined, index and table reads).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';
import { benchNodeConfig, hr, median, scratchDir, startBenchServer } from './lib.js';

const args = process.argv.slice(2);
const profAt = args.indexOf('--prof');
const profDir = profAt >= 0 ? args[profAt + 1] : undefined;
const heapAt = args.indexOf('--heap');
const heapDir = heapAt >= 0 ? args[heapAt + 1] : undefined;
const noIndex = args.includes('--no-index');
const alloc = args.includes('--alloc') || heapDir !== undefined;
const positional = args.filter(
  (a, i) => !a.startsWith('--') && (profAt < 0 || i !== profAt + 1) && (heapAt < 0 || i !== heapAt + 1),
);
const n = Number(positional[0] ?? 100_000);
const reps = Number(positional[1] ?? 3);

const SQLITE_TABLE =
  'CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, score REAL, seen_at TEXT, payload TEXT)';
const MYSQL_TABLE =
  'CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)';

const server = await startBenchServer();
const { dir, cleanup } = scratchDir();

function nodeCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function hubCpuMs(): number {
  if (!server.pid) return Number.NaN;
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
/** Rows the hub server examined so far: the sum of its Handler_read_* counters (global). */
async function hubRowsRead(hub: MysqlHub): Promise<number> {
  const rows = await hub.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Handler_read%'");
  return rows.reduce((a, r) => a + Number(r.Value), 0);
}
/** Statements the hub server has run so far (global `Questions`; this probe's own reads count one each). */
async function hubStatements(hub: MysqlHub): Promise<number> {
  const rows = await hub.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Questions'");
  return Number(rows[0]?.Value ?? 0);
}
/** Bytes of a sampling heap profile's tree (each sample stands for its share of every byte allocated). */
function sampledBytes(node: { selfSize: number; children: unknown[] }): number {
  let total = node.selfSize;
  for (const c of node.children) total += sampledBytes(c as typeof node);
  return total;
}
function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

const rows: unknown[][] = [];
for (let id = 1; id <= n; id++)
  rows.push([
    id,
    `cam-${id % 37}`,
    (id % 1000) / 1000,
    `2024-05-${String(1 + (id % 28)).padStart(2, '0')} 10:${String(id % 60).padStart(2, '0')}:00.${String(id % 1_000_000).padStart(6, '0')}`,
    `detection ${id} helmet=yes vest=no`,
  ]);

const session = profDir || alloc ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
}

const readPerPull: number[] = [];
const statementsPerPull: number[] = [];
const out = {
  pullMs: [] as number[],
  pullNode: [] as number[],
  pullHub: [] as number[],
  pullAllocMb: [] as number[],
  copyMs: [] as number[],
};
const copyCpu = { node: [] as number[], hub: [] as number[] };
process.stdout.write(`pull-probe: ${n} rows, ${reps} reps${noIndex ? ', no moves index' : ''}, load ${loadavg()}\n`);
try {
  for (let rep = 0; rep < reps; rep++) {
    const m = await server.freshDatabase('probe');
    const config = benchNodeConfig(
      dir,
      `probe-${m.database}`,
      m,
      process.env.SYNC_BATCH_SIZE ? { SYNC_BATCH_SIZE: process.env.SYNC_BATCH_SIZE } : {},
    );
    const db = openSqlite(config.sqlitePath, { create: true });
    db.exec(SQLITE_TABLE);
    db.close();
    const hub = await MysqlHub.connect(m);
    await hub.execute(MYSQL_TABLE);
    await initNode(config);
    if (noIndex) await hub.execute('ALTER TABLE _dualdb_changes DROP INDEX _dualdb_changes_moves').catch(() => {});
    for (let i = 0; i < rows.length; i += 1000) await hub.execute('INSERT INTO bench_rows VALUES ?', [rows.slice(i, i + 1000)]);
    const s = Syncer.open(config, { log: SyncLog.memory('warn') });
    await s.connectHub();
    if (session && profDir) await session.post('Profiler.start');
    if (session && alloc)
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as never);
    const q0 = await hubStatements(hub);
    const r0 = await hubRowsRead(hub);
    const n0 = nodeCpuMs();
    const h0 = hubCpuMs();
    const t = hr();
    let moved = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await s.pull(10_000);
      moved += r.perTable.get('bench_rows')?.upserts ?? 0;
      if (moved >= n || (!r.more && r.applied === 0)) break;
    }
    const ms = t();
    const nodeMs = nodeCpuMs() - n0;
    const hubMs = hubCpuMs() - h0;
    const hubRead = (await hubRowsRead(hub)) - r0;
    readPerPull.push(hubRead);
    // Less the two reads of the counters themselves (SHOW STATUS: one each).
    const statements = (await hubStatements(hub)) - q0 - 2;
    statementsPerPull.push(statements);
    if (session && profDir) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(profDir, `pull-${rep}.cpuprofile`), JSON.stringify(profile));
    }
    let allocMb = Number.NaN;
    if (session && alloc) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      if (heapDir) writeFileSync(path.join(heapDir, `pull-${rep}.heapprofile`), JSON.stringify(profile));
      allocMb = sampledBytes(profile.head) / 1e6;
      out.pullAllocMb.push(allocMb);
    }
    if (moved !== n) throw new Error(`pulled ${moved} of ${n} rows`);
    const holes = s.state.pullState().holes.size;
    await s.close();
    out.pullMs.push(ms);
    out.pullNode.push(nodeMs);
    out.pullHub.push(hubMs);

    // The floor: a plain copy hub → SQLite (one SELECT, one transaction, no capture).
    const target = openSqlite(path.join(dir, `copy-${rep}.db`), { create: true });
    target.exec(SQLITE_TABLE.replace('bench_rows', 'bench_copy'));
    const cn0 = nodeCpuMs();
    const ch0 = hubCpuMs();
    const tc = hr();
    const fetched = await hub.query<Record<string, unknown>>('SELECT id, camera, score, seen_at, payload FROM bench_rows');
    const ins = target.prepare('INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?)');
    target.transaction(() => {
      for (const f of fetched) ins.run(BigInt(f.id as string), f.camera, f.score, f.seen_at, f.payload);
    })();
    out.copyMs.push(tc());
    copyCpu.node.push(nodeCpuMs() - cn0);
    copyCpu.hub.push(hubCpuMs() - ch0);
    target.close();
    await hub.close();
    const per100k = (x: number) => ((x * 100_000) / n).toFixed(0);
    process.stdout.write(
      `rep ${rep + 1}: pull ${ms.toFixed(0)} ms (node CPU ${nodeMs.toFixed(0)}, hub CPU ${hubMs.toFixed(0)}; node CPU per 100k rows ${per100k(nodeMs)} ms; hub rows read ${hubRead}; hub statements ${statements}; ${holes} holes left${alloc ? `; allocated ${allocMb.toFixed(1)} MB` : ''}) | copy ${out.copyMs[rep]?.toFixed(0)} ms (node CPU ${copyCpu.node[rep]?.toFixed(0)}, hub ${copyCpu.hub[rep]?.toFixed(0)}) | load ${loadavg()}\n`,
    );
  }
  const pm = median(out.pullMs);
  const cm = median(out.copyMs);
  process.stdout.write(
    `median: pull ${pm.toFixed(0)} ms, copy ${cm.toFixed(0)} ms, pull/copy speed ${(cm / pm).toFixed(3)}×; node CPU per 100k rows pulled ${((median(out.pullNode) * 100_000) / n).toFixed(0)} ms, hub CPU ${((median(out.pullHub) * 100_000) / n).toFixed(0)} ms, hub rows read ${median(readPerPull).toFixed(0)}, hub statements ${median(statementsPerPull).toFixed(0)}${alloc ? `, allocated ${median(out.pullAllocMb).toFixed(1)} MB per pull` : ''}; copy node CPU ${median(copyCpu.node).toFixed(0)} ms\n`,
  );
} finally {
  session?.disconnect();
  await server.close();
  cleanup();
}
