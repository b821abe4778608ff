/**
 * `dualdb init` and `dualdb init --uninstall` (docs/SYNC-CONTRACT.md, invariant 1: user tables
 * are never altered). Init twice is idempotent (the second run changes nothing
 * on either side); uninstall removes exactly what init installed — the schema of
 * both sides is compared before and after, and user tables, their rows, their
 * AUTOINCREMENT counters and user triggers are untouched; a table without a
 * primary key is reported as not synced, with the reason. With a second node
 * registered, the hub's capture stays for it.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
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

/** The hub database with the user tables of these tests. */
async function hubWithTables(m: MysqlConfig): Promise<MysqlHub> {
  const h = await MysqlHub.connect(m);
  for (const s of MYSQL_DDL) await h.execute(s);
  return h;
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
    const h = await hubWithTables(m);
    try {
      const sqliteBefore = sqliteSchema(db);
      const mysqlBefore = await mysqlSchema(h);

      const first = runCli(['init'], envOf(config));
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/people\s+installed\s+installed\s+generated/);
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

      // Removing the hub's capture is its own explicit act: --hub.
      const un = runCli(['init', '--uninstall', '--hub', '--json'], envOf(config));
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
    const h = await hubWithTables(m);
    try {
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

  it('a second node joining with an empty file, or syncing fewer tables, changes nothing on the hub; removing it is explicit', async () => {
    const m = await testHub.freshDatabase('join');
    const a = nodeConfig(tmp.dir, 'join-a', m, { NODE_ID: 'JA' });
    const b = nodeConfig(tmp.dir, 'join-b', m, { NODE_ID: 'JB' });
    const c = nodeConfig(tmp.dir, 'join-c', m, { NODE_ID: 'JC', SYNC_TABLES: 'people' });
    createSqlite(a, SQLITE_DDL).close();
    // No people rows of its own: rows a file held before init would never sync, and under the
    // hub's ids of other nodes' rows init refuses them (invariant 15, test/init-join-guard.test.ts).
    createSqlite(
      c,
      SQLITE_DDL.filter((s) => !s.startsWith('INSERT INTO people')),
    ).close();
    writeFileSync(b.sqlitePath, ''); // a new site: a 0-byte SQLite file
    const h = await hubWithTables(m);
    try {
      expect(runCli(['init'], envOf(a)).code).toBe(0);
      const hubInstalled = await mysqlSchema(h);
      const syncer = Syncer.open(a);
      await syncer.syncOnce();

      for (const [i, node] of [b, c, b].entries()) {
        const r = runCli(['init'], envOf(node));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).not.toMatch(/removed/);
        expect(await mysqlSchema(h)).toEqual(hubInstalled);
        // The first node keeps receiving hub writes.
        await h.execute('INSERT INTO people (name) VALUES (?)', [`hub write ${i}`]);
        await h.execute('INSERT INTO audit (msg) VALUES (?)', [`hub audit ${i}`]);
        await syncer.syncOnce();
        expect(syncer.db.prepare('SELECT count(*) AS n FROM people WHERE name = ?').get(`hub write ${i}`)).toEqual({ n: 1n });
        expect(syncer.db.prepare('SELECT count(*) AS n FROM audit WHERE msg = ?').get(`hub audit ${i}`)).toEqual({ n: 1n });
      }
      expect(
        (await h.query<{ node_id: string }>('SELECT node_id FROM _dualdb_nodes ORDER BY node_id')).map((r) => r.node_id),
      ).toEqual(['JA', 'JB', 'JC']);

      // A node's own uninstall leaves the hub alone, and says how to remove it.
      const unC = runCli(['init', '--uninstall'], envOf(c));
      expect(unC.code, unC.stderr).toBe(0);
      expect(unC.stdout).toMatch(/hub capture kept .*JA .*dualdb init --uninstall --hub/);
      expect(await mysqlSchema(h)).toEqual(hubInstalled);

      // Removing the hub's capture names the nodes and refuses while one was active recently.
      const refused = runCli(['init', '--uninstall', '--hub'], envOf(b));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/JA \(last seen [^)]+\) synced in the last 15 minutes.*Nothing was changed.*--force/s);
      expect(await mysqlSchema(h)).toEqual(hubInstalled);
      const dbB = openSqlite(b.sqlitePath);
      expect(dbB.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = '_dualdb_changes'").get()).toEqual({ n: 1n });
      dbB.close();
      await h.execute("INSERT INTO people (name) VALUES ('still captured')");
      await syncer.syncOnce();
      expect(syncer.db.prepare("SELECT count(*) AS n FROM people WHERE name = 'still captured'").get()).toEqual({ n: 1n });
      await syncer.close();

      const forced = runCli(['init', '--uninstall', '--hub', '--force', '--json'], envOf(b));
      expect(forced.code, forced.stderr).toBe(0);
      const report = JSON.parse(forced.stdout) as { mysql: string[]; registered: { nodeId: string; active: boolean }[] };
      expect(report.registered).toEqual([expect.objectContaining({ nodeId: 'JA', active: true })]);
      expect(report.mysql).toContain('table _dualdb_changes');
      expect(
        (await mysqlSchema(h)).triggers.filter((t) => (t as { TRIGGER_NAME: string }).TRIGGER_NAME.startsWith('_dualdb_')),
      ).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('a hub user without CREATE/TRIGGER: init changes nothing on either side and names the GRANT that fixes it', async () => {
    const m = await testHub.freshDatabase('ro');
    const admin = await testHub.admin();
    const user = `ro_${m.database.slice(-8)}`;
    try {
      for (const host of ['%', 'localhost']) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, 'ro-secret-1']);
        await admin.query(`GRANT SELECT ON \`${m.database}\`.* TO ?@?`, [user, host]);
      }
    } finally {
      await admin.end();
    }
    const config = nodeConfig(tmp.dir, 'ro-node', { ...m, user, password: 'ro-secret-1' }, { NODE_ID: 'RO' });
    const db = createSqlite(config, SQLITE_DDL);
    const h = await hubWithTables(m);
    try {
      const sqliteBefore = sqliteSchema(db);
      const mysqlBefore = await mysqlSchema(h);
      const r = runCli(['init'], envOf(config));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        new RegExp(
          `lacks INSERT, UPDATE, DELETE, CREATE, TRIGGER on database "${m.database}": nothing was installed on either side.*GRANT INSERT, UPDATE, DELETE, CREATE, TRIGGER ON \`${m.database}\`\\.\\* TO '${user}'@'(%|localhost)'`,
          's',
        ),
      );
      expect(r.stderr).not.toMatch(/command denied/);
      expect(sqliteSchema(db)).toEqual(sqliteBefore);
      expect(await mysqlSchema(h)).toEqual(mysqlBefore);
    } finally {
      db.close();
      await h.close();
    }
  });
});
