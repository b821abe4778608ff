/**
 * A bulk push reads back only the columns the hub may rewrite (src/sync/hub-exact.ts, issue 16):
 * the key, and temporal, DECIMAL… columns; integer, plain DOUBLE, utf8mb4 VARCHAR/TEXT and
 * VARBINARY/BLOB columns are left out while the session is strict and the table has only dualdb's
 * triggers. What the hub rewrote still comes back to the node (docs/SYNC-CONTRACT.md invariant 13):
 * a value the hub may store otherwise in a column left out (excess trailing spaces, text in an
 * integer column) is logged without looking; a session mode that rewrites (EMPTY_STRING_IS_NULL)
 * or a BEFORE trigger of the hub's own puts every column back in the read-back.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalDatetime,
  canonicalValue,
  type ExactColumn,
  exactKind,
  modeKeepsValues,
  nothingToReadBack,
} from '../src/sync/hub-exact.js';
import type { SyncTable } from '../src/sync/plan.js';
import { pushBatch } from '../src/sync/push.js';
import { observeHub } from './helpers/intercept-hub.js';
import { divergence, type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

// `n` has no type in SQLite (no affinity): a text there stays text.
const SQLITE_DDL = [
  'CREATE TABLE obs (id INTEGER PRIMARY KEY, n, v REAL, s TEXT, b BLOB, at TEXT, d REAL)',
  'CREATE TABLE plain (id INTEGER PRIMARY KEY, n, s TEXT, at TEXT)',
];
const MYSQL_DDL = [
  `CREATE TABLE obs (id BIGINT PRIMARY KEY, n BIGINT NULL, v DOUBLE NULL, s VARCHAR(20) CHARACTER SET utf8mb4 NULL,
     b VARBINARY(20) NULL, at DATETIME NULL, d DECIMAL(6,2) NULL) ENGINE=InnoDB`,
  'CREATE TABLE plain (id BIGINT PRIMARY KEY, n BIGINT NULL, s VARCHAR(20) CHARACTER SET utf8mb4 NULL, at DATETIME(6) NULL) ENGINE=InnoDB',
];
const ROWS = 60; // past BULK_CAPTURE_MIN_ROWS: the bulk path

/** The push's statements (SQL text) while `fn` pushes. */
async function pushSeen(w: SyncWorld, node = 'A'): Promise<string[]> {
  const seen: string[] = [];
  await w.node(node).syncer.withContext((ctx) =>
    pushBatch({
      ...ctx,
      hub: observeHub(ctx.hub, (sql) => {
        seen.push(sql);
      }),
    }),
  );
  return seen;
}

function returningList(seen: string[]): string[] {
  return seen.filter((s) => /^INSERT INTO `obs`/.test(s)).map((s) => s.slice(s.lastIndexOf(' RETURNING ') + 11));
}

