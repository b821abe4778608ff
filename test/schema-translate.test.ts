/**
 * Schema translation: type and default mapping, then a synthetic SQLite schema
 * full of awkward columns translated to DDL that MariaDB accepts (values copied
 * across compare equal), with every unfaithful bit in the warnings; and the
 * reverse, hub tables to SQLite DDL for seeding a site.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonical, logicalTypeOf, pairLogicalType, sqliteToMysql } from '../src/engines/codec.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql } from '../src/engines/mysql/introspect.js';
import { quoteMysqlId } from '../src/engines/mysql/quote.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import type { TableInfo } from '../src/engines/types.js';
import { mysqlDefaultToSqlite, sqliteDefaultToMysql } from '../src/schema/defaults.js';
import { runStatements } from '../src/schema/runner.js';
import { translateToMysql, translateToSqlite } from '../src/schema/translate.js';
import type { TranslationWarning } from '../src/schema/translation.js';
import { classifySqliteType, mysqlType } from '../src/schema/type-map.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const stmts = (sqls: string[]) => sqls.map((sql, i) => ({ sql, line: i + 1, endLine: i + 1 }));
const warned = (ws: TranslationWarning[], table: string, column: string | undefined, re: RegExp) =>
  ws.some((w) => w.table === table && (column === undefined || w.column === column) && re.test(`${w.problem} ${w.reason}`));

describe('type and default mapping', () => {
  it('classifies declared SQLite types by name, then by affinity', () => {
    const cls = (t: string) => classifySqliteType(t).cls;
    expect(cls('INTEGER')).toBe('integer');
    expect(cls('UNSIGNED BIG INT')).toBe('integer');
    expect(cls('BOOLEAN')).toBe('boolean');
    expect(cls('TINYINT(1)')).toBe('boolean');
    expect(cls('DATETIME')).toBe('datetime');
    expect(cls('TIMESTAMP')).toBe('datetime');
    expect(cls('DATE')).toBe('date');
    expect(cls('NVARCHAR(40)')).toBe('text');
    expect(classifySqliteType('VARCHAR(40)').length).toBe(40);
    expect(classifySqliteType('DECIMAL(12, 3)')).toMatchObject({ cls: 'decimal', precision: 12, scale: 3 });
    expect(classifySqliteType('DECIMAL_TEXT(20,4)')).toMatchObject({ cls: 'decimal', precision: 20, scale: 4 });
    expect(cls('DOUBLE PRECISION')).toBe('double');
    expect(cls('FLOAT')).toBe('double');
    expect(cls('BLOB')).toBe('blob');
    expect(cls('')).toBe('untyped');
    expect(cls('MONEY')).toBe('numeric-other');
    expect(cls('UUID')).toBe('text');
  });

  it('translates SQLite defaults to MySQL, re-escaping literals', () => {
    const d = (v: string, t = mysqlType('VARCHAR(10)', 'varchar')) => sqliteDefaultToMysql(v, t);
    const dt = mysqlType('DATETIME(6)', 'datetime');
    const int = mysqlType('BIGINT', 'bigint');
    const lt = mysqlType('LONGTEXT', 'longtext');
    expect(d("'it''s \\ ok'").sql).toBe("'it\\'s \\\\ ok'");
    expect(d("'x'", lt).sql).toBe("('x')");
    expect(d('42', int).sql).toBe('42');
    expect(d('-1.5e3', int).sql).toBe('-1.5e3');
    expect(d('0x1F', int).sql).toBe('31');
    expect(d('TRUE', int).sql).toBe('1');
    expect(d("'7'", int).sql).toBe('7');
    expect(d('NULL').sql).toBeNull();
    expect(d('CURRENT_TIMESTAMP', dt).sql).toBe('(UTC_TIMESTAMP(6))');
    expect(sqliteDefaultToMysql('CURRENT_TIMESTAMP', dt, 'session').sql).toBe('CURRENT_TIMESTAMP(6)');
    expect(d("(strftime('%Y-%m-%d %H:%M:%f', 'now'))", dt).sql).toBe('(UTC_TIMESTAMP(6))');
    expect(d('CURRENT_TIMESTAMP', lt).sql).toBe('(CAST(UTC_TIMESTAMP() AS CHAR))');
    expect(d("'2024-01-02T03:04:05'", dt).sql).toBe("'2024-01-02 03:04:05'");
    expect(d("x'00ff'", mysqlType('LONGBLOB', 'longblob')).sql).toBe("(X'00ff')");
    expect(d("(julianday('now'))", mysqlType('DOUBLE', 'double'))).toMatchObject({
      sql: null,
      warning: { problem: "default (julianday('now'))" },
    });
    expect(d("'abc'", int).warning?.reason).toMatch(/text on a numeric column/);
  });

  it('translates hub defaults (MariaDB’s COLUMN_DEFAULT form) to SQLite', () => {
    expect(mysqlDefaultToSqlite("'a''b\\\\c\\n'", 'varchar').sql).toBe("'a''b\\c\n'");
    expect(mysqlDefaultToSqlite('1.50', 'decimal').sql).toBe('1.50');
    expect(mysqlDefaultToSqlite('utc_timestamp(6)', 'datetime').sql).toBe("(strftime('%Y-%m-%d %H:%M:%f', 'now'))");
    expect(mysqlDefaultToSqlite('(cast(utc_timestamp() as char charset utf8mb4))', 'longtext').sql).toBe('CURRENT_TIMESTAMP');
    const cur = mysqlDefaultToSqlite('current_timestamp()', 'datetime');
    expect(cur.sql).toBe('CURRENT_TIMESTAMP');
    expect(cur.warning?.reason).toMatch(/session time zone/);
    expect(mysqlDefaultToSqlite('uuid()', 'char').warning?.reason).toMatch(/no SQLite equivalent/);
  });
});

/** An existing SQLite database with most things that are awkward to carry to MySQL. */
const AWKWARD = `
CREATE TABLE tags (name TEXT PRIMARY KEY, label VARCHAR(20), created TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, boss INTEGER REFERENCES people(id), dept TEXT REFERENCES depts(code));
CREATE TABLE depts (code TEXT PRIMARY KEY, head INTEGER REFERENCES people(id) ON DELETE SET NULL);
CREATE TABLE posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL DEFAULT 'untitled',
  body TEXT,
  price DECIMAL(10,2) DEFAULT 0,
  amount NUMERIC,
  ok BOOLEAN NOT NULL DEFAULT TRUE,
  score FLOAT,
  big INTEGER,
  at DATETIME DEFAULT (datetime('now')),
  day DATE,
  jd REAL DEFAULT (julianday('now')),
  anything,
  blobby BLOB DEFAULT x'00ff',
  tag TEXT REFERENCES tags(name) ON DELETE SET NULL ON UPDATE CASCADE,
  owner INT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  ghost INTEGER REFERENCES ghosts(id),
  wrong INTEGER REFERENCES tags(name),
  loose INTEGER REFERENCES people(boss),
  strict_parent INTEGER NOT NULL DEFAULT 1 REFERENCES people(id) ON DELETE SET NULL
);
CREATE INDEX ix_posts_title ON posts(title);
CREATE INDEX ix_posts_lower ON posts(lower(title));
CREATE UNIQUE INDEX ux_posts_body ON posts(body) WHERE body IS NOT NULL;
CREATE TABLE post_tags (post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE, tag TEXT NOT NULL REFERENCES tags(name), note TEXT, PRIMARY KEY (post_id, tag));
CREATE TABLE wide_key (a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, UNIQUE (a, b, c, d, e));
CREATE TABLE long_pk (k VARCHAR(1000) PRIMARY KEY, v TEXT);
CREATE TABLE wide_row (${Array.from({ length: 10 }, (_, i) => `c${i} VARCHAR(2000)`).join(', ')}, id INTEGER PRIMARY KEY);
CREATE TABLE nokey (a, b TEXT);
CREATE TABLE _dualdb_meta_test (id INTEGER PRIMARY KEY);
`;

