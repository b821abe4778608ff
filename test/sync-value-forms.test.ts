/**
 * docs/SYNC-CONTRACT.md invariant 14: a value arriving in SQLite is stored in the text form the
 * application itself writes in that column — six fraction digits where SQLAlchemy writes them,
 * none where the application writes none, its own separator — so its exact-match and range queries
 * find rows made on the hub. Decided per column from the values it holds, overridable with
 * SYNC_VALUE_FORMS, and the same for pull, the migration from MySQL and repair.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import { repairNode } from '../src/compare/repair.js';
import { loadConfig } from '../src/config/load.js';
import { mysqlToSqlite, type Row } from '../src/engines/codec.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { applyForm, formFromName, inferForm } from '../src/engines/value-forms.js';
import { createMigration } from '../src/migrate/index.js';
import { initNode } from '../src/sync/init.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { divergence, makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  `CREATE TABLE events (id INTEGER PRIMARY KEY, ts DATETIME, plain DATETIME, t TIME, d DATE, ok BOOLEAN, score FLOAT,
     iso DATETIME, note TEXT)`,
];
const MYSQL_DDL = [
  `CREATE TABLE events (id BIGINT PRIMARY KEY, ts DATETIME(6) NULL, plain DATETIME(6) NULL, t TIME(6) NULL, d DATE NULL,
     ok TINYINT(1) NULL, score DOUBLE NULL, iso DATETIME(6) NULL, note TEXT NULL)`,
];
const COLS = 'id, ts, plain, t, d, ok, score, iso, note';

/** What the application wrote on the node: SQLAlchemy's forms in ts/t, the sqlite3 shell's in plain, JS's in iso. */
const APP_ROWS = [
  [1, '2026-01-01 10:00:00.000000', '2026-01-01 10:00:00', '08:30:00.000000', '2026-01-01', 1, 0.5, '2026-01-01T10:00:00.000Z'],
  [2, '2026-01-01 11:00:00.123456', '2026-01-01 11:00:00', '08:45:10.500000', '2026-01-02', 0, 1.25, '2026-01-01T11:00:00.120Z'],
];

