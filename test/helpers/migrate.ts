/**
 * Building blocks for the migration tests: a node (SQLite file) and a fresh hub
 * database, the EPI schema from sql/, a generated EPI dataset, and an
 * independent equality check (canonical rows of every table on both sides,
 * compared row by row — not the compare library the migration verifies with).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, MysqlConfig } from '../../src/config/config.js';
import { MysqlHub } from '../../src/engines/mysql/connect.js';
import { introspectMysql } from '../../src/engines/mysql/introspect.js';
import { introspectSqlite } from '../../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../../src/engines/sqlite/open.js';
import { runSqlFile } from '../../src/schema/runner.js';
import { buildSyncPlan, userTables } from '../../src/sync/plan.js';
import type { TestHub } from './hub.js';
import { nodeConfig } from './node.js';
import { diffRows, hubRows, sqliteRows } from './sync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const EPI_SQLITE = path.join(ROOT, 'sql/sqlite/epi_schema.sql');
export const EPI_MYSQL = path.join(ROOT, 'sql/mysql/epi_schema.sql');
export const EPI_TABLES = ['training_results', 'workers', 'iot_sensors', 'detections', 'iot_data_logs', 'alerts', 'system_logs'];

export interface MigrateSite {
  config: Config;
  mysql: MysqlConfig;
  hub: MysqlHub;
  close(): Promise<void>;
}

/** A fresh hub database and a node config (the SQLite file is not created). */
export async function makeSite(
  testHub: TestHub,
  dir: string,
  name: string,
  env: Record<string, string> = {},
): Promise<MigrateSite> {
  const mysql = await testHub.freshDatabase(`mig_${name}`);
  const config = nodeConfig(dir, name, mysql, env);
  const hub = await MysqlHub.connect(mysql);
  return { config, mysql, hub, close: () => hub.close() };
}

export async function loadEpiSchema(site: MigrateSite, sides: { sqlite?: boolean; mysql?: boolean }): Promise<void> {
  if (sides.sqlite) {
    const db = openSqlite(site.config.sqlitePath, { create: true });
    try {
      await runSqlFile(EPI_SQLITE, { engine: 'sqlite', db });
    } finally {
      db.close();
    }
  }
  if (sides.mysql) await runSqlFile(EPI_MYSQL, { engine: 'mysql', hub: site.hub });
}

