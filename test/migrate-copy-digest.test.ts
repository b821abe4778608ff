/**
 * The migration's verification takes SQLite's half of its sums from the copy
 * (src/migrate/copy-digest.ts): the rows the copy read, rendered in JavaScript
 * (engine-hash.ts `rowTextOf`). That sum must be the one SQLite builds in SQL
 * (`SqliteSide.sum`) for values of every storage class in every column type,
 * and it counts only while SQLite still holds as many rows in its range: a row
 * the copy never read (and the hub never got) is still found, by key.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KnownRange, SqliteSide } from '../src/compare/checksum-compare.js';
import { compareOn } from '../src/compare/compare.js';
import { rowTextOf } from '../src/compare/engine-hash.js';
import { resolveScope } from '../src/compare/scope.js';
import type { CompareEvent } from '../src/compare/types.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { RangeDigest } from '../src/migrate/copy-digest.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

const COLUMNS: [name: string, sqlite: string, mysql: string][] = [
  ['i', 'INTEGER', 'BIGINT'],
  ['d', 'REAL', 'DOUBLE'],
  ['f', 'REAL', 'FLOAT'],
  ['n', 'NUMERIC', 'DECIMAL(30,10)'],
  ['t', 'TEXT', 'VARCHAR(300)'],
  ['j', 'TEXT', 'JSON'],
  ['dt', 'DATETIME', 'DATETIME(6)'],
  ['da', 'DATE', 'DATE'],
  ['tm', 'TIME', 'TIME(3)'],
  ['b', 'BLOB', 'LONGBLOB'],
];

/** Values of every storage class, several of them nothing the hub column could hold. */
const VALUES: unknown[] = [
  null,
  0n,
  -1n,
  9007199254740993n,
  -9223372036854775808n,
  0.5,
  1 / 3,
  -2.5e-300,
  1e21,
  1e-7,
  123456.789,
  '',
  '12',
  '-0.50',
  '007.25',
  'abc',
  '🦺 émoji 𝄞',
  'x'.repeat(64),
  'é'.repeat(40),
  '2024-02-29 23:59:59.123000',
  '2024-02-29T23:59:59',
  '2024-01-02',
  '12:00:01.500',
  '{"a": 1}',
  Buffer.alloc(0),
  Buffer.from([0, 1, 255]),
  randomBytes(40),
];

describe.skipIf(!HUB_AVAILABLE)("the copy's SQLite sums", () => {
  let testHub: TestHub;
  const tmp = tempDir();

  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('are the sums SQLite builds itself, for every storage class in every column type', async () => {
    const m = await testHub.freshDatabase('copysums');
    const config = nodeConfig(tmp.dir, `node-${randomBytes(3).toString('hex')}`, m);
    const db = createSqlite(config, [
      `CREATE TABLE mixed (id INTEGER PRIMARY KEY, ${COLUMNS.map(([c, s]) => `${c} ${s}`).join(', ')})`,
    ]);
    const hub = await MysqlHub.connect(m);
    try {
      await hub.execute(`CREATE TABLE mixed (id BIGINT PRIMARY KEY, ${COLUMNS.map(([c, , t]) => `${c} ${t} NULL`).join(', ')})`);
      // Each value in each column, the other columns rotating through the list.
      const ins = db.prepare(`INSERT INTO mixed VALUES (${['?', ...COLUMNS.map(() => '?')].join(', ')})`);
      let id = 0;
      for (let v = 0; v < VALUES.length; v++)
        for (let c = 0; c < COLUMNS.length; c++)
          ins.run(++id, ...COLUMNS.map((_, k) => VALUES[(v + (k === c ? 0 : k + 1)) % VALUES.length]));
      const table = (await resolveScope(db, hub)).tables.find((t) => t.name === 'mixed');
      if (!table) throw new Error('mixed not in the plan');
      const rowText = rowTextOf(table.columns.map((c) => c.type));
      const read = db
        .prepare(`SELECT ${table.columns.map((c) => `"${c.name}"`).join(', ')} FROM mixed ORDER BY id`)
        .raw(true)
        .all() as unknown[][];
      const side = new SqliteSide(db, table);
      // Whole table, then one row at a time (a difference in one value is not hidden by the others).
      const whole = new RangeDigest(rowText);
      for (const r of read) whole.add(r);
      expect(whole.sum()).toEqual(side.sum({ lo: null, hi: null }));
      for (const r of read) {
        const one = new RangeDigest(rowText);
        one.add(r);
        const key = r[0] as bigint;
        expect(one.sum(), `row ${key}: ${r.map((v) => String(v).slice(0, 20)).join(' | ')}`).toEqual(
          side.sum({ lo: [key - 1n], hi: [key] }),
        );
      }
    } finally {
      db.close();
      await hub.close();
    }
  });

  it('count only while SQLite holds as many rows: a row the copy never read is found missing on the hub', async () => {
    const m = await testHub.freshDatabase('copycount');
    const config = nodeConfig(tmp.dir, `node-${randomBytes(3).toString('hex')}`, m);
    const db = createSqlite(config, ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)']);
    const hub = await MysqlHub.connect(m);
    try {
      await hub.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(50))');
      const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
      for (let i = 1; i <= 10; i++) ins.run(i, `row ${i}`);
      // The hub got rows 1–9; the copy's sums say it read just those (row 10 skipped).
      await hub.execute('INSERT INTO t VALUES ?', [Array.from({ length: 9 }, (_, i) => [i + 1, `row ${i + 1}`])]);
      const rows = db.prepare('SELECT id, v FROM t ORDER BY id').raw(true).all() as unknown[][];
      const rowText = rowTextOf(['integer', 'text']);
      const sumOf = (part: unknown[][]) => {
        const d = new RangeDigest(rowText);
        for (const r of part) d.add(r);
        return d.sum();
      };
      const compare = async (known: KnownRange[]) => {
        const events: CompareEvent[] = [];
        const report = await compareOn(
          db,
          { sqlitePath: config.sqlitePath, hub },
          { knownRanges: new Map([['t', known]]), onEvent: (e) => events.push(e) },
        );
        const t = report.tables.find((x) => x.table === 't');
        return {
          diffs: t?.differences.map((d) => `${d.key} ${d.kind}`),
          chunks: events.filter((e) => e.type === 'chunk').length,
        };
      };
      // The copy's ranges as given: three chunks, the sums of the rows it read.
      const skipped: KnownRange[] = [
        { range: { lo: null, hi: [4n] }, sqlite: sumOf(rows.slice(0, 4)) },
        { range: { lo: [4n], hi: [9n] }, sqlite: sumOf(rows.slice(4, 9)) },
        { range: { lo: [9n], hi: null }, sqlite: { rows: 0, digest: null } },
      ];
      expect(await compare(skipped)).toEqual({ diffs: ['10 missing-in-mysql'], chunks: 3 });
      await hub.execute('INSERT INTO t VALUES (10, ?)', ['row 10']);
      skipped[2] = { range: { lo: [9n], hi: null }, sqlite: sumOf(rows.slice(9)) };
      expect(await compare(skipped)).toEqual({ diffs: [], chunks: 3 });
    } finally {
      db.close();
      await hub.close();
    }
  });
});
