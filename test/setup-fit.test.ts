/**
 * Setup against a hub that already holds the application's own, narrower MySQL
 * schema (test/fixtures/epi-hub-schema.sql: FLOAT rates, DATETIME without
 * fractions, INT ids, short VARCHARs, NOT NULL columns, case-insensitive text keys,
 * views and a DELIMITER procedure), with an SQLAlchemy-shaped SQLite file whose
 * values do not fit: `setup --quick --migrate` stops before its first write and
 * leaves both sides exactly as they were; `schema fit --yes` widens the hub
 * (foreign keys included); setup then copies everything and every value reads back
 * exactly; the views and the procedure still run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { runSqlFile } from '../src/schema/runner.js';
import { runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'epi-hub-schema.sql');
const TABLES = ['training_results', 'iot_sensors', 'detections'];
const FAMILY_70 = 'yolo-family-'.padEnd(70, 'x');

/** The SQLite file as Flask-SQLAlchemy's db.create_all() and the application leave it. */
const SQLITE_DDL = `
CREATE TABLE training_results (
  id INTEGER NOT NULL, timestamp DATETIME, model_name VARCHAR(255) NOT NULL, model_version VARCHAR(50),
  model_family VARCHAR(50) NOT NULL, dataset_size INTEGER, epochs INTEGER, train_accuracy FLOAT, val_loss FLOAT,
  status VARCHAR(20), created_at DATETIME, PRIMARY KEY (id));
CREATE TABLE iot_sensors (
  id INTEGER NOT NULL, sensor_id VARCHAR(50) NOT NULL, sensor_name VARCHAR(100) NOT NULL, last_update DATETIME,
  PRIMARY KEY (id), UNIQUE (sensor_id));
CREATE TABLE detections (
  id INTEGER NOT NULL, timestamp DATETIME, training_result_id INTEGER, sensor_id INTEGER, source VARCHAR(50) NOT NULL,
  total_persons INTEGER, with_helmet INTEGER, compliance_rate FLOAT, ensemble_mode BOOLEAN, shift_start TIME,
  PRIMARY KEY (id),
  FOREIGN KEY(training_result_id) REFERENCES training_results (id),
  FOREIGN KEY(sensor_id) REFERENCES iot_sensors (id));
INSERT INTO training_results VALUES
  (1, '2026-02-01 10:11:12.123456', 'best.pt', NULL, '${FAMILY_70}', 5000000000, 100, 12.345678901234567, 0.1, 'completed', '2026-02-01 00:00:00.000000'),
  (3000000000, '2026-02-02 08:00:00.000000', 'last.pt', 'v2', 'yolov8', 1200, 50, 0.875, 0.25, 'completed', '2026-02-02 08:00:00.000000');
INSERT INTO iot_sensors VALUES
  (1, 'S-1', 'gate', '2026-02-01 00:00:00.000001'),
  (2, 's-1', 'gate (lower case)', '2026-02-01 00:00:00.000000'),
  (3, 'S-1 ', 'gate (trailing space)', NULL);
INSERT INTO detections VALUES
  (1, '2026-02-03 09:00:00.500000', 1, 1, 'camera', 3, 2, 0.6666666666666666, 0, '08:00:00.250000'),
  (2, '2026-02-03 09:00:01.000000', 3000000000, 2, 'camera', 4, 4, 1.0, 1, '08:00:00.000000'),
  (3, '2026-02-03 09:00:02.000000', NULL, 3, 'upload', 0, 0, 0.0, 0, NULL);
`;