describe.skipIf(!HUB_AVAILABLE)('translation against MariaDB', () => {
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

  async function freshHub(): Promise<MysqlHub> {
    const h = await MysqlHub.connect(await hub.freshDatabase('tr'));
    open.push(h);
    return h;
  }
  function awkwardSqlite(name: string): SqliteDb {
    const db = openSqlite(path.join(tmp.dir, `${name}.db`), { create: true });
    open.push(db);
    db.pragma('foreign_keys = OFF');
    db.exec(AWKWARD);
    db.prepare('INSERT INTO tags (name) VALUES (?)').run('x'.repeat(300));
    db.prepare('INSERT INTO people (id, email) VALUES (1, ?)').run('a@example.com');
    db.prepare(
      `INSERT INTO posts (title, body, price, amount, score, big, at, day, anything, blobby, tag, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      'héllo 😀',
      'b',
      12.34,
      1.5,
      0.1,
      2n ** 62n + 1n,
      '2024-03-04 05:06:07.123456',
      '2024-03-04',
      'text',
      Buffer.from([0, 255, 7]),
      'x'.repeat(300),
      1,
    );
    db.prepare('INSERT INTO posts (title, anything, owner) VALUES (?, ?, ?)').run('second', 42, 1);
    db.pragma('foreign_keys = ON');
    return db;
  }

  it('produces DDL that MariaDB accepts, with the types, keys and indexes chosen for exact round trips', async () => {
    const db = awkwardSqlite('awkward');
    const mysql = await freshHub();
    const tr = translateToMysql(introspectSqlite(db, [...introspectSqlite(db).map((t) => t.name), '_dualdb_meta_test']), { db });
    expect(tr.tables.map((t) => t.name)).not.toContain('_dualdb_meta_test');
    // Parents first; the people ↔ depts cycle is closed by a deferred ALTER TABLE.
    const order = tr.tables.map((t) => t.name);
    expect(order.indexOf('tags')).toBeLessThan(order.indexOf('posts'));
    expect(order.indexOf('posts')).toBeLessThan(order.indexOf('post_tags'));
    expect(tr.deferred).toHaveLength(1);
    expect(tr.deferred[0]?.sql).toMatch(/^ALTER TABLE `(depts|people)` ADD CONSTRAINT/);

    await runStatements(stmts(tr.statements), { engine: 'mysql', hub: mysql }, { source: 'translation' });
    const m = new Map((await introspectMysql(mysql)).map((t) => [t.name, t]));
    const col = (t: string, c: string) => m.get(t)?.columns.find((x) => x.name === c);

    expect(col('tags', 'name')).toMatchObject({ type: 'varchar(300)', nullable: false, pkOrdinal: 1 }); // from the data
    expect(col('post_tags', 'tag')?.type).toBe('varchar(300)'); // same as the key it references
    expect(col('posts', 'tag')?.type).toBe('varchar(300)');
    expect(m.get('post_tags')?.primaryKey).toEqual(['post_id', 'tag']);
    expect(col('posts', 'id')).toMatchObject({ baseType: 'bigint', autoIncrement: true });
    expect(col('posts', 'price')?.type).toBe('decimal(10,2)');
    expect(col('posts', 'amount')?.type).toBe('decimal(65,30)');
    expect(col('posts', 'ok')).toMatchObject({ type: 'tinyint(1)', defaultValue: '1', nullable: false });
    expect(col('posts', 'score')?.baseType).toBe('double');
    expect(col('posts', 'big')?.baseType).toBe('bigint');
    expect(col('posts', 'at')).toMatchObject({ type: 'datetime(6)', defaultValue: 'utc_timestamp(6)' });
    expect(col('posts', 'title')).toMatchObject({ baseType: 'longtext', defaultValue: "'untitled'" });
    expect(col('posts', 'blobby')?.baseType).toBe('longblob');
    expect(col('people', 'email')?.type).toBe('varchar(255)'); // unique text: bounded
    expect(col('people', 'dept')?.type).toBe(col('depts', 'code')?.type);
    expect(col('long_pk', 'k')?.type).toBe('varchar(768)');
    expect(col('wide_row', 'c0')?.baseType).toBe('longtext');

    const fks = (t: string) =>
      m
        .get(t)
        ?.foreignKeys.map((f) => `${f.columns.join()}→${f.refTable} ${f.onDelete}/${f.onUpdate}`)
        .sort();
    expect(fks('posts')).toEqual([
      'owner→people CASCADE/RESTRICT',
      'strict_parent→people RESTRICT/RESTRICT', // SET NULL on a NOT NULL column: refused by MySQL, so NO ACTION
      'tag→tags SET NULL/CASCADE',
    ]);
    expect(fks('post_tags')).toEqual(['post_id→posts CASCADE/RESTRICT', 'tag→tags RESTRICT/RESTRICT']);
    expect(fks('depts')).toEqual(['head→people SET NULL/RESTRICT']);

    const prefixes = await mysql.query<{ INDEX_NAME: string; SUB_PART: string | number | null }>(
      "SELECT INDEX_NAME, SUB_PART FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'posts' AND INDEX_NAME = 'ix_posts_title'",
    );
    expect(Number(prefixes[0]?.SUB_PART)).toBe(255);
    expect(m.get('posts')?.indexes.map((i) => i.name)).not.toContain('ux_posts_body');
    expect(m.get('people')?.indexes.find((i) => i.unique)?.name).toBe('uq_people_email');

    const w = tr.warnings;
    expect(warned(w, 'posts', 'amount', /without precision/)).toBe(true);
    expect(warned(w, 'posts', 'jd', /julianday/)).toBe(true);
    expect(warned(w, 'posts', 'anything', /mixed values \((integer|real)\+text\): text is used/)).toBe(true);
    expect(warned(w, 'posts', undefined, /ix_posts_lower.*expression/)).toBe(true);
    expect(warned(w, 'posts', undefined, /ux_posts_body.*partial UNIQUE/)).toBe(true);
    expect(warned(w, 'posts', 'ghost', /ghosts.*left out/)).toBe(true);
    expect(warned(w, 'posts', 'wrong', /BIGINT cannot reference VARCHAR/)).toBe(true);
    expect(warned(w, 'posts', 'strict_parent', /SET NULL.*NOT NULL/)).toBe(true);
    expect(warned(w, 'posts', 'loose', /people \(boss\) is not a key or an index/)).toBe(true);
    expect(warned(w, 'nokey', undefined, /no primary key/)).toBe(true);
    expect(warned(w, 'long_pk', 'k', /768/)).toBe(true);
    expect(warned(w, 'wide_key', undefined, /3072 bytes/)).toBe(true);
    expect(warned(w, 'wide_row', undefined, /65535-byte limit/)).toBe(true);
    expect(w.every((x) => !x.table.startsWith('_dualdb_'))).toBe(true);
  });

  it('copies values across the translated tables without change (big integers, decimals, fractions, emoji, bytes)', async () => {
    const db = awkwardSqlite('values');
    const mysql = await freshHub();
    const sTables = introspectSqlite(db);
    const tr = translateToMysql(sTables, { db });
    await runStatements(stmts(tr.statements), { engine: 'mysql', hub: mysql });
    const mTables = await introspectMysql(mysql);
    for (const name of ['people', 'tags', 'posts']) {
      const s = sTables.find((t) => t.name === name) as TableInfo;
      const mt = mTables.find((t) => t.name === name) as TableInfo;
      const types = s.columns.map((c) => ({
        name: c.name,
        type: pairLogicalType(
          mt.columns.find((x) => x.name === c.name),
          c,
        ),
      }));
      // Columns the translation warned about are not expected to round-trip (posts.anything: 42 comes back as '42').
      const faithful = types.filter((t) => !tr.warnings.some((w) => w.table === name && w.column === t.name));
      const rows = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all() as Record<string, never>[];
      for (const r of rows) {
        const cols = types.map((t) => quoteMysqlId(t.name)).join(', ');
        const params = types.map((t) => sqliteToMysql(r[t.name] ?? null, t.type, t.name));
        await mysql.query(`INSERT INTO ${quoteMysqlId(name)} (${cols}) VALUES (${types.map(() => '?').join(', ')})`, params);
      }
      const back = await mysql.query<Record<string, unknown>>(`SELECT * FROM ${quoteMysqlId(name)}`);
      expect(back).toHaveLength(rows.length);
      rows.forEach((r, i) => {
        for (const t of faithful)
          expect(canonical(back[i]?.[t.name], t.type), `${name}.${t.name}`).toBe(canonical(r[t.name], t.type));
      });
    }
  });

  it('without a SQLite handle: text keys get 255, untyped columns LONGTEXT with a warning; clock follows the option', () => {
    const db = awkwardSqlite('nodata');
    const tables = introspectSqlite(db, ['tags', 'nokey']);
    const tr = translateToMysql(tables, { clock: 'session' });
    const tags = tr.tables.find((t) => t.name === 'tags')?.model;
    expect(tags?.columns.find((c) => c.name === 'name')?.type).toBe('varchar(255)');
    expect(warned(tr.warnings, 'nokey', 'a', /without the data to look at, LONGTEXT/)).toBe(true);
    expect(tr.statements.join('\n')).toContain('DEFAULT (CAST(CURRENT_TIMESTAMP() AS CHAR))');
  });

  it('translates hub tables back to SQLite (seeding a site): exact decimals, enum checks, warnings for what SQLite cannot hold', async () => {
    const mysql = await freshHub();
    await mysql.query(
      `CREATE TABLE parent (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, code VARCHAR(20) NOT NULL, UNIQUE KEY uq_code (code))`,
    );
    await mysql.query(`CREATE TABLE child (
      a INT NOT NULL, b VARCHAR(10) NOT NULL,
      parent_id BIGINT NULL,
      money DECIMAL(20,4) NOT NULL DEFAULT 0.0000,
      small DECIMAL(8,2) NULL,
      ratio FLOAT NULL,
      seen TIMESTAMP NULL DEFAULT NULL,
      at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      state ENUM('new', 'it''s done') NOT NULL DEFAULT 'new',
      huge BIGINT UNSIGNED NULL,
      flag TINYINT(1) NOT NULL DEFAULT 0,
      doc JSON NULL,
      bin VARBINARY(16) NULL,
      PRIMARY KEY (a, b),
      KEY idx_seen (seen),
      CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    const hubTables = await introspectMysql(mysql);
    const tr = translateToSqlite(hubTables);
    expect(tr.tables.map((t) => t.name)).toEqual(['parent', 'child']);
    const db = openSqlite(path.join(tmp.dir, 'seed.db'), { create: true });
    open.push(db);
    await runStatements(stmts(tr.statements), { engine: 'sqlite', db });
    const s = new Map(introspectSqlite(db).map((t) => [t.name, t]));
    const col = (c: string) => s.get('child')?.columns.find((x) => x.name === c);
    expect(s.get('parent')?.columns.find((c) => c.name === 'id')).toMatchObject({ type: 'INTEGER', autoIncrement: true });
    expect(s.get('child')?.primaryKey).toEqual(['a', 'b']);
    expect(col('money')?.type).toBe('DECIMAL_TEXT(20,4)');
    expect(col('small')?.type).toBe('DECIMAL(8,2)');
    expect(col('flag')?.type).toBe('BOOLEAN');
    expect(col('at')?.defaultValue).toBe("strftime('%Y-%m-%d %H:%M:%f', 'now')");
    expect(s.get('child')?.foreignKeys).toEqual([
      expect.objectContaining({ refTable: 'parent', columns: ['parent_id'], onDelete: 'SET NULL', onUpdate: 'NO ACTION' }),
    ]);
    expect(s.get('parent')?.indexes).toEqual([expect.objectContaining({ name: 'parent_uq_code', unique: true })]);

    // DECIMAL(20,4) stays exact (TEXT affinity); the ENUM is checked locally.
    db.prepare("INSERT INTO parent (code) VALUES ('p')").run();
    db.prepare("INSERT INTO child (a, b, money, state) VALUES (1, 'x', '1234567890123456.1234', 'it''s done')").run();
    expect(db.prepare('SELECT money FROM child').pluck().get()).toBe('1234567890123456.1234');
    expect(() => db.prepare("INSERT INTO child (a, b, state) VALUES (2, 'y', 'bogus')").run()).toThrow(/CHECK constraint failed/);

    expect(warned(tr.warnings, 'child', 'ratio', /FLOAT is 32-bit/)).toBe(true);
    expect(warned(tr.warnings, 'child', 'seen', /TIMESTAMP/)).toBe(true);
    expect(warned(tr.warnings, 'child', 'huge', /BIGINT UNSIGNED/)).toBe(true);
    expect(warned(tr.warnings, 'child', 'at', /session time zone/)).toBe(true);

    // And forward again: the seeded SQLite schema translates back to the hub's types.
    const again = translateToMysql([...s.values()], { db });
    const child = again.tables.find((t) => t.name === 'child')?.model;
    const hubChild = hubTables.find((t) => t.name === 'child') as TableInfo;
    for (const c of ['money', 'small', 'flag', 'b', 'at']) {
      expect(child?.columns.find((x) => x.name === c)?.type, c).toBe(hubChild.columns.find((x) => x.name === c)?.type);
    }
    expect(logicalTypeOf('decimal_text')).toBe('text'); // only used when the hub has no such column
  });
});
