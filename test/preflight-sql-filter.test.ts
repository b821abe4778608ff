/**
 * The pre-flight's in-SQLite filter (src/schema/preflight-sql.ts) lets through no value the
 * per-value checks would flag: for every target column type, a corpus of edge values
 * (ranges, 2^53, non-finite REALs, date-times with every way of being wrong, NUL
 * characters, multi-byte text at the limits, invalid UTF-8, blobs) is checked by
 * `preflight` and, as reference, by `checkerFor` on every value in JavaScript (what the
 * pre-flight did on every row before the filter). The findings must be the same, row for row.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SqlValue } from '../src/engines/codec.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import type { ColumnInfo, TableInfo } from '../src/engines/types.js';
import { checkerFor, preflight } from '../src/schema/preflight.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const ints = [
  0n,
  1n,
  -1n,
  ...[127n, 255n, 32767n, 65535n, 8388607n, 16777215n, 2147483647n, 4294967295n].flatMap((n) => [n, n + 1n, -n - 1n, -n - 2n]),
  99n,
  100n,
  9999n,
  10000n,
  -9999n,
  -10000n,
  999999n,
  1000000n,
  9007199254740992n,
  9007199254740993n,
  -9007199254740993n,
  9007199254740994n,
  9223372036854775807n,
  -9223372036854775808n,
];
const reals = [
  0.5,
  1.5,
  -2.5,
  1.0,
  0.1,
  0.75,
  1234.5,
  12345.5,
  1.005,
  12.345678901234567,
  // SQLite prints it '0.3' (15 digits), JavaScript '0.30000000000000004'.
  0.1 + 0.2,
  1e308,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  9007199254740994,
  3.5e38,
  1e-7,
];
const texts = [
  '',
  'abc',
  '12',
  '-5',
  '1.5',
  '1e3',
  ' 7',
  '2024-01-02 03:04:05',
  '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.1234567',
  '2024-01-02 03:04:05.',
  '2024-01-02 03:04:05.120000',
  '2024-01-02 03:04:05.000000',
  '2024-01-02 03:04:05.100',
  '2024-01-02 03:04:05.1a',
  '2024-01-02 03:04:05,123',
  '2024-01-02 03:04:051234',
  '2024-02-29 00:00:00',
  '2023-02-29 00:00:00',
  '1900-02-29 00:00:00',
  '2000-02-29 12:00:00',
  '2024-04-31 00:00:00',
  '2024-04-30 00:00:00',
  '2024-12-31 23:59:59',
  '2024-13-01 00:00:00',
  '2024-00-10 00:00:00',
  '2024-01-00 00:00:00',
  '2024-01-32 00:00:00',
  '2024-01-02 24:00:00',
  '2024-01-02 23:60:00',
  '2024-01-02 23:59:60',
  '2024-01-02T03:04:05',
  '2024-01-02 03:04:05Z',
  '2024-01-02 03:04',
  ' 2024-01-02 03:04:05',
  '2024-01-02 03:04:05 ',
  '2024-01-02',
  '2024-02-30',
  '2024-1-02',
  '1969-12-31 23:59:59',
  '1970-01-01 00:00:00',
  '2038-06-01 00:00:00',
  '2039-01-01 00:00:00',
  '2024-01-02 03:04:05.1\u0000',
  '2024-01-02\u0000',
  '2024-01-02 03:04:0\u00005',
  '2024-01-02 03:04:05.12345é',
  '10:00:00',
  '08:00:00.5',
  '-838:59:59',
  'x'.repeat(8),
  'x'.repeat(9),
  'é'.repeat(8),
  'é'.repeat(9),
  '😀'.repeat(8),
  '😀'.repeat(9),
  `a\u0000${'x'.repeat(20)}`,
  'a'.repeat(255),
  'a'.repeat(256),
  'é'.repeat(127),
  'é'.repeat(128),
  'é'.repeat(32767),
  'é'.repeat(32768),
  '{"a":1}',
  '{bad',
  'red',
  'RED',
  'red ',
  'green',
  'gr\u0000een',
];
const blobs = [
  Buffer.alloc(0),
  Buffer.from([0, 255]),
  Buffer.alloc(16, 7),
  Buffer.alloc(17, 7),
  Buffer.alloc(256, 1),
  // Bytes that read as a good date-time or date: still bytes.
  Buffer.from('2024-01-02 03:04:05'),
  Buffer.from('2024-01-02'),
];

const TYPES = [
  'tinyint',
  'tinyint unsigned',
  'tinyint(1)',
  'smallint',
  'smallint unsigned',
  'mediumint',
  'mediumint unsigned',
  'int',
  'int unsigned',
  'bigint',
  'bigint unsigned',
  'decimal(6,2)',
  'decimal(5,5)',
  'decimal(25,2)',
  'decimal(19,0)',
  'decimal(18,0)',
  'double',
  'float',
  'datetime',
  'datetime(3)',
  'datetime(6)',
  'timestamp',
  'timestamp(6)',
  'date',
  'time',
  'time(3)',
  "enum('red','green')",
  'varchar(8)',
  'char(8)',
  'tinytext',
  'text',
  'mediumtext',
  'longtext',
  'json',
  'varbinary(16)',
  'binary(16)',
  'tinyblob',
  'blob',
  'longblob',
];

function column(name: string, type: string): ColumnInfo {
  const base = /^[a-z]+/.exec(type)?.[0] ?? type;
  const args = /\((\d+)(?:,(\d+))?\)/.exec(type);
  const sized = /char|binary/.test(base);
  return {
    name,
    type,
    baseType: base,
    nullable: true,
    defaultValue: null,
    pkOrdinal: 0,
    autoIncrement: false,
    maxLength: sized && args ? Number(args[1]) : null,
    numericPrecision: /decimal/.test(base) && args ? Number(args[1]) : null,
    numericScale: /decimal/.test(base) && args ? Number(args[2] ?? 0) : null,
  };
}

/** The source column as declared: its affinity decides what SQLite stores and how it compares. */
const DECLARED = ['', 'COLLATE NOCASE', 'INTEGER', 'REAL', 'NUMERIC', 'TEXT COLLATE RTRIM'];

