/**
 * Where a bulk push's wall time goes (issue 16): `n` local inserts pushed to a private hub, every
 * hub statement timed (mysql2's promise `query`/`execute` wrapped in this process only), grouped by
 * kind, with the time the push's own connection spent waiting on the hub against the node's time
 * between its statements. `node --import tsx bench/push-timeline.ts [n] [reps]`.
 */
import mysql from 'mysql2/promise';
import { bulkPushNode, drainPush, hr, scratchDir, startBenchServer } from './lib.js';

const n = Number(process.argv[2] ?? 20_000);
const reps = Number(process.argv[3] ?? 1);

interface Stmt {
  kind: string;
  start: number;
  ms: number;
}
let log: Stmt[] | undefined;
function kindOf(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (/^INSERT INTO `?bench_rows`? /i.test(s)) return 'INSERT rows';
  if (/^INSERT INTO _dualdb_changes/i.test(s)) return `log: ${s.slice(0, 60)}`;
  return s.slice(0, 70);
}
const proto = (mysql as unknown as { PromiseConnection: { prototype: Record<string, unknown> } }).PromiseConnection.prototype;
for (const name of ['query', 'execute'] as const) {
  const orig = proto[name] as (...a: unknown[]) => Promise<unknown>;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    if (!log) return orig.apply(this, args);
    const a0 = args[0] as string | { sql: string };
    const sql = typeof a0 === 'string' ? a0 : a0.sql;
    const start = performance.now();
    const entry: Stmt = { kind: kindOf(sql), start, ms: 0 };
    const out = orig.apply(this, args);
    const l = log;
    out.then(
      () => {
        entry.ms = performance.now() - start;
        l.push(entry);
      },
      () => {},
    );
    return out;
  };
}
for (const name of ['commit', 'rollback', 'beginTransaction'] as const) {
  const orig = proto[name] as (...a: unknown[]) => Promise<unknown>;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    if (!log) return orig.apply(this, args);
    const start = performance.now();
    const entry: Stmt = { kind: name.toUpperCase(), start, ms: 0 };
    const out = orig.apply(this, args);
    const l = log;
    out.then(() => {
      entry.ms = performance.now() - start;
      l.push(entry);
    });
    return out;
  };
}

const server = await startBenchServer();
const { dir, cleanup } = scratchDir();
try {
  for (let rep = 0; rep < reps; rep++) {
    const s = await bulkPushNode(server, dir, n, 'tl');
    log = [];
    const cpu0 = process.cpuUsage();
    const t = hr();
    const moved = await drainPush(s, n);
    const wall = t();
    const cpu = process.cpuUsage(cpu0);
    const stmts = log;
    log = undefined;
    await s.close();
    // Union of intervals in which any statement was in flight: the hub's share of the wall time.
    const iv = stmts.map((x) => [x.start, x.start + x.ms] as const).sort((a, b) => a[0] - b[0]);
    let busy = 0;
    let end = -Infinity;
    for (const [a, b] of iv) {
      if (a > end) {
        busy += b - a;
        end = b;
      } else if (b > end) {
        busy += b - end;
        end = b;
      }
    }
    const by = new Map<string, { count: number; ms: number }>();
    for (const x of stmts) {
      const g = by.get(x.kind) ?? { count: 0, ms: 0 };
      g.count++;
      g.ms += x.ms;
      by.set(x.kind, g);
    }
    process.stdout.write(
      `\nrep ${rep}: ${moved} rows, wall ${wall.toFixed(0)} ms, node CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, ${stmts.length} statements, waiting on the hub ${busy.toFixed(0)} ms, not ${(wall - busy).toFixed(0)} ms\n`,
    );
    if (process.env.TL_ORDER) {
      const t0 = stmts.reduce((a, x) => Math.min(a, x.start), Infinity);
      let prevEnd = t0;
      for (const x of [...stmts].sort((a, b) => a.start - b.start)) {
        process.stdout.write(
          `  @${(x.start - t0).toFixed(0).padStart(5)} gap ${(x.start - prevEnd).toFixed(0).padStart(4)} ${x.ms.toFixed(0).padStart(4)} ms  ${x.kind}\n`,
        );
        prevEnd = Math.max(prevEnd, x.start + x.ms);
      }
    }
    for (const [k, g] of [...by].sort((a, b) => b[1].ms - a[1].ms))
      process.stdout.write(`  ${g.ms.toFixed(0).padStart(6)} ms ${String(g.count).padStart(4)}×  ${k}\n`);
  }
} finally {
  cleanup();
  await server.close();
}