describe('which columns the hub stores exactly', () => {
  const col = (dataType: string, columnType: string, more: { collation?: string; scale?: number; extra?: string } = {}) =>
    exactKind({ dataType, columnType, collation: more.collation ?? null, scale: more.scale ?? null, extra: more.extra ?? '' });

  it('integer, plain DOUBLE, utf8mb4 text, VARBINARY/BLOB; nothing the hub sets or rounds', () => {
    expect(col('bigint', 'bigint(20)', { scale: 0 })).toBe('integer');
    expect(col('int', 'int(10) unsigned', { scale: 0 })).toBe('integer');
    expect(col('double', 'double')).toBe('double');
    expect(col('varchar', 'varchar(20)', { collation: 'utf8mb4_general_ci' })).toBe('text');
    expect(col('longtext', 'longtext', { collation: 'utf8mb4_bin' })).toBe('text');
    expect(col('blob', 'blob')).toBe('blob');
    // Read back: the hub may store something else than a canonical value sent.
    expect(col('bigint', 'bigint(20)', { scale: 0, extra: 'auto_increment' })).toBeUndefined();
    expect(col('int', 'int(5) unsigned zerofill', { scale: 0 })).toBeUndefined();
    expect(col('double', 'double(10,2)', { scale: 2 })).toBeUndefined();
    expect(col('float', 'float')).toBeUndefined();
    expect(col('decimal', 'decimal(6,2)', { scale: 2 })).toBeUndefined();
    expect(col('varchar', 'varchar(20)', { collation: 'latin1_swedish_ci' })).toBeUndefined();
    expect(col('char', 'char(4)', { collation: 'utf8mb4_general_ci' })).toBeUndefined();
    expect(col('enum', "enum('a','b')", { collation: 'utf8mb4_general_ci' })).toBeUndefined();
    expect(col('binary', 'binary(4)')).toBeUndefined();
    expect(col('datetime', 'datetime(6)')).toBe('datetime');
    for (const t of ['timestamp', 'date', 'time', 'year', 'bit', 'json']) expect(col(t, t)).toBeUndefined();
    expect(col('varchar', 'varchar(20)', { collation: 'utf8mb4_general_ci', extra: 'STORED GENERATED' })).toBeUndefined();
  });

  it('strict, and no mode that changes a stored value', () => {
    expect(modeKeepsValues('STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION')).toBe(
      true,
    );
    expect(
      modeKeepsValues(
        'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',
      ),
    ).toBe(true);
    expect(modeKeepsValues('')).toBe(false);
    expect(modeKeepsValues('NO_ENGINE_SUBSTITUTION')).toBe(false);
    expect(modeKeepsValues('STRICT_TRANS_TABLES,EMPTY_STRING_IS_NULL')).toBe(false);
    expect(modeKeepsValues('STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES')).toBe(false);
    expect(modeKeepsValues('STRICT_TRANS_TABLES,PAD_CHAR_TO_FULL_LENGTH')).toBe(false);
  });

  it('canonical values only: what the hub would store otherwise is checked instead of read', () => {
    const c = (kind: ExactColumn['kind'], maxChars: number | null = null, maxBytes: number | null = null): ExactColumn => ({
      name: 'x',
      kind,
      maxChars,
      maxBytes,
    });
    expect(canonicalValue(c('integer'), 5)).toBe(true);
    expect(canonicalValue(c('integer'), 2n ** 62n)).toBe(true);
    expect(canonicalValue(c('integer'), null)).toBe(true);
    expect(canonicalValue(c('integer'), 1.5)).toBe(false); // rounded
    expect(canonicalValue(c('integer'), 2 ** 60)).toBe(false); // printed shorter than its value
    expect(canonicalValue(c('integer'), '7')).toBe(false);
    expect(canonicalValue(c('double'), 0.1)).toBe(true);
    expect(canonicalValue(c('double'), -0)).toBe(false);
    expect(canonicalValue(c('double'), 5e-324)).toBe(false); // subnormal
    expect(canonicalValue(c('double'), 3n)).toBe(false);
    expect(canonicalValue(c('text', 20, 80), 'süd 🙂')).toBe(true);
    expect(canonicalValue(c('text', 20, 80), `five${' '.repeat(30)}`)).toBe(false); // spaces cut, with a note only
    expect(canonicalValue(c('text', 20, 80), 'lone \ud800')).toBe(false);
    expect(canonicalValue(c('text', null, 10), 'ééééé é')).toBe(false); // 13 bytes
    expect(canonicalValue(c('text'), 42)).toBe(false);
    expect(canonicalValue(c('blob', 20, 20), Buffer.from([1, 2]))).toBe(true);
    expect(canonicalValue(c('blob', 20, 20), 'text')).toBe(false);
  });

  it('nothing read back only with an integer key (a text key may be folded by its collation)', () => {
    const table = (keyType: 'integer' | 'text') =>
      ({
        name: 't',
        key: [{ name: 'id', type: keyType }],
        columns: [
          { name: 'id', type: keyType },
          { name: 's', type: 'text' },
        ],
      }) as unknown as SyncTable;
    const exact: ExactColumn[] = [{ name: 's', kind: 'text', maxChars: 20, maxBytes: 80 }];
    expect(nothingToReadBack(table('integer'), exact)).toBe(true);
    expect(nothingToReadBack(table('text'), exact)).toBe(false);
    expect(nothingToReadBack(table('integer'), [])).toBe(false);
  });

  it('DATETIME: MySQL’s own form, a real date, no fraction or exactly the column’s digits', () => {
    expect(canonicalDatetime('2024-05-01 10:00:00.000001', 6)).toBe(true);
    expect(canonicalDatetime('2024-05-01 10:00:00', 6)).toBe(true);
    expect(canonicalDatetime('2024-02-29 23:59:59', 0)).toBe(true);
    expect(canonicalDatetime('2024-05-01 10:00:00.5', 6)).toBe(false); // padded on the hub
    expect(canonicalDatetime('2024-05-01 10:00:00.000000', 6)).toBe(false); // read back without the fraction
    expect(canonicalDatetime('2024-05-01 10:00:00.7', 0)).toBe(false); // cut
    expect(canonicalDatetime('2024-05-01T10:00:00Z', 0)).toBe(false);
    expect(canonicalDatetime('2023-02-29 10:00:00', 0)).toBe(false);
    expect(canonicalDatetime('2024-05-01 24:00:00', 0)).toBe(false);
    expect(canonicalDatetime('0999-05-01 10:00:00', 0)).toBe(false);
  });
});

