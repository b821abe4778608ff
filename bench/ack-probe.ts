/**
 * Write acknowledgment, old code against new, in ONE process (issue 16; docs/PERFORMANCE.md "Write
 * acknowledgment"): the same minutes and the same load for both, alternated in blocks with bare
 * autocommit inserts. Not part of `npm run bench` (it needs a second checkout).
 *
 *   node --import tsx bench/ack-probe.ts --base /path/to/other/checkout [--modes both,mysql_primary]
 *        [--blocks 12] [--per-block 50]
 *
 * `--base` is a checkout of the version to compare with (its src/ is imported next to this one's;
 * node_modules is shared). Without it, only this checkout is measured. Per mode and version:
 *  - deterministic: the private server's `Queries` and `Com_*` counters per acknowledged write
 *    (over one block, the background loop off), and client CPU per write (process.cpuUsage());
 *  - wall clock: per block the median write time, then the median over the blocks, next to the
 *    bare inserts' (a captured table, as bench/modes.bench.ts) in the blocks around it.
 */
import os from 'node:os';
import path from 'node:path';
import mysql2 from 'mysql2';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { hr, median, percentile, scratchDir, startBenchServer } from './lib.js';
import { makeNode } from './modes.bench.js';

interface Db {
  insert(table: string, row: Record<string, unknown>): Promise<{ committed: string }>;
  close(): Promise<void>;
  service: { syncer: { oneRowPushes?: number } };
}
type Open = (o: { config: unknown; sync: boolean }) => Promise<Db>;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const base = arg('base');
const modes = (arg('modes') ?? 'both,mysql_primary').split(',');
const blocks = Number(arg('blocks') ?? 12);
const perBlock = Number(arg('per-block') ?? 50);

type Make = typeof makeNode;
const versions: { name: string; open: Open; make: Make }[] = [];
if (base) {
  const old = await import(path.resolve(base, 'src/api/dual-database.ts'));
  // Its own init too: each version's node on a hub as that version installs it (capture triggers).
  const { makeNode: oldMake } = (await import(path.resolve(base, 'bench/modes.bench.ts'))) as { makeNode: Make };
  versions.push({ name: 'old', open: (o) => old.DualDatabase.open(o), make: oldMake });
}
const mine = await import('../src/api/dual-database.js');
versions.push({ name: 'new', open: (o) => mine.DualDatabase.open(o as never) as unknown as Promise<Db>, make: makeNode });

// Commands the client sends (each one a round trip: mysql2 never pipelines), counted in the driver.
let commands = 0;
const proto = (mysql2 as unknown as { Connection: { prototype: { addCommand: (...a: unknown[]) => unknown } } }).Connection
  .prototype;
const addCommand = proto.addCommand;
proto.addCommand = function (this: unknown, ...a: unknown[]) {
  commands++;
  return addCommand.apply(this, a);
};

