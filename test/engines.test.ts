/**
 * The engine adapters: opening the SQLite file (diagnosed failures, the pragmas
 * every connection needs, locks held by another real process), and
 * introspection of the same schema on SQLite and the private MariaDB into one
 * engine-neutral model, with exact row counts.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql, listMysqlTables, mysqlTableStats } from '../src/engines/mysql/introspect.js';
import { introspectSqlite, listSqliteTables, sqliteTableStats } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import type { TableInfo } from '../src/engines/types.js';
import { SqliteError } from '../src/util/errors.js';
import { EXIT } from '../src/util/exit-codes.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-engines-');
afterAll(() => tmp.cleanup());
let files = 0;
const file = (name = 'db') => path.join(tmp.dir, `${name}-${++files}.db`);

/** The SqliteError that opening throws (fails the test if it opens). */
function openError(f: string, options: Parameters<typeof openSqlite>[1] = {}): SqliteError {
  try {
    openSqlite(f, options).close();
  } catch (e) {
    expect(e).toBeInstanceOf(SqliteError);
    return e as SqliteError;
  }
  throw new Error(`${f} opened`);
}

/** `sqlite3 <file>` holding a transaction open until `release()`; resolves once the lock is really held. */
async function holdLock(f: string, begin: 'BEGIN EXCLUSIVE'): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
  const child = spawn('sqlite3', [f], { stdio: ['pipe', 'ignore', 'pipe'] });
  // .timeout: the shell waits (instead of failing) if it meets our probe's brief lock below.
  child.stdin?.write(`.timeout 5000\n${begin};\nINSERT INTO t VALUES (99);\n`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Wait until a writer is really shut out (no output parsing: the shell buffers stdout in a pipe).
  const probe = new Database(f);
  probe.pragma('busy_timeout = 0');
  const deadline = Date.now() + 5000;
  try {
    for (;;) {
      try {
        probe.exec('BEGIN IMMEDIATE; ROLLBACK');
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (code === 'SQLITE_BUSY') break;
        // SQLITE_BUSY_RECOVERY and the like (seen in CI under load): not the shell's write lock yet.
        if (!code.startsWith('SQLITE_BUSY')) throw e;
      }
      if (Date.now() > deadline) throw new Error('sqlite3 never took the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    probe.close();
  }
  return {
    child,
    release: async () => {
      child.stdin?.end(); // EOF: the shell exits and its transaction rolls back
      await exited;
    },
  };
}

describe('openSqlite', () => {
  it('a missing file is `missing`, with the path and the fix, and is not created', () => {
    const f = path.join(tmp.dir, 'nowhere', 'epi.db');
    const e = openError(f);
    expect(e.kind).toBe('missing');
    expect(e.code).toBe('SQLITE_MISSING');
    expect(e.exitCode).toBe(EXIT.SQLITE_UNAVAILABLE);
    expect(e.message).toContain(f);
    expect(e.hint).toMatch(/SQLITE_DB_PATH/);
    expect(existsSync(f)).toBe(false);
    expect(existsSync(path.dirname(f))).toBe(false);
  });

  it('creates the file and its folder only when asked', () => {
    const f = path.join(tmp.dir, 'new', 'deep', 'epi.db');
    openSqlite(f, { create: true }).close();
    expect(existsSync(f)).toBe(true);
  });

  it('a text file is `not-a-database` and is left untouched', () => {
    const long = file('text');
    writeFileSync(long, 'DB_HOST=localhost\nDB_PORT=3306\nthis is a text file, not a database\n');
    const e = openError(long);
    expect(e.kind).toBe('not-a-database');
    expect(e.message).toContain(long);
    expect(e.hint).toMatch(/SQLITE_DB_PATH/);
    expect(existsSync(`${long}-wal`)).toBe(false);
    const short = file('short');
    writeFileSync(short, 'hi\n');
    expect(openError(short).kind).toBe('not-a-database');
  });

  it('a file with a SQLite header but garbage after it is `not-a-database`', () => {
    const f = file('header');
    writeFileSync(f, Buffer.concat([Buffer.from('SQLite format 3\u0000', 'latin1'), Buffer.alloc(200, 7)]));
    expect(openError(f).kind).toBe('not-a-database');
  });

  it('a folder is `not-a-database` with a clear message (not a raw EISDIR)', () => {
    const dir = path.join(tmp.dir, 'a-folder');
    mkdirSync(dir);
    const e = openError(dir);
    expect(e.kind).toBe('not-a-database');
    expect(e.message).toMatch(/folder/);
  });

  it('an empty file is an empty database', () => {
    const f = file('empty');
    writeFileSync(f, '');
    const db = openSqlite(f);
    expect(listSqliteTables(db)).toEqual([]);
    db.close();
  });

  it('turns on WAL, foreign keys, the busy timeout and exact 64-bit integers', () => {
    const db = openSqlite(file('pragmas'), { create: true, busyTimeoutMs: 1234 });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(Number(db.pragma('foreign_keys', { simple: true }))).toBe(1);
      expect(Number(db.pragma('busy_timeout', { simple: true }))).toBe(1234);
      const row = db.prepare('SELECT 9007199254740993 AS big, 9223372036854775807 AS max, 1 AS one').get() as Record<
        string,
        unknown
      >;
      expect(row).toEqual({ big: 9007199254740993n, max: 9223372036854775807n, one: 1n });
      db.exec('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id))');
      expect(() => db.prepare('INSERT INTO c VALUES (1, 42)').run()).toThrow(/FOREIGN KEY/);
    } finally {
      db.close();
    }
  });

  it('safe integers can be turned off for callers that want numbers', () => {
    const db = openSqlite(file('numbers'), { create: true, safeIntegers: false });
    expect((db.prepare('SELECT 1 AS one').get() as { one: unknown }).one).toBe(1);
    db.close();
  });

  it('a read-only connection cannot write', () => {
    const f = file('ro');
    const w = openSqlite(f, { create: true });
    w.exec('CREATE TABLE t (a INTEGER)');
    w.close();
    const db = openSqlite(f, { readonly: true });
    expect(() => db.exec('INSERT INTO t VALUES (1)')).toThrow(/readonly/);
    db.close();
  });

  it('a file locked by another process (sqlite3 holding BEGIN EXCLUSIVE) is `locked`, within the busy timeout', async () => {
    const f = file('locked');
    // A file the old tools made: rollback journal, not WAL, so an exclusive lock shuts everyone out.
    execFileSync('sqlite3', [f, 'CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);']);
    const lock = await holdLock(f, 'BEGIN EXCLUSIVE');
    try {
      for (const readonly of [false, true]) {
        const t0 = Date.now();
        const e = openError(f, { busyTimeoutMs: 200, readonly });
        const waited = Date.now() - t0;
        expect(e.kind).toBe('locked');
        expect(e.message).toContain('locked by another process');
        expect(e.hint).toBeTruthy();
        expect(waited).toBeGreaterThanOrEqual(150);
        expect(waited).toBeLessThan(5000);
      }
    } finally {
      await lock.release();
    }
    // Once the other process is gone the same file opens, in WAL mode, without its rolled-back row.
    const db = openSqlite(f, { busyTimeoutMs: 200 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT a FROM t').all()).toEqual([{ a: 1n }]);
    db.close();
  });

  it('in WAL mode a writer in another process does not block opening or reading, only writing', async () => {
    const f = file('wal');
    const setup = openSqlite(f, { create: true });
    setup.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)');
    setup.close();
    const lock = await holdLock(f, 'BEGIN EXCLUSIVE');
    try {
      const t0 = Date.now();
      const db = openSqlite(f, { busyTimeoutMs: 200 });
      try {
        expect(db.prepare('SELECT a FROM t').all()).toEqual([{ a: 1n }]); // the uncommitted 99 is invisible
        expect(Date.now() - t0).toBeLessThan(150);
        expect(() => db.prepare('INSERT INTO t VALUES (2)').run()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      } finally {
        db.close();
      }
    } finally {
      await lock.release();
    }
  });
});

// ---------------------------------------------------------------------------
// Introspection: the same schema on both engines.

const SQLITE_DDL = [
  // Composite PK declared in a different order from the columns.
  `CREATE TABLE sites (code INTEGER NOT NULL, region TEXT NOT NULL, name VARCHAR(50) NOT NULL DEFAULT 'unnamed',
     PRIMARY KEY (region, code))`,
  // Text PK.
  `CREATE TABLE tags (tag VARCHAR(40) NOT NULL PRIMARY KEY, weight INTEGER NOT NULL DEFAULT 1, note TEXT)`,
  `CREATE TABLE cameras (id INTEGER PRIMARY KEY AUTOINCREMENT, region TEXT NOT NULL, code INTEGER NOT NULL,
     serial VARCHAR(64) NOT NULL, score REAL DEFAULT 0.5, installed DATETIME, price DECIMAL(10,2),
     FOREIGN KEY (region, code) REFERENCES sites (region, code) ON DELETE CASCADE)`,
  'CREATE UNIQUE INDEX cameras_serial ON cameras (serial)',
  'CREATE INDEX cameras_site ON cameras (region, code)',
  // An FK without target columns references the parent's primary key.
  'CREATE TABLE camera_tags (camera_id INTEGER NOT NULL REFERENCES cameras ON DELETE CASCADE, tag VARCHAR(40) NOT NULL, PRIMARY KEY (camera_id, tag))',
  // dualdb's own tables are never user data.
  'CREATE TABLE _dualdb_meta (k TEXT PRIMARY KEY, v TEXT)',
];

const MYSQL_DDL = [
  `CREATE TABLE sites (code INT NOT NULL, region VARCHAR(20) NOT NULL, name VARCHAR(50) NOT NULL DEFAULT 'unnamed',
     PRIMARY KEY (region, code))`,
  'CREATE TABLE tags (tag VARCHAR(40) NOT NULL PRIMARY KEY, weight INT NOT NULL DEFAULT 1, note TEXT NULL)',
  `CREATE TABLE cameras (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, region VARCHAR(20) NOT NULL, code INT NOT NULL,
     serial VARCHAR(64) NOT NULL, score DOUBLE DEFAULT 0.5, installed DATETIME NULL, price DECIMAL(10,2) NULL,
     UNIQUE KEY cameras_serial (serial), KEY cameras_site (region, code),
     CONSTRAINT cameras_site_fk FOREIGN KEY (region, code) REFERENCES sites (region, code) ON DELETE CASCADE)`,
  `CREATE TABLE camera_tags (camera_id BIGINT NOT NULL, tag VARCHAR(40) NOT NULL, PRIMARY KEY (camera_id, tag),
     CONSTRAINT camera_tags_fk FOREIGN KEY (camera_id) REFERENCES cameras (id) ON DELETE CASCADE)`,
  'CREATE TABLE _dualdb_meta (k VARCHAR(64) PRIMARY KEY, v TEXT)',
];

const ROWS_SQL = [
  "INSERT INTO sites (code, region, name) VALUES (1, 'north', 'N1'), (2, 'north', 'N2'), (1, 'south', 'S1')",
  "INSERT INTO tags (tag) VALUES ('helmet'), ('vest')",
  `INSERT INTO cameras (region, code, serial, score) VALUES ('north', 1, 'A-1', 0.9), ('north', 1, 'A-2', NULL),
     ('north', 2, 'B-1', 0.1), ('south', 1, 'C-1', 0.3), ('south', 1, 'C-2', 0.4)`,
  "INSERT INTO camera_tags (camera_id, tag) VALUES (1, 'helmet'), (1, 'vest'), (4, 'vest')",
];

/** What both engines must agree on, in the engine-neutral model. */
function checkSameModel(tables: TableInfo[], engine: 'sqlite' | 'mysql'): void {
  const by = new Map(tables.map((t) => [t.name, t]));
  expect([...by.keys()].sort()).toEqual(['camera_tags', 'cameras', 'sites', 'tags']);

  const sites = by.get('sites');
  expect(sites?.columns.map((c) => c.name)).toEqual(['code', 'region', 'name']);
  expect(sites?.primaryKey).toEqual(['region', 'code']);
  expect(sites?.columns.map((c) => c.pkOrdinal)).toEqual([2, 1, 0]);
  expect(sites?.columns.map((c) => c.nullable)).toEqual([false, false, false]);
  expect(sites?.columns.find((c) => c.name === 'name')?.defaultValue).toBe("'unnamed'");
  expect(sites?.columns.find((c) => c.name === 'name')?.maxLength).toBe(50);
  expect(sites?.columns.some((c) => c.autoIncrement)).toBe(false);
  expect(sites?.indexes).toEqual([]);

  const tags = by.get('tags');
  expect(tags?.primaryKey).toEqual(['tag']);
  expect(tags?.columns.map((c) => [c.name, c.nullable, c.defaultValue])).toEqual([
    ['tag', false, null],
    ['weight', false, '1'],
    ['note', true, null],
  ]);
  expect(tags?.columns.find((c) => c.name === 'tag')).toMatchObject({ baseType: 'varchar', maxLength: 40, autoIncrement: false });

  const cameras = by.get('cameras');
  expect(cameras?.columns.map((c) => c.name)).toEqual(['id', 'region', 'code', 'serial', 'score', 'installed', 'price']);
  expect(cameras?.primaryKey).toEqual(['id']);
  expect(cameras?.columns.find((c) => c.name === 'id')).toMatchObject({ autoIncrement: true, nullable: false, pkOrdinal: 1 });
  expect(cameras?.columns.find((c) => c.name === 'score')).toMatchObject({ nullable: true, defaultValue: '0.5' });
  expect(cameras?.columns.find((c) => c.name === 'installed')).toMatchObject({
    nullable: true,
    defaultValue: null,
    baseType: 'datetime',
  });
  expect(cameras?.columns.find((c) => c.name === 'price')).toMatchObject({
    baseType: 'decimal',
    numericPrecision: 10,
    numericScale: 2,
  });
  const ix = [...(cameras?.indexes ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  expect(ix).toEqual([
    { name: 'cameras_serial', columns: ['serial'], unique: true },
    { name: 'cameras_site', columns: ['region', 'code'], unique: false },
  ]);
  expect(cameras?.foreignKeys).toHaveLength(1);
  expect(cameras?.foreignKeys[0]).toMatchObject({
    columns: ['region', 'code'],
    refTable: 'sites',
    refColumns: ['region', 'code'],
    onDelete: 'CASCADE',
  });
  // SQLite says NO ACTION, MariaDB RESTRICT: the same thing for an immediate constraint.
  expect(['NO ACTION', 'RESTRICT']).toContain(cameras?.foreignKeys[0]?.onUpdate);
  if (engine === 'mysql') expect(cameras?.foreignKeys[0]?.name).toBe('cameras_site_fk');

  const ct = by.get('camera_tags');
  expect(ct?.primaryKey).toEqual(['camera_id', 'tag']);
  expect(ct?.foreignKeys).toHaveLength(1);
  expect(ct?.foreignKeys[0]).toMatchObject({
    columns: ['camera_id'],
    refTable: 'cameras',
    refColumns: ['id'],
    onDelete: 'CASCADE',
  });
}

const EXPECTED_COUNTS = { camera_tags: 3, cameras: 5, sites: 3, tags: 2 };
const AFTER_DELETE = { camera_tags: 1, cameras: 2, sites: 1, tags: 2 };
const counts = (stats: { name: string; rows: number }[]) => Object.fromEntries(stats.map((s) => [s.name, s.rows]));

describe('SQLite introspection', () => {
  let db: SqliteDb;
  beforeAll(() => {
    db = openSqlite(file('schema'), { create: true });
    for (const s of SQLITE_DDL) db.exec(s);
    for (const s of ROWS_SQL) db.exec(s);
  });
  afterAll(() => db?.close());

  it('lists user tables only, sorted; dualdb tables on request', () => {
    expect(listSqliteTables(db)).toEqual(['camera_tags', 'cameras', 'sites', 'tags']);
    expect(listSqliteTables(db, { includeMeta: true })).toContain('_dualdb_meta');
  });

  it('reports columns, primary keys in key order, indexes and foreign keys', () => {
    checkSameModel(introspectSqlite(db), 'sqlite');
  });

  it('an unknown table is an error, not an empty table', () => {
    expect(() => introspectSqlite(db, ['nope'])).toThrow(/nope/);
  });

  it('counts rows exactly, and follows ON DELETE CASCADE', () => {
    const stats = sqliteTableStats(db);
    expect(counts(stats)).toEqual(EXPECTED_COUNTS);
    for (const s of stats) expect(s.bytes === null || s.bytes > 0).toBe(true);
    db.exec("DELETE FROM sites WHERE region = 'north'");
    expect(counts(sqliteTableStats(db))).toEqual(AFTER_DELETE);
    expect(counts(sqliteTableStats(db, ['tags']))).toEqual({ tags: 2 });
  });
});

describe.skipIf(!HUB_AVAILABLE)('MySQL introspection', () => {
  let testHub: TestHub;
  let hub: MysqlHub;
  beforeAll(async () => {
    testHub = await startTestHub();
    hub = await MysqlHub.connect(await testHub.freshDatabase('intro'));
    for (const s of MYSQL_DDL) await hub.execute(s);
    for (const s of ROWS_SQL) await hub.execute(s);
  });
  afterAll(async () => {
    await hub?.close();
    await testHub?.close();
  });

  it('lists user tables only, sorted; dualdb tables on request', async () => {
    expect(await listMysqlTables(hub)).toEqual(['camera_tags', 'cameras', 'sites', 'tags']);
    expect(await listMysqlTables(hub, { includeMeta: true })).toContain('_dualdb_meta');
  });

  it('reports the same model as SQLite for the same schema', async () => {
    checkSameModel(await introspectMysql(hub), 'mysql');
  });

  it('counts rows exactly (COUNT(*), not the InnoDB estimate), and follows ON DELETE CASCADE', async () => {
    const stats = await mysqlTableStats(hub);
    expect(counts(stats)).toEqual(EXPECTED_COUNTS);
    for (const s of stats) expect(s.bytes).toBeGreaterThan(0);
    await hub.execute("DELETE FROM sites WHERE region = 'north'");
    expect(counts(await mysqlTableStats(hub))).toEqual(AFTER_DELETE);
    expect(counts(await mysqlTableStats(hub, ['tags']))).toEqual({ tags: 2 });
  });

  it('an empty database has no tables and no stats', async () => {
    const empty = await MysqlHub.connect(await testHub.freshDatabase('empty'));
    try {
      expect(await introspectMysql(empty)).toEqual([]);
      expect(await mysqlTableStats(empty)).toEqual([]);
    } finally {
      await empty.close();
    }
  });
});