function appWrites(db: ReturnType<typeof openSqlite>): void {
  const ins = db.prepare('INSERT INTO events (id, ts, plain, t, d, ok, score, iso) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const r of APP_ROWS) ins.run(...r);
}

/** Hub-made rows (the control room), as MySQL returns them: DATETIME(6) and TIME(6) always carry six digits. */
async function hubWrites(world: SyncWorld, base: number): Promise<void> {
  await world.hub.execute(
    `INSERT INTO events (${COLS}) VALUES
       (?, '2026-02-01 00:00:00', '2026-02-01 00:00:00', '09:15:00', '2026-02-01', 1, 2.5, '2026-02-01 00:00:00', 'hub'),
       (?, '2026-02-01 00:00:00.5', '2026-02-01 00:00:00.25', '09:15:00.000001', '2026-02-02', 0, 3, '2026-02-01 00:00:01.5', 'hub')`,
    [base, base + 1],
  );
}

describe('value forms (pure)', () => {
  it('reshape a hub value without ever dropping a significant digit', () => {
    const six = formFromName('datetime6');
    const none = formFromName('datetime0');
    const js = formFromName('iso3z');
    if (!six || !none || !js) throw new Error('form names');
    expect(applyForm('2026-02-01 00:00:00.000000', none)).toBe('2026-02-01 00:00:00');
    expect(applyForm('2026-02-01 00:00:00.250000', none)).toBe('2026-02-01 00:00:00.25');
    expect(applyForm('2026-02-01 00:00:00', six)).toBe('2026-02-01 00:00:00.000000');
    expect(applyForm('2026-02-01 00:00:00.000000', js)).toBe('2026-02-01T00:00:00.000Z');
    expect(applyForm('2026-02-01 00:00:00.123456', js)).toBe('2026-02-01T00:00:00.123456Z');
    expect(applyForm('09:15:00', { kind: 'time', digits: 6 })).toBe('09:15:00.000000');
    expect(applyForm('not a date', six)).toBe('not a date');
    expect(applyForm('12.50', { kind: 'real' })).toBe(12.5);
    expect(applyForm('12345678901234567890.5', { kind: 'real' })).toBe('12345678901234567890.5');
    // Without a form the codec keeps its old rule; with one, the form decides.
    expect(mysqlToSqlite('2026-02-01 00:00:00.000000', 'datetime')).toBe('2026-02-01 00:00:00');
    expect(mysqlToSqlite('2026-02-01 00:00:00.000000', 'datetime', six)).toBe('2026-02-01 00:00:00.000000');
    expect(mysqlToSqlite('2026-02-01 00:00:00.000000', 'datetime', { kind: 'hub' })).toBe('2026-02-01 00:00:00.000000');
  });

  it('infer the form most sampled values have, the hub’s when there are none', () => {
    expect(inferForm('datetime', 'DATETIME', ['2026-01-01 10:00:00.000000', '2026-01-01 10:00:00'])).toEqual(
      formFromName('datetime6'),
    );
    expect(inferForm('datetime', 'DATETIME', ['2026-01-01 10:00:00', '2026-01-02 10:00:00', '2026-01-01 10:00:00.5'])).toEqual(
      formFromName('datetime0'),
    );
    expect(inferForm('datetime', 'DATETIME', [])).toEqual({ kind: 'hub' });
    expect(inferForm('time', 'TIME', ['08:00:00'])).toEqual(formFromName('time0'));
    expect(inferForm('double', 'TEXT', [0.5, 1.5])).toEqual({ kind: 'real' });
    expect(inferForm('double', 'FLOAT', [0.5])).toBeUndefined();
    expect(inferForm('integer', 'BOOLEAN', [1n])).toBeUndefined();
  });

  it('SYNC_VALUE_FORMS is validated', () => {
    const env = (v: string) => loadConfig({ env: { SYNC_VALUE_FORMS: v }, cwd: '/tmp' });
    expect(env(' Events.TS = datetime6 , events.t=time0').sync.valueForms).toEqual({
      'events.ts': 'datetime6',
      'events.t': 'time0',
    });
    expect(env('').sync.valueForms).toEqual({});
    expect(() => env('events.ts=datetime7')).toThrow(/SYNC_VALUE_FORMS.*accepted: table.column=form/);
    expect(() => env('ts=datetime6')).toThrow(/SYNC_VALUE_FORMS/);
  });
});

describe.skipIf(!HUB_AVAILABLE)('values land in the form the application writes', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startSyncTestHub();
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'forms',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['A', 'B'],
      nodeEnv: { B: { SYNC_VALUE_FORMS: 'events.plain=datetime0,events.t=time0' } },
    });
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  it('pulled DATETIME/TIME/DATE/boolean/REAL values keep each column’s form; the app’s exact-match query finds hub rows', async () => {
    const A = world.node('A');
    const B = world.node('B');
    appWrites(A.db);
    await A.syncer.syncOnce();
    await hubWrites(world, 100);
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();

    const rows = A.db.prepare(`SELECT ${COLS} FROM events WHERE id >= 100 ORDER BY id`).all() as Row[];
    expect(rows).toEqual([
      {
        id: 100n,
        ts: '2026-02-01 00:00:00.000000',
        plain: '2026-02-01 00:00:00',
        t: '09:15:00.000000',
        d: '2026-02-01',
        ok: 1n,
        score: 2.5,
        iso: '2026-02-01T00:00:00.000Z',
        note: 'hub',
      },
      {
        id: 101n,
        ts: '2026-02-01 00:00:00.500000',
        // The application writes no fraction here, but a significant one is never dropped.
        plain: '2026-02-01 00:00:00.25',
        t: '09:15:00.000001',
        d: '2026-02-02',
        ok: 0n,
        score: 3,
        iso: '2026-02-01T00:00:01.500Z',
        note: 'hub',
      },
    ]);
    // The queries SQLAlchemy issues (it binds its own six-digit text).
    expect(A.db.prepare("SELECT id FROM events WHERE ts = '2026-02-01 00:00:00.000000'").all()).toEqual([{ id: 100n }]);
    expect(
      A.db.prepare("SELECT id FROM events WHERE ts >= '2026-02-01 00:00:00.000000' AND ts < '2026-02-01 00:00:00.500000'").all(),
    ).toEqual([{ id: 100n }]);
    expect(A.db.prepare("SELECT id FROM events WHERE t = '09:15:00.000000'").all()).toEqual([{ id: 100n }]);
    expect(A.db.prepare("SELECT id FROM events WHERE plain = '2026-02-01 00:00:00'").all()).toEqual([{ id: 100n }]);
    expect(A.db.prepare('SELECT typeof(ok) AS k, typeof(score) AS s FROM events WHERE id = 100').get()).toEqual({
      k: 'integer',
      s: 'real',
    });

    // B's columns had no values of their own: the hub's form (six digits), except where overridden.
    const b = B.db.prepare('SELECT id, ts, plain, t, iso FROM events WHERE id IN (1, 100) ORDER BY id').all() as Row[];
    expect(b).toEqual([
      {
        id: 1n,
        ts: '2026-01-01 10:00:00.000000',
        plain: '2026-01-01 10:00:00',
        t: '08:30:00',
        iso: '2026-01-01 10:00:00.000000',
      },
      {
        id: 100n,
        ts: '2026-02-01 00:00:00.000000',
        plain: '2026-02-01 00:00:00',
        t: '09:15:00',
        iso: '2026-02-01 00:00:00.000000',
      },
    ]);
    // Different texts, same data: compare sees no difference anywhere.
    expect(await divergence(world, ['events'])).toEqual([]);
  });

  it('repair from the hub writes rows in the node’s forms', async () => {
    const A = world.node('A');
    // Lost locally without capture (as a restored backup would): repair must put it back.
    A.db.transaction(() => {
      A.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      A.db.prepare('DELETE FROM events WHERE id = 100').run();
      A.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    })();
    const report = await repairNode(A.config, { from: 'mysql' });
    expect(report.ok).toBe(true);
    expect(A.db.prepare('SELECT ts, plain, t, iso FROM events WHERE id = 100').get()).toEqual({
      ts: '2026-02-01 00:00:00.000000',
      plain: '2026-02-01 00:00:00',
      t: '09:15:00.000000',
      iso: '2026-02-01T00:00:00.000Z',
    });
  });

  it('the migration from MySQL seeds a new site in the forms of its columns (the hub’s, or SYNC_VALUE_FORMS)', async () => {
    const config = nodeConfig(tmp.dir, 'seeded', world.mysql, { NODE_ID: 'seeded', SYNC_VALUE_FORMS: 'events.plain=datetime0' });
    // The application created its (empty) tables, as SQLAlchemy's create_all() does.
    const db = openSqlite(config.sqlitePath, { create: true });
    for (const s of SQLITE_DDL) db.exec(s);
    db.close();
    const report = await createMigration(config, { direction: 'mysql-to-sqlite' }).run();
    expect(report.ok).toBe(true);
    const seeded = openSqlite(config.sqlitePath);
    try {
      expect(seeded.prepare('SELECT ts, plain, t FROM events WHERE id = 100').get()).toEqual({
        ts: '2026-02-01 00:00:00.000000',
        plain: '2026-02-01 00:00:00',
        t: '09:15:00.000000',
      });
      expect(seeded.prepare("SELECT count(*) AS n FROM events WHERE ts = '2026-02-01 00:00:00.000000'").get()).toEqual({ n: 1n });
    } finally {
      seeded.close();
    }
  });

  it('an entry naming no table or column of the file: one warning each (stderr and a config.unknown log line), with the nearest names', async () => {
    const config = nodeConfig(tmp.dir, 'typo', world.mysql, { NODE_ID: 'typo' });
    createSqlite(config, SQLITE_DDL).close();
    await initNode(config);
    const env = envOf(config, { SYNC_VALUE_FORMS: 'event.ts=datetime6,events.plian=datetime0,events.t=time0' });
    const r = runCli(['sync', '--once'], env);
    expect([EXIT.OK, EXIT.NOTHING_TO_DO], r.stderr).toContain(r.code);
    expect(r.stderr.trim().split('\n')).toEqual([
      'dualdb sync: warning: SYNC_VALUE_FORMS entry "event.ts" is ignored: the SQLite file has no table event; nearest tables: events',
      'dualdb sync: warning: SYNC_VALUE_FORMS entry "events.plian" is ignored: table events has no column plian; nearest columns: plain, id, iso',
    ]);
    const logged = readFileSync(config.log.file as string, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event?: string; entry?: string; nearest?: string[]; level: number | string })
      .filter((e) => e.event === 'config.unknown');
    expect(logged.map((e) => [e.entry, e.nearest])).toEqual([
      ['event.ts', ['events']],
      ['events.plian', ['plain', 'id', 'iso']],
    ]);
  });

  it('the library API: the mysql_primary mirror and Date values take the column’s form', async () => {
    const mysql = await testHub.freshDatabase('forms_api');
    const config = nodeConfig(tmp.dir, 'api', mysql, { NODE_ID: 'api', SYNC_MODE: 'mysql_primary', SYNC_INTERVAL: '0.2' });
    // The application writes `at` without fractions (the sqlite3 shell's datetime()) and `stamp` with six.
    const local = createSqlite(config, [
      'CREATE TABLE readings (id INTEGER PRIMARY KEY, at DATETIME, stamp DATETIME, label TEXT)',
    ]);
    local.prepare("INSERT INTO readings VALUES (1, '2026-01-01 00:00:00', '2026-01-01 00:00:00.000000', 'app')").run();
    local.close();
    const hub = await MysqlHub.connect(mysql);
    await hub.execute(
      'CREATE TABLE readings (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NULL, stamp DATETIME(6) NULL, label VARCHAR(20) NULL)',
    );
    await hub.execute("INSERT INTO readings VALUES (1, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'app')");
    await initNode(config);
    const db = await DualDatabase.open({ config });
    try {
      await db.service.syncer.currentPlan(true);
      const whole = new Date(Date.UTC(2026, 2, 1, 12, 0, 0, 0));
      const r = await db.insert('readings', { at: '2026-03-01 12:00:00.500000', stamp: whole, label: 'api' });
      expect(r).toMatchObject({ committed: 'mysql+sqlite' });
      // The hub returns six digits for both: each lands in its column's form, no significant digit lost.
      expect(db.get('SELECT at, stamp FROM readings WHERE label = ?', 'api')).toEqual({
        at: '2026-03-01 12:00:00.5',
        stamp: '2026-03-01 12:00:00.000000',
      });
      await db.close();
      // sqlite_primary: a Date written locally takes the column's form too (not the library's 3 digits).
      const primary = await DualDatabase.open({ config: { ...config, sync: { ...config.sync, mode: 'sqlite_primary' } } });
      try {
        await primary.service.syncer.currentPlan(true);
        await primary.insert('readings', { id: 50, stamp: whole, label: 'local' });
        expect(primary.get('SELECT stamp FROM readings WHERE id = 50')).toEqual({ stamp: '2026-03-01 12:00:00.000000' });
      } finally {
        await primary.close();
      }
    } finally {
      await db.close();
      await hub.close();
    }
  });
});