/** A generated EPI dataset (SQL inside SQLite: fast, deterministic). */
export function fillEpi(db: SqliteDb, detections: number): void {
  const seq = (n: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`;
  db.transaction(() => {
    db.exec(`${seq(5)} INSERT INTO training_results (id, model_name, model_version, epochs, learning_rate, precision_score, map50, status, is_active, started_at, completed_at, notes)
      SELECT i, 'yolov8', 'v' || i, 50 + i, 0.001 * i, 0.9 + i / 1000.0, 0.1 + i / 7.0, 'completed', i = 5, '2024-01-0' || i || ' 08:00:00.123456', '2024-01-0' || i || ' 10:00:00', CASE WHEN i % 2 THEN NULL ELSE 'note ' || i || ' ✓' END FROM n`);
    db.exec(`${seq(40)} INSERT INTO workers (id, employee_code, name, department, badge_id, email, is_active, hired_on)
      SELECT i, 'E' || printf('%04d', i), 'Worker ' || i || CASE WHEN i % 7 = 0 THEN ' 👷' ELSE '' END, 'Dept ' || (i % 4), CASE WHEN i % 5 = 0 THEN NULL ELSE 'B-' || i END, CASE WHEN i % 3 = 0 THEN '' ELSE 'w' || i || '@example.com' END, i % 9 <> 0, '2023-0' || (1 + i % 9) || '-1' || (i % 10) FROM n`);
    db.exec(`${seq(10)} INSERT INTO iot_sensors (id, sensor_code, name, sensor_type, zone, unit, min_threshold, max_threshold, last_value)
      SELECT i, 'S-' || i, 'Sensor ' || i, CASE i % 3 WHEN 0 THEN 'gas' WHEN 1 THEN 'noise' ELSE 'temperature' END, 'Z' || (i % 3), 'ppm', -1.5 * i, 100.25 * i, i / 3.0 FROM n`);
    db.exec(`${seq(detections)} INSERT INTO detections (id, camera_id, timestamp, frame_number, class_name, total_persons, has_helmet, has_vest, is_compliant, missing_ppe, confidence, bbox_x, bbox_y, image_path, zone, processing_time_ms, worker_id, training_result_id)
      SELECT i, 'cam-' || (i % 8), strftime('%Y-%m-%d %H:%M:%f', '2024-03-01', '+' || i || ' seconds'), i * 3, 'person', 1 + i % 3, i % 2, i % 3 = 0, i % 6 = 0, CASE WHEN i % 6 = 0 THEN NULL ELSE 'helmet' END, (i % 1000) / 1000.0, i * 0.1, 1.0 / i, 'img/' || i || '.jpg', 'Z' || (i % 3), 12.5 + (i % 17) / 3.0, CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 40 END, 1 + i % 5 FROM n`);
    db.exec(`${seq(Math.max(10, Math.floor(detections / 2)))} INSERT INTO iot_data_logs (id, sensor_id, timestamp, value, quality, is_anomaly, raw_payload)
      SELECT i, 1 + i % 10, strftime('%Y-%m-%d %H:%M:%f', '2024-03-01', '+' || (i * 2) || ' seconds'), i / 7.0, 'good', i % 50 = 0, '{"v":' || i || ',"t":"a\tb"}' FROM n`);
    db.exec(`${seq(Math.max(5, Math.floor(detections / 20)))} INSERT INTO alerts (id, alert_type, severity, status, title, message, camera_id, detection_id, sensor_id, worker_id)
      SELECT i, 'ppe', CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'critical' END, 'pending', 'Missing helmet #' || i, 'line 1' || char(10) || 'line 2 \\ back', 'cam-' || (i % 8), i * 10, CASE WHEN i % 2 THEN 1 + i % 10 ELSE NULL END, NULL FROM n`);
    db.exec(`${seq(25)} INSERT INTO system_logs (level, source, message) SELECT 'INFO', 'test', 'log ' || i FROM n`);
  })();
}

/** Differences between SQLite and the hub in every synced table ([] when identical). */
export async function differences(config: Config, hub: MysqlHub, tables?: string[]): Promise<string[]> {
  const db = openSqlite(config.sqlitePath);
  try {
    const plan = buildSyncPlan(introspectSqlite(db), await introspectMysql(hub));
    const out: string[] = [];
    for (const t of userTables(plan)) {
      if (tables && !tables.includes(t.name)) continue;
      for (const d of diffRows(sqliteRows(db, t), await hubRows(hub, t), ['sqlite', 'mysql'])) out.push(`${t.name} ${d}`);
    }
    return out;
  } finally {
    db.close();
  }
}

export function rowCount(db: SqliteDb, table: string): number {
  return Number((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: bigint }).n);
}

export async function hubCount(hub: MysqlHub, table: string): Promise<number> {
  const [r] = await hub.query<{ n: string }>(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number(r?.n ?? 0);
}

/** The `sqlite3` shell (the writer the issue names), or false when it is not installed. */
export const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

/** Runs SQL through the `sqlite3` shell, as another process writing into the file. */
export function sqlite3(file: string, sql: string): void {
  const r = spawnSync('sqlite3', ['-bail', file], { input: `.timeout 10000\n${sql}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr}`);
}

/** A site with the EPI schema on both sides and a generated dataset in SQLite. */
export async function epiSite(testHub: TestHub, dir: string, name: string, detections: number): Promise<MigrateSite> {
  const site = await makeSite(testHub, dir, name);
  await loadEpiSchema(site, { sqlite: true, mysql: true });
  const db = openSqlite(site.config.sqlitePath);
  try {
    fillEpi(db, detections);
  } finally {
    db.close();
  }
  return site;
}

/** Rows the copy of `table` has committed so far (0 before it starts and once it is done). */
export async function copiedSoFar(site: MigrateSite, table = 'detections'): Promise<number> {
  const rows = await site.hub
    .query<{ n: string | null }>('SELECT SUM(rows_done) AS n FROM _dualdb_migration WHERE tbl = ? AND done = 0', [table])
    .catch(() => [{ n: null }]);
  return Number(rows[0]?.n ?? 0);
}
