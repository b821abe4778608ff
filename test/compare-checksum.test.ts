/**
 * The in-engine chunk fingerprints (src/compare/engine-hash.ts): for every type
 * of column, equal values that the two engines print differently (DOUBLE and
 * REAL, DATETIME(6) and SQLite text with 'T' or fewer digits, DECIMAL and its
 * text, BIGINT beyond 2^53, BLOBs, 4-byte UTF-8, '' and NULL) give the same
 * MySQL and SQLite sum of a key range, and a one-bit or one-character change
 * of any one value gives different sums. Checked on a real SQLite file and a
 * private MariaDB, each sum computed inside its engine.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlSide, SqliteSide } from '../src/compare/checksum-compare.js';
import { compareNode } from '../src/compare/compare.js';
import { mariadbDoubleText, renderValue } from '../src/compare/engine-hash.js';
import { readHubColumnFacts } from '../src/compare/hub-column-facts.js';
import { resolveScope } from '../src/compare/scope.js';
import { withLongConcat } from '../src/compare/table-compare.js';
import { canonical } from '../src/engines/codec.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

type V = null | bigint | number | string | Buffer;

interface TypeCase {
  name: string;
  sqliteType: string;
  mysqlType: string;
  /** [value as SQLite holds it, value as MySQL holds it]. */
  values: [V, V][];
  /** The SQLite value changed by one bit or one character. */
  change: (v: V) => V;
}

/** The double next to `v` (lowest mantissa bit flipped). */
function flipLowBit(v: number): number {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  b[7] = (b[7] as number) ^ 1;
  return b.readDoubleBE();
}

/** The last character of a text, one code point further. */
function nextLastChar(s: string): string {
  const chars = [...s];
  const last = chars.pop() ?? 'a';
  return chars.join('') + String.fromCodePoint((last.codePointAt(0) as number) + 1);
}

