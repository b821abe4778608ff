/**
 * The copy's TSV lines built inside SQLite (hub-writer.ts, `sqlLineParts` / `sqlLine`) are the
 * bytes `line` writes from the values better-sqlite3 returns, for every column type and storage
 * class: a value whose field SQL does not write exactly must leave the row to `line` (null).
 * Real SQLite files; then a migration through LOAD DATA of rows the SQL writes, rows it leaves to
 * JavaScript (re-read by key), and a table that switches to reading values after a page of those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogicalType, SqlValue } from '../src/engines/codec.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { HubTableWriter, sqlLineParts } from '../src/migrate/hub-writer.js';
import { createMigration } from '../src/migrate/index.js';
import type { SyncTable } from '../src/sync/plan.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { differences, makeSite } from './helpers/migrate.js';
import { tempDir } from './helpers/tmp.js';

/** Declared SQLite type → the logical type the plan gives it. */
const TYPES: [string, LogicalType][] = [
  ['INTEGER', 'integer'],
  ['NUMERIC(20,6)', 'decimal'],
  ['REAL', 'double'],
  ['FLOAT', 'float32'],
  ['DATETIME', 'datetime'],
  ['DATE', 'date'],
  ['TIME', 'time'],
  ['TEXT', 'text'],
  ['BLOB', 'blob'],
  ['JSON', 'json'],
  ['', 'any'],
];

/** SQL literals of every storage class and the awkward texts. */
const VALUES = [
  'NULL',
  '0',
  '-1',
  '9223372036854775807',
  '-9223372036854775808',
  '0.5',
  '-0.0',
  '1e21',
  '1e-7',
  '0.1 + 0.2',
  "'abc'",
  "''",
  "'a b~[]{}^-_'",
  "'a' || char(9) || 'b'",
  "'a' || char(10) || 'b'",
  "'a' || char(13) || 'b'",
  "'a\\b'",
  "'\\N'",
  "'é'",
  "'日本'",
  "'😀'",
  "'a' || char(0) || 'b'",
  "CAST(x'61c341' AS TEXT)",
  "CAST(x'ff' AS TEXT)",
  "CAST(x'6180' AS TEXT)",
  "CAST(x'610062' AS TEXT)",
  "'x' || char(127)",
  "'2024-03-01 12:00:00'",
  "'2024-03-01T12:00:00'",
  "'2024-03-01 12:00:00.123000'",
  "'2024-03-01 12:00:00.'",
  "'2024-03-01 12:00:00.12a'",
  "'2024-03-01 12:00:00' || char(0) || 'x'",
  "'2024-03-01 12:00:00.5' || char(0) || '7'",
  "'2024-03-01'",
  "'2024-03-01 12:00'",
  "'２024-03-01 12:00:00'",
  "'12:30:00'",
  "'1.50'",
  "x''",
  "x'00ff'",
  "x'616263'",
  "x'5c090a'",
];

