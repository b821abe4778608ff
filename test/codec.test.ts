/**
 * The value codec (docs/SYNC-CONTRACT.md, invariant 10): `canonical` gives one string per datum
 * whichever driver read it, and values cross between better-sqlite3 and mysql2
 * without loss. The unit tests pin the canonical forms; the end-to-end tests put
 * awkward values through a real SQLite file and the private MariaDB, both ways,
 * and check that nothing was rounded, shifted or re-encoded on the way.
 *
 * The process runs as America/Sao_Paulo, where 2018-11-04 00:30 does not exist
 * (DST gap): a DATETIME that went through a Date would come back shifted.
 */
process.env.TZ = 'America/Sao_Paulo';

import fc from 'fast-check';
import mysql2 from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import {
  canonical,
  canonicalNumber,
  canonicalRow,
  type LogicalType,
  logicalTypeOf,
  mysqlToSqlite,
  normaliseDatetimeText,
  pairLogicalType,
  type SqlValue,
  sqliteToMysql,
  ValueError,
} from '../src/engines/codec.js';
import { MysqlHub, poolOptions } from '../src/engines/mysql/connect.js';
import { introspectMysql } from '../src/engines/mysql/introspect.js';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-codec-');
afterAll(() => tmp.cleanup());

describe('canonicalNumber', () => {
  it('is the exact decimal value: sign, significant digits, exponent', () => {
    expect(canonicalNumber('1.50')).toBe('15e-1');
    expect(canonicalNumber('1.5')).toBe('15e-1');
    expect(canonicalNumber('150')).toBe('15e1');
    expect(canonicalNumber('0150.000')).toBe('15e1');
    expect(canonicalNumber('-2.5e3')).toBe('-25e2');
    expect(canonicalNumber('+7')).toBe('7e0');
    expect(canonicalNumber('.5')).toBe('5e-1');
    expect(canonicalNumber('5.')).toBe('5e0');
    expect(canonicalNumber(' 42 ')).toBe('42e0');
  });

  it('has one zero: 0, -0.0, 0e10 and 0.0000000000 are the same', () => {
    for (const z of ['0', '-0', '-0.0', '0.0000000000', '0e10', '+0.', '000']) expect(canonicalNumber(z)).toBe('0');
  });

  it('keeps 1e300 and 2^53+1 exact', () => {
    expect(canonicalNumber('1e300')).toBe('1e300');
    expect(canonicalNumber(String(1e300))).toBe('1e300'); // "1e+300"
    expect(canonicalNumber((10n ** 300n).toString())).toBe('1e300');
    expect(canonicalNumber('9007199254740993')).toBe('9007199254740993e0');
    expect(canonicalNumber('9007199254740992')).not.toBe(canonicalNumber('9007199254740993'));
  });

  it('is not a number for text that is not a plain decimal', () => {
    for (const t of ['', ' ', '.', 'abc', '1,5', '0x10', '1e', '--1', 'Infinity', 'NaN', '1 2']) {
      expect(canonicalNumber(t), t).toBeUndefined();
    }
  });

  it('a decimal written with any number of trailing zeros is the same value; different values differ', () => {
    const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 20 }));
    const text = ([digits, scale]: [bigint, number]) => {
      const neg = digits < 0n;
      const s = (neg ? -digits : digits).toString().padStart(scale + 1, '0');
      const body = scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
      return (neg ? '-' : '') + body;
    };
    fc.assert(
      fc.property(decimal, decimal, fc.integer({ min: 0, max: 8 }), (a, b, pad) => {
        const ta = text(a);
        const padded = ta.includes('.') ? ta + '0'.repeat(pad) : `${ta}.${'0'.repeat(pad)}`;
        expect(canonicalNumber(padded)).toBe(canonicalNumber(ta));
        // Same value ⇔ same canonical form (a × 10^-sa = b × 10^-sb).
        const [da, sa] = a;
        const [db, sb] = b;
        const same = da * 10n ** BigInt(sb) === db * 10n ** BigInt(sa);
        expect(canonicalNumber(ta) === canonicalNumber(text(b))).toBe(same);
      }),
      { numRuns: 500 },
    );
  });
});