const server = await startBenchServer();
const scratch = scratchDir();
const rootOf = server.rootConnection;
if (!rootOf) throw new Error('the probe needs its own private server');
const root = await rootOf();
const COUNTERS = [
  'Queries',
  'Com_select',
  'Com_insert',
  'Com_insert_select',
  'Com_update',
  'Com_commit',
  'Com_rollback',
  'Com_set_option',
  // Rows written (user row, log row, token row) and index look-ups (the fence), triggers' included.
  'Handler_write',
  'Handler_read_key',
];
async function counters(): Promise<Map<string, number>> {
  const [rows] = (await root.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (?)`, [COUNTERS])) as unknown as [
    { Variable_name: string; Value: string }[],
  ];
  return new Map(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

try {
  const options = { quick: true, server, dir: scratch.dir };
  const bareCfg = await makeNode(options, 'bare', 'sqlite_primary');
  const bare = await MysqlHub.connect(bareCfg.mysql);
  /** Every single write's time per version (and the bare inserts'), for p90 over the whole run. */
  let all = new Map<string, number[]>();
  const bareBlock = async (): Promise<number> => {
    const lat: number[] = [];
    for (let i = 0; i < perBlock; i++) {
      const t = hr();
      await bare.execute('INSERT INTO bench_rows (payload, t_ms) VALUES (?, ?)', ['bare', Date.now()]);
      lat.push(t());
    }
    all.set('bare', [...(all.get('bare') ?? []), ...lat]);
    return median(lat);
  };
  for (const mode of modes) {
    const dbs: { name: string; db: Db }[] = [];
    for (const v of versions) {
      const config = await v.make(options, `${v.name}_${mode}`, mode);
      const db = await v.open({ config, sync: false });
      for (let i = 0; i < 20; i++) await db.insert('bench_rows', { payload: 'warm-up', t_ms: Date.now() }); // plan, pools, registration
      dbs.push({ name: v.name, db });
    }
    // Deterministic figures: one block each, nothing else running on the server.
    for (const { name, db } of dbs) {
      const before = await counters();
      const one0 = db.service.syncer.oneRowPushes ?? 0;
      const commands0 = commands;
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < perBlock; i++) await db.insert('bench_rows', { payload: mode, t_ms: Date.now() });
      const cpu = process.cpuUsage(cpu0);
      const sent = commands - commands0;
      const after = await counters();
      // The SHOW STATUS of `after` counts itself once in Queries.
      const per = COUNTERS.map((c) => {
        const d = (after.get(c) ?? 0) - (before.get(c) ?? 0) - (c === 'Queries' ? 1 : 0);
        return `${c} ${(d / perBlock).toFixed(2)}`;
      });
      const oneRow = (db.service.syncer.oneRowPushes ?? 0) - one0;
      console.log(
        `${mode} ${name}: per write ${per.join(', ')}; client commands ${(sent / perBlock).toFixed(2)}; client CPU ${((cpu.user + cpu.system) / 1000 / perBlock).toFixed(3)} ms (user ${(cpu.user / 1000 / perBlock).toFixed(3)}); one-row pushes ${oneRow}/${perBlock}`,
      );
    }
    // Wall clock: bare, then each version, block after block.
    const times = new Map<string, number[]>([['bare', []], ...dbs.map((d) => [d.name, []] as [string, number[]])]);
    all = new Map();
    const cpus = new Map<string, number[]>(dbs.map((d) => [d.name, []]));
    for (let b = 0; b < blocks; b++) {
      times.get('bare')?.push(await bareBlock());
      for (const { name, db } of b % 2 ? [...dbs].reverse() : dbs) {
        const lat: number[] = [];
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < perBlock; i++) {
          const t = hr();
          await db.insert('bench_rows', { payload: mode, t_ms: Date.now() });
          lat.push(t());
        }
        const cpu = process.cpuUsage(cpu0);
        cpus.get(name)?.push((cpu.user + cpu.system) / 1000 / perBlock);
        times.get(name)?.push(median(lat));
        all.set(name, [...(all.get(name) ?? []), ...lat]);
      }
    }
    const bareMs = median(times.get('bare') ?? []);
    const line = dbs.map(({ name }) => {
      const ms = median(times.get(name) ?? []);
      return `${name} ${ms.toFixed(3)} ms = ${(ms / bareMs).toFixed(2)}× (client CPU ${median(cpus.get(name) ?? []).toFixed(3)} ms/write)`;
    });
    console.log(
      `${mode} wall clock (${blocks} × ${perBlock}, medians of block medians): bare ${bareMs.toFixed(3)} ms; ${line.join('; ')}; load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const p90 = (name: string) => percentile(all.get(name) ?? [], 0.9);
    console.log(
      `${mode} p90 over all writes: bare ${p90('bare').toFixed(3)} ms; ${dbs
        .map(({ name }) => `${name} ${p90(name).toFixed(3)} ms = ${(p90(name) / p90('bare')).toFixed(2)}×`)
        .join('; ')}`,
    );
    for (const { db } of dbs) await db.close();
  }
  await bare.close();
} finally {
  await root.end();
  await server.close();
  scratch.cleanup();
}
