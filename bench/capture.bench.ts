/**
 * What change capture costs the writers (docs/SYNC-CONTRACT.md, invariant 1: triggers log every
 * write in the writer's own transaction). The EPI `detections` table with
 * dualdb's capture installed (`initNode` on the real sql/ schema) against an
 * identical copy without triggers, on both engines, in the same run:
 *
 *  - SQLite bulk: N rows in one transaction, rows/s;
 *  - SQLite single-row commits (autocommit, WAL, synchronous=NORMAL as dualdb
 *    opens files), µs per insert p50;
 *  - MariaDB bulk: multi-row INSERTs of 1,000 rows in one transaction, rows/s;
 *  - MariaDB single-row autocommit INSERT, ms p50 (one round trip and a commit).
 *
 * Ratios: for rows/s below 1 means capture is slower; for times above 1.
 * Runs alternate captured / plain so drift on a shared machine hits both.
 *
 *   node --import tsx bench/capture.bench.ts [--quick]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { schemaFiles } from '../src/demo/site.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { runSqlFile } from '../src/schema/runner.js';
import { initNode } from '../src/sync/init.js';
import { type BenchOptions, type Figure, figure, hr, percentile, runStandalone } from './lib.js';

const COLUMNS = [
  'camera_id',
  'timestamp',
  'frame_number',
  'has_helmet',
  'has_vest',
  'has_gloves',
  'is_compliant',
  'missing_ppe',
  'confidence',
  'zone',
  'processing_time_ms',
];

function detection(i: number): unknown[] {
  const helmet = i % 5 ? 1 : 0;
  const vest = i % 7 ? 1 : 0;
  return [
    `cam-${i % 8}`,
    `2024-05-${String(1 + (i % 28)).padStart(2, '0')} 10:${String(i % 60).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}`,
    i,
    helmet,
    vest,
    i % 2,
    helmet && vest ? 1 : 0,
    helmet && vest ? null : 'helmet',
    (i % 1000) / 1000,
    `zone-${i % 4}`,
    (i % 400) / 10,
  ];
}

const insertSql = (table: string) => `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;

/** Empties the table and the change log without logging the deletes (capture suppressed, as the syncer applies). */
function emptySqlite(db: SqliteDb, table: string): void {
  db.transaction(() => {
    db.exec('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1');
    db.exec(`DELETE FROM ${table}`);
    db.exec('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1');
    db.exec('DELETE FROM _dualdb_changes');
  })();
}

/** TRUNCATE fires no triggers; `alerts` references `detections`, hence the FK checks off on this connection only. */
async function emptyMysql(hub: MysqlHub, table: string): Promise<void> {
  await hub.withConnection(async (conn) => {
    await conn.query('SET FOREIGN_KEY_CHECKS = 0');
    try {
      await conn.query(`TRUNCATE TABLE ${table}`);
      await conn.query('TRUNCATE TABLE _dualdb_changes');
    } finally {
      await conn.query('SET FOREIGN_KEY_CHECKS = 1');
    }
  });
}

function sqliteBulk(db: SqliteDb, table: string, n: number): number {
  emptySqlite(db, table);
  const ins = db.prepare(insertSql(table));
  const t = hr();
  db.transaction(() => {
    for (let i = 1; i <= n; i++) ins.run(...detection(i));
  })();
  return n / (t() / 1000);
}

function sqliteSingle(db: SqliteDb, table: string, n: number): number {
  const ins = db.prepare(insertSql(table));
  const lat: number[] = [];
  for (let i = 1; i <= n; i++) {
    const row = detection(i);
    const t = hr();
    ins.run(...row);
    lat.push(t() * 1000);
  }
  return percentile(lat, 0.5);
}

async function mysqlBulk(hub: MysqlHub, table: string, n: number): Promise<number> {
  await emptyMysql(hub, table);
  const rows = Array.from({ length: n }, (_, i) => detection(i + 1));
  const t = hr();
  await hub.transaction(async (conn) => {
    for (let i = 0; i < n; i += 1000)
      await conn.query(`INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES ?`, [rows.slice(i, i + 1000)]);
  });
  return n / (t() / 1000);
}

