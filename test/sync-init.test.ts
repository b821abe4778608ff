/**
 * `dualdb init` and `dualdb init --uninstall` (docs/SYNC-CONTRACT.md, invariant 1: user tables
 * are never altered). Init twice is idempotent (the second run changes nothing
 * on either side); uninstall removes exactly what init installed — the schema of
 * both sides is compared before and after, and user tables, their rows, their
 * AUTOINCREMENT counters and user triggers are untouched; a table without a
 * primary key is reported as not synced, with the reason. With a second node
 * registered, the hub's capture stays for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { Syncer } from '../src/sync/syncer.js';
import { envOf, runCli } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, edits INTEGER NOT NULL DEFAULT 0)',
  'CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT)',
  'CREATE TABLE notes (body TEXT)',
  'CREATE INDEX people_name ON people (name)',
  `CREATE TRIGGER people_audit AFTER UPDATE ON people BEGIN
     INSERT INTO audit (msg) VALUES ('edited ' || NEW.id);
   END`,
  "INSERT INTO people (name) VALUES ('Ana'), ('Bia')",
  "INSERT INTO notes VALUES ('no key here')",
];
const MYSQL_DDL = [
  'CREATE TABLE people (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, edits BIGINT NOT NULL DEFAULT 0, KEY people_name (name))',
  'CREATE TABLE audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, msg TEXT NULL)',
  'CREATE TABLE notes (body TEXT NULL)',
  'CREATE TRIGGER people_edits BEFORE UPDATE ON people FOR EACH ROW SET NEW.edits = OLD.edits + 1',
  "INSERT INTO notes VALUES ('no key here either')",
];

function sqliteSchema(db: SqliteDb) {
  return {
    schema: db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name').all(),
    sequence: db
      .prepare("SELECT name, seq FROM sqlite_sequence WHERE name NOT LIKE '\\_dualdb\\_%' ESCAPE '\\' ORDER BY name")
      .all(),
  };
}

function sqliteRows(db: SqliteDb) {
  return {
    people: db.prepare('SELECT * FROM people ORDER BY id').all(),
    audit: db.prepare('SELECT * FROM audit ORDER BY id').all(),
    notes: db.prepare('SELECT * FROM notes').all(),
  };
}

async function mysqlSchema(h: MysqlHub) {
  return {
    tables: await h.query(
      'SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
    ),
    columns: await h.query(
      'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION',
    ),
    indexes: await h.query(
      'SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
    ),
    triggers: await h.query(
      'SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME',
    ),
  };
}

async function mysqlRows(h: MysqlHub) {
  return {
    people: await h.query('SELECT * FROM people ORDER BY id'),
    audit: await h.query('SELECT * FROM audit ORDER BY id'),
    notes: await h.query('SELECT * FROM notes'),
  };
}

describe.skipIf(!HUB_AVAILABLE)('init and uninstall', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('init twice is idempotent, reports the table without a key, and uninstall removes exactly what it installed', async () => {
    const m = await testHub.freshDatabase('init');
    const config = nodeConfig(tmp.dir, 'init-a', m, { NODE_ID: 'A' });
    const db = createSqlite(config, SQLITE_DDL);
    const h = await MysqlHub.connect(m);
    try {
      for (const s of MYSQL_DDL) await h.execute(s);
      const sqliteBefore = sqliteSchema(db);
      const mysqlBefore = await mysqlSchema(h);

      const first = runCli(['init'], envOf(config));
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/people\s+installed\s+installed/);
      expect(first.stdout).toMatch(/notes: not synced — no primary key on either side/);
      const sqliteInstalled = sqliteSchema(db);
      const mysqlInstalled = await mysqlSchema(h);
      expect(sqliteInstalled.schema.filter((r) => (r as { name: string }).name.startsWith('_dualdb_')).length).toBeGreaterThan(0);
      // No capture trigger on the table without a key, and none on dualdb's own log.
      const triggers = (sqliteInstalled.schema as { type: string; name: string; tbl_name: string }[]).filter(
        (r) => r.type === 'trigger',
      );
      expect(triggers.filter((t) => t.tbl_name === 'notes')).toEqual([]);
      expect(new Set(triggers.map((t) => t.tbl_name))).toEqual(new Set(['people', 'audit', '_dualdb_heartbeats']));

      const second = runCli(['init', '--json'], envOf(config));
      expect(second.code).toBe(0);
      const report = JSON.parse(second.stdout) as {
        tables: { table: string; sqlite: string; mysql: string }[];
        skipped: { table: string; reason: string }[];
      };
      expect(report.tables.map((t) => [t.table, t.sqlite, t.mysql]).sort()).toEqual([
        ['audit', 'unchanged', 'unchanged'],
        ['people', 'unchanged', 'unchanged'],
      ]);
      expect(report.skipped).toEqual([{ table: 'notes', reason: expect.stringMatching(/no primary key/) }]);
      expect(sqliteSchema(db)).toEqual(sqliteInstalled);
      expect(await mysqlSchema(h)).toEqual(mysqlInstalled);

      // Use it: data moves, user triggers keep working on both sides.
      db.prepare("UPDATE people SET name = 'Ana Maria' WHERE id = 1").run();
      const s = Syncer.open(config);
      await s.syncOnce();
      await h.execute("INSERT INTO people (id, name) VALUES (100, 'Caio')");
      await s.syncOnce();
      await s.close();
      expect(db.prepare('SELECT msg FROM audit').all()).toEqual([{ msg: 'edited 1' }]);
      expect(db.prepare('SELECT name FROM people WHERE id = 100').get()).toEqual({ name: 'Caio' });
      const rowsBefore = sqliteRows(db);
      const sequenceBefore = sqliteSchema(db).sequence;
      const hubRowsBefore = await mysqlRows(h);

      const un = runCli(['init', '--uninstall', '--json'], envOf(config));
      expect(un.code, un.stderr).toBe(0);
      const removed = JSON.parse(un.stdout) as { sqlite: string[]; mysql: string[]; hubKeptFor: string[] };
      expect(removed.hubKeptFor).toEqual([]);
      expect(removed.sqlite.every((r) => /_dualdb_/.test(r))).toBe(true);
      expect(removed.mysql.every((r) => /_dualdb_/.test(r))).toBe(true);
      // Exactly the original schemas again, and nothing in the user tables (or their counters) changed.
      expect(sqliteSchema(db)).toEqual({ schema: sqliteBefore.schema, sequence: sequenceBefore });
      expect(await mysqlSchema(h)).toEqual(mysqlBefore);
      expect(sqliteRows(db)).toEqual(rowsBefore);
      expect(await mysqlRows(h)).toEqual(hubRowsBefore);
      // User triggers still fire; nothing is captured any more.
      db.prepare("UPDATE people SET name = 'Bia B.' WHERE id = 2").run();
      expect(db.prepare("SELECT count(*) AS n FROM audit WHERE msg = 'edited 2'").get()).toEqual({ n: 1n });
      await h.execute("UPDATE people SET name = 'C.' WHERE name = 'Caio'");
      expect((await h.query<{ edits: string }>("SELECT edits FROM people WHERE name = 'C.'"))[0]?.edits).toBe('1');
      // Uninstalling again is harmless.
      expect(runCli(['init', '--uninstall'], envOf(config)).code).toBe(0);
      expect(sqliteSchema(db).schema).toEqual(sqliteBefore.schema);
    } finally {
      db.close();
      await h.close();
    }
  });

  it('with another node registered, uninstalling one node keeps the hub’s capture for the other', async () => {
    const m = await testHub.freshDatabase('init2');
    const a = nodeConfig(tmp.dir, 'init2-a', m, { NODE_ID: 'A2' });
    const b = nodeConfig(tmp.dir, 'init2-b', m, { NODE_ID: 'B2' });
    createSqlite(a, SQLITE_DDL).close();
    createSqlite(b, SQLITE_DDL).close();
    const h = await MysqlHub.connect(m);
    try {
      for (const s of MYSQL_DDL) await h.execute(s);
      expect(runCli(['init'], envOf(a)).code).toBe(0);
      expect(runCli(['init'], envOf(b)).code).toBe(0);
      const hubInstalled = await mysqlSchema(h);
      const un = runCli(['init', '--uninstall', '--json'], envOf(a));
      expect(un.code).toBe(0);
      expect((JSON.parse(un.stdout) as { hubKeptFor: string[] }).hubKeptFor).toEqual(['B2']);
      expect(await mysqlSchema(h)).toEqual(hubInstalled);
      expect(await h.query('SELECT node_id FROM _dualdb_nodes')).toEqual([{ node_id: 'B2' }]);
      // A's SQLite is clean; B still syncs with the hub.
      const dbA = openSqlite(a.sqlitePath);
      expect(dbA.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name LIKE '\\_dualdb\\_%' ESCAPE '\\'").get()).toEqual({
        n: 0n,
      });
      dbA.close();
      await h.execute("INSERT INTO people (name) VALUES ('for B')");
      const sb = Syncer.open(b);
      await sb.syncOnce();
      expect(sb.db.prepare("SELECT count(*) AS n FROM people WHERE name = 'for B'").get()).toEqual({ n: 1n });
      await sb.close();
    } finally {
      await h.close();
    }
  });
});
