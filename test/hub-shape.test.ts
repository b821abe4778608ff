/**
 * The one-row push trusts a hub table's column definitions (src/sync/hub-shape.ts) only where they
 * state all of the table's schema the fingerprint covers: a table with an ENUM or SET column (its
 * members are not in them) has no shape, so every push of it reads the fingerprint. The integration
 * cases (a column added, widened, made nullable, a key added) are in api-both-one-row.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { shapeOf } from '../src/sync/hub-shape.js';

const column = (name: string, flags: number, columnType = 253) => ({
  name,
  orgName: name,
  orgTable: 't',
  columnType,
  columnLength: 400,
  decimals: 0,
  flags,
  characterSet: 224,
});

describe('shapeOf', () => {
  it('tells apart what a column definition states: length, nullability, keys, order', () => {
    const base = shapeOf([column('id', 16899, 8), column('a', 4097)]);
    expect(base).toBeDefined();
    expect(shapeOf([column('id', 16899, 8), column('a', 4097)])).toBe(base);
    expect(shapeOf([column('id', 16899, 8), column('a', 0)])).not.toBe(base); // nullable now
    expect(shapeOf([column('id', 16899, 8), { ...column('a', 4097), columnLength: 200 }])).not.toBe(base);
    expect(shapeOf([column('a', 4097), column('id', 16899, 8)])).not.toBe(base);
    expect(shapeOf([column('id', 16899, 8), column('a', 4097), column('b', 0)])).not.toBe(base);
  });

  it('has no shape for a table with an ENUM or SET column, nor for missing definitions', () => {
    expect(shapeOf([column('id', 16899, 8), column('e', 256, 254)])).toBeUndefined(); // ENUM_FLAG
    expect(shapeOf([column('id', 16899, 8), column('s', 2048, 254)])).toBeUndefined(); // SET_FLAG
    expect(shapeOf(undefined)).toBeUndefined();
    expect(shapeOf([])).toBeUndefined();
    expect(shapeOf([{ name: 'x' }])).toBeUndefined();
  });
});