/** A digit text with its last digit changed (9 → 8, others + 1). */
function nextLastDigit(s: string): string {
  const i = s.search(/\d(?=\D*$)/);
  const d = Number(s[i]);
  return s.slice(0, i) + String(d === 9 ? 8 : d + 1) + s.slice(i + 1);
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const CASES: TypeCase[] = [
  {
    name: 'bigint',
    sqliteType: 'INTEGER',
    mysqlType: 'BIGINT',
    values: [
      [9007199254740993n, '9007199254740993'],
      [9223372036854775807n, '9223372036854775807'],
      [-9223372036854775808n, '-9223372036854775808'],
      [0n, '0'],
      [-1n, '-1'],
    ],
    change: (v) => (v as bigint) ^ 1n,
  },
  {
    name: 'decimal_text',
    sqliteType: 'TEXT',
    mysqlType: 'DECIMAL(30,10)',
    values: [
      ['12345678901234567890.0123456789', '12345678901234567890.0123456789'],
      ['-0.5', '-0.5'],
      ['1.50', '1.5'],
      ['0.0000000001', '0.0000000001'],
      ['100', '100'],
      ['007.25', '7.25'],
      ['-99999999999999999999.9999999999', '-99999999999999999999.9999999999'],
    ],
    change: (v) => nextLastDigit(v as string),
  },
  {
    name: 'decimal_numeric',
    sqliteType: 'NUMERIC',
    mysqlType: 'DECIMAL(12,2)',
    values: [
      [12.34, '12.34'],
      [5n, '5'],
      [-0.01, '-0.01'],
      [1234567.5, '1234567.5'],
    ],
    change: (v) => (typeof v === 'bigint' ? v ^ 1n : Number(nextLastDigit(String(v)))),
  },
  {
    name: 'double',
    sqliteType: 'REAL',
    mysqlType: 'DOUBLE',
    values: [
      0.1,
      0.1 + 0.2,
      1e-300,
      1.7976931348623157e308,
      -2.2250738585072014e-308,
      5e-324,
      1 / 7,
      1234567890123456.8,
      1e15,
      100,
      -64,
      0.25,
      123456.789,
      -1.5e-6,
      999999999999999.9,
      1e-7,
      -3.5e21,
    ].map((d) => [d, d]),
    change: (v) => flipLowBit(v as number),
  },
  {
    // MySQL FLOAT keeps 24 bits and prints 6 digits: the codec compares at 6 digits, so does this.
    name: 'float',
    sqliteType: 'REAL',
    mysqlType: 'FLOAT',
    values: [0.5, 1 / 7, 12345.678, -2.5e-8, 1.2345678e20].map((d) => [d, d]),
    change: (v) => (v as number) * 1.0001,
  },
  {
    name: 'datetime6',
    sqliteType: 'DATETIME',
    mysqlType: 'DATETIME(6)',
    values: [
      ['2024-02-29T23:59:59.999999', '2024-02-29 23:59:59.999999'],
      ['2024-03-10T02:30', '2024-03-10 02:30:00'],
      ['1970-01-01 00:00:00.000001', '1970-01-01 00:00:00.000001'],
      ['2024-01-02 03:04:05.120', '2024-01-02 03:04:05.12'],
      ['2024-01-02 03:04:05.000000', '2024-01-02 03:04:05'],
      ['2018-11-04T00:30:00Z', '2018-11-04 00:30:00'],
    ],
    change: (v) => nextLastDigit(v as string),
  },
  {
    name: 'datetime0',
    sqliteType: 'DATETIME',
    mysqlType: 'DATETIME',
    values: [
      ['2024-01-02 03:04:05', '2024-01-02 03:04:05'],
      ['2024-01-10T00:00:00', '2024-01-10 00:00:00'],
    ],
    change: (v) => nextLastDigit(v as string),
  },
  {
    name: 'date',
    sqliteType: 'DATE',
    mysqlType: 'DATE',
    values: [
      ['2024-01-02', '2024-01-02'],
      ['1999-12-31', '1999-12-31'],
    ],
    change: (v) => nextLastDigit(v as string),
  },
  {
    name: 'time',
    sqliteType: 'TIME',
    mysqlType: 'TIME(3)',
    values: [
      ['12:00:01.5', '12:00:01.500'],
      ['-01:02:03', '-01:02:03.000'],
    ],
    change: (v) => nextLastDigit(v as string),
  },
  {
    // The server's default collation is case-insensitive: the sums are not.
    name: 'text',
    sqliteType: 'TEXT',
    mysqlType: 'VARCHAR(300)',
    values: ['capacete 🦺🚧 ok', '', ' ', '𝄞 \u0000 \\ \' "', 'Helmet', 'ünïcödé', `long 🦺 ${'x'.repeat(200)}`].map((s) => [
      s,
      s,
    ]),
    change: (v) => ((v as string) === 'Helmet' ? 'helmet' : nextLastChar(v as string)),
  },
  {
    // Not UTF-8 on the hub: its row text converts the bytes, where a utf8mb4 column's needs not.
    name: 'text_latin1',
    sqliteType: 'TEXT',
    mysqlType: 'VARCHAR(100) CHARACTER SET latin1',
    values: ['capacete', '', 'ünïcödé çà', 'Helmet'].map((s) => [s, s]),
    change: (v) => nextLastChar(v as string),
  },
  {
    // Scale 0: MySQL prints no point, so nothing is trimmed (a trim would eat the integer's zeros).
    name: 'decimal_scale0',
    sqliteType: 'NUMERIC',
    mysqlType: 'DECIMAL(20,0)',
    values: ['0', '100', '-2500', '9007199254740993'].map((s) => [s, s]),
    change: (v) => nextLastDigit(v as string),
  },
  {
    name: 'blob',
    sqliteType: 'BLOB',
    mysqlType: 'LONGBLOB',
    values: [ALL_BYTES, Buffer.alloc(0), Buffer.from([0]), randomBytes(16), randomBytes(70_000)].map((b) => [b, b]),
    change: (v) => {
      const b = Buffer.from(v as Buffer);
      if (b.length === 0) return Buffer.from([0]);
      b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
      return b;
    },
  },
];

describe('MariaDB double text', () => {
  it('is what JavaScript writes for the same double, in MariaDB notation', () => {
    expect(mariadbDoubleText(1e15)).toBe('1e15');
    expect(mariadbDoubleText(1234567890123456.8)).toBe('1234567890123456.8');
    expect(mariadbDoubleText(9007199254740994)).toBe('9.007199254740994e15');
    expect(mariadbDoubleText(1e-7)).toBe('0.0000001');
    expect(mariadbDoubleText(1e-15)).toBe('0.000000000000001');
    expect(mariadbDoubleText(1e-16)).toBe('1e-16');
    expect(mariadbDoubleText(-1.7976931348623157e308)).toBe('-1.7976931348623157e308');
    expect(renderValue('', 'text')).not.toBe(renderValue(null, 'text'));
  });
});

describe.skipIf(!HUB_AVAILABLE)('in-engine chunk sums, every type', () => {
  let testHub: TestHub;
  const tmp = tempDir();

  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('equal values sum equal on both engines, and a one-bit or one-character change in any value is seen', async () => {
    const m = await testHub.freshDatabase('sums');
    const config = nodeConfig(tmp.dir, `node-${randomBytes(3).toString('hex')}`, m);
    const db = createSqlite(
      config,
      CASES.map((c) => `CREATE TABLE t_${c.name} (id INTEGER PRIMARY KEY, v ${c.sqliteType})`),
    );
    const hub = await MysqlHub.connect(m);
    try {
      for (const c of CASES) {
        await hub.execute(`CREATE TABLE t_${c.name} (id BIGINT PRIMARY KEY, v ${c.mysqlType} NULL)`);
        const ins = db.prepare(`INSERT INTO t_${c.name} VALUES (?, ?)`);
        for (const [i, [s]] of c.values.entries()) ins.run(i + 1, s);
        await hub.execute(`INSERT INTO t_${c.name} VALUES ?`, [c.values.map(([, v], i) => [i + 1, v])]);
        // One more row with NULL on both sides.
        ins.run(c.values.length + 1, null);
        await hub.execute(`INSERT INTO t_${c.name} VALUES (?, NULL)`, [c.values.length + 1]);
      }
      const scope = await resolveScope(db, hub);
      await hub.withConnection((conn) =>
        withLongConcat(conn, async () => {
          const all = { lo: null, hi: null };
          for (const c of CASES) {
            const table = scope.tables.find((t) => t.name === `t_${c.name}`);
            if (!table) throw new Error(`t_${c.name} not in the plan`);
            const type = table.columns[1]?.type ?? 'any';
            const s = new SqliteSide(db, table);
            // The row text built from the hub's column facts is the generic one, with fewer functions.
            const h = new MysqlSide(conn, table, await readHubColumnFacts(conn, table.name));
            const equal = { sqlite: s.sum(all), mysql: await h.sum(all) };
            expect(await new MysqlSide(conn, table).sum(all), `${c.name}: with and without the hub's facts`).toEqual(equal.mysql);
            expect(equal.sqlite.rows, c.name).toBe(c.values.length + 1);
            expect(equal.sqlite, `${c.name}: equal values, equal sums`).toEqual(equal.mysql);
            for (const [i, [value]] of c.values.entries()) {
              const changed = c.change(value);
              // The change is a real difference by the codec's judgement too.
              expect(canonical(changed, type), `${c.name} #${i}`).not.toBe(canonical(value, type));
              db.prepare(`UPDATE t_${c.name} SET v = ? WHERE id = ?`).run(changed, i + 1);
              expect(s.sum(all).digest, `${c.name} #${i}: ${String(value).slice(0, 40)} changed`).not.toBe(equal.mysql.digest);
              db.prepare(`UPDATE t_${c.name} SET v = ? WHERE id = ?`).run(value, i + 1);
            }
            // '' on one side, NULL on the other (text), or NULL against a value (others).
            db.prepare(`UPDATE t_${c.name} SET v = ? WHERE id = ?`).run(
              c.name === 'text' ? '' : c.values[0]?.[0],
              c.values.length + 1,
            );
            expect(s.sum(all).digest, `${c.name}: NULL against a value`).not.toBe(equal.mysql.digest);
            db.prepare(`UPDATE t_${c.name} SET v = NULL WHERE id = ?`).run(c.values.length + 1);
            expect(s.sum(all)).toEqual(equal.mysql);
          }
        }),
      );
      // The whole compare agrees, and finds a one-bit change by key.
      expect((await compareNode(config)).match).toBe(true);
      db.prepare('UPDATE t_blob SET v = ? WHERE id = 1').run(CASES.find((c) => c.name === 'blob')?.change(ALL_BYTES));
      const report = await compareNode(config);
      expect(report.tables.flatMap((t) => t.differences.map((d) => `${t.table} ${d.key} ${d.kind}`))).toEqual([
        't_blob 1 different',
      ]);
    } finally {
      db.close();
      await hub.close();
    }
  });
});
