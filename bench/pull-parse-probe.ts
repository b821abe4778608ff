/**
 * What mysql2 costs the node for a pull's two big results (issue 16): the log entries and the images'
 * join, n rows each, read through the hub's pool (its `typeCast` callback) and through a connection
 * without it, and both joined in one result (as objects and as arrays). Alternated in one process;
 * per result, the node's CPU (process.cpuUsage) and the heap grown while it was read (a collection
 * first; run with a young generation large enough that none happens during the read):
 *
 *   node --expose-gc --max-semi-space-size=128 --min-semi-space-size=128 --import tsx bench/pull-parse-probe.ts [n=20000] [reps=8]
 *
 * The connection without the callback reads DOUBLE digit by digit (one ulp off for some values:
 * engines/mysql/connect.ts `typeCast`), so it only measures; the pull's own path ("pull path": the
 * pooled connection without the callback, DOUBLE read as text and Number() of it) is exact.
 */
import mysql from 'mysql2/promise';
import { MysqlHub, poolOptions } from '../src/engines/mysql/connect.js';
import { median, startBenchServer } from './lib.js';

const n = Number(process.argv[2] ?? 20_000);
const reps = Number(process.argv[3] ?? 8);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const server = await startBenchServer();
const m = await server.freshDatabase('parse');
const hub = await MysqlHub.connect(m);
await hub.execute(
  'CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, camera VARCHAR(40) NOT NULL, score DOUBLE NULL, seen_at DATETIME(6) NULL, payload VARCHAR(200) NULL)',
);
// The hub log's own layout (capture/mysql-capture.ts), filled directly: one I entry per row.
await hub.execute(
  `CREATE TABLE _dualdb_changes (seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, tbl VARCHAR(64) NOT NULL,
     pk VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, op CHAR(1) NOT NULL, origin VARCHAR(64) NULL,
     at DOUBLE NOT NULL, KEY k (tbl, pk(255))) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
);
for (let from = 1; from <= n; from += 1000) {
  const rows: unknown[][] = [];
  const log: unknown[][] = [];
  for (let id = from; id < from + 1000 && id <= n; id++) {
    rows.push([
      id,
      `cam-${id % 37}`,
      (id % 1000) / 1000,
      `2024-05-0${1 + (id % 9)} 10:00:00.${String(id).padStart(6, '0')}`,
      `detection ${id} helmet=yes vest=no`,
    ]);
    log.push(['bench_rows', String(id), 'I', 'other-node-abc123', 1733600000000 + id]);
  }
  await hub.execute('INSERT INTO bench_rows VALUES ?', [rows]);
  await hub.execute('INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES ?', [log]);
}

const LOG = `SELECT 0 AS m, seq, tbl, pk, op, origin, at FROM _dualdb_changes WHERE seq > 0 ORDER BY seq LIMIT ${n}`;
const IMAGES = `SELECT STRAIGHT_JOIN t.id, t.camera, t.score, t.seen_at, t.payload FROM _dualdb_changes c
  JOIN bench_rows t ON t.id = CAST(c.pk AS DECIMAL(65,0)) WHERE c.seq > 0 AND c.seq <= ${n} AND c.tbl = 'bench_rows'`;
const JOINED = `SELECT STRAIGHT_JOIN 0 AS m, c.seq, c.tbl, c.pk, c.op, c.origin, c.at, t.id, t.camera, t.score, t.seen_at, t.payload
  FROM (SELECT * FROM _dualdb_changes WHERE seq > 0 ORDER BY seq LIMIT ${n}) c
  LEFT JOIN bench_rows t ON c.tbl = 'bench_rows' AND t.id = CAST(c.pk AS DECIMAL(65,0))`;
// What the pull sends now (pull-read.ts): DOUBLE columns as the server's text, on its connection
// without the callback (MysqlHub.withDriverDecode), Number() of that text after the read.
const LOG_PULL = LOG.replace(', at FROM', ', CAST(at AS CHAR) AS at FROM');
const IMAGES_PULL = IMAGES.replace('t.score,', 'CAST(t.score AS CHAR) AS score,');
const cases: { name: string; sql: string; plain?: boolean; arrays?: boolean; decode?: boolean; numbers?: string }[] = [
  { name: 'log', sql: LOG },
  { name: 'images', sql: IMAGES },
  { name: 'log, pull path', sql: LOG_PULL, decode: true, numbers: 'at' },
  { name: 'images, pull path', sql: IMAGES_PULL, decode: true, numbers: 'score' },
  { name: 'log, no typeCast', sql: LOG, plain: true },
  { name: 'images, no typeCast', sql: IMAGES, plain: true },
  { name: 'log+images joined', sql: JOINED },
  { name: 'joined, as arrays', sql: JOINED, arrays: true },
];

const plain = await mysql.createConnection({ ...poolOptions(m), typeCast: true } as mysql.ConnectionOptions);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const cpu = new Map<string, number[]>();
const heap = new Map<string, number[]>();
try {
  for (let rep = 0; rep < reps; rep++)
    for (const c of cases) {
      const read = async (conn: mysql.Connection | mysql.PoolConnection) => {
        gc();
        const h0 = process.memoryUsage().heapUsed;
        const c0 = cpuMs();
        const [rows] = await conn.query({ sql: c.sql, rowsAsArray: c.arrays === true });
        if (c.numbers)
          for (const r of rows as Record<string, unknown>[]) {
            const v = r[c.numbers];
            if (typeof v === 'string') r[c.numbers] = Number(v);
          }
        cpu.set(c.name, [...(cpu.get(c.name) ?? []), cpuMs() - c0]);
        heap.set(c.name, [...(heap.get(c.name) ?? []), (process.memoryUsage().heapUsed - h0) / 1e6]);
        if ((rows as unknown[]).length !== n) throw new Error(`${c.name}: ${(rows as unknown[]).length} rows`);
      };
      if (c.plain) await read(plain);
      else if (c.decode) await hub.withDriverDecode(read);
      else await hub.withConnection(read);
    }
  for (const c of cases)
    process.stdout.write(
      `${c.name.padEnd(22)} node CPU median ${median(cpu.get(c.name) ?? []).toFixed(1)} ms, least ${Math.min(...(cpu.get(c.name) ?? [])).toFixed(1)}; heap grown ${median(heap.get(c.name) ?? []).toFixed(1)} MB\n`,
    );
} finally {
  await plain.end();
  await hub.close();
  await server.close();
}
