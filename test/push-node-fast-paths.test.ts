/**
 * The bulk push's per-row shortcuts (docs/PERFORMANCE.md, "The push's node CPU: per-row garbage")
 * give exactly what the general code gives: the DATETIME text sent to the hub, the key lists of
 * the hub lookups and deletes, and the rewrite check's comparison. Each is checked against the
 * general form over generated values; a shortcut that takes a value it must not (a key '007', a
 * date-time with a 'T' or a bare '.') fails here.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { keyPartValue } from '../src/capture/keys.js';
import { canonicalRow, type LogicalType, normaliseDatetimeText, type Row, type SqlValue } from '../src/engines/codec.js';
import { sameImage, toMysqlRow } from '../src/sync/convert.js';
import { integerRuns, MIN_KEY_RUN } from '../src/sync/hub-capture-bulk.js';
import { MysqlTableIO } from '../src/sync/mysql-io.js';
import type { SyncTable } from '../src/sync/plan.js';

/** normaliseDatetimeText as it was: the match alone. */
const ISO_DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]00:?00)?$/;
function byMatch(v: string): string {
  const m = ISO_DATETIME.exec(v.trim());
  if (!m) return v;
  const time = m[2]?.length === 5 ? `${m[2]}:00` : m[2];
  return `${m[1]} ${time}${m[3] ?? ''}`;
}

function table(columns: { name: string; type: LogicalType }[], key: string[]): SyncTable {
  return {
    name: 't',
    columns,
    key: columns.filter((c) => key.includes(c.name)),
    foreignKeys: [],
    keyKind: 'natural',
  } as unknown as SyncTable;
}

describe('normaliseDatetimeText', () => {
  it('is the match’s answer for every form, the MySQL form returned as it is', () => {
    const heads = ['2024-05-01', '0000-00-00', '9999-12-31', '2024-5-01', '2024-05-0a', '2024/05/01', '２０２４-05-01'];
    const seps = [' ', 'T', '  ', 't', ''];
    const times = ['10:00:00', '10:00', '1:00:00', '10:00:0', '10-00-00', '10:00:00 ', '23:59:60', '1٠:00:00'];
    const fracs = ['', '.', '.0', '.000000', '.123456', '.1234567890', '.12a', '..1', '.-1'];
    const tails = ['', 'Z', '+00:00', '-0000', ' ', '\n', 'x'];
    const all: string[] = ['', ' ', '2024-05-01', ' 2024-05-01 10:00:00', '2024-05-01 10:00:00'];
    for (const h of heads)
      for (const s of seps) for (const t of times) for (const f of fracs) for (const z of tails) all.push(`${h}${s}${t}${f}${z}`);
    let fast = 0;
    for (const v of all) {
      const out = normaliseDatetimeText(v);
      expect(out, JSON.stringify(v)).toBe(byMatch(v));
      if (out === v) fast++;
    }
    expect(fast).toBeGreaterThan(100);
  });
});

describe('MysqlTableIO.keyCondition, one key column', () => {
  const keys = [
    '0',
    '1',
    '-1',
    '42',
    '007',
    '-0',
    '+5',
    '00',
    '9223372036854775807',
    '9223372036854775808',
    '-9223372036854775809',
    '18446744073709551616123',
    '1e3',
    ' 1',
    '1 ',
    '',
    'abc',
    "it's",
    'back\\slash',
    '😀',
    '١٢',
  ];
  for (const type of ['integer', 'text', 'any'] as LogicalType[]) {
    it(`${type}: the text mysql.format gives for the keys' values`, () => {
      const io = new MysqlTableIO(table([{ name: 'id', type }], ['id']));
      const expected = `\`id\` IN (${mysql.format('?', [keys.map((k) => keyPartValue(k, type))])})`;
      expect(io.keyCondition(keys)).toBe(expected);
      for (const k of keys) expect(io.keyCondition([k])).toBe(`\`id\` IN (${mysql.format('?', [[keyPartValue(k, type)]])})`);
    });
  }
});

