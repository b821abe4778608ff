/**
 * The EPI schema files and the SQL runner against a private MariaDB and real
 * SQLite files: both twins load (twice: idempotent), introspect to the same
 * tables, columns, keys and indexes, the procedures file (DELIMITER //) imports
 * and its procedures run, and a failing statement is reported with file:line.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rewriteLegacyArgs } from '../src/cli/commands/schema.js';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql, listMysqlViews } from '../src/engines/mysql/introspect.js';
import { introspectSqlite, listSqliteViews } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import type { TableInfo } from '../src/engines/types.js';
import { diffSchemas } from '../src/schema/diff.js';
import { SqlStatementError } from '../src/schema/errors.js';
import { runSql, runSqlFile } from '../src/schema/runner.js';
import { normaliseRule } from '../src/schema/translation.js';
import { columnCompatibility } from '../src/schema/type-map.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MYSQL_SCHEMA = path.join(ROOT, 'sql/mysql/epi_schema.sql');
const MYSQL_PROCEDURES = path.join(ROOT, 'sql/mysql/epi_procedures.sql');
const SQLITE_SCHEMA = path.join(ROOT, 'sql/sqlite/epi_schema.sql');
const EPI_TABLES = ['alerts', 'detections', 'iot_data_logs', 'iot_sensors', 'system_logs', 'training_results', 'workers'];
const EPI_VIEWS = ['pending_alerts', 'recent_detections_with_training', 'worker_stats'];

/** What must be identical on both sides: names, column order, keys, foreign keys, indexes. */
function shape(tables: TableInfo[]) {
  return tables.map((t) => ({
    name: t.name,
    columns: t.columns.map((c) => c.name),
    primaryKey: t.primaryKey,
    foreignKeys: t.foreignKeys
      .map((f) => ({
        columns: f.columns,
        refTable: f.refTable,
        refColumns: f.refColumns,
        onDelete: normaliseRule(f.onDelete),
        onUpdate: normaliseRule(f.onUpdate),
      }))
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    indexes: t.indexes
      .map((i) => ({ name: i.name, columns: i.columns, unique: i.unique }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  }));
}

describe('the old --import-schema spelling', () => {
  it('becomes `schema import <file>`, keeping the other options', () => {
    const base = ['node', 'dualdb'];
    expect(rewriteLegacyArgs([...base, '--import-schema', 'a.sql'])).toEqual([...base, 'schema', 'import', 'a.sql']);
    expect(rewriteLegacyArgs([...base, '--env-file', '.env.x', '--import-schema=b.sql'])).toEqual([
      ...base,
      '--env-file',
      '.env.x',
      'schema',
      'import',
      'b.sql',
    ]);
    expect(rewriteLegacyArgs([...base, 'health'])).toEqual([...base, 'health']);
    expect(rewriteLegacyArgs([...base, '--import-schema'])).toEqual([...base, '--import-schema']);
  });
});

describe('splitting and running SQLite files', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('loads the EPI schema (twice: it is idempotent) with its views', async () => {
    const db = openSqlite(path.join(tmp.dir, 'epi.db'), { create: true });
    const first = await runSqlFile(SQLITE_SCHEMA, { engine: 'sqlite', db });
    await runSqlFile(SQLITE_SCHEMA, { engine: 'sqlite', db });
    expect(first.statements).toBeGreaterThan(30);
    const tables = introspectSqlite(db);
    expect(tables.map((t) => t.name)).toEqual(EPI_TABLES);
    for (const t of tables) {
      expect(t.primaryKey, t.name).toEqual(['id']);
      expect(t.columns.find((c) => c.name === 'id')?.autoIncrement).toBe(true);
    }
    expect(listSqliteViews(db)).toEqual(EPI_VIEWS);
    db.close();
  });

  it('reports a failing statement with file:line, the statement and SQLite’s message', async () => {
    const db = openSqlite(path.join(tmp.dir, 'err.db'), { create: true });
    const file = path.join(tmp.dir, 'bad.sql');
    writeFileSync(
      file,
      "CREATE TABLE a (x);\n-- comment; with a semicolon\nINSERT INTO a VALUES ('ok;');\n\nINSERT INTO missing\n  VALUES (1);\n",
    );
    const e = await runSqlFile(file, { engine: 'sqlite', db }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SqlStatementError);
    const err = e as SqlStatementError;
    expect(err.line).toBe(5);
    expect(err.applied).toBe(2);
    expect(err.message).toContain(`${file}:5`);
    expect(err.message).toContain('INSERT INTO missing VALUES (1)');
    expect(err.serverMessage).toMatch(/no such table: missing/);
    expect(err.hint).toMatch(/2 statements before it were applied/);
    expect(db.prepare('SELECT x FROM a').pluck().all()).toEqual(['ok;']);
    db.close();
  });

  it('reads PRAGMAs and SELECTs in a script without failing, and names a missing file', async () => {
    const db = openSqlite(path.join(tmp.dir, 'pragma.db'), { create: true });
    await expect(
      runSql('PRAGMA user_version = 7;\nPRAGMA journal_mode;\nSELECT 1;', { engine: 'sqlite', db }),
    ).resolves.toMatchObject({
      statements: 3,
    });
    expect(db.pragma('user_version', { simple: true })).toBe(7n);
    await expect(runSqlFile(path.join(tmp.dir, 'nope.sql'), { engine: 'sqlite', db })).rejects.toMatchObject({
      code: 'SQL_FILE_UNREADABLE',
    });
    db.close();
  });
});

describe.skipIf(!HUB_AVAILABLE)('EPI schema on MariaDB and SQLite', () => {
  let hub: TestHub;
  const tmp = tempDir();
  const open: { close: () => unknown }[] = [];
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

  async function freshHub(): Promise<{ cfg: MysqlConfig; mysql: MysqlHub }> {
    const cfg = await hub.freshDatabase('schema');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    return { cfg, mysql };
  }
  function freshSqlite(name: string): SqliteDb {
    const db = openSqlite(path.join(tmp.dir, `${name}.db`), { create: true });
    open.push(db);
    return db;
  }

  it('both twins load, twice, and introspect to the same tables, columns, keys and indexes', async () => {
    const { mysql } = await freshHub();
    const db = freshSqlite('twins');
    await runSqlFile(MYSQL_SCHEMA, { engine: 'mysql', hub: mysql });
    const again = await runSqlFile(MYSQL_SCHEMA, { engine: 'mysql', hub: mysql });
    expect(again.warnings).toEqual([]);
    await runSqlFile(SQLITE_SCHEMA, { engine: 'sqlite', db });

    const m = await introspectMysql(mysql);
    const s = introspectSqlite(db);
    expect(m.map((t) => t.name)).toEqual(EPI_TABLES);
    expect(shape(s)).toEqual(shape(m));
    expect(await listMysqlViews(mysql)).toEqual(EPI_VIEWS);

    // Types round-trip: every column pair is compatible, nullability agrees, nothing to apply.
    for (const st of s) {
      const mt = m.find((t) => t.name === st.name) as TableInfo;
      for (const c of st.columns) {
        const hc = mt.columns.find((x) => x.name === c.name);
        expect(hc, `${st.name}.${c.name}`).toBeDefined();
        expect(columnCompatibility(c, hc as never), `${st.name}.${c.name}`).toBeNull();
        expect(c.nullable, `${st.name}.${c.name} nullable`).toBe(hc?.nullable);
      }
      // No FLOAT, no TIMESTAMP, no DATETIME without fractions on the hub.
      for (const c of mt.columns) {
        expect(c.baseType, `${st.name}.${c.name}`).not.toMatch(/^(float|timestamp)$/);
        if (c.baseType === 'datetime') expect(c.type).toBe('datetime(6)');
      }
    }
    const diff = diffSchemas(s, m);
    expect(diff.inSync).toBe(true);
  });

  it('views and defaults work on both sides; timestamps are UTC with fractions', async () => {
    const { mysql } = await freshHub();
    const db = freshSqlite('views');
    await runSqlFile(MYSQL_SCHEMA, { engine: 'mysql', hub: mysql });
    await runSqlFile(SQLITE_SCHEMA, { engine: 'sqlite', db });
    const seed = [
      "INSERT INTO workers (employee_code, name) VALUES ('E1', 'Ana 😀')",
      "INSERT INTO training_results (model_name, model_version, map50) VALUES ('yolov8n', '1.0', 0.91)",
      "INSERT INTO detections (camera_id, is_compliant, has_helmet, worker_id, training_result_id, confidence) VALUES ('cam1', 1, 1, 1, 1, 0.9)",
      "INSERT INTO detections (camera_id, is_compliant, worker_id, confidence) VALUES ('cam1', 0, 1, 0.8)",
      "INSERT INTO alerts (alert_type, severity, title, detection_id) VALUES ('ppe_violation', 'high', 'No helmet', 2)",
    ];
    for (const sql of seed) {
      await mysql.query(sql);
      db.exec(sql);
    }
    const mStats = await mysql.query<Record<string, unknown>>(
      'SELECT total_detections, violations, compliance_rate FROM worker_stats',
    );
    const sStats = db.prepare('SELECT total_detections, violations, compliance_rate FROM worker_stats').get() as Record<
      string,
      unknown
    >;
    expect(mStats[0]).toMatchObject({ total_detections: '2', violations: '1' });
    expect(Number(mStats[0]?.compliance_rate)).toBe(50);
    expect(sStats).toMatchObject({ total_detections: 2n, violations: 1n, compliance_rate: 50 });
    expect(await mysql.query('SELECT title, severity_rank FROM pending_alerts')).toEqual([
      { title: 'No helmet', severity_rank: 3 },
    ]);
    expect(db.prepare('SELECT title, severity_rank FROM pending_alerts').all()).toEqual([
      { title: 'No helmet', severity_rank: 3n },
    ]);
    const recent = await mysql.query<{ model_name: string | null }>(
      'SELECT model_name FROM recent_detections_with_training ORDER BY id',
    );
    expect(recent.map((r) => r.model_name)).toEqual(['yolov8n', null]);
    expect(db.prepare('SELECT model_name FROM recent_detections_with_training ORDER BY id').pluck().all()).toEqual([
      'yolov8n',
      null,
    ]);

    const [mRow] = await mysql.query<{ created_at: string; drift: string }>(
      'SELECT created_at, TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP(6)) AS drift FROM workers',
    );
    expect(mRow?.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
    expect(Math.abs(Number(mRow?.drift))).toBeLessThan(60);
    const sRow = db
      .prepare("SELECT created_at, (julianday('now') - julianday(created_at)) * 86400 AS drift FROM workers")
      .get() as {
      created_at: string;
      drift: number;
    };
    expect(sRow.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
    expect(Math.abs(sRow.drift)).toBeLessThan(60);
  });

  it('imports the procedures file (DELIMITER //), twice, and CALL get_compliance_stats / cleanup_old_data work', async () => {
    const { mysql } = await freshHub();
    await runSqlFile(MYSQL_SCHEMA, { engine: 'mysql', hub: mysql });
    const r = await runSqlFile(MYSQL_PROCEDURES, { engine: 'mysql', hub: mysql });
    await runSqlFile(MYSQL_PROCEDURES, { engine: 'mysql', hub: mysql });
    expect(r.statements).toBe(4);
    const routines = await mysql.query<{ ROUTINE_NAME: string }>(
      "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY 1",
    );
    expect(routines.map((x) => x.ROUTINE_NAME)).toEqual(['cleanup_old_data', 'get_compliance_stats']);

    await mysql.query(
      `INSERT INTO detections (camera_id, \`timestamp\`, is_compliant, has_helmet, has_vest, confidence) VALUES
        ('cam1', UTC_TIMESTAMP(6) - INTERVAL 3 HOUR, 1, 1, 1, 0.9),
        ('cam1', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, 0, 0, 1, 0.7),
        ('cam2', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, 1, 1, 1, 0.8),
        ('cam1', UTC_TIMESTAMP(6) - INTERVAL 400 DAY, 0, 0, 0, 0.5)`,
    );
    const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    const [totals, perCamera] = (await mysql.query('CALL get_compliance_stats(?, ?, ?)', [
      utc(Date.now() - 86_400_000),
      utc(Date.now() + 86_400_000),
      null,
    ])) as unknown as [Record<string, unknown>[], Record<string, unknown>[]];
    expect(totals?.[0]).toMatchObject({
      total_detections: '3',
      compliant: '2',
      violations: '1',
      without_helmet: '1',
      without_vest: '0',
    });
    expect(Number(totals?.[0]?.compliance_rate)).toBeCloseTo(66.67, 2);
    expect(perCamera?.map((x) => [x.camera_id, x.total_detections])).toEqual([
      ['cam1', '2'],
      ['cam2', '1'],
    ]);
    const [oneCamera] = (await mysql.query('CALL get_compliance_stats(NULL, NULL, ?)', ['cam2'])) as unknown as [
      Record<string, unknown>[],
    ];
    expect(oneCamera?.[0]).toMatchObject({ total_detections: '1' });

    const [cleaned] = (await mysql.query('CALL cleanup_old_data(365)')) as unknown as [Record<string, unknown>[]];
    expect(cleaned?.[0]).toMatchObject({ detections_deleted: '1' });
    await expect(mysql.query('CALL cleanup_old_data(0)')).rejects.toThrow(/at least 1/);
  });

  it('reports a refused statement with file:line and the server’s message, and leaks no session state', async () => {
    const { mysql } = await freshHub();
    const file = path.join(tmp.dir, 'bad-mysql.sql');
    writeFileSync(
      file,
      [
        'SET @leak = 42, FOREIGN_KEY_CHECKS = 0;',
        'CREATE TABLE a (id BIGINT PRIMARY KEY);',
        'DELIMITER //',
        'CREATE PROCEDURE ok() BEGIN SELECT 1; END //',
        'DELIMITER ;',
        '',
        'INSERT INTO a VALUES (1); # a comment; here',
        "SELECT CAST('12abc' AS SIGNED);",
        'INSERT INTO a',
        '  VALUES (1);',
        'SELECT 2;',
      ].join('\n'),
    );
    const e = await runSqlFile(file, { engine: 'mysql', hub: mysql }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SqlStatementError);
    const err = e as SqlStatementError;
    expect(err.line).toBe(9);
    expect(err.applied).toBe(5);
    expect(err.serverCode).toBe('ER_DUP_ENTRY');
    expect(err.message).toMatch(
      new RegExp(`${file.replaceAll('.', '\\.')}:9: MySQL refused \`INSERT INTO a VALUES \\(1\\)\`: Duplicate entry`),
    );
    // Every pooled connection still has its defaults: the script's session died with its connection.
    for (let i = 0; i < 4; i++) {
      const [row] = await mysql.query<{ leak: string | null; fk: string | number }>(
        'SELECT @leak AS leak, @@FOREIGN_KEY_CHECKS AS fk',
      );
      expect(row?.leak).toBeNull();
      expect(Number(row?.fk)).toBe(1);
    }
    // Warnings (not notes) are reported with their line.
    const ok = await runSql(
      "CREATE TABLE w (c VARCHAR(3));\nINSERT IGNORE INTO w VALUES ('toolong');\nCREATE TABLE IF NOT EXISTS a (id INT);",
      {
        engine: 'mysql',
        hub: mysql,
      },
    );
    expect(ok.warnings).toEqual([expect.objectContaining({ line: 2, level: 'Warning', code: 1265 })]);
  });

  it('CLI: `schema import`, the old `--import-schema` spelling, and an error with file:line', async () => {
    const { cfg, mysql } = await freshHub();
    const config = nodeConfig(tmp.dir, 'cli', cfg);
    const env = envOf(config, { DB_CONNECT_TIMEOUT: '30' }); // patient on a loaded machine
    const a = runCli(['schema', 'import', MYSQL_SCHEMA], env);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/10 statement\(s\) from .*epi_schema\.sql ran on MySQL/);
    const b = runCli(['--import-schema', MYSQL_PROCEDURES], env);
    expect(b.code).toBe(0);
    expect((await mysql.query('SHOW PROCEDURE STATUS WHERE Db = DATABASE()')).length).toBe(2);
    const c = runCli(['schema', 'import', '--target', 'sqlite', SQLITE_SCHEMA], env);
    expect(c.code).toBe(0);
    const db = openSqlite(config.sqlitePath);
    open.push(db);
    expect(introspectSqlite(db).map((t) => t.name)).toEqual(EPI_TABLES);

    const bad = path.join(tmp.dir, 'cli-bad.sql');
    writeFileSync(bad, 'SELECT 1;\n\nCREATE TABLE oops (id BIGINT PRIMARY KEY,);\n');
    const d = runCli([`--import-schema=${bad}`], env);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain(`${bad}:3: MySQL refused \`CREATE TABLE oops (id BIGINT PRIMARY KEY,)\``);
    expect(d.stderr).toMatch(/the 1 statement before it was applied/);
    expect(d.stderr).not.toContain(cfg.password);
  });
});
