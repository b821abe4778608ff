/**
 * Deterministic cost of the fleet's commonest cycle (issue 16, 50 nodes on one machine): one other
 * node's commit (one row) pulled by a node that has nothing of its own to push — what each commit
 * costs each of the N − 1 other nodes. Node A writes and pushes one row; node B runs the cycle its
 * sync loop runs on the probe's news (`syncOnce`: heartbeat check, push, pull). Reported: the hub's
 * statements (`Questions`) and round trips per such cycle, and B's CPU ms per cycle (this process,
 * while only B runs). `CYCLE_LOG=1` prints the statements of one cycle (the hub's general log);
 * `CYCLE_PROF=file` writes a CPU profile of B's cycles. B reports its pull position at most once
 * a second, as under the sync service (`CYCLE_REPORT_FLOOR_MS=0`: after every pull, as `sync --once`).
 *
 *   node --import tsx bench/pull-cycle-cost.ts [cycles=300]
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SyncLog } from '../src/log/sync-log.js';
import { Syncer } from '../src/sync/syncer.js';
import { Fleet } from '../test/helpers/scale.js';
import { median, scratchDir, startBenchServer } from './lib.js';

const cycles = Number(process.argv[2] ?? 300);
const server = await startBenchServer();
const { dir, cleanup } = scratchDir();

async function questions(): Promise<number> {
  const c = await (server.rootConnection as NonNullable<typeof server.rootConnection>)();
  const [rows] = (await c.query("SHOW GLOBAL STATUS LIKE 'Questions'")) as unknown as [{ Value: string }[]];
  await c.end();
  return Number(rows[0]?.Value ?? 0);
}

try {
  const m = await server.freshDatabase('cycle');
  const fleet = await Fleet.create(m, dir, 2);
  const [na, nb] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
  const a = Syncer.open(na.config, { log: SyncLog.memory('warn') });
  const b = Syncer.open(nb.config, { log: SyncLog.memory('warn') });
  await a.syncOnce();
  await b.syncOnce();
  await b.syncOnce();
  // As the sync service sets it (src/sync/service.ts); a property main's Syncer does not read.
  (b as unknown as { pullReportFloorMs: number }).pullReportFloorMs = Number(process.env.CYCLE_REPORT_FLOOR_MS ?? 1000);
  const ins = na.app.prepare(
    "INSERT INTO detections (site, n, camera_id, confidence, is_compliant, detected_at, zone_id) VALUES ('site01', ?, 'cam', 0.5, 1, '2026-12-07 10:00:00', 1)",
  );
  const root = await (server.rootConnection as NonNullable<typeof server.rootConnection>)();
  const perCycle: number[] = [];
  const cpuPerCycle: number[] = [];
  const session = process.env.CYCLE_PROF ? new Session() : undefined;
  session?.connect();
  await session?.post('Profiler.enable');
  await session?.post('Profiler.start');
  for (let i = 1; i <= cycles; i++) {
    ins.run(i);
    await a.syncOnce({ push: true, pull: false });
    const logIt = process.env.CYCLE_LOG && i === Math.min(cycles, 5);
    if (logIt) {
      await root.query("SET GLOBAL log_output = 'TABLE'");
      await root.query('TRUNCATE mysql.general_log');
      await root.query('SET GLOBAL general_log = 1');
    }
    const q0 = await questions();
    const c0 = process.cpuUsage();
    const r = await b.syncOnce();
    const c = process.cpuUsage(c0);
    const q1 = await questions();
    if (logIt) {
      await root.query('SET GLOBAL general_log = 0');
      const [rows] = (await root.query(
        "SELECT thread_id, command_type, LEFT(REPLACE(argument, '\\n', ' '), 160) AS a FROM mysql.general_log WHERE command_type IN ('Query', 'Execute', 'Prepare') ORDER BY event_time",
      )) as unknown as [{ thread_id: number; command_type: string; a: string }[]];
      for (const row of rows)
        if (!/general_log|SHOW GLOBAL STATUS/.test(row.a))
          process.stdout.write(`${row.thread_id} ${row.command_type} ${row.a}\n`);
    }
    if (r.pull.applied < 1) throw new Error(`cycle ${i}: B pulled nothing`);
    // The two SHOW STATUS reads themselves count once (the second's own statement).
    perCycle.push(q1 - q0 - 1);
    cpuPerCycle.push((c.user + c.system) / 1000);
  }
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(process.env.CYCLE_PROF as string, JSON.stringify(profile));
    session.disconnect();
  }
  await root.end();
  const warm = (xs: number[]) => xs.slice(Math.min(20, Math.floor(xs.length / 4)));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  process.stdout.write(
    `hub statements per pulled commit: median ${median(warm(perCycle))}, mean ${mean(warm(perCycle)).toFixed(2)}\n` +
      `node CPU ms per pulled commit:    median ${median(warm(cpuPerCycle)).toFixed(2)}, mean ${mean(warm(cpuPerCycle)).toFixed(2)}\n`,
  );
  await a.close();
  await b.close();
  await fleet.hub.close();
  for (const n of fleet.nodes) n.app.close();
} finally {
  cleanup();
  await server.close();
}
