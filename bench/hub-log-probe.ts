/**
 * Probe of the hub change log's cost in a bulk push (issue 16): 20k rows inserted in 1,000-row
 * statements, then the same number of log rows written four ways (the push's INSERT … SELECT
 * over the written keys, or VALUES from the key texts; with and without the (tbl, pk) index),
 * each in one transaction, 5 alternations, medians; and the log as it was before the moves index
 * `(op, seq)` (what that index costs a write). `node --import tsx bench/hub-log-probe.ts`
 */

import { readFileSync } from 'node:fs';
import { MYSQL_META_DDL } from '../src/capture/mysql-capture.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { hr, startBenchServer } from './lib.js';

const server = await startBenchServer();
const n = 20000;
// `--moves`: only the log with and without the moves index, 11 alternations.
const movesOnly = process.argv.includes('--moves');
const reps = movesOnly ? 11 : 5;
const res: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
function hubCpuMs(): number {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
try {
  const m = await server.freshDatabase('probe');
  const hub = await MysqlHub.connect(m);
  await hub.execute(
    'CREATE TABLE r (id BIGINT PRIMARY KEY, camera VARCHAR(40), score DOUBLE, seen_at DATETIME(6), payload VARCHAR(200))',
  );
  for (const ddl of MYSQL_META_DDL) await hub.execute(ddl);
  await hub.execute('CREATE TABLE c2 LIKE _dualdb_changes');
  await hub.execute('ALTER TABLE c2 DROP KEY _dualdb_changes_key');
  await hub.execute('CREATE TABLE c3 LIKE _dualdb_changes');
  await hub.execute('ALTER TABLE c3 DROP KEY _dualdb_changes_moves');
  let base = 0;
  for (let rep = 0; rep < reps; rep++) {
    const ids = Array.from({ length: n }, (_, i) => base + i + 1);
    base += n;
    const rowSql = (c: number[]) =>
      `INSERT INTO r VALUES ${c.map((id) => `(${id}, 'cam-${id % 37}', 0.5, '2024-05-01 10:00:00.000001', 'detection ${id} helmet=yes vest=no')`).join(',')}`;
    const logSel = (tbl: string, c: number[]) =>
      `INSERT INTO ${tbl} (tbl, pk, op, origin, at) SELECT 'r', CAST(x.id AS CHAR), 'I', 'n1', UNIX_TIMESTAMP(NOW(6))*1000 FROM r AS x FORCE INDEX (PRIMARY) WHERE x.id IN (${c.join(',')})`;
    const logVal = (tbl: string, c: number[]) =>
      `INSERT INTO ${tbl} (tbl, pk, op, origin, at) VALUES ${c.map((id) => `('r', '${id}', 'I', 'n1', UNIX_TIMESTAMP(NOW(6))*1000)`).join(',')}`;
    const chunks: number[][] = [];
    for (let i = 0; i < n; i += 1000) chunks.push(ids.slice(i, i + 1000));
    const time = async (k: string, f: (c: number[]) => string) => {
      const t = hr();
      const c0 = hubCpuMs();
      // One pinned connection: the pool would spread BEGIN, the statements and COMMIT.
      await hub.withConnection(async (conn) => {
        await conn.query('BEGIN');
        for (const c of chunks) await conn.query(f(c));
        await conn.query('COMMIT');
      });
      const list = res[k] ?? [];
      list.push(t());
      res[k] = list;
      const cl = cpu[k] ?? [];
      cl.push(hubCpuMs() - c0);
      cpu[k] = cl;
    };
    await time('rows', rowSql);
    const first = rep % 2 === 0 ? '_dualdb_changes' : 'c3';
    for (const tbl of [first, first === 'c3' ? '_dualdb_changes' : 'c3'])
      await time(tbl === 'c3' ? 'log select, no moves index' : 'log select (today)', (c) => logSel(tbl, c));
    if (movesOnly) continue;
    await time('log values', (c) => logVal('_dualdb_changes', c));
    await time('log values, no moves index', (c) => logVal('c3', c));
    await time('log select, no (tbl,pk) index', (c) => logSel('c2', c));
    await time('log values, no (tbl,pk) index', (c) => logVal('c2', c));
  }
  await hub.close();
} finally {
  await server.close();
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [k, v] of Object.entries(res))
  console.log(
    k.padEnd(34),
    'median',
    med(v)?.toFixed(0),
    'ms, hub CPU median',
    med(cpu[k] ?? [])?.toFixed(0),
    'ms  all',
    v.map((x) => x.toFixed(0)).join(','),
  );
