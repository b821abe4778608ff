/**
 * Schema diff and apply between a full local EPI database and a half-created hub:
 * what exists on each side, the DDL plan (CREATE TABLE in foreign-key order, ADD
 * COLUMN where safe), what is left alone, applying it, and the CLI around it.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql } from '../src/engines/mysql/introspect.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { applySchemaPlan, diffDatabases, type SchemaDiff } from '../src/schema/diff.js';
import { runSqlFile } from '../src/schema/runner.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

describe.skipIf(!HUB_AVAILABLE)('schema diff and apply', () => {
  let hub: TestHub;
  const tmp = tempDir();
  const open: { close: () => unknown }[] = [];
  let n = 0;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  /**
   * SQLite: the whole EPI schema, plus workers.shift and a local table site_notes (text key, FK to workers).
   * Hub: EPI without detections, iot_data_logs and alerts; workers lacks phone and has badge_color and a
   * NOT NULL rank without default; iot_sensors.min_threshold is FLOAT; plus a hub-only table hub_audit.
   */
  async function halfCreated(): Promise<{ cfg: MysqlConfig; mysql: MysqlHub; db: SqliteDb; file: string }> {
    const cfg = await hub.freshDatabase('diff');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    await runSqlFile(path.join(ROOT, 'sql/mysql/epi_schema.sql'), { engine: 'mysql', hub: mysql });
    for (const sql of [
      'DROP VIEW recent_detections_with_training, pending_alerts, worker_stats',
      'DROP TABLE alerts, iot_data_logs, detections',
      'ALTER TABLE workers DROP COLUMN phone, ADD COLUMN badge_color VARCHAR(10) NULL, ADD COLUMN `rank` INT NOT NULL',
      'ALTER TABLE iot_sensors MODIFY min_threshold FLOAT NULL',
      "CREATE TABLE hub_audit (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NULL, what VARCHAR(200) NOT NULL DEFAULT 'x', at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)), CONSTRAINT fk_hub_audit_worker FOREIGN KEY (worker_id) REFERENCES workers (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    ])
      await mysql.query(sql);
    const file = path.join(tmp.dir, `node${++n}.db`);
    const db = openSqlite(file, { create: true });
    open.push(db);
    await runSqlFile(path.join(ROOT, 'sql/sqlite/epi_schema.sql'), { engine: 'sqlite', db });
    db.exec(`ALTER TABLE workers ADD COLUMN shift VARCHAR(20) DEFAULT 'day';
      CREATE TABLE site_notes (slug TEXT PRIMARY KEY, worker_id INTEGER REFERENCES workers(id) ON DELETE CASCADE, body TEXT NOT NULL DEFAULT '');`);
    return { cfg, mysql, db, file };
  }

  const byTable = (d: SchemaDiff, t: string) => d.tables.find((x) => x.table === t);

  it('lists what exists on each side, the safe DDL plan in foreign-key order, and what it leaves alone', async () => {
    const { mysql, db } = await halfCreated();
    const d = await diffDatabases(db, mysql);
    expect(d.inSync).toBe(false);
    expect(d.tables.filter((t) => t.presence === 'sqlite-only').map((t) => t.table)).toEqual([
      'alerts',
      'detections',
      'iot_data_logs',
      'site_notes',
    ]);
    expect(d.tables.filter((t) => t.presence === 'mysql-only').map((t) => t.table)).toEqual(['hub_audit']);
    expect(byTable(d, 'workers')).toMatchObject({ missingOnMysql: ['phone', 'shift'], missingOnSqlite: ['badge_color', 'rank'] });
    expect(byTable(d, 'iot_sensors')?.different).toEqual([
      expect.objectContaining({ column: 'min_threshold', reason: expect.stringMatching(/FLOAT is 32-bit/) }),
    ]);

    const mysqlCreates = d.plan.filter((s) => s.target === 'mysql' && s.action === 'create-table').map((s) => s.table);
    expect(mysqlCreates.indexOf('detections')).toBeLessThan(mysqlCreates.indexOf('alerts'));
    expect(new Set(mysqlCreates)).toEqual(new Set(['alerts', 'detections', 'iot_data_logs', 'site_notes']));
    expect(d.plan.filter((s) => s.action === 'add-column').map((s) => `${s.target}:${s.table}.${s.column}`)).toEqual([
      'mysql:workers.phone',
      'mysql:workers.shift',
      'sqlite:workers.badge_color',
    ]);
    expect(d.plan.find((s) => s.target === 'sqlite' && s.action === 'create-table')?.sql).toMatch(/^CREATE TABLE "hub_audit"/);
    const untouched = d.untouched.map((u) => `${u.table}.${u.column ?? ''}: ${u.problem}`);
    expect(untouched).toContain('workers.rank: only on the hub');
    expect(untouched.some((u) => u.startsWith('iot_sensors.min_threshold: REAL vs float'))).toBe(true);

    // --only mysql: the plan touches the hub alone.
    const hubOnly = await diffDatabases(db, mysql, { direction: 'mysql' });
    expect(hubOnly.plan.every((s) => s.target === 'mysql')).toBe(true);
    // --tables: only those.
    const some = await diffDatabases(db, mysql, { tables: ['detections', 'workers'] });
    expect(some.tables.map((t) => t.table)).toEqual(['detections', 'workers']);
  });

  it('applies the plan; afterwards only what it must not touch is left, and the new tables work with their keys', async () => {
    const { mysql, db } = await halfCreated();
    const d = await diffDatabases(db, mysql);
    const seen: string[] = [];
    const report = await applySchemaPlan(d.plan, { db, hub: mysql }, { onStep: (s) => seen.push(s.table) });
    expect(report.ok).toBe(true);
    expect(report.steps.every((s) => s.status === 'applied')).toBe(true);
    expect(seen).toHaveLength(d.plan.length);

    const after = await diffDatabases(db, mysql);
    expect(after.plan).toEqual([]);
    expect(after.tables.map((t) => t.table)).toEqual(['iot_sensors', 'workers']);
    expect(byTable(after, 'workers')).toMatchObject({ missingOnMysql: [], missingOnSqlite: ['rank'] });

    const m = new Map((await introspectMysql(mysql)).map((t) => [t.name, t]));
    expect(
      m
        .get('detections')
        ?.foreignKeys.map((f) => f.refTable)
        .sort(),
    ).toEqual(['training_results', 'workers']);
    expect(m.get('site_notes')?.columns.find((c) => c.name === 'slug')?.type).toBe('varchar(255)');
    expect(m.get('site_notes')?.foreignKeys[0]).toMatchObject({ refTable: 'workers', onDelete: 'CASCADE' });
    expect(m.get('workers')?.columns.find((c) => c.name === 'shift')).toMatchObject({
      type: 'varchar(20)',
      defaultValue: "'day'",
    });
    await mysql.query("INSERT INTO workers (employee_code, name, `rank`) VALUES ('E1', 'Ana', 1)");
    await mysql.query("INSERT INTO detections (camera_id, worker_id) VALUES ('cam1', 1)");
    await expect(mysql.query("INSERT INTO detections (camera_id, worker_id) VALUES ('cam1', 999)")).rejects.toThrow(
      /foreign key/i,
    );
    const s = new Map(introspectSqlite(db).map((t) => [t.name, t]));
    expect(s.get('hub_audit')?.foreignKeys[0]).toMatchObject({ refTable: 'workers', columns: ['worker_id'] });
    expect(s.get('workers')?.columns.find((c) => c.name === 'badge_color')?.type).toBe('VARCHAR(10)');
  });

  it('stops at a refused step: hub steps after it do not run, SQLite steps roll back together', async () => {
    const { mysql, db } = await halfCreated();
    const d = await diffDatabases(db, mysql);
    await mysql.query('CREATE TABLE iot_data_logs (id BIGINT PRIMARY KEY)'); // appears between diff and apply
    const r = await applySchemaPlan(d.plan, { db, hub: mysql });
    expect(r.ok).toBe(false);
    const failed = r.steps.find((s) => s.status === 'failed');
    expect(failed).toMatchObject({ target: 'mysql', table: 'iot_data_logs', error: expect.stringMatching(/already exists/) });
    expect(r.error?.message).toMatch(/^schema apply step \d+ \(iot_data_logs\): MySQL refused `CREATE TABLE `iot_data_logs`/);
    expect(r.steps.filter((s) => s.target === 'sqlite').every((s) => s.status === 'not-run')).toBe(true);

    // SQLite side alone, with its second statement refused: the first is rolled back too.
    const sqliteOnly = await diffDatabases(db, mysql, { direction: 'sqlite' });
    expect(sqliteOnly.plan.length).toBeGreaterThanOrEqual(2);
    const last = sqliteOnly.plan.at(-1);
    const broken = [
      ...sqliteOnly.plan.slice(0, -1),
      { ...(last as (typeof sqliteOnly.plan)[number]), sql: 'ALTER TABLE nope ADD COLUMN x' },
    ];
    const r2 = await applySchemaPlan(broken, { db });
    expect(r2.ok).toBe(false);
    expect(r2.steps.map((s) => s.status)).toEqual([...broken.slice(0, -1).map(() => 'not-run'), 'failed']);
    expect(introspectSqlite(db).map((t) => t.name)).not.toContain('hub_audit');
  });

  it('CLI: diff exits 20 with the DDL, apply refuses without a terminal unless --yes, then only hand-made fixes remain', async () => {
    const { cfg, file } = await halfCreated();
    for (const o of open.splice(0)) await o.close();
    const config = nodeConfig(tmp.dir, 'cli', cfg, { SQLITE_DB_PATH: file });
    const env = envOf(config, { DB_CONNECT_TIMEOUT: '30' }); // patient on a loaded machine

    const diff = runCli(['schema', 'diff'], env);
    expect(diff.code).toBe(20);
    expect(diff.stdout).toContain('only in SQLite: alerts, detections, iot_data_logs, site_notes');
    expect(diff.stdout).toContain('only on the hub: hub_audit');
    expect(diff.stdout).toMatch(/CREATE TABLE `detections`/);
    expect(diff.stdout).toMatch(/ALTER TABLE `workers` ADD COLUMN `phone` VARCHAR\(50\) NULL;/);
    expect(diff.stdout).toMatch(/workers\.rank: only on the hub/);
    // Issue 11 item 1: the key kind of every table (site_notes has a text key).
    expect(diff.stdout).toMatch(/● generated keys: .*\bworkers\b/);
    expect(diff.stdout).toContain('● natural keys: site_notes');

    const json = runCli(['schema', 'diff', '--json', '--tables', 'workers'], env);
    expect(json.code).toBe(20);
    const parsed = JSON.parse(json.stdout) as SchemaDiff;
    expect(parsed.tables.map((t) => t.table)).toEqual(['workers']);
    expect(parsed.keyKinds).toEqual({ workers: 'generated' });

    const refused = runCli(['schema', 'apply'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/no terminal to ask in — run it again with --yes/);

    const applied = runCli(['schema', 'apply', '--yes'], env);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/✔ MySQL {2}create-table detections/);
    expect(applied.stdout).toContain('dualdb init');

    const again = runCli(['schema', 'apply', '--yes'], env);
    expect(again.code).toBe(20);
    expect(again.stdout).toContain('nothing that apply can do safely');
  });

  it('CLI: matching schemas diff clean (exit 0)', async () => {
    const cfg = await hub.freshDatabase('clean');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    await runSqlFile(path.join(ROOT, 'sql/mysql/epi_schema.sql'), { engine: 'mysql', hub: mysql });
    const config = nodeConfig(tmp.dir, 'clean', cfg);
    const db = openSqlite(config.sqlitePath, { create: true });
    await runSqlFile(path.join(ROOT, 'sql/sqlite/epi_schema.sql'), { engine: 'sqlite', db });
    db.close();
    const r = runCli(['schema', 'diff'], envOf(config, { DB_CONNECT_TIMEOUT: '30' }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/the schemas match \(7 table\(s\)\)/);
  });
});
