/**
 * Text keys distinct in SQLite stay distinct on the hub under the default
 * translation: 'ab', 'AB', 'ab ' (case, trailing space) are three rows after the
 * migration creates the hub table, and new ones of each kind sync both ways as
 * separate rows. `DUALDB_KEY_COLLATION=server` gives the server's default back.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { translateToMysql } from '../src/schema/translate.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

describe('the translation’s text keys', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('text primary keys, unique and foreign-key text columns get a binary collation, said in the notes; `server` opts out', () => {
    const db = openSqlite(path.join(tmp.dir, 'tr.db'), { create: true });
    db.exec(`CREATE TABLE tags (name TEXT PRIMARY KEY, note TEXT, code VARCHAR(20) UNIQUE);
             CREATE TABLE uses (id INTEGER PRIMARY KEY, tag TEXT REFERENCES tags(name), label TEXT)`);
    const tables = introspectSqlite(db);
    const t = translateToMysql(tables, { db });
    const create = t.statements.join('\n');
    expect(create).toMatch(/`name` VARCHAR\(255\) COLLATE utf8mb4_nopad_bin NOT NULL/);
    expect(create).toMatch(/`code` VARCHAR\(20\) COLLATE utf8mb4_nopad_bin NULL/);
    expect(create).toMatch(/`tag` VARCHAR\(255\) COLLATE utf8mb4_nopad_bin NULL/);
    expect(create).toMatch(/`note` LONGTEXT NULL/);
    expect(t.notes).toEqual([
      expect.objectContaining({ table: 'tags', column: 'name, code', problem: 'text keys COLLATE utf8mb4_nopad_bin' }),
      expect.objectContaining({ table: 'uses', column: 'tag' }),
    ]);
    const server = translateToMysql(tables, { db, keyCollation: 'server' });
    expect(server.statements.join('\n')).not.toContain('COLLATE utf8mb4_nopad_bin');
    expect(server.notes).toEqual([]);
    db.close();
  });
});

describe.skipIf(!HUB_AVAILABLE)('binary text keys through migrate and sync', () => {
  let hub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('keys differing by case or a trailing space are separate rows on the hub, and sync as such both ways', async () => {
    const cfg = await hub.freshDatabase('bink');
    const config = nodeConfig(tmp.dir, 'bink', cfg);
    const db = openSqlite(config.sqlitePath, { create: true });
    db.exec(`CREATE TABLE tags (name TEXT PRIMARY KEY, v INTEGER);
             INSERT INTO tags VALUES ('ab', 1), ('AB', 2), ('ab ', 3), ('Straße', 4), ('strasse', 5)`);
    db.close();
    const env = envOf(config, { DB_CONNECT_TIMEOUT: '30' });
    // The pre-flight finds no collision: the hub's key will be binary.
    const check = runCli(['schema', 'check'], env);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const migrated = runCli(['migrate'], env, { timeoutMs: 120_000 });
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
    const mysql = await MysqlHub.connect(cfg);
    try {
      const keys = async () =>
        (await mysql.query<{ name: string; v: string }>('SELECT name, v FROM tags ORDER BY v')).map((r) => `${r.name}|${r.v}`);
      expect(await keys()).toEqual(['ab|1', 'AB|2', 'ab |3', 'Straße|4', 'strasse|5']);
      // Local inserts differing only by case or trailing space reach the hub as new rows.
      const local = openSqlite(config.sqlitePath);
      local.exec("INSERT INTO tags VALUES ('Ab', 6), ('ab  ', 7); UPDATE tags SET v = 30 WHERE name = 'ab '");
      local.close();
      const push = runCli(['sync', '--once'], env, { timeoutMs: 60_000 });
      expect([0, 10], push.stdout + push.stderr).toContain(push.code);
      expect(await keys()).toEqual(['ab|1', 'AB|2', 'Straße|4', 'strasse|5', 'Ab|6', 'ab  |7', 'ab |30']);
      // And the hub's do the same on the way back.
      await mysql.query("INSERT INTO tags VALUES ('aB', 8), ('AB ', 9)");
      await mysql.query("UPDATE tags SET v = 20 WHERE name = 'AB'");
      const pull = runCli(['sync', '--once'], env, { timeoutMs: 60_000 });
      expect([0, 10], pull.stdout + pull.stderr).toContain(pull.code);
      const after = openSqlite(config.sqlitePath, { readonly: true });
      const rows = after.prepare('SELECT name, v FROM tags ORDER BY v').all() as { name: string; v: number }[];
      after.close();
      expect(rows.map((r) => `${r.name}|${r.v}`)).toEqual([
        'ab|1',
        'Straße|4',
        'strasse|5',
        'Ab|6',
        'ab  |7',
        'aB|8',
        'AB |9',
        'AB|20',
        'ab |30',
      ]);
      expect(await keys()).toEqual(rows.map((r) => `${r.name}|${r.v}`));
    } finally {
      await mysql.close();
    }
  }, 300_000);
});