describe.each(DECLARED)(
  'pre-flight filter inside SQLite, source column "x %s": lets through nothing the per-value checks flag',
  (decl) => {
    const db = openSqlite(path.join(tmp.dir, `corpus-${DECLARED.indexOf(decl)}.db`), { create: true });
    afterAll(() => db.close());
    db.exec(`CREATE TABLE v (id INTEGER PRIMARY KEY, x ${decl})`);
    const insert = db.prepare('INSERT INTO v (x) VALUES (?)');
    db.transaction(() => {
      for (const v of [...ints, ...reals, ...texts, ...blobs]) insert.run(v);
      // Text that is not valid UTF-8 (continuation bytes alone: SQLite counts no character in them).
      db.exec(`INSERT INTO v (x) VALUES (CAST(x'${'80'.repeat(12)}' AS TEXT)), (CAST(x'${'bf'.repeat(30_000)}' AS TEXT))`);
      // Integral REALs kept as REAL (no affinity converts them here), ±0.
      db.exec('INSERT INTO v (x) VALUES (3.0), (-0.0), (1e19), (-1e19), (9.3e18), (NULL)');
    })();
    const sTables = introspectSqlite(db);
    const all = db.prepare('SELECT id, x FROM v ORDER BY id').raw(true).safeIntegers(true).all() as [bigint, SqlValue][];

    it.each(TYPES)('%s', (type) => {
      const x = column('x', type);
      const target: TableInfo = {
        name: 'v',
        columns: [{ ...column('id', 'bigint'), nullable: false, pkOrdinal: 1 }, x],
        primaryKey: ['id'],
        indexes: [],
        foreignKeys: [],
      };
      const check = checkerFor(x);
      const expected = all.flatMap(([id, v]) => {
        const p = v === null ? null : check(v);
        return p ? [`${id}:${p.kind}:${p.reason}`] : [];
      });
      const r = preflight(db, sTables, [target], { samplesPerCheck: 1_000_000 });
      const found = r.findings.filter((f) => f.column === 'x').map((f) => `${f.key.id}:${f.kind}:${f.reason}`);
      expect(found.sort()).toEqual(expected.sort());
      expect(r.tables).toEqual([{ table: 'v', rows: all.length, findings: expected.length }]);
    });
  },
);