describe.skipIf(!HUB_AVAILABLE)('setup against a hub with the application’s own schema', () => {
  let hub: TestHub;
  let m: MysqlConfig;
  const tmp = tempDir('dualdb-fit-');
  const sqlitePath = path.join(tmp.dir, 'epi.db');
  beforeAll(async () => {
    hub = await startTestHub();
    m = await hub.freshDatabase('fit');
    const h = await MysqlHub.connect(m);
    try {
      await runSqlFile(FIXTURE, { engine: 'mysql', hub: h });
    } finally {
      await h.close();
    }
    const db = openSqlite(sqlitePath, { create: true });
    db.exec(SQLITE_DDL);
    db.close();
  }, 120_000);
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    DB_PASSWORD: m.password,
    ...extra,
  });
  const hubFlags = () => ['--host', m.host, '--port', String(m.port), '--user', m.user, '--database', m.database];
  const setup = () =>
    runCli(['setup', '--quick', '--sqlite', sqlitePath, ...hubFlags(), '--migrate'], env(), {
      cwd: tmp.dir,
      timeoutMs: 180_000,
    });
  const dualdb = (args: string[]) =>
    runCli(
      args,
      env({ SQLITE_DB_PATH: sqlitePath, DB_HOST: m.host, DB_PORT: String(m.port), DB_USER: m.user, DB_NAME: m.database }),
      {
        cwd: tmp.dir,
        timeoutMs: 180_000,
      },
    );

  async function hubSnapshot(): Promise<unknown> {
    const h = await MysqlHub.connect(m);
    try {
      const objects = await h.query<{ TABLE_NAME: string; TABLE_TYPE: string }>(
        'SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
      );
      const out: Record<string, unknown> = { objects };
      for (const o of objects) {
        const isView = o.TABLE_TYPE === 'VIEW';
        out[`ddl:${o.TABLE_NAME}`] = await h.query(`SHOW CREATE ${isView ? 'VIEW' : 'TABLE'} \`${o.TABLE_NAME}\``);
        if (!isView) out[`rows:${o.TABLE_NAME}`] = await h.query(`SELECT * FROM \`${o.TABLE_NAME}\` ORDER BY 1`);
      }
      out.triggers = await h.query('SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()');
      out.routines = await h.query(
        'SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()',
      );
      return out;
    } finally {
      await h.close();
    }
  }

  function sqliteSnapshot(): unknown {
    const db = openSqlite(sqlitePath, { readonly: true });
    try {
      const schema = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name').all();
      const rows = Object.fromEntries(
        TABLES.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY 1`).raw(true).safeIntegers(true).all()]),
      );
      return { schema, rows };
    } finally {
      db.close();
    }
  }

  it('setup stops before writing, schema fit widens, then setup copies every value exactly', async () => {
    // 1. Setup fails on the pre-flight, and nothing changed on either side.
    const hubBefore = await hubSnapshot();
    const sqliteBefore = sqliteSnapshot();
    const failed = setup();
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('Check the schema and the data before writing failed');
    expect(failed.stderr).toContain('its columns are narrower than the SQLite data');
    expect(failed.stderr).toContain('`dualdb schema fit`');
    // The findings are printed, each naming the table, key and value.
    expect(failed.stdout).toMatch(/training_results \[id=1\] dataset_size = 5000000000 — out-of-range/);
    expect(failed.stdout).toMatch(/training_results \[id=1\] train_accuracy = 12\.345678901234567 — precision-loss/);
    expect(failed.stdout).toMatch(/training_results \[id=1\] model_version = NULL — null-not-allowed/);
    expect(failed.stdout).toMatch(/training_results \[id=1\] model_family = .* — too-long: 70 characters/);
    expect(failed.stdout).toMatch(/detections \[id=1\] timestamp = "2026-02-03 09:00:00.500000" — datetime-changed/);
    expect(failed.stdout).toMatch(/iot_sensors \[id=2\] sensor_id = "s-1" — duplicate-key/);
    // '.000000' fractions are not a loss: detections 2's timestamp is not reported.
    expect(failed.stdout).not.toMatch(/detections \[id=2\] timestamp/);
    expect(failed.stdout).not.toContain('Create the schema');
    expect(failed.stdout).not.toContain('Install change capture');
    expect(existsSync(path.join(tmp.dir, '.env'))).toBe(false);
    expect(await hubSnapshot()).toEqual(hubBefore);
    expect(sqliteSnapshot()).toEqual(sqliteBefore);

    // 2. schema fit: the plan first (dry run changes nothing), then widened with --yes.
    const dry = dualdb(['schema', 'fit', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('train_accuracy: float NULL → DOUBLE NULL');
    expect(dry.stdout).toContain('needs a copy of the table');
    expect(await hubSnapshot()).toEqual(hubBefore);
    // Without a terminal it asks for --yes rather than changing anything.
    const unasked = dualdb(['schema', 'fit']);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain('schema fit changes the databases and asks first');
    expect(await hubSnapshot()).toEqual(hubBefore);
    const fit = dualdb(['schema', 'fit', '--yes']);
    expect(fit.stderr).toBe('');
    expect(fit.code).toBe(0);
    expect(fit.stdout).toMatch(/✔ training_results: widened \(ALGORITHM=/);
    // Not set up yet: the next step is setup or migrate (a syncing node is told `dualdb parked retry`).
    expect(fit.stdout).toContain('then `dualdb setup` or `dualdb migrate`');
    // Foreign-key ends follow their parents: detections.training_result_id became BIGINT too.
    const h = await MysqlHub.connect(m);
    try {
      const cols = await h.query<{ TABLE_NAME: string; COLUMN_NAME: string; COLUMN_TYPE: string; COLLATION_NAME: string | null }>(
        `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('training_results', 'detections', 'iot_sensors')`,
      );
      const type = (t: string, c: string) => cols.find((x) => x.TABLE_NAME === t && x.COLUMN_NAME === c)?.COLUMN_TYPE;
      expect(type('training_results', 'id')).toBe('bigint(20)');
      expect(type('detections', 'training_result_id')).toBe('bigint(20)');
      expect(type('detections', 'sensor_id')).toBe('bigint(20)');
      expect(type('training_results', 'train_accuracy')).toBe('double');
      expect(type('detections', 'timestamp')).toBe('datetime(6)');
      expect(type('detections', 'shift_start')).toBe('time(6)');
      expect(type('training_results', 'model_family')).toBe('varchar(70)');
      expect(cols.find((x) => x.COLUMN_NAME === 'sensor_id' && x.TABLE_NAME === 'iot_sensors')?.COLLATION_NAME).toMatch(
        /nopad_bin|0900_bin/,
      );
      const fks = await h.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'detections'",
      );
      expect(Number(fks[0]?.n)).toBe(2);
    } finally {
      await h.close();
    }
    // Nothing left to widen.
    expect(dualdb(['schema', 'fit', '--dry-run']).stdout).toContain('nothing to widen');

    // 3. Setup now finishes and every value reads back exactly.
    const ok = setup();
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('✔ Check the schema and the data before writing: 8 rows checked');
    expect(ok.stdout).toContain('✔ setup done');
    const h2 = await MysqlHub.connect(m);
    try {
      const tr = await h2.query<Record<string, unknown>>('SELECT * FROM training_results ORDER BY id');
      expect(tr[0]).toMatchObject({
        id: '1',
        timestamp: '2026-02-01 10:11:12.123456',
        model_version: null,
        model_family: FAMILY_70,
        dataset_size: '5000000000',
        train_accuracy: 12.345678901234567,
        val_loss: 0.1,
      });
      expect(tr[1]).toMatchObject({ id: '3000000000' });
      const sensors = await h2.query<{ sensor_id: string }>('SELECT sensor_id FROM iot_sensors ORDER BY id');
      expect(sensors.map((s) => s.sensor_id)).toEqual(['S-1', 's-1', 'S-1 ']);
      const det = await h2.query<Record<string, unknown>>('SELECT * FROM detections ORDER BY id');
      expect(det[0]).toMatchObject({ timestamp: '2026-02-03 09:00:00.500000', compliance_rate: 0.6666666666666666 });
      expect(det[0]?.shift_start).toBe('08:00:00.250000');
      expect(det[1]).toMatchObject({ training_result_id: '3000000000' });
      // The views and the procedure still run over the widened columns.
      const view = await h2.query<{ model_family: string | null }>('SELECT * FROM recent_detections ORDER BY id');
      expect(view[0]?.model_family).toBe(FAMILY_70);
      const act = await h2.query<{ sensor_id: string; detections: string | number }>('SELECT * FROM sensor_activity');
      expect(act).toHaveLength(3);
      const called = (await h2.query('CALL compliance_since(?)', ['2026-01-01 00:00:00'])) as unknown as {
        n: string | number;
      }[][];
      expect(Number(called[0]?.[0]?.n)).toBe(3);
    } finally {
      await h2.close();
    }
  }, 600_000);
});
