/**
 * Pre-flight check of SQLite data before it is copied to MySQL: each kind of
 * value MySQL would refuse or change is found (and MariaDB confirms it really
 * refuses or changes it), keys that collide under utf8mb4_unicode_ci are found,
 * samples are capped while counts stay exact, and the CLI prints the report.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonical, logicalTypeOf, type SqlValue, sqliteToMysql } from '../src/engines/codec.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { introspectMysql } from '../src/engines/mysql/introspect.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { type FindingKind, type PreflightReport, preflight, preflightToHub, unicodeCiKey } from '../src/schema/preflight.js';
import { translateToMysql } from '../src/schema/translate.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const kinds = (r: PreflightReport, table: string, column: string) =>
  r.findings.filter((f) => f.table === table && f.column === column).map((f) => f.kind);
const keysOf = (r: PreflightReport, table: string, kind: FindingKind): string[] =>
  r.findings.filter((f) => f.table === table && f.kind === kind).map((f) => Object.values(f.key).join(','));

describe('pre-flight without a hub (against the translated schema)', () => {
  const tmp = tempDir();
  const open: SqliteDb[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });
  afterAll(() => tmp.cleanup());
  const fresh = (name: string, ddl: string): SqliteDb => {
    const db = openSqlite(path.join(tmp.dir, `${name}.db`), { create: true });
    open.push(db);
    db.pragma('foreign_keys = OFF');
    db.exec(ddl);
    return db;
  };

  it('finds each kind of bad value, naming table, key, column, value and reason', async () => {
    const db = fresh(
      'values',
      `CREATE TABLE m (id INTEGER PRIMARY KEY, n INTEGER, r REAL, d DECIMAL(6,2), at DATETIME, day DATE, flag BOOLEAN, note TEXT);
       CREATE TABLE k (code TEXT PRIMARY KEY, v INTEGER);
       INSERT INTO m VALUES (1, 5, 1.5, 1234.5, '2024-01-02 03:04:05.123456', '2024-01-02', 1, 'fine');
       INSERT INTO m VALUES (2, 'abc', 1e999, 12345.5, '2024-02-30 10:00:00', '2024-01-02 10:00:00', 300, x'00ff');
       INSERT INTO m VALUES (3, 2.5, 'x', 1.005, 1700000000, '2024-13-01', -1, NULL);
       INSERT INTO m VALUES (4, NULL, NULL, 'nope', '2024-01-02', NULL, NULL, NULL);
       INSERT INTO m VALUES (5, NULL, NULL, NULL, '2024-01-02 03:04:05.1234567', NULL, NULL, NULL);
       INSERT INTO k VALUES ('a' || char(0) || 'b', 1), (NULL, 2), ('ok', 3);`,
    );
    const r = await preflightToHub(db, undefined);
    expect(r.target).toBe('translation');
    expect(r.ok).toBe(false);
    const at = (id: number, col: string) =>
      r.findings.find((f) => f.table === 'm' && f.key.id === String(id) && f.column === col);
    expect(at(2, 'n')).toMatchObject({ kind: 'text-in-number', value: '"abc"' });
    expect(at(3, 'n')).toMatchObject({ kind: 'fraction-in-integer', reason: expect.stringMatching(/round it to 3/) });
    expect(at(2, 'r')).toMatchObject({ kind: 'not-finite', value: 'Infinity' });
    expect(at(3, 'r')?.kind).toBe('text-in-number');
    expect(at(2, 'd')).toMatchObject({ kind: 'out-of-range', reason: expect.stringMatching(/DECIMAL\(6,2\) keeps 4/) });
    expect(at(3, 'd')).toMatchObject({ kind: 'decimal-rounded' });
    expect(at(4, 'd')?.kind).toBe('text-in-number');
    expect(at(2, 'at')?.kind).toBe('invalid-datetime');
    expect(at(3, 'at')).toMatchObject({ kind: 'invalid-datetime', reason: expect.stringMatching(/Unix time/) });
    expect(at(4, 'at')).toMatchObject({ kind: 'datetime-changed', reason: expect.stringMatching(/00:00:00/) });
    expect(at(5, 'at')).toMatchObject({ kind: 'datetime-changed', reason: expect.stringMatching(/6 fractional digits/) });
    expect(at(2, 'day')).toMatchObject({ kind: 'datetime-changed', reason: expect.stringMatching(/drops the time/) });
    expect(at(3, 'day')?.kind).toBe('invalid-datetime');
    expect(at(2, 'flag')).toMatchObject({ kind: 'out-of-range', value: '300' });
    expect(at(2, 'note')).toMatchObject({ kind: 'bytes-in-text', value: "x'00ff' (2 bytes)" });
    expect(r.findings.filter((f) => f.table === 'm' && f.key.id === '1')).toEqual([]);

    expect(kinds(r, 'k', 'code').sort()).toEqual(['nul-in-key', 'null-in-key']);
    expect(r.findings.find((f) => f.kind === 'nul-in-key')?.value).toBe('"a\\u0000b"');
    expect(r.tables).toEqual([
      { table: 'k', rows: 3, findings: 2 },
      { table: 'm', rows: 5, findings: 15 },
    ]);
  });

  it('finds keys that collide under utf8mb4_unicode_ci, or after type conversion', () => {
    const db = fresh(
      'dups',
      `CREATE TABLE u (email TEXT PRIMARY KEY, nick TEXT UNIQUE);
       INSERT INTO u VALUES ('ana@x.io', 'Straße'), ('ANA@X.IO', 'strasse'), ('bob@x.io', 'résumé'), ('bob@x.io ', 'Resume'),
                            ('cy@x.io', '😀'), ('dee@x.io', '😁'), ('ed@x.io', 'æ'), ('fay@x.io', 'ae'), ('gus@x.io', NULL), ('hal@x.io', NULL);
       CREATE TABLE mixed (k PRIMARY KEY, v);
       INSERT INTO mixed VALUES (1, 'a'), ('1', 'b'), (2, 'c');
       CREATE TABLE pair (a TEXT, b INTEGER, PRIMARY KEY (a, b));
       INSERT INTO pair VALUES ('x', 1), ('X', 1), ('x', 2);`,
    );
    const sTables = introspectSqlite(db);
    // The server's case-insensitive collation on keys (the default translation gives them a binary one).
    const targets = translateToMysql(sTables, { db, keyCollation: 'server' }).tables.map((t) => t.model);
    const r = preflight(db, sTables, targets);
    const dup = (column: string) =>
      r.findings
        .filter((f) => f.table === 'u' && f.column === column && f.kind === 'duplicate-key')
        .map((f) => `${f.key.email}=${f.value}`)
        .sort();
    // Case, trailing spaces (PAD SPACE), accents, ß = ss, all emoji equal; æ and ae stay distinct; NULLs never collide.
    // The row found second in the table's one pass is the one named.
    expect(dup('email')).toEqual(['ANA@X.IO="ANA@X.IO"', 'bob@x.io ="bob@x.io "']);
    expect(dup('nick')).toEqual(['ANA@X.IO="strasse"', 'bob@x.io ="Resume"', 'dee@x.io="😁"']);
    // Under the default translation (binary NO PAD keys) the same rows stay distinct.
    const binary = preflight(
      db,
      sTables,
      translateToMysql(sTables, { db }).tables.map((t) => t.model),
    );
    expect(binary.findings.filter((f) => f.table === 'u' && f.kind === 'duplicate-key')).toEqual([]);
    expect(r.findings.find((f) => f.column === 'email')?.reason).toMatch(/utf8mb4_unicode_ci: the primary key would refuse it/);
    // Untyped key holding 1 and '1': both become 1 on MySQL (the translation makes it a text key: '1' = '1').
    expect(keysOf(r, 'mixed', 'duplicate-key')).toHaveLength(1);
    expect(keysOf(r, 'pair', 'duplicate-key')).toEqual(['X,1']);
    expect(r.counts.find((c) => c.table === 'u' && c.column === 'email')?.count).toBe(2);
  });

  it('finds orphan rows (foreign keys SQLite did not enforce) and NULLs in columns the target declares NOT NULL', () => {
    const db = fresh(
      'orphans',
      `CREATE TABLE p (id INTEGER PRIMARY KEY);
       CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id), label TEXT);
       INSERT INTO p VALUES (1);
       INSERT INTO c VALUES (10, 1, 'ok'), (11, 99, NULL), (12, NULL, 'x');`,
    );
    const sTables = introspectSqlite(db);
    const targets = translateToMysql(sTables).tables.map((t) => t.model);
    const c = targets.find((t) => t.name === 'c');
    const label = c?.columns.find((x) => x.name === 'label');
    if (label) label.nullable = false; // as if the hub declared it NOT NULL
    const r = preflight(db, sTables, targets);
    expect(r.findings.find((f) => f.kind === 'orphan')).toMatchObject({
      table: 'c',
      key: { id: '11' },
      column: 'p_id',
      value: '99',
    });
    expect(r.findings.find((f) => f.kind === 'null-not-allowed')).toMatchObject({
      table: 'c',
      key: { id: '11' },
      column: 'label',
    });
  });

  it('streams big tables, keeps a few samples per check and counts all of them', () => {
    const db = fresh('big', 'CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER, s TEXT UNIQUE)');
    const insert = db.prepare('INSERT INTO big VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 60_000; i++) insert.run(i, i % 1000 === 0 ? 'bad' : i, i % 5000 === 0 ? `K${i - 1}` : `k${i}`);
    })();
    const started = Date.now();
    const r = preflight(
      db,
      introspectSqlite(db),
      translateToMysql(introspectSqlite(db), { db, keyCollation: 'server' }).tables.map((t) => t.model),
      {
        samplesPerCheck: 5,
      },
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.tables).toEqual([{ table: 'big', rows: 60_000, findings: 72 }]);
    expect(r.counts.find((c) => c.kind === 'text-in-number')?.count).toBe(60);
    expect(r.counts.find((c) => c.kind === 'duplicate-key')?.count).toBe(12);
    expect(r.findings.filter((f) => f.kind === 'text-in-number')).toHaveLength(5);
    expect(r.findings.filter((f) => f.kind === 'duplicate-key')).toHaveLength(5);
    expect(r.truncated).toBe(true);
  });

  it('approximates utf8mb4_unicode_ci keys', () => {
    expect(unicodeCiKey('Straße ')).toBe(unicodeCiKey('STRASSE'));
    expect(unicodeCiKey('Crème Brûlée')).toBe(unicodeCiKey('creme brulee'));
    expect(unicodeCiKey('ﬁle')).toBe(unicodeCiKey('FILE'));
    expect(unicodeCiKey('a\u200bb')).toBe(unicodeCiKey('ab'));
    expect(unicodeCiKey('😀')).toBe(unicodeCiKey('🚀'));
    expect(unicodeCiKey('a b')).not.toBe(unicodeCiKey('ab'));
    expect(unicodeCiKey('æ')).not.toBe(unicodeCiKey('ae'));
  });
});

describe.skipIf(!HUB_AVAILABLE)('pre-flight against MariaDB', () => {
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

  it('every value it flags is really refused or changed by MariaDB, and the good row is not', async () => {
    const cfg = await hub.freshDatabase('pf');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    const db = openSqlite(path.join(tmp.dir, 'confirm.db'), { create: true });
    open.push(db);
    db.exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, n INTEGER, small INTEGER, r, d DECIMAL(6,2), at DATETIME, day DATE, name TEXT, doc TEXT);
      INSERT INTO m VALUES (1, 5, 100, 1.5, 1234.5, '2024-01-02 03:04:05.123456', '2024-01-02', 'Ana 😀', 'short');
      INSERT INTO m VALUES (2, 'abc', 300, 9007199254740993, 12345.5, '2024-02-30 10:00:00', '2024-01-02 10:00:00', 'much too long', '${'é'.repeat(40_000)}');
      INSERT INTO m VALUES (3, 2.5, -129, 'x', 1.005, 1700000000, '2024-13-01', 'ok', x'ff00');
      INSERT INTO m VALUES (4, 7, 1, 2.5, 'nope', '2024-01-02', '2024-01-02', 'ok', 'ok');
      INSERT INTO m VALUES (5, 7, 1, 2.5, 1, '2024-01-02 03:04:05.1234567', '2024-01-02', 'ok', 'ok');`);
    // The hub already has the table, narrower than SQLite's data (a legacy hub schema).
    await mysql.query(`CREATE TABLE m (id BIGINT PRIMARY KEY, n BIGINT, small TINYINT, r DOUBLE, d DECIMAL(6,2), at DATETIME(6),
      day DATE, name VARCHAR(8), doc TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    const r = await preflightToHub(db, mysql);
    expect(r.target).toBe('hub');
    const flagged = new Set(r.findings.map((f) => `${f.key.id}.${f.column}`));
    expect([...flagged].sort()).toEqual(
      [
        '2.n',
        '2.small',
        '2.r',
        '2.d',
        '2.at',
        '2.day',
        '2.name',
        '2.doc',
        '3.n',
        '3.small',
        '3.r',
        '3.d',
        '3.at',
        '3.day',
        '3.doc',
        '4.d',
        '4.at',
        '5.at',
      ].sort(),
    );
    expect(r.findings.find((f) => f.key.id === '2' && f.column === 'doc')?.reason).toMatch(/80000 bytes: TEXT holds 65535/);
    expect(r.findings.find((f) => f.key.id === '2' && f.column === 'r')?.kind).toBe('precision-loss');

    // Ask MariaDB: each flagged value is refused or comes back different; every other value comes back equal.
    const hubCols = (await introspectMysql(mysql))[0]?.columns ?? [];
    const rows = db.prepare('SELECT * FROM m ORDER BY id').all() as Record<string, SqlValue>[];
    let probe = 1000;
    for (const row of rows) {
      for (const c of hubCols.filter((x) => x.name !== 'id')) {
        const type = logicalTypeOf(c.baseType);
        const value = row[c.name] ?? null;
        let outcome: 'refused' | 'changed' | 'same';
        try {
          const id = ++probe;
          await mysql.query(`INSERT INTO m (id, \`${c.name}\`) VALUES (?, ?)`, [id, sqliteToMysql(value, type, c.name)]);
          const [back] = await mysql.query<Record<string, unknown>>(`SELECT \`${c.name}\` AS v FROM m WHERE id = ?`, [id]);
          outcome = canonical(back?.v, type) === canonical(value, type) ? 'same' : 'changed';
        } catch {
          outcome = 'refused';
        }
        const key = `${String(row.id)}.${c.name}`;
        expect(outcome === 'same', `${key}: ${outcome}`).toBe(!flagged.has(key));
      }
    }
  });

  it('follows the hub’s collations: a _bin key column only collides on trailing spaces', async () => {
    const cfg = await hub.freshDatabase('pfc');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    await mysql.query(
      'CREATE TABLE t (k VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, u VARCHAR(20) UNIQUE) DEFAULT CHARSET=utf8mb4',
    );
    const db = openSqlite(path.join(tmp.dir, 'coll.db'), { create: true });
    open.push(db);
    db.exec(`CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE);
      INSERT INTO t VALUES ('a', 'x'), ('A', 'X'), ('a ', 'y');`);
    const r = await preflightToHub(db, mysql);
    expect(r.findings.filter((f) => f.column === 'k').map((f) => f.value)).toEqual(['"a "']);
    expect(r.findings.filter((f) => f.column === 'u').map((f) => f.value)).toEqual(['"X"']);
    // MariaDB agrees.
    await mysql.query("INSERT INTO t VALUES ('a', 'x'), ('A', 'y')");
    await expect(mysql.query("INSERT INTO t VALUES ('a ', 'z')")).rejects.toThrow(/Duplicate entry/);
    await expect(mysql.query("INSERT INTO t VALUES ('b', 'X')")).rejects.toThrow(/Duplicate entry/);
  });

  it('CLI: `schema check --json` reports and exits 20; a clean database exits 0', async () => {
    const cfg = await hub.freshDatabase('pfcli');
    const config = nodeConfig(tmp.dir, 'cli', cfg);
    const db = openSqlite(config.sqlitePath, { create: true });
    db.exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME); INSERT INTO t VALUES (1, 'yesterday'), (2, '2024-01-01 00:00:00');",
    );
    db.exec("CREATE TABLE clean (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO clean VALUES (1, 'x');");
    db.close();
    // A generous connect timeout: on a loaded machine a slow connect would make the check fall back to the translation.
    const env = envOf(config, { DB_CONNECT_TIMEOUT: '30' });
    const bad = runCli(['schema', 'check', '--json'], env);
    expect(bad.code, bad.stdout + bad.stderr).toBe(20);
    const report = JSON.parse(bad.stdout) as PreflightReport & { note?: string };
    expect(report.note).toBeUndefined();
    expect(report.target).toBe('hub');
    expect(report.findings).toEqual([
      expect.objectContaining({ table: 't', key: { id: '1' }, column: 'at', kind: 'invalid-datetime' }),
    ]);
    const text = runCli(['schema', 'check'], env);
    expect(text.stdout).toMatch(/✖ t \[id=1\] at = "yesterday" — invalid-datetime/);
    const clean = runCli(['schema', 'check', '--tables', 'clean'], env);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain('no value would be refused or changed by MySQL');
  });

  it('counts the REALs a FLOAT column would change; `.000000` in a DATETIME without fractions is not a loss', async () => {
    const cfg = await hub.freshDatabase('pffl');
    const mysql = await MysqlHub.connect(cfg);
    open.push(mysql);
    await mysql.query(
      'CREATE TABLE m (id INT PRIMARY KEY, rate FLOAT NULL, at DATETIME NULL, t TIME NULL) DEFAULT CHARSET=utf8mb4',
    );
    const config = nodeConfig(tmp.dir, 'float', cfg);
    const db = openSqlite(config.sqlitePath, { create: true });
    db.exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, rate FLOAT, at DATETIME, t TIME);
      INSERT INTO m VALUES (1, 12.345678901234567, '2026-02-01 00:00:00.000000', '08:00:00.000000'),
                           (2, 0.5, '2026-02-01 10:00:00.000000', '08:00:00'),
                           (3, 0.1, '2026-02-01 10:00:00', NULL),
                           (4, 0.75, NULL, '08:00:00.250000');`);
    db.close();
    const r = runCli(['schema', 'check', '--json'], envOf(config, { DB_CONNECT_TIMEOUT: '30' }));
    expect(r.code, r.stdout + r.stderr).toBe(20);
    const report = JSON.parse(r.stdout) as PreflightReport;
    // 12.345678901234567 and 0.1 change in 32 bits; 0.5 and 0.75 do not.
    expect(report.counts).toEqual(
      expect.arrayContaining([
        { table: 'm', column: 'rate', kind: 'precision-loss', count: 2 },
        { table: 'm', column: 't', kind: 'datetime-changed', count: 1 },
      ]),
    );
    expect(report.counts.filter((c) => c.column === 'at')).toEqual([]);
    expect(report.findings.find((f) => f.key.id === '1' && f.column === 'rate')?.reason).toMatch(/would come back as 12\.3457/);
    // MariaDB agrees: the FLOAT comes back changed, the zero fraction is the same instant.
    await mysql.query("INSERT INTO m VALUES (1, 12.345678901234567, '2026-02-01 00:00:00.000000', '08:00:00')");
    const [row] = await mysql.query<{ rate: number; at: string }>('SELECT rate, at FROM m');
    expect(row?.rate).not.toBe(12.345678901234567);
    expect(row?.at).toBe('2026-02-01 00:00:00');
  });
});