describe('copy lines built in SQLite', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('equal the JavaScript encoding for every type and storage class, or leave the row to it', () => {
    const db = openSqlite(`${tmp.dir}/lines.sqlite`, { create: true });
    let fast = 0;
    let slow = 0;
    for (const [decl, type] of TYPES) {
      for (const keyFirst of [true, false]) {
        // The value column between two plain columns, or alone after the key (runs of one and of three).
        const name = `t_${type}_${keyFirst ? 'a' : 'b'}`;
        db.exec(
          `CREATE TABLE ${name} (id INTEGER PRIMARY KEY, ${keyFirst ? '' : 'pre TEXT, '}v ${decl}${keyFirst ? '' : ', post INTEGER'})`,
        );
        const columns = [
          { name: 'id', type: 'integer' as LogicalType },
          ...(keyFirst ? [] : [{ name: 'pre', type: 'text' as LogicalType }]),
          { name: 'v', type },
          ...(keyFirst ? [] : [{ name: 'post', type: 'integer' as LogicalType }]),
        ];
        for (const [i, v] of VALUES.entries())
          db.exec(
            `INSERT INTO ${name} (id, v${keyFirst ? '' : ', pre, post'}) VALUES (${i + 1}, ${v}${keyFirst ? '' : ", 'p', 7"})`,
          );
        const table = { name, columns, key: [columns[0]] } as unknown as SyncTable;
        const writer = new HubTableWriter(table, 1 << 20);
        const parts = sqlLineParts(columns);
        expect(parts).not.toBeNull();
        if (!parts) continue;
        const raws = db
          .prepare(`SELECT ${columns.map((c) => c.name).join(', ')} FROM ${name} ORDER BY id`)
          .raw(true)
          .all() as SqlValue[][];
        const sqls = db
          .prepare(`SELECT id, ${parts.select.join(', ')} FROM ${name} ORDER BY id`)
          .raw(true)
          .all() as SqlValue[][];
        expect(sqls.length).toBe(VALUES.length);
        raws.forEach((raw, i) => {
          const what = `${decl || 'untyped'} ${VALUES[i]} (${keyFirst ? 'alone' : 'in a run'})`;
          let expected: string | Error;
          try {
            expected = writer.line(raw);
          } catch (e) {
            expected = e as Error;
          }
          let got: string | Error | null;
          try {
            got = writer.sqlLine(parts, sqls[i] as SqlValue[], 1);
          } catch (e) {
            got = e as Error;
          }
          if (got === null) {
            slow++;
            return;
          }
          fast++;
          if (expected instanceof Error) expect(got, what).toBeInstanceOf(expected.constructor);
          else expect(got, what).toBe(expected);
        });
      }
    }
    db.close();
    // The SQL path carries most of these (not a test that nothing reaches it).
    expect(fast).toBeGreaterThan(slow);
  });

  it('are not built for a table of REAL-like columns only', () => {
    expect(
      sqlLineParts([
        { name: 'a', type: 'double' },
        { name: 'b', type: 'decimal' },
      ]),
    ).toBeNull();
    const parts = sqlLineParts([
      { name: 'a', type: 'integer' },
      { name: 'b', type: 'double' },
      { name: 'c', type: 'text' },
      { name: 'd', type: 'datetime' },
    ]);
    expect(parts?.slots).toEqual([-1, 1, -1]);
  });
});

describe.skipIf(!HUB_AVAILABLE)('copy lines built in SQLite, through a migration', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('copies SQL-written rows, rows re-read by key and a table read as values after a page of those, exactly', async () => {
    const site = await makeSite(testHub, tmp.dir, 'sqllines');
    try {
      const db = openSqlite(site.config.sqlitePath, { create: true });
      db.exec(`CREATE TABLE mixed (id INTEGER PRIMARY KEY, n INTEGER, txt TEXT, r REAL, at DATETIME, bin BLOB);
        CREATE TABLE accents (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)`);
      const mixed = db.prepare('INSERT INTO mixed VALUES (?, ?, ?, ?, ?, ?)');
      const accents = db.prepare('INSERT INTO accents VALUES (?, ?, ?)');
      db.transaction(() => {
        // Every 7th row needs JavaScript (non-ASCII, a tab, an ISO date-time, text in a BLOB column).
        for (let i = 1; i <= 4500; i++) {
          const odd = i % 7 === 0;
          const txt = odd ? (i % 2 ? `é ${i}` : `tab\t${i}\\`) : `row ${i}`;
          const at = odd && i % 3 === 0 ? '2024-06-01T08:09:10.25Z' : `2024-03-01 12:00:${String(i % 60).padStart(2, '0')}`;
          const bin = odd && i % 5 === 0 ? 'text in blob' : Buffer.from([i % 256, 0, 255]);
          mixed.run(BigInt(i), BigInt(i) * 1000000007n, txt, i / 3, at, bin);
        }
        // Mostly non-ASCII: after the first page the rest is read as values.
        for (let i = 1; i <= 5000; i++) accents.run(BigInt(i), i % 10 ? `Zoë ${i}` : `Zoe ${i}`, i / 7);
      })();
      db.close();
      const m = createMigration(site.config, { batchSize: 3000, method: 'load-data' });
      const report = await m.run();
      expect(report.ok).toBe(true);
      expect(report.method).toBe('load-data');
      for (const t of report.tables) expect(t.verification?.status, t.table).toBe('match');
      expect(await differences(site.config, site.hub)).toEqual([]);
      const [r] = await site.hub.query<Record<string, unknown>>('SELECT txt, at, HEX(bin) AS h FROM mixed WHERE id = 4011');
      expect(r).toMatchObject({ txt: 'é 4011', h: 'AB00FF' });
      expect(String(r?.at)).toMatch(/^2024-06-01 08:09:10\.25/);
      const [n] = await site.hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM accents');
      expect(Number(n?.n)).toBe(5000);
    } finally {
      await site.close();
    }
  });
});