describe('canonical', () => {
  it('numbers from either driver agree: bigint, number and numeric text', () => {
    expect(canonical(9007199254740993n, 'integer')).toBe(canonical('9007199254740993', 'integer'));
    expect(canonical(9007199254740993n, 'integer')).toBe('n9007199254740993e0');
    expect(canonical(-9223372036854775808n, 'integer')).toBe('n-9223372036854775808e0');
    expect(canonical(42, 'integer')).toBe(canonical(42n, 'integer'));
    expect(canonical('1.50', 'decimal')).toBe(canonical(1.5, 'decimal'));
    expect(canonical('1.5000000000', 'decimal')).toBe(canonical('1.5', 'decimal'));
    expect(canonical(0, 'double')).toBe(canonical(-0, 'double'));
    expect(canonical('-0.0', 'decimal')).toBe(canonical(0n, 'integer'));
    expect(canonical(1e300, 'double')).toBe(canonical(10n ** 300n, 'integer'));
    expect(canonical(1e300, 'double')).toBe('n1e300');
    // 2^53 + 1 is not a double: the bigint and its nearest double must differ.
    expect(canonical(9007199254740993n, 'integer')).not.toBe(canonical(9007199254740992, 'integer'));
  });

  it('every distinct double has its own form, and the same double always the same', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (a, b) => {
          expect(canonical(a, 'double')).toBe(canonical(String(a), 'double'));
          expect(canonical(a, 'double') === canonical(b, 'double')).toBe(a === b);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps the number 1 and the text "1" apart where a column may hold either', () => {
    expect(canonical(1n, 'any')).not.toBe(canonical('1', 'any'));
    expect(canonical(1, 'text')).not.toBe(canonical('1', 'text'));
    expect(canonical('1', 'text')).toBe('t1');
    // In a numeric column the text form of a number is that number.
    expect(canonical('1', 'integer')).toBe(canonical(1n, 'integer'));
  });

  it('keeps NULL, empty text and empty bytes apart', () => {
    const forms = [
      canonical(null, 'text'),
      canonical('', 'text'),
      canonical(Buffer.alloc(0), 'blob'),
      canonical(undefined, 'text'),
    ];
    expect(forms).toEqual(['N', 't', 'b', 'N']);
    expect(canonical('', 'float32')).not.toBe(canonical(0, 'float32'));
    expect(canonical('', 'integer')).not.toBe(canonical(0n, 'integer'));
  });

  it('writes bytes as hex, and text in a blob column as its UTF-8 bytes', () => {
    expect(canonical(Buffer.from([0x00, 0x0f, 0xff]), 'blob')).toBe('b000fff');
    expect(canonical('é', 'blob')).toBe(canonical(Buffer.from('c3a9', 'hex'), 'blob'));
    expect(canonical(Buffer.from('ab'), 'text')).toBe('b6162');
  });

  it("date-times: 'T' or space, Z, and trailing zero fractions make no difference; other digits do", () => {
    const same = [
      '2024-01-02 03:04:05',
      '2024-01-02T03:04:05',
      '2024-01-02T03:04:05Z',
      '2024-01-02 03:04:05.000000',
      '2024-01-02T03:04:05.000+00:00',
      '2024-01-02T03:04:05.0',
    ];
    for (const s of same) expect(canonical(s, 'datetime'), s).toBe('d2024-01-02 03:04:05');
    expect(canonical('2024-01-02 03:04:05.120000', 'datetime')).toBe(canonical('2024-01-02T03:04:05.12', 'datetime'));
    expect(canonical('2024-01-02 03:04:05.120000', 'datetime')).toBe('d2024-01-02 03:04:05.12');
    expect(canonical('2024-01-02 03:04:05.000001', 'datetime')).not.toBe(canonical('2024-01-02 03:04:05', 'datetime'));
    expect(canonical('2024-01-02T03:04', 'datetime')).toBe('d2024-01-02 03:04:00');
    // A real offset is never "converted" (no time-zone arithmetic anywhere).
    expect(canonical('2024-01-02T03:04:05+02:00', 'datetime')).toBe('d2024-01-02T03:04:05+02:00');
    expect(canonical('10:20:30.500000', 'time')).toBe('d10:20:30.5');
    expect(canonical('2024-01-02', 'date')).toBe('d2024-01-02');
  });

  it('FLOAT (32-bit) compares at what MySQL keeps and shows, not at double precision', () => {
    // MariaDB returns a FLOAT holding 123456.7 as 123457 (text protocol) or 123456.703125 (binary protocol).
    expect(canonical(123456.7, 'float32')).toBe(canonical(123457, 'float32'));
    expect(canonical(123456.7, 'float32')).toBe(canonical(123456.703125, 'float32'));
    expect(canonical(1.0000001, 'float32')).toBe(canonical(1, 'float32'));
    expect(canonical(1.0000001, 'float32')).toBe(canonical(1.0000001192092896, 'float32'));
    expect(canonical(0.1, 'float32')).toBe(canonical(0.10000000149011612, 'float32'));
    expect(canonical(0.1, 'float32')).toBe(canonical('0.1', 'float32'));
    expect(canonical(123456789.12345679, 'float32')).toBe(canonical(123457000, 'float32'));
    // Values MySQL does tell apart stay apart.
    expect(canonical(0.1, 'float32')).not.toBe(canonical(0.2, 'float32'));
    expect(canonical(1.5, 'float32')).not.toBe(canonical(1.50001, 'float32'));
    expect(canonical(0, 'float32')).toBe(canonical(-0, 'float32'));
    // Out of FLOAT range: not silently equal to anything.
    expect(canonical(1e39, 'float32')).toBe('n1e39');
  });
});