async function mysqlSingle(hub: MysqlHub, table: string, n: number): Promise<number> {
  const lat: number[] = [];
  const sql = insertSql(table);
  await hub.withConnection(async (conn) => {
    for (let i = 1; i <= n; i++) {
      const row = detection(i);
      const t = hr();
      await conn.query(sql, row);
      lat.push(t());
    }
  });
  return percentile(lat, 0.5);
}

export async function run(options: BenchOptions): Promise<Figure[]> {
  const reps = options.quick ? 3 : 5;
  const bulkN = options.quick ? 20_000 : 100_000;
  const singleN = options.quick ? 500 : 2_000;
  const mysqlBulkN = options.quick ? 20_000 : 100_000;
  const mysqlSingleN = options.quick ? 200 : 1_000;

  const m = await options.server.freshDatabase('capture');
  const config = loadConfig({
    env: {
      SQLITE_DB_PATH: path.join(options.dir, 'capture.db'),
      DB_HOST: m.host,
      DB_PORT: String(m.port),
      DB_USER: m.user,
      DB_PASSWORD: m.password,
      DB_NAME: m.database,
      NODE_ID: 'capture',
      LOG_FILE: path.join(options.dir, 'capture.log'),
    },
    envFile: undefined,
    cwd: options.dir,
  });
  const files = schemaFiles();
  const db = openSqlite(config.sqlitePath, { create: true });
  const hub = await MysqlHub.connect(m);
  try {
    await runSqlFile(files.sqlite, { engine: 'sqlite', db });
    await runSqlFile(files.mysql, { engine: 'mysql', hub });
    await initNode(config);
    // The uncaptured twins, made after capture was installed so they stay without triggers.
    const ddl = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'detections'").pluck().get() as string;
    db.exec(ddl.replace(/CREATE TABLE( IF NOT EXISTS)? detections/i, 'CREATE TABLE detections_plain'));
    // …with the same indexes (the table's DDL does not carry them).
    const indexes = db
      .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL")
      .all() as { name: string; sql: string }[];
    for (const ix of indexes) {
      db.exec(ix.sql.replace(ix.name, `${ix.name}_plain`).replace(/\bON\s+("?)detections\1\s*\(/i, 'ON detections_plain ('));
    }
    await hub.execute('CREATE TABLE detections_plain LIKE detections');
    const triggers = (t: string) =>
      Number(db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?").pluck().get(t));
    if (triggers('detections') !== 3 || triggers('detections_plain') !== 0) throw new Error('capture not installed as expected');
    const indexCount = (t: string) =>
      Number(db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?").pluck().get(t));
    if (indexCount('detections') !== indexCount('detections_plain')) throw new Error('the plain copy lacks indexes');

    const pair = async (fn: (table: string) => Promise<number> | number) => {
      const captured: number[] = [];
      const plain: number[] = [];
      for (let r = 0; r < reps; r++) {
        // Alternate which goes first.
        if (r % 2) {
          plain.push(await fn('detections_plain'));
          captured.push(await fn('detections'));
        } else {
          captured.push(await fn('detections'));
          plain.push(await fn('detections_plain'));
        }
      }
      return { captured, plain };
    };
    const noCapture = 'same table without triggers';
    const sb = await pair((t) => sqliteBulk(db, t, bulkN));
    const ss = await pair((t) => sqliteSingle(db, t, singleN));
    const mb = await pair((t) => mysqlBulk(hub, t, mysqlBulkN));
    const ms = await pair((t) => mysqlSingle(hub, t, mysqlSingleN));
    const k = (n: number) => `${n / 1000}k`;
    return [
      figure(`SQLite bulk insert, ${k(bulkN)} rows in 1 tx, captured`, 'rows/s', sb.captured, {
        name: noCapture,
        runs: sb.plain,
      }),
      figure(
        'SQLite single-row commit p50, captured',
        'µs',
        ss.captured,
        { name: noCapture, runs: ss.plain },
        'WAL, synchronous=NORMAL',
      ),
      figure(`MariaDB multi-row INSERT, ${k(mysqlBulkN)} rows in 1 tx, captured`, 'rows/s', mb.captured, {
        name: noCapture,
        runs: mb.plain,
      }),
      figure(
        'MariaDB autocommit INSERT p50, captured',
        'ms',
        ms.captured,
        { name: noCapture, runs: ms.plain },
        'one round trip + commit',
      ),
    ];
  } finally {
    db.close();
    await hub.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runStandalone('capture', run);
}
