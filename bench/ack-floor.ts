/**
 * Where the `mysql_primary` acknowledgment's server time goes (issue 16): the write's one query, cut
 * down statement by statement, against bare autocommit inserts, on one raw mysql2 connection each
 * (no dualdb client code, no SQLite). Round robin, one of each variant per round, so that every
 * variant sees the same load. Not part of `npm run bench`.
 *
 *   node --import tsx bench/ack-floor.ts [--rounds 400]
 *
 * Variants: `bare, no capture` (a table without the capture trigger); `bare, captured` (the
 * modes bench's floor); then the mysql_primary query with its statements added one by one: the
 * token row's form (capture version 1), and the form where the capture trigger logs the token
 * (version 2), without and with the fence.
 */
import os from 'node:os';
import mysql from 'mysql2/promise';
import { hr, median, percentile, scratchDir, startBenchServer } from './lib.js';
import { makeNode } from './modes.bench.js';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 400;
const server = await startBenchServer();
const scratch = scratchDir();
try {
  const config = await makeNode({ quick: true, server, dir: scratch.dir }, 'floor', 'mysql_primary');
  const m = config.mysql;
  const opts = { host: m.host, port: m.port, user: m.user, password: m.password, database: m.database };
  const plain = await mysql.createConnection(opts);
  const multi = await mysql.createConnection({ ...opts, multipleStatements: true });
  await plain.query('CREATE TABLE bench_plain LIKE bench_rows'); // LIKE copies no trigger
  const row = "('floor', 1)";
  const set = "SET @dualdb_origin = 'floor', autocommit = 0";
  const ins = `INSERT INTO bench_rows (payload, t_ms) VALUES ${row} RETURNING id, payload, t_ms`;
  let n = 0;
  const token = () =>
    `INSERT INTO _dualdb_write_tokens (token, node_id, at) SELECT CONCAT('t${process.pid}-${n++}:', LAST_INSERT_ID()), 'probe', NOW(6) FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM _dualdb_nodes WHERE node_id = 'probe' AND push_token IS NOT NULL)`;
  const stop = "SET SESSION sql_mode = IF(ROW_COUNT() = 1, @@session.sql_mode, 'dualdb: stop')";
  // Capture version 2 (bench_rows' trigger, installed by makeNode on MariaDB 10.5+): the token logged
  // by the trigger; the check and the commit in one statement (api/hub-insert.ts).
  const setToken = () =>
    `SET @dualdb_origin = 'floor', @dualdb_token_tbl = CONCAT(DATABASE(), '.bench_rows'), @dualdb_token = '${(n++).toString(16).padStart(32, '0')}', autocommit = 0`;
  const fence =
    "EXISTS (SELECT 1 FROM _dualdb_nodes WHERE node_id = 'probe' AND push_token IS NOT NULL AND push_token NOT IN ('x') LOCK IN SHARE MODE)";
  const check = (f: string) =>
    `SET autocommit = CASE WHEN @dualdb_token_tbl IS NOT NULL THEN 'dualdb: not logged' ${f ? `WHEN ${f} THEN 'dualdb: held' ` : ''}ELSE 'ON' END`;
  const variants: [string, () => Promise<unknown>][] = [
    ['bare, no capture (autocommit)', () => plain.query(`INSERT INTO bench_plain (payload, t_ms) VALUES ${row}`)],
    ['bare, captured (autocommit)', () => plain.query(`INSERT INTO bench_rows (payload, t_ms) VALUES ${row}`)],
    ['SET; INSERT RETURNING; COMMIT', () => multi.query([set, ins, 'COMMIT'].join(';'))],
    ['+ token', () => multi.query([set, ins, token(), 'COMMIT'].join(';'))],
    ['+ token + stop (capture v1: token row)', () => multi.query([set, ins, token(), stop, 'COMMIT'].join(';'))],
    ['INSERT RETURNING; token; COMMIT (no SET)', () => multi.query([ins, token(), 'COMMIT'].join(';'))],
    ['SET token; INSERT RETURNING; check + commit, no fence', () => multi.query([setToken(), ins, check('')].join(';'))],
    [
      'SET token; INSERT RETURNING; check + fence + commit (capture v2)',
      () => multi.query([setToken(), ins, check(fence)].join(';')),
    ],
  ];
  await multi.query('SET autocommit = 0');
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let v = 0; v < variants.length; v++) {
      const k = (v + r) % variants.length;
      const t = hr();
      await variants[k]?.[1]();
      times[k]?.push(t());
    }
  }
  const floor = median(times[1] ?? []);
  for (let v = 0; v < variants.length; v++) {
    const xs = times[v] ?? [];
    console.log(
      `${variants[v]?.[0]}: p50 ${median(xs).toFixed(3)} ms (${(median(xs) / floor).toFixed(2)}× captured bare), p90 ${percentile(xs, 0.9).toFixed(3)} ms`,
    );
  }
  console.log(
    `${rounds} rounds; load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  await plain.end();
  await multi.end();
} finally {
  await server.close();
  scratch.cleanup();
}