describe('canonicalRow', () => {
  const cols = (types: LogicalType[]) => types.map((type, i) => ({ name: `c${i}`, type }));

  it('cannot be fooled by values that contain separators', () => {
    const c = cols(['text', 'text']);
    expect(canonicalRow({ c0: 'a:1', c1: 'b' }, c)).not.toBe(canonicalRow({ c0: 'a', c1: ':1b' }, c));
    expect(canonicalRow({ c0: '1:t', c1: '' }, c)).not.toBe(canonicalRow({ c0: '1', c1: 't' }, c));
  });

  it('equal rows ⇔ equal canonical rows (text, NULL and numbers)', () => {
    const c = cols(['text', 'any', 'integer']);
    const cell = fc.oneof(fc.constant(null), fc.string({ unit: 'grapheme', maxLength: 6 }));
    const row = fc.record({
      c0: cell,
      c1: fc.oneof(cell, fc.bigInt({ min: -5n, max: 5n })),
      c2: fc.bigInt({ min: -3n, max: 3n }),
    });
    fc.assert(
      fc.property(row, row, (a, b) => {
        const same = a.c0 === b.c0 && a.c1 === b.c1 && a.c2 === b.c2;
        expect(canonicalRow(a, c) === canonicalRow(b, c)).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the same datum from both drivers as the same row', () => {
    const c = [
      { name: 'id', type: 'integer' as const },
      { name: 'amount', type: 'decimal' as const },
      { name: 'at', type: 'datetime' as const },
      { name: 'bin', type: 'blob' as const },
    ];
    const fromSqlite = { id: 9007199254740993n, amount: '10.5', at: '2024-01-02T03:04:05.1', bin: Buffer.from([1, 2]) };
    const fromMysql = {
      id: '9007199254740993',
      amount: '10.5000000000',
      at: '2024-01-02 03:04:05.100000',
      bin: Buffer.from([1, 2]),
    };
    expect(canonicalRow(fromSqlite, c)).toBe(canonicalRow(fromMysql, c));
    expect(canonicalRow({ ...fromSqlite, id: 9007199254740992n }, c)).not.toBe(canonicalRow(fromMysql, c));
  });
});

describe('logical types', () => {
  it('map declared types of both engines', () => {
    const cases: [string, LogicalType][] = [
      ['integer', 'integer'],
      ['bigint', 'integer'],
      ['tinyint', 'integer'],
      ['unsigned big int', 'integer'],
      ['decimal', 'decimal'],
      ['numeric', 'decimal'],
      ['double', 'double'],
      ['real', 'double'],
      ['float', 'float32'],
      ['datetime', 'datetime'],
      ['timestamp', 'datetime'],
      ['date', 'date'],
      ['time', 'time'],
      ['blob', 'blob'],
      ['longblob', 'blob'],
      ['varbinary', 'blob'],
      ['json', 'json'],
      ['varchar', 'text'],
      ['text', 'text'],
      ['enum', 'text'],
      ['', 'any'],
    ];
    for (const [t, want] of cases) expect(logicalTypeOf(t), t).toBe(want);
  });

  it('the hub decides for a column on both sides; FLOAT(p>24) is a DOUBLE', () => {
    const col = (baseType: string, numericPrecision: number | null = null) => ({
      name: 'x',
      type: baseType,
      baseType,
      nullable: true,
      defaultValue: null,
      pkOrdinal: 0,
      autoIncrement: false,
      maxLength: null,
      numericPrecision,
      numericScale: null,
    });
    expect(pairLogicalType(col('decimal', 30), col('text'))).toBe('decimal');
    expect(pairLogicalType(col('float', 12), col('real'))).toBe('float32');
    expect(pairLogicalType(col('float', 53), col('real'))).toBe('double');
    expect(pairLogicalType(undefined, col('datetime'))).toBe('datetime');
    expect(pairLogicalType(undefined, undefined)).toBe('any');
  });
});

describe('sqliteToMysql / mysqlToSqlite', () => {
  it('SQLite → MySQL: NULL, bigint, bytes and text pass unchanged; ISO date-times become MySQL text', () => {
    expect(sqliteToMysql(null, 'integer', 'c')).toBeNull();
    expect(sqliteToMysql(9007199254740993n, 'integer', 'c')).toBe(9007199254740993n);
    const buf = Buffer.from([0, 255]);
    expect(sqliteToMysql(buf, 'blob', 'c')).toBe(buf);
    expect(sqliteToMysql('😀', 'text', 'c')).toBe('😀');
    expect(sqliteToMysql('2024-01-02T03:04:05.123Z', 'datetime', 'c')).toBe('2024-01-02 03:04:05.123');
    expect(sqliteToMysql('2024-01-02T03:04', 'datetime', 'c')).toBe('2024-01-02 03:04:00');
    expect(sqliteToMysql('2024-01-02', 'date', 'c')).toBe('2024-01-02');
    // Text that only looks like a date-time is text.
    expect(sqliteToMysql('2024-01-02T03:04:05Z', 'text', 'c')).toBe('2024-01-02T03:04:05Z');
    // An offset other than UTC is never converted (no time-zone arithmetic).
    expect(sqliteToMysql('2024-01-02T03:04:05+02:00', 'datetime', 'c')).toBe('2024-01-02T03:04:05+02:00');
    expect(normaliseDatetimeText('not a date')).toBe('not a date');
  });

  it('SQLite → MySQL refuses what MySQL cannot hold (±Infinity), naming the column', () => {
    for (const v of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      let err: unknown;
      try {
        sqliteToMysql(v, 'double', 'reading');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValueError);
      expect((err as ValueError).column).toBe('reading');
      expect((err as ValueError).message).toContain('reading');
    }
  });

  it('MySQL → SQLite: integers become exact bigints, date-times lose only an all-zero fraction', () => {
    expect(mysqlToSqlite('9007199254740993', 'integer')).toBe(9007199254740993n);
    expect(mysqlToSqlite('-9223372036854775808', 'integer')).toBe(-9223372036854775808n);
    expect(mysqlToSqlite(42, 'integer')).toBe(42n);
    expect(mysqlToSqlite('12345678901234567890.1234567890', 'decimal')).toBe('12345678901234567890.1234567890');
    expect(mysqlToSqlite('2024-01-02 03:04:05.000000', 'datetime')).toBe('2024-01-02 03:04:05');
    expect(mysqlToSqlite('2024-01-02 03:04:05.120000', 'datetime')).toBe('2024-01-02 03:04:05.120000');
    expect(mysqlToSqlite(0.1, 'double')).toBe(0.1);
    expect(mysqlToSqlite(true, 'any')).toBe(1n);
    expect(mysqlToSqlite(false, 'any')).toBe(0n);
    expect(mysqlToSqlite(undefined, 'text')).toBeNull();
    expect(mysqlToSqlite(null, 'integer')).toBeNull();
    const buf = Buffer.from([1, 2, 3]);
    expect(mysqlToSqlite(buf, 'blob')).toBe(buf);
  });

  it('a BIGINT UNSIGNED beyond 2^63-1 stays exact and SQLite refuses it loudly rather than rounding it', () => {
    const v = mysqlToSqlite('18446744073709551615', 'integer');
    expect(v).toBe(18446744073709551615n);
    const db = openSqlite(`${tmp.dir}/unsigned.db`, { create: true });
    try {
      db.exec('CREATE TABLE t (v INTEGER)');
      expect(() => db.prepare('INSERT INTO t VALUES (?)').run(v)).toThrow(/too big/);
    } finally {
      db.close();
    }
  });
});

// ---------------------------------------------------------------------------
// End to end through a real SQLite file and the private MariaDB.

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const DOUBLES = [0.1, 1e-300, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 0.30000000000000004, -123.456, 0];

/** The awkward values, as an application would bind them through better-sqlite3. */
const ROWS: Record<string, SqlValue>[] = [
  {
    id: 1n,
    i64: 9007199254740993n,
    amount: '12345678901234567890.1234567890',
    at: '2024-02-29 23:59:59.123456',
    bin: ALL_BYTES,
    txt: 'emoji 😀 family 👩‍👩‍👧 flag 🇧🇷 and 𝄞',
    dbl: 0.1,
  },
  {
    id: 2n,
    i64: -9223372036854775808n,
    amount: '-0.0000000001',
    at: '2018-11-04 00:30:00.000001',
    bin: Buffer.alloc(0),
    txt: '',
    dbl: 1e-300,
  },
  {
    id: 3n,
    i64: 9223372036854775807n,
    amount: '99999999999999999999.9999999999',
    at: '1000-01-01 00:00:00',
    bin: null,
    txt: null,
    dbl: 1.7976931348623157e308,
  },
  {
    id: 4n,
    i64: 0n,
    amount: '0.5000000000',
    at: null,
    bin: Buffer.from([0]),
    txt: `it's a "quote" \\ back\\slash; -- not a comment \u0000 nul`,
    dbl: 5e-324,
  },
  ...DOUBLES.slice(4).map((dbl, i) => ({ id: BigInt(5 + i), i64: null, amount: null, at: null, bin: null, txt: null, dbl })),
];

const SQLITE_DDL =
  'CREATE TABLE vals (id INTEGER PRIMARY KEY, i64 INTEGER, amount TEXT, at DATETIME, bin BLOB, txt TEXT, dbl REAL, f REAL)';
const MYSQL_DDL = `CREATE TABLE vals (id BIGINT PRIMARY KEY, i64 BIGINT NULL, amount DECIMAL(30,10) NULL, at DATETIME(6) NULL,
  bin LONGBLOB NULL, txt TEXT NULL, dbl DOUBLE NULL, f FLOAT NULL)`;
const COLUMNS = ['id', 'i64', 'amount', 'at', 'bin', 'txt', 'dbl', 'f'];

/** SQLite → MySQL value as it should read back from the hub (mysql2 with exact-value options). */
function expectedFromHub(col: string, v: SqlValue): unknown {
  if (v === null) return null;
  switch (col) {
    case 'id':
    case 'i64':
      return String(v);
    case 'amount': {
      const [i, f = ''] = String(v).split('.');
      return `${i}.${f.padEnd(10, '0')}`;
    }
    case 'at':
      return String(v).includes('.') ? String(v).padEnd(26, '0') : `${v}.000000`;
    default:
      return v;
  }
}

describe.skipIf(!HUB_AVAILABLE)('values round-trip between SQLite and MariaDB', () => {
  let testHub: TestHub;
  let hub: MysqlHub;
  let cfg: MysqlConfig;
  let db: SqliteDb;
  let types: Map<string, LogicalType>;
  beforeAll(async () => {
    testHub = await startTestHub();
    cfg = await testHub.freshDatabase('codec');
    hub = await MysqlHub.connect(cfg);
    db = openSqlite(`${tmp.dir}/node.db`, { create: true });
    db.exec(SQLITE_DDL);
    db.exec(SQLITE_DDL.replace('vals', 'back'));
    await hub.execute(MYSQL_DDL);
    await hub.execute(MYSQL_DDL.replace('vals', 'typed'));
    // The column types the sync uses: each pair of introspected columns.
    const [mt] = await introspectMysql(hub, ['vals']);
    const [st] = introspectSqlite(db, ['vals']);
    types = new Map(
      COLUMNS.map((c) => [
        c,
        pairLogicalType(
          mt?.columns.find((x) => x.name === c),
          st?.columns.find((x) => x.name === c),
        ),
      ]),
    );
  });
  afterAll(async () => {
    db?.close();
    await hub?.close();
    await testHub?.close();
  });

  const typeOf = (c: string): LogicalType => types.get(c) ?? 'any';
  const insertSqlite = (table: string, row: Record<string, unknown>) =>
    db
      .prepare(`INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`)
      .run(...COLUMNS.map((c) => row[c] ?? null));
  const insertHub = (table: string, row: Record<string, unknown>) =>
    hub.execute(
      `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
      COLUMNS.map((c) => row[c] ?? null),
    );

  it('introspection gives the logical types the codec expects', () => {
    expect(Object.fromEntries(types)).toEqual({
      id: 'integer',
      i64: 'integer',
      amount: 'decimal',
      at: 'datetime',
      bin: 'blob',
      txt: 'text',
      dbl: 'double',
      f: 'float32',
    });
  });

  it('SQLite → MariaDB → SQLite keeps every value exactly', async () => {
    for (const r of ROWS) insertSqlite('vals', r);
    // 1. SQLite gives back exactly what was bound (safe integers, bytes, text).
    const local = db.prepare('SELECT * FROM vals ORDER BY id').all() as Record<string, SqlValue>[];
    expect(local).toEqual(ROWS.map((r) => ({ ...r, f: null })));

    // 2. Through the codec into MariaDB, parameters bound by mysql2.
    for (const r of local) {
      await insertHub('vals', Object.fromEntries(COLUMNS.map((c) => [c, sqliteToMysql(r[c] ?? null, typeOf(c), c)])));
    }
    const remote = await hub.query<Record<string, unknown>>('SELECT * FROM vals ORDER BY id');
    expect(remote).toHaveLength(ROWS.length);
    for (const [i, r] of ROWS.entries()) {
      const m = remote[i] ?? {};
      for (const c of COLUMNS.filter((x) => x !== 'f')) {
        expect(canonical(m[c], typeOf(c)), `row ${r.id} ${c}`).toBe(canonical(r[c] ?? null, typeOf(c)));
        // Nothing rounded: the driver's own value is the exact one.
        expect(m[c], `row ${r.id} ${c}`).toEqual(expectedFromHub(c, r[c] ?? null));
      }
    }
    // The server holds the exact values, not just the driver's reading of them.
    const exact = await hub.query<{ n: string | number }>(
      `SELECT COUNT(*) AS n FROM vals WHERE (id = 1 AND i64 = 9007199254740993 AND amount = 12345678901234567890.1234567890
         AND at = '2024-02-29 23:59:59.123456' AND LENGTH(bin) = 256 AND HEX(bin) = ? AND CHAR_LENGTH(txt) = ? AND dbl = 0.1e0)
         OR (id = 2 AND i64 = -9223372036854775808 AND at = '2018-11-04 00:30:00.000001' AND txt = '' AND bin = '')
         OR (id = 3 AND i64 = 9223372036854775807 AND txt IS NULL AND bin IS NULL AND dbl = 1.7976931348623157e308)`,
      [ALL_BYTES.toString('hex').toUpperCase(), [...String(ROWS[0]?.txt)].length],
    );
    expect(Number(exact[0]?.n)).toBe(3);

    // 3. Back into a second SQLite table through the codec: identical to what the application wrote.
    for (const m of remote) insertSqlite('back', Object.fromEntries(COLUMNS.map((c) => [c, mysqlToSqlite(m[c], typeOf(c))])));
    const back = db.prepare('SELECT * FROM back ORDER BY id').all() as Record<string, SqlValue>[];
    expect(back).toEqual(local);
    expect(back[0]?.i64).toBe(9007199254740993n);
    expect(back[1]?.txt).toBe('');
    expect(back[2]?.txt).toBeNull();
  });

  it('MariaDB → SQLite keeps values written by a MySQL client (SQL literals, not our codec)', async () => {
    await hub.execute(
      `INSERT INTO typed (id, i64, amount, at, bin, txt, dbl, f) VALUES
        (1, 9007199254740993, 12345678901234567890.1234567890, '2024-02-29 23:59:59.123456', X'${ALL_BYTES.toString('hex')}',
         _utf8mb4'emoji 😀 family 👩‍👩‍👧', 0.1e0, 0.1),
        (2, -9223372036854775808, -0.0000000001, '2018-11-04 00:30:00', X'', '', 1e-300, NULL),
        (3, NULL, NULL, NULL, NULL, NULL, 1.7976931348623157e308, 123456.7)`,
    );
    const remote = await hub.query<Record<string, unknown>>('SELECT * FROM typed ORDER BY id');
    db.exec('DELETE FROM back');
    for (const m of remote) insertSqlite('back', Object.fromEntries(COLUMNS.map((c) => [c, mysqlToSqlite(m[c], typeOf(c))])));
    const local = db.prepare('SELECT * FROM back ORDER BY id').all() as Record<string, SqlValue>[];
    for (const [i, m] of remote.entries()) {
      for (const c of COLUMNS) {
        expect(canonical(local[i]?.[c] ?? null, typeOf(c)), `row ${i + 1} ${c}`).toBe(canonical(m[c], typeOf(c)));
      }
    }
    expect(local[0]).toMatchObject({
      i64: 9007199254740993n,
      amount: '12345678901234567890.1234567890',
      at: '2024-02-29 23:59:59.123456',
      bin: ALL_BYTES,
      txt: 'emoji 😀 family 👩‍👩‍👧',
      dbl: 0.1,
    });
    expect(local[1]).toMatchObject({
      i64: -9223372036854775808n,
      amount: '-0.0000000001',
      at: '2018-11-04 00:30:00',
      bin: Buffer.alloc(0),
      txt: '',
      dbl: 1e-300,
    });
    expect(local[2]).toMatchObject({ i64: null, bin: null, txt: null, dbl: 1.7976931348623157e308 });
    // FLOAT: the cache holds what the hub shows, and compares equal to the value first written.
    expect(canonical(local[2]?.f ?? null, 'float32')).toBe(canonical(123456.7, 'float32'));
  });

  it('ordinary doubles (quotients, sums of decimals) come back bit for bit, not one ulp off', async () => {
    // mysql2 parses DOUBLE text digit by digit and is one ulp off for ~2% of such values
    // (91.30000000000001 → 91.3); MysqlHub's reading must not be.
    const values: number[] = [];
    for (let a = 1; a <= 600; a++) values.push(a / 7, a * 1.1, a / 3 - 100, 0.1 * a + 0.2);
    await hub.execute('CREATE TABLE dbls (id INT PRIMARY KEY, d DOUBLE NOT NULL)');
    await hub.execute('INSERT INTO dbls (id, d) VALUES ?', [values.map((d, i) => [i, sqliteToMysql(d, 'double', 'd')])]);
    const rows = await hub.query<{ id: number; d: number }>('SELECT id, d FROM dbls ORDER BY id');
    const off = rows.filter((r) => !Object.is(r.d, values[r.id])).map((r) => `${values[r.id]} came back as ${r.d}`);
    expect(off.slice(0, 5)).toEqual([]);
    // The set holds a value mysql2 alone gets wrong, and the server holds it exactly.
    expect(values).toContain(91.30000000000001);
    const [exact] = await hub.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM dbls WHERE d = 91.30000000000001e0');
    expect(Number(exact?.n)).toBe(1);
  });

  it('random values of every kind survive the trip and compare equal from both drivers', async () => {
    await hub.execute(MYSQL_DDL.replace('vals', 'rnd'));
    db.exec(SQLITE_DDL.replace('vals', 'rnd'));
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    const float = fc.double({ noNaN: true, min: -3.4e38, max: 3.4e38 });
    const rowArb = fc.record({
      i64: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
      amount: fc.option(
        fc
          .tuple(fc.bigInt({ min: -(10n ** 20n) + 1n, max: 10n ** 20n - 1n }), fc.bigInt({ min: 0n, max: 10n ** 10n - 1n }))
          .map(([i, f]) => `${i < 0n ? '-' : ''}${(i < 0n ? -i : i).toString()}.${f.toString().padStart(10, '0')}`),
      ),
      at: fc.option(
        fc
          .tuple(
            fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
            fc.integer({ min: 0, max: 999_999 }),
          )
          .map(([d, us]) => `${d.toISOString().slice(0, 19).replace('T', ' ')}.${String(us).padStart(6, '0')}`),
      ),
      bin: fc.option(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))),
      txt: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 })),
      dbl: fc.option(finite),
      f: fc.option(float),
    });
    const rows = fc.sample(rowArb, { numRuns: 300, seed: 20240229 }).map((r, i) => ({ id: BigInt(i + 1), ...r }));
    const insertMany = db.transaction((rs: typeof rows) => {
      for (const r of rs) insertSqlite('rnd', r);
    });
    insertMany(rows);
    const local = db.prepare('SELECT * FROM rnd ORDER BY id').all() as Record<string, SqlValue>[];
    await hub.transaction(async (conn) => {
      for (const r of local) {
        await conn.query(`INSERT INTO rnd (${COLUMNS.join(', ')}) VALUES (?)`, [
          COLUMNS.map((c) => sqliteToMysql(r[c] ?? null, typeOf(c), c)),
        ]);
      }
    });
    const text = await hub.query<Record<string, unknown>>('SELECT * FROM rnd ORDER BY id');
    // The binary protocol (prepared statements, which MysqlHub does not use) returns FLOAT at full
    // float precision and DATETIME without a zero fraction: canonical must agree with it too.
    const plain = mysql2.createPool(poolOptions(cfg, { typeCast: true, connectionLimit: 1 }));
    const [binaryRows] = await plain.execute('SELECT * FROM rnd ORDER BY id').finally(() => plain.end());
    const binary = binaryRows as Record<string, unknown>[];
    const colTypes = COLUMNS.map((name) => ({ name, type: typeOf(name) }));
    const mismatches: string[] = [];
    for (const [i, r] of local.entries()) {
      const want = canonicalRow(r, colTypes);
      if (canonicalRow(text[i] ?? {}, colTypes) !== want) mismatches.push(`text #${r.id}: ${JSON.stringify(text[i], jsonable)}`);
      if (canonicalRow(binary[i] ?? {}, colTypes) !== want)
        mismatches.push(`binary #${r.id}: ${JSON.stringify(binary[i], jsonable)}`);
      // Everything but FLOAT comes back exactly as written (a DATETIME only loses an all-zero fraction).
      for (const c of ['i64', 'dbl', 'txt', 'bin', 'amount', 'at']) {
        const got = mysqlToSqlite(text[i]?.[c], typeOf(c));
        const written = rows[i]?.[c as keyof (typeof rows)[number]] ?? null;
        const orig = c === 'at' && typeof written === 'string' ? written.replace(/\.000000$/, '') : written;
        if (!equalValue(got, orig)) {
          mismatches.push(`#${r.id} ${c}: ${String(orig)} came back as ${String(got)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});

function jsonable(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** Exactly the same value (bytes by content; MySQL has no negative zero, so 0 and -0 are equal). */
function equalValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}