describe('sameImage', () => {
  const values: SqlValue[] = [
    null,
    0n,
    1n,
    -1n,
    7n,
    12345678901234567890n,
    '0',
    '1',
    '-1',
    '7',
    '007',
    '7.0',
    '+7',
    '12345678901234567890',
    '12345678901234567890.0',
    '',
    0,
    1,
    7,
    7.5,
    '7.5',
    '2024-05-01 10:00:00',
    '2024-05-01T10:00:00.000',
    Buffer.from('7'),
  ];
  for (const type of ['integer', 'decimal', 'double', 'float32', 'text', 'any', 'blob', 'datetime'] as LogicalType[]) {
    it(`${type}: the same answer as the canonical rows`, () => {
      const t = table(
        [
          { name: 'k', type: 'integer' },
          { name: 'v', type },
        ],
        ['k'],
      );
      for (const a of values)
        for (const b of values) {
          const x: Row = { k: 1n, v: a };
          const y: Row = { k: '1', v: b };
          expect(sameImage(t, x, y), `${String(a)} / ${String(b)}`).toBe(
            canonicalRow(x, t.columns) === canonicalRow(y, t.columns),
          );
        }
    });
  }
});

describe('MysqlTableIO.sqliteTuple', () => {
  it('is the tuple of the MySQL-form row, and refuses what MySQL cannot hold', () => {
    const types: LogicalType[] = ['integer', 'decimal', 'double', 'datetime', 'date', 'time', 'text', 'blob', 'json', 'any'];
    const t = table(
      types.map((type, i) => ({ name: `c${i}`, type })),
      ['c0'],
    );
    const io = new MysqlTableIO(t);
    const values: SqlValue[] = [
      null,
      0n,
      -9223372036854775808n,
      18446744073709551615n,
      0,
      -0,
      0.1,
      1e300,
      '',
      "it's \\ 😀",
      '2024-05-01T10:00:00.5Z',
      '2024-05-01 10:00:00.000001',
      '2024-05-01',
      Buffer.from([0, 39, 92, 255]),
    ];
    for (const v of values)
      for (let i = 0; i < types.length; i++) {
        const row: Row = Object.fromEntries(
          types.map((_, j) => [`c${j}`, j === i ? v : (values[(i + j) % values.length] ?? null)]),
        );
        expect(io.sqliteTuple(row)).toBe(io.tuple(toMysqlRow(t, row)));
      }
    expect(() => io.sqliteTuple({ c0: 1n, c2: Number.POSITIVE_INFINITY })).toThrow(/c2/);
  });
});

/**
 * What integerRuns promises, checked directly (not against a copy of it): every distinct key is
 * in a run or in the rest, an integer key in exactly one place; a run is at least MIN_KEY_RUN long and every integer in it
 * is one of the keys (so the BETWEEN matches exactly those keys' rows); a key that is not an
 * integer in its canonical text stays in the rest, as given.
 */
function expectRunsOf(keys: string[], out: { runs: { lo: string; hi: string }[]; rest: string[] }): void {
  const canonical = (k: string) => /^-?[0-9]+$/.test(k) && BigInt(k).toString() === k;
  const distinct = new Set(keys);
  const covered: string[] = [...out.rest];
  for (const { lo, hi } of out.runs) {
    expect(BigInt(hi) - BigInt(lo) + 1n >= BigInt(MIN_KEY_RUN), `${lo}..${hi}`).toBe(true);
    for (let v = BigInt(lo); v <= BigInt(hi); v++) {
      expect(distinct.has(v.toString()), `${v} in ${lo}..${hi} is a key`).toBe(true);
      covered.push(v.toString());
    }
  }
  expect([...new Set(covered)].sort()).toEqual([...distinct].sort());
  const integers = covered.filter(canonical);
  expect(integers.length, 'an integer key is in one place only').toBe(new Set(integers).size);
  for (const k of distinct) if (!canonical(k)) expect(out.rest).toContain(k);
}

describe('integerRuns', () => {
  it('every key once, in a run of consecutive keys or in the rest, keys in order or not', () => {
    const odd = ['-0', '007', '+3', '00', '', 'x', '1e2', '9223372036854775808'];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let trial = 0; trial < 200; trial++) {
      const keys: string[] = [];
      const n = rnd(200);
      let v = BigInt(rnd(50)) - 25n;
      for (let i = 0; i < n; i++) {
        v += BigInt(rnd(10) < 8 ? 1 : rnd(5));
        keys.push(rnd(30) === 0 ? (odd[rnd(odd.length)] as string) : v.toString());
      }
      if (trial % 2) keys.reverse();
      if (trial % 3 === 0) keys.push(...keys.slice(0, rnd(20)));
      expectRunsOf(keys, integerRuns(keys));
    }
  });
});
