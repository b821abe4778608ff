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
import { sameImage } from '../src/sync/convert.js';
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
          expect(sameImage(t, x, y), `${String(a)} / ${String(b)}`).toBe(canonicalRow(x, t.columns) === canonicalRow(y, t.columns));
        }
    });
  }
});
