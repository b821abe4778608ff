/**
 * toSqliteRow converts with one converter per column, decided once per table (convert.ts):
 * every cell must come out exactly as `mysqlToSqlite` gives it, and forms attached later must
 * be applied (the converters are decided again).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LogicalType, mysqlToSqlite, type Row } from '../src/engines/codec.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { toSqliteRow } from '../src/sync/convert.js';
import type { SyncTable } from '../src/sync/plan.js';
import { attachValueForms } from '../src/sync/value-forms.js';

const TYPES: LogicalType[] = [
  'integer',
  'decimal',
  'double',
  'float32',
  'datetime',
  'date',
  'time',
  'text',
  'blob',
  'json',
  'any',
];
const VALUES: unknown[] = [
  null,
  undefined,
  0,
  42,
  -7,
  1.5,
  '18446744073709551615',
  '-9223372036854775808',
  '12.500',
  '2024-05-01 10:00:00.000000',
  '2024-05-01 10:00:00.120000',
  '2024-05-01 10:00:00.',
  '2024-05-01 10:00:00',
  '2024-05-01 10:00:00.0',
  '2024-05-01 10:00:00.000100',
  '1.5.000',
  '.000',
  '0.0.1',
  'text with é',
  '',
  123n,
  Buffer.from([0, 255, 1]),
  true,
  false,
];

function tableOf(name: string): SyncTable {
  return {
    name,
    key: [{ name: 'c_integer', type: 'integer' }],
    keyKind: 'natural',
    hubAssignsKey: false,
    columns: TYPES.map((type) => ({ name: `c_${type}`, type })),
    parents: [],
    foreignKeys: [],
    hubCascades: false,
    rank: 0,
    meta: false,
  } as unknown as SyncTable;
}

describe('toSqliteRow per-column converters', () => {
  it('gives every cell exactly what mysqlToSqlite gives, for every type and value form of the driver', () => {
    const table = tableOf('t_all');
    for (const v of VALUES) {
      const row: Row = {};
      for (const c of table.columns) row[c.name] = v as Row[string];
      const out = toSqliteRow(table, row);
      for (const c of table.columns) expect([c.type, v, out[c.name]]).toEqual([c.type, v, mysqlToSqlite(v, c.type)]);
    }
  });

  it('applies value forms attached after a first conversion', () => {
    const table = tableOf('t_forms');
    const row: Row = { c_datetime: '2024-05-01 10:00:00.000000', c_integer: 1 };
    expect(toSqliteRow(table, row).c_datetime).toBe('2024-05-01 10:00:00');
    const dir = mkdtempSync(path.join(tmpdir(), 'dualdb-convert-'));
    const db = openSqlite(path.join(dir, 'forms.db'), { create: true });
    db.exec(`CREATE TABLE t_forms (${TYPES.map((t) => `c_${t}`).join(', ')})`);
    attachValueForms(db, [table], { 't_forms.c_datetime': 'iso3' });
    db.close();
    rmSync(dir, { recursive: true, force: true });
    expect(toSqliteRow(table, row).c_datetime).toBe('2024-05-01T10:00:00.000');
  });
});
