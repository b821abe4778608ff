/**
 * The pre-flight check (src/schema/preflight.ts) on a detections-shaped table of
 * 1,000,000 rows (200,000 with --quick), against one plain scan of the same
 * SQLite table in the same run (every column read, nothing checked). Goal: at
 * most 1.5× the scan. A second figure checks against the server's
 * case-insensitive collation, where the unique text key must be tracked too.
 *
 * `node --import tsx bench/preflight.bench.ts [--quick]`, or `npm run bench -- --only preflight`.
 */
import path from 'node:path';
import { introspectSqlite } from '../src/engines/sqlite/introspect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { preflight } from '../src/schema/preflight.js';
import { translateToMysql } from '../src/schema/translate.js';
import { type BenchOptions, type Figure, figure, hr, repeat, runStandalone } from './lib.js';

const DDL = `CREATE TABLE detections (
  id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, camera_id VARCHAR(64), label TEXT, confidence REAL,
  persons INTEGER, detected_at DATETIME, helmet BOOLEAN)`;

export async function run(options: BenchOptions): Promise<Figure[]> {
  const rows = options.quick ? 200_000 : 1_000_000;
  const times = 3;
  const file = path.join(options.dir, 'preflight.db');
  const db = openSqlite(file, { create: true });
  try {
    db.exec(DDL);
    const insert = db.prepare('INSERT INTO detections VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= rows; i++)
        insert.run(
          i,
          `det-${i.toString(36)}`,
          `cam-${i % 40}`,
          i % 3 === 0 ? 'no helmet' : 'ok',
          (i % 1000) / 997,
          i % 7,
          `2026-02-${String(1 + (i % 28)).padStart(2, '0')} 10:${String(i % 60).padStart(2, '0')}:00.${String(i % 1_000_000).padStart(6, '0')}`,
          i % 2,
        );
    })();
    const tables = introspectSqlite(db);
    const binary = translateToMysql(tables, { db }).tables.map((t) => t.model);
    const folding = translateToMysql(tables, { db, keyCollation: 'server' }).tables.map((t) => t.model);
    const scanStmt = db.prepare('SELECT * FROM detections').raw(true).safeIntegers(true);
    const scan = () => {
      const t = hr();
      let n = 0;
      for (const _row of scanStmt.iterate()) n++;
      if (n !== rows) throw new Error(`scanned ${n} rows`);
      return t();
    };
    const check = (targets: typeof binary) => {
      const t = hr();
      const r = preflight(db, tables, targets);
      if (!r.ok || r.tables[0]?.rows !== rows) throw new Error(`unexpected pre-flight result: ${JSON.stringify(r.counts)}`);
      return t();
    };
    scan(); // warm the page cache
    const scanRuns = await repeat(times, async () => scan());
    const ours = await repeat(times, async () => check(binary));
    const ci = await repeat(times, async () => check(folding));
    const base = { name: 'plain scan', runs: scanRuns };
    const label = `${rows.toLocaleString('en-US')} rows`;
    return [
      figure(`pre-flight, ${label} (binary text keys, the default)`, 'ms', ours, base, 'goal ≤ 1.5×'),
      figure(`pre-flight, ${label}, case-insensitive unique key tracked`, 'ms', ci, base),
    ];
  } finally {
    db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runStandalone('preflight', run);