describe.skipIf(!HUB_AVAILABLE)('a bulk push reads back only what the hub may rewrite', () => {
  const fixture = syncWorlds({ prefix: 'readback', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });

  it('inserts and updates: the key and the DECIMAL read back; rewritten rows come back to the node', async () => {
    const w = await fixture.world();
    const [mode] = await w.hub.query<{ m: string }>('SELECT @@global.sql_mode AS m');
    expect(mode?.m).toMatch(/STRICT_(TRANS|ALL)_TABLES/); // the test hub's default: strict
    const A = w.node('A');
    const ins = A.db.prepare('INSERT INTO obs (id, n, v, s, b, at, d) VALUES (?, ?, ?, ?, ?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= ROWS; i++)
        ins.run(
          i,
          // Text in the integer column (row 3): the hub stores the number.
          i === 3 ? '7' : i * 1000,
          i / 7,
          // Excess trailing spaces (row 5): cut to the column's 20 with a note, even in strict mode.
          i === 5 ? `five${' '.repeat(30)}` : `s ${i} ü`,
          Buffer.from([i, 0, 255]),
          // DATETIME(0): the fraction cut away (MariaDB truncates; row 9): not canonical, logged.
          i === 9 ? '2024-01-01 10:00:00.700' : '2024-01-01 10:00:01',
          // DECIMAL(6,2): 0.125 → 0.13 (row 11).
          i === 11 ? 0.125 : 1.5,
        );
    })();
    const seen = await pushSeen(w);
    expect(returningList(seen)).toEqual(['`id`, `d`']);
    for (let c = 0; c < 3; c++) {
      await A.syncer.syncOnce();
      await w.node('B').syncer.syncOnce();
    }
    expect(await divergence(w, ['obs'])).toEqual([]);
    const row = (id: number) => A.db.prepare('SELECT n, s, at, d FROM obs WHERE id = ?').get(id);
    expect(row(3)).toMatchObject({ n: 7n });
    expect(row(5)).toMatchObject({ s: `five${' '.repeat(16)}` });
    expect(row(9)).toMatchObject({ at: '2024-01-01 10:00:00' });
    expect(row(11)).toMatchObject({ d: 0.13 });

    // Updates of rows the hub has: upserted, then read back by a SELECT of the same columns.
    A.db.prepare(`UPDATE obs SET s = 'again' || id || '${' '.repeat(30)}' WHERE id = 20`).run();
    A.db.prepare("UPDATE obs SET at = '2024-02-02 02:02:02.9', s = 'u' || id WHERE id <> 20").run();
    const again = await pushSeen(w);
    const readBack = again.filter((s) => /^SELECT .* FROM `obs` WHERE/.test(s) && !/FOR UPDATE/.test(s));
    expect(readBack.length).toBeGreaterThan(0);
    for (const s of readBack) expect(s).toMatch(/^SELECT `id`, `d` FROM `obs`/);
    for (let c = 0; c < 3; c++) {
      await A.syncer.syncOnce();
      await w.node('B').syncer.syncOnce();
    }
    expect(await divergence(w, ['obs'])).toEqual([]);
    expect(row(20)).toMatchObject({ s: `again20${' '.repeat(13)}` });
    // (In the form the node writes that column: a fraction of one digit, zero.)
    expect(row(21)).toMatchObject({ s: 'u21', at: expect.stringMatching(/^2024-02-02 02:02:02(\.0)?$/) });
  }, 120_000);

  it('every column but an integer key stored exactly: no RETURNING, no read-back; what the hub stores otherwise still comes back', async () => {
    const w = await fixture.world();
    const A = w.node('A');
    const ins = A.db.prepare('INSERT INTO plain (id, n, s, at) VALUES (?, ?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= ROWS; i++)
        ins.run(
          i,
          i === 3 ? '7' : i,
          i === 5 ? `five${' '.repeat(30)}` : `s ${i}`,
          // DATETIME(6): a shorter fraction is padded (row 9), a canonical one kept as it is.
          i === 9 ? '2024-01-01 10:00:00.5' : '2024-01-01 10:00:00.000001',
        );
    })();
    const seen = await pushSeen(w);
    const inserts = seen.filter((s) => /^INSERT INTO `plain`/.test(s));
    expect(inserts.length).toBeGreaterThan(0);
    for (const s of inserts) expect(s).not.toMatch(/RETURNING/);
    expect(seen.filter((s) => /^SELECT .* FROM `plain` WHERE/.test(s) && !/FOR UPDATE/.test(s))).toEqual([]);
    // Only the three rows with a value the hub may store otherwise were logged for the node to pull.
    const central = await w.hub.query<{ pk: string }>(
      "SELECT pk FROM _dualdb_changes WHERE tbl = 'plain' AND origin IS NULL ORDER BY pk",
    );
    expect(central.map((r) => r.pk).sort()).toEqual(['3', '5', '9']);
    for (let c = 0; c < 3; c++) {
      await A.syncer.syncOnce();
      await w.node('B').syncer.syncOnce();
    }
    expect(await divergence(w, ['plain'])).toEqual([]);
    const row = (id: number) => A.db.prepare('SELECT n, s, at FROM plain WHERE id = ?').get(id);
    expect(row(3)).toMatchObject({ n: 7n });
    expect(row(5)).toMatchObject({ s: `five${' '.repeat(16)}` });
    expect(row(9)).toMatchObject({ at: expect.stringMatching(/^2024-01-01 10:00:00\.5(00000)?$/) });
    expect(row(10)).toMatchObject({ n: 10, s: 's 10', at: '2024-01-01 10:00:00.000001' });
  }, 120_000);

  it('a session mode that rewrites (EMPTY_STRING_IS_NULL): every column read back, the hub’s NULL comes back', async () => {
    const w = await fixture.world({ nodes: ['A'] });
    const [{ m } = { m: '' }] = await w.hub.query<{ m: string }>('SELECT @@global.sql_mode AS m');
    // New sessions (the push's) take the global mode; this file's private hub only.
    const admin = await fixture.testHub.admin();
    await admin.query(`SET GLOBAL sql_mode = '${m},EMPTY_STRING_IS_NULL'`);
    try {
      const A = w.node('A');
      const ins = A.db.prepare("INSERT INTO obs (id, n, s) VALUES (?, ?, '')");
      A.db.transaction(() => {
        for (let i = 1; i <= ROWS; i++) ins.run(i, i);
      })();
      const seen = await pushSeen(w);
      expect(returningList(seen)).toEqual(['`id`, `n`, `v`, `s`, `b`, `at`, `d`']);
      for (let c = 0; c < 2; c++) await A.syncer.syncOnce();
      expect(A.db.prepare('SELECT COUNT(*) FROM obs WHERE s IS NULL').pluck().get()).toBe(BigInt(ROWS));
      expect(await divergence(w, ['obs'])).toEqual([]);
    } finally {
      await admin.query(`SET GLOBAL sql_mode = '${m}'`);
      await admin.end();
    }
  }, 120_000);

  it('a BEFORE trigger of the hub’s own: every column read back, its rewrite comes back', async () => {
    const w = await fixture.world({ nodes: ['A'] });
    await w.hub.execute('CREATE TRIGGER obs_upper BEFORE INSERT ON obs FOR EACH ROW SET NEW.s = UPPER(NEW.s)');
    const A = w.node('A');
    const ins = A.db.prepare('INSERT INTO obs (id, n, s) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= ROWS; i++) ins.run(i, i, `name ${i}`);
    })();
    const seen = await pushSeen(w);
    expect(returningList(seen)).toEqual(['`id`, `n`, `v`, `s`, `b`, `at`, `d`']);
    for (let c = 0; c < 2; c++) await A.syncer.syncOnce();
    expect(A.db.prepare('SELECT s FROM obs WHERE id = 7').pluck().get()).toBe('NAME 7');
    expect(await divergence(w, ['obs'])).toEqual([]);
  }, 120_000);
});
