/**
 * The hub pool's statement formatting (connect.ts `queryFormat`): a statement without values goes
 * out as it is, not scanned for placeholders (a push's multi-row INSERT is megabytes of escaped row
 * text); with values it is formatted exactly as mysql2 formats it. Checked against mysql2's own
 * formatter over awkward statements and values, and end to end through a private MariaDB: a
 * value-less multi-row insert whose texts hold `?`, quotes and backslashes, and a parameterised
 * query, both exact.
 */
import fc from 'fast-check';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub, poolOptions, queryFormat } from '../src/engines/mysql/connect.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';

const CONFIG = {
  host: '127.0.0.1',
  port: 3306,
  user: 'u',
  password: 'p',
  database: 'd',
  ssl: false,
  sslCa: undefined,
  connectTimeoutMs: 1000,
};

describe('queryFormat', () => {
  it('is the hub pool’s formatter', () => {
    expect(poolOptions(CONFIG).queryFormat).toBe(queryFormat);
  });

  it('returns a statement without values as it is', () => {
    const sql = "INSERT INTO t VALUES ('a?b', 'it\\'s ?'), (`?`, \"?\") -- ?";
    expect(queryFormat(sql, [], 'Z')).toBe(sql);
    expect(queryFormat(sql, undefined, 'Z')).toBe(sql);
    expect(queryFormat(sql, null, 'Z')).toBe(sql);
  });

  it('formats with values exactly as mysql2 does', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.bigInt(),
      fc.constant(null),
      fc.boolean(),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
    );
    const statement = fc
      .array(fc.constantFrom('SELECT ', '?', '??', "'?'", '"x?"', '`c?`', ', ', ' -- ?\n', ' /* ? */ ', "'a\\'?'", ' x '), {
        maxLength: 12,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(statement, fc.array(value, { maxLength: 6 }), (sql, values) => {
        expect(queryFormat(sql, values, 'Z')).toBe(mysql.format(sql, values, false, 'Z' as never));
      }),
      { numRuns: 500, seed: 20261207 },
    );
    const at = new Date(Date.UTC(2024, 4, 2, 10, 0, 0, 5));
    expect(queryFormat('SELECT ?', [at], 'Z')).toBe(mysql.format('SELECT ?', [at], false, 'Z' as never));
    expect(queryFormat('SELECT ?', { a: 1 }, 'Z')).toBe(mysql.format('SELECT ?', { a: 1 } as never, false, 'Z' as never));
  });
});

describe.skipIf(!HUB_AVAILABLE)('queryFormat on the hub', () => {
  let testHub: TestHub;
  let hub: MysqlHub;
  beforeAll(async () => {
    testHub = await startTestHub();
    hub = await MysqlHub.connect(await testHub.freshDatabase('qfmt'));
    await hub.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, txt VARCHAR(200) NULL)');
  });
  afterAll(async () => {
    await hub?.close();
    await testHub?.close();
  });

  it('sends a value-less statement as it is and a parameterised one as mysql2 formats it', async () => {
    const texts = ['a?b', "it's ?", 'back\\slash ?', '??', '"?"', '`?`', '-- ?', '/* ? */', null];
    const tuples = texts.map((t, i) => `(${i + 1}, ${mysql.escape(t)})`).join(', ');
    await hub.execute(`INSERT INTO t (id, txt) VALUES ${tuples}`);
    const rows = await hub.query<{ id: string; txt: string | null }>('SELECT id, txt FROM t WHERE id > ? ORDER BY id', [0]);
    expect(rows.map((r) => r.txt)).toEqual(texts);
    const one = await hub.query<{ txt: string | null }>('SELECT txt FROM t WHERE txt = ? AND id IN (?)', ["it's ?", [1, 2, 3]]);
    expect(one.map((r) => r.txt)).toEqual(["it's ?"]);
  });
});
