/**
 * Probe of what reading back a bulk push's rows costs (issue 16, src/sync/hub-exact.ts): 20k rows of
 * the bench table inserted in two 10,000-row statements (the push's shape) three ways, alternated:
 * `RETURNING` every synced column (main before wip12-push), `RETURNING` the key and the DATETIME(6)
 * (what the push returns now: the other columns are stored exactly), and no `RETURNING` (the floor).
 * Per way: this process's CPU (mysql2 parsing the rows, the push's pool typeCast on) and the hub's
 * (from /proc), bytes the hub sent, wall. `node --import tsx bench/returning-probe.ts [reps]`
 */
import { readFileSync } from 'node:fs';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { hr, median, startBenchServer } from './lib.js';

const reps = Number(process.argv[2] ?? 7);
const n = 20_000;
const server = await startBenchServer();
function hubCpuMs(): number {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const WAYS = {
  all: ' RETURNING `id`, `camera`, `score`, `seen_at`, `payload`',
  rewritable: ' RETURNING `id`, `seen_at`',
  none: '',
} as const;
const out: Record<string, { node: number[]; hub: number[]; wall: number[]; sent: number[] }> = {};
try {
  const m = await server.freshDatabase('ret');
  const hub = await MysqlHub.connect(m);
  await hub.execute(
    'CREATE TABLE r (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)',
  );
  let base = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const [way, tail] of Object.entries(WAYS)) {
      const stmts: string[] = [];
      for (let s = 0; s < n; s += 10_000) {
        const rows: string[] = [];
        for (let i = 1; i <= 10_000; i++) {
          const id = base + s + i;
          rows.push(
            `(${id}, 'cam-${id % 37}', ${(id % 1000) / 1000}, '2024-05-${String(1 + (id % 28)).padStart(2, '0')} 10:00:00.${String(id % 1_000_000).padStart(6, '0')}', 'detection ${id} helmet=yes vest=no')`,
          );
        }
        stmts.push(`INSERT INTO r VALUES ${rows.join(', ')}${tail}`);
      }
      base += n;
      await hub.withConnection(async (conn) => {
        const [[s0]] = (await conn.query("SHOW SESSION STATUS LIKE 'Bytes_sent'")) as unknown as [[{ Value: string }]];
        const c0 = process.cpuUsage();
        const h0 = hubCpuMs();
        const t = hr();
        await conn.query('BEGIN');
        for (const sql of stmts) await conn.query(sql);
        await conn.query('COMMIT');
        const wall = t();
        const c = process.cpuUsage(c0);
        const h = hubCpuMs() - h0;
        const [[s1]] = (await conn.query("SHOW SESSION STATUS LIKE 'Bytes_sent'")) as unknown as [[{ Value: string }]];
        out[way] ??= { node: [], hub: [], wall: [], sent: [] };
        const o = out[way];
        o.node.push((c.user + c.system) / 1000);
        o.hub.push(h);
        o.wall.push(wall);
        o.sent.push(Number(s1.Value) - Number(s0.Value));
      });
    }
  }
  await hub.close();
  process.stdout.write(`${n} rows per way, ${reps} alternations, medians (runs)\n`);
  for (const [way, o] of Object.entries(out))
    process.stdout.write(
      `${way.padEnd(11)} node CPU ${median(o.node).toFixed(0).padStart(5)} ms (${o.node.map((x) => x.toFixed(0)).join(' ')})  hub CPU ${median(o.hub).toFixed(0).padStart(5)} ms (${o.hub.map((x) => x.toFixed(0)).join(' ')})  wall ${median(o.wall).toFixed(0).padStart(5)} ms  hub sent ${(median(o.sent) / 1024).toFixed(0)} KiB\n`,
    );
} finally {
  await server.close();
}
