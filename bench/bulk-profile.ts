/**
 * Profiling aid for the bulk push and pull (issue 16): one node, `n` rows pushed, then `n` rows
 * written on the hub and pulled into a fresh node, each timed. Run with `node --cpu-prof` to see
 * where the time goes: `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/bulk-profile.ts [n] [push|pull]`.
 */
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SyncLog } from '../src/log/sync-log.js';
import { initNode } from '../src/sync/init.js';
import { Syncer } from '../src/sync/syncer.js';
import { benchNodeConfig, hr, scratchDir, startBenchServer } from './lib.js';

const n = Number(process.argv[2] ?? 20_000);
const only = process.argv[3];
const reps = Number(process.argv[4] ?? 1);
const out: Record<string, number[]> = { push: [], pull: [], copy: [], pushCpu: [], pullCpu: [] };

import { readFileSync } from 'node:fs';

/** CPU ms of this process plus the hub server so far (scheduling-independent cost). */
function cpuMs(): number {
  const u = process.cpuUsage();
  let hub = 0;
  if (server.pid) {
    const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    hub = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  }
  if (process.env.BENCH_SPLIT) process.stderr.write(`[node ${((u.user + u.system) / 1000).toFixed(0)} hub ${hub.toFixed(0)}]\n`);
  return (u.user + u.system) / 1000 + hub;
}
const server = await startBenchServer();
const { dir, cleanup } = scratchDir();
const SQLITE_TABLE =
  'CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, score REAL, seen_at TEXT, payload TEXT)';
const MYSQL_TABLE =
  'CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)';
const rows: unknown[][] = [];
for (let id = 1; id <= n; id++)
  rows.push([
    id,
    `cam-${id % 37}`,
    (id % 1000) / 1000,
    `2024-05-${String(1 + (id % 28)).padStart(2, '0')} 10:00:00.${String(id).padStart(6, '0')}`,
    `detection ${id} helmet=yes vest=no`,
  ]);

async function node(label: string) {
  const m = await server.freshDatabase(label);
  const config = benchNodeConfig(
    dir,
    `${label}-${m.database}`,
    m,
    process.env.BENCH_BATCH ? { SYNC_BATCH_SIZE: process.env.BENCH_BATCH } : {},
  );
  const db = openSqlite(config.sqlitePath, { create: true });
  db.exec(SQLITE_TABLE);
  db.close();
  const hub = await MysqlHub.connect(m);
  await hub.execute(MYSQL_TABLE);
  await hub.close();
  await initNode(config);
  return config;
}
try {
  for (let rep = 0; rep < reps; rep++) {
    if (only !== 'pull') {
      const config = await node('push');
      const db = openSqlite(config.sqlitePath);
      const ins = db.prepare('INSERT INTO bench_rows VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => {
        for (const r of rows) ins.run(...r);
      })();
      db.close();
      const s = Syncer.open(config, { log: SyncLog.memory('warn') });
      await s.connectHub();
      const c0 = cpuMs();
      const t = hr();
      let moved = 0;
      for (let i = 0; i < 1000; i++) {
        const r = await s.push(10_000);
        moved += r.perTable.get('bench_rows')?.upserts ?? 0;
        if (moved >= n || (!r.more && r.applied === 0)) break;
      }
      const ms = t();
      out.push?.push(ms);
      out.pushCpu?.push(cpuMs() - c0);
      await s.close();
    }
    if (only !== 'push') {
      const config = await node('pull');
      const hub = await MysqlHub.connect(config.mysql);
      for (let i = 0; i < rows.length; i += 1000) await hub.execute('INSERT INTO bench_rows VALUES ?', [rows.slice(i, i + 1000)]);
      await hub.close();
      const s = Syncer.open(config, { log: SyncLog.memory('warn') });
      await s.connectHub();
      const c0 = cpuMs();
      const t = hr();
      let moved = 0;
      for (let i = 0; i < 1000; i++) {
        const r = await s.pull(10_000);
        moved += r.perTable.get('bench_rows')?.upserts ?? 0;
        if (moved >= n || (!r.more && r.applied === 0)) break;
      }
      const ms = t();
      out.pull?.push(ms);
      out.pullCpu?.push(cpuMs() - c0);
      await s.close();
      // The floor: a plain copy hub → SQLite (one SELECT, one transaction, no capture).
      const h2 = await MysqlHub.connect(config.mysql);
      const target = openSqlite(`${dir}/copy-${rep}.db`, { create: true });
      target.exec(SQLITE_TABLE.replace('bench_rows', 'bench_copy'));
      const tc = hr();
      const fetched = await h2.query<Record<string, unknown>>('SELECT id, camera, score, seen_at, payload FROM bench_rows');
      const cins = target.prepare('INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?)');
      target.transaction(() => {
        for (const f of fetched) cins.run(BigInt(f.id as string), f.camera, f.score, f.seen_at, f.payload);
      })();
      out.copy?.push(tc());
      target.close();
      await h2.close();
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const pm = med(out.pull ?? []);
  const cm = med(out.copy ?? []);
  process.stdout.write(
    `push ms ${out.push?.map((x) => x.toFixed(0)).join(',')} | pull ms ${out.pull?.map((x) => x.toFixed(0)).join(',')} | copy ms ${out.copy?.map((x) => x.toFixed(0)).join(',')} | pull/copy ratio ${(cm / pm).toFixed(3)} | cpu ms push ${out.pushCpu?.map((x) => x.toFixed(0)).join(',')} pull ${out.pullCpu?.map((x) => x.toFixed(0)).join(',')}\n`,
  );
} finally {
  await server.close();
  cleanup();
}
