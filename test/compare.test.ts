/**
 * `compare` and `repair` against real SQLite files and a private MariaDB:
 *  - identical data compares clean, including every awkward value (BIGINT at ±2^63 and
 *    2^53+1, DECIMAL(30,10), DOUBLE 0.1 and 1e-300, DATETIME(6) against SQLite text with
 *    'T', BLOBs of every byte, emoji, '' vs NULL) and key (composite, text in a binary and
 *    in a case-insensitive collation, non-ASCII), at any chunk size;
 *  - one changed value, rows missing on either side and an extra row are found by key;
 *  - repair in each direction makes the next compare clean and logs no change on either
 *    side; a dry run changes nothing; repair from mysql moves the pull cursor without
 *    skipping a hub change that commits late;
 *  - the CLI's exit codes (0 / 20 / 2).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompareRun, compareNode } from '../src/compare/compare.js';
import { runMonitorCompare } from '../src/compare/progress.js';
import { repairNode } from '../src/compare/repair.js';
import { CompareCancelledError } from '../src/compare/table-compare.js';
import type { CompareEvent, CompareReport, RowDifference } from '../src/compare/types.js';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { LocalState } from '../src/sync/local-state.js';
import { Syncer } from '../src/sync/syncer.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { createSqlite, nodeConfig, sqlite3Shell } from './helpers/node.js';
import { privateHub } from './helpers/private-hub.js';

const SQLITE_DDL = [
  // `amount` has TEXT affinity: a DECIMAL-declared SQLite column (NUMERIC affinity) keeps only 15 digits.
  'CREATE TABLE vals (id INTEGER PRIMARY KEY, i64 INTEGER, amount TEXT, dbl REAL, at DATETIME, bin BLOB, txt TEXT)',
  'CREATE TABLE kv (ns TEXT NOT NULL, k TEXT NOT NULL, n INTEGER NOT NULL, v TEXT, PRIMARY KEY (ns, k, n))',
  'CREATE TABLE names (name TEXT PRIMARY KEY, v INTEGER)',
  'CREATE TABLE tags (tag TEXT PRIMARY KEY, v INTEGER)',
  'CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT)',
  'CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id), v TEXT)',
  'CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, value REAL, at DATETIME)',
];
const MYSQL_DDL = [
  `CREATE TABLE vals (id BIGINT PRIMARY KEY, i64 BIGINT NULL, amount DECIMAL(30,10) NULL, dbl DOUBLE NULL,
     at DATETIME(6) NULL, bin LONGBLOB NULL, txt TEXT NULL)`,
  `CREATE TABLE kv (ns VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, k VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, n BIGINT NOT NULL,
     v TEXT NULL, PRIMARY KEY (ns, k, n))`,
  // Binary collation: keys differing only by case are distinct, as in SQLite.
  'CREATE TABLE names (name VARCHAR(60) COLLATE utf8mb4_bin PRIMARY KEY, v BIGINT NULL)',
  // The server default (utf8mb4_unicode_ci): sorts case- and accent-insensitively.
  'CREATE TABLE tags (tag VARCHAR(60) PRIMARY KEY, v BIGINT NULL)',
  'CREATE TABLE parents (id BIGINT PRIMARY KEY, name VARCHAR(40) NULL)',
  `CREATE TABLE children (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL, v VARCHAR(40) NULL,
     CONSTRAINT children_parent FOREIGN KEY (parent_id) REFERENCES parents (id))`,
  'CREATE TABLE readings (id BIGINT PRIMARY KEY, sensor VARCHAR(40) NULL, value DOUBLE NULL, at DATETIME(6) NULL)',
];

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
type V = null | bigint | number | string | Buffer;

/** id, i64, amount, dbl, at as SQLite holds it, at as MySQL holds it, bin, txt. */
const VALS: [bigint, V, V, V, V, V, V, V][] = [
  [
    1n,
    9007199254740993n,
    '12345678901234567890.0123456789',
    0.1,
    '2024-02-29T23:59:59.999999',
    '2024-02-29 23:59:59.999999',
    ALL_BYTES,
    'capacete 🦺🚧 ok',
  ],
  [
    2n,
    9223372036854775807n,
    '-99999999999999999999.9999999999',
    1e-300,
    '2018-11-04T00:30:00.123456',
    '2018-11-04 00:30:00.123456',
    Buffer.alloc(0),
    '',
  ],
  [
    3n,
    -9223372036854775808n,
    '0.0000000001',
    1.7976931348623157e308,
    '1970-01-01 00:00:00.000001',
    '1970-01-01 00:00:00.000001',
    null,
    null,
  ],
  [4n, -9007199254740993n, null, -2.2250738585072014e-308, null, null, randomBytes(70_000), '𝄞 \u0000 \\ \' "'],
  [5n, 0n, '1.5', 5e-324, '2024-03-10T02:30', '2024-03-10 02:30:00.000000', Buffer.from([0]), ' '],
];
const KV_KEYS: [string, string, bigint][] = [
  ['1:a', '2:bb', 1n],
  ['1', ':a2:bb', 1n],
  ['', '1:a2:bb', 1n],
  ['12', '3', 45n],
  ['🚧', '🦺:1', -1n],
  ['a', 'b', 9223372036854775807n],
  ['a', 'b', -9223372036854775808n],
];
/** Case variants, accents, astral vs U+FF71 (JavaScript's UTF-16 order differs from byte order there), digits. */
const NAMES = ['abc', 'ABC', 'Abc', 'Ünïcödé', 'ünïcödé', 'é', 'e', '🚧', 'ｱ', 'z', '007', '7', 'a:b', ' '];
/** Distinct under utf8mb4_unicode_ci. */
const TAGS = ['alpha', 'Beta', 'gamma', 'Ünï', '🚧', 'ｱ', 'zeta', '_x', '0', 'Çedilha'];
const READINGS = 3_000;

function readingRow(i: number): [bigint, string, number, string, string] {
  const at = `2024-05-${String(1 + (i % 28)).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:00:00.${String(i).padStart(6, '0')}`;
  return [BigInt(i), `sensor-${i % 17}`, i / 7, at.replace(' ', 'T'), at];
}

interface World {
  config: Config;
  db: SqliteDb;
  hub: MysqlHub;
  close(): Promise<void>;
}

describe.skipIf(!HUB_AVAILABLE)('compare and repair', () => {
  const fixture = privateHub();

  /** The same data on both sides, loaded before capture is installed; then `dualdb init`. */
  async function makeWorld(): Promise<World> {
    const m = await fixture.testHub.freshDatabase('cmp');
    const config = nodeConfig(fixture.dir, `node-${randomBytes(3).toString('hex')}`, m);
    const db = createSqlite(config, SQLITE_DDL);
    const hub = await MysqlHub.connect(m);
    for (const d of MYSQL_DDL) await hub.execute(d);
    const ins = (t: string, n: number) => db.prepare(`INSERT INTO ${t} VALUES (${Array(n).fill('?').join(', ')})`);
    db.transaction(() => {
      for (const [id, i64, amount, dbl, at, , bin, txt] of VALS) ins('vals', 7).run(id, i64, amount, dbl, at, bin, txt);
      for (const [ns, k, n] of KV_KEYS) ins('kv', 4).run(ns, k, n, `${ns}|${k}`);
      for (const [i, n] of NAMES.entries()) ins('names', 2).run(n, i);
      for (const [i, t] of TAGS.entries()) ins('tags', 2).run(t, i);
      for (let i = 1; i <= 5; i++) ins('parents', 2).run(i, `p${i}`);
      for (let i = 1; i <= 20; i++) ins('children', 3).run(i, 1 + (i % 5), `c${i}`);
      for (let i = 1; i <= READINGS; i++) {
        const [id, sensor, value, at] = readingRow(i);
        ins('readings', 4).run(id, sensor, value, at);
      }
    })();
    await hub.execute('INSERT INTO vals VALUES ?', [
      VALS.map(([id, i64, amount, dbl, , at, bin, txt]) => [id, i64, amount, dbl, at, bin, txt]),
    ]);
    await hub.execute('INSERT INTO kv VALUES ?', [KV_KEYS.map(([ns, k, n]) => [ns, k, n, `${ns}|${k}`])]);
    await hub.execute('INSERT INTO names VALUES ?', [NAMES.map((n, i) => [n, i])]);
    await hub.execute('INSERT INTO tags VALUES ?', [TAGS.map((t, i) => [t, i])]);
    await hub.execute('INSERT INTO parents VALUES ?', [[1, 2, 3, 4, 5].map((i) => [i, `p${i}`])]);
    await hub.execute('INSERT INTO children VALUES ?', [
      Array.from({ length: 20 }, (_, j) => [j + 1, 1 + ((j + 1) % 5), `c${j + 1}`]),
    ]);
    const rows = Array.from({ length: READINGS }, (_, j) => {
      const [id, sensor, value, , at] = readingRow(j + 1);
      return [id, sensor, value, at];
    });
    await hub.execute('INSERT INTO readings VALUES ?', [rows]);
    await initNode(config);
    const w: World = {
      config,
      db,
      hub,
      async close() {
        db.close();
        await hub.close();
      },
    };
    fixture.keep(w);
    return w;
  }

  async function logCounts(w: World): Promise<{ sqlite: number; mysql: number }> {
    const s = w.db.prepare('SELECT count(*) AS n FROM _dualdb_changes').get() as { n: bigint };
    const [m] = await w.hub.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM _dualdb_changes');
    return { sqlite: Number(s.n), mysql: Number(m?.n) };
  }

  function diffsOf(report: CompareReport): string[] {
    return report.tables
      .flatMap((t) =>
        t.differences.map((d: RowDifference) => `${t.table} ${d.kind} ${d.key}${d.columns ? ` [${d.columns.join(',')}]` : ''}`),
      )
      .sort();
  }

  /** Scattered differences of every kind; returns what compare must report. */
  async function breakData(w: World): Promise<string[]> {
    // Differs only beyond a double's precision: 2^53+1 → 2^53.
    w.db.prepare('UPDATE vals SET i64 = ? WHERE id = 1').run(9007199254740992n);
    // '' on one side, NULL on the other.
    await w.hub.execute('UPDATE vals SET txt = NULL WHERE id = 2');
    // One microsecond.
    await w.hub.execute("UPDATE vals SET at = '1970-01-01 00:00:00.000002' WHERE id = 3");
    await w.hub.execute('DELETE FROM readings WHERE id = 10');
    w.db.prepare('DELETE FROM readings WHERE id = 2500').run();
    w.db.prepare("INSERT INTO readings VALUES (5000, 'extra', 1.5, '2024-06-01T00:00:00')").run();
    await w.hub.execute("UPDATE readings SET sensor = 'sensor-X' WHERE id = 1777");
    w.db.prepare('DELETE FROM kv WHERE ns = ? AND k = ? AND n = ?').run('1', ':a2:bb', 1n);
    return [
      'kv missing-in-sqlite 1:16::a2:bb1:1',
      'readings different 1777 [sensor]',
      'readings missing-in-mysql 10',
      'readings missing-in-mysql 5000',
      'readings missing-in-sqlite 2500',
      'vals different 1 [i64]',
      'vals different 2 [txt]',
      'vals different 3 [at]',
    ];
  }

  it('identical data compares clean: every awkward value and key type, at any chunk size', async () => {
    const w = await makeWorld();
    const events: CompareEvent[] = [];
    const report = await compareNode(w.config, { chunkSize: 100, onEvent: (e) => events.push(e) });
    expect(diffsOf(report)).toEqual([]);
    expect(report.issues).toEqual([]);
    expect(report.match).toBe(true);
    const byName = new Map(report.tables.map((t) => [t.table, t]));
    expect([...byName.keys()].sort()).toEqual(['children', 'kv', 'names', 'parents', 'readings', 'tags', 'vals']);
    expect(byName.get('readings')?.rows).toEqual({ sqlite: READINGS, mysql: READINGS });
    expect(byName.get('readings')?.chunks.total).toBe(READINGS / 100);
    expect(byName.get('names')?.rows).toEqual({ sqlite: NAMES.length, mysql: NAMES.length });
    // The case-insensitive key is read in byte order by one sorted query; the others page through the index.
    expect(byName.get('tags')?.readModes).toEqual({ sqlite: 'keyset', mysql: 'sorted-stream' });
    expect(byName.get('names')?.readModes).toEqual({ sqlite: 'keyset', mysql: 'keyset' });
    // Parents are compared before children (the plan's order).
    const order = report.tables.map((t) => t.table);
    expect(order.indexOf('parents')).toBeLessThan(order.indexOf('children'));
    // Progress: every chunk reported, with the rows scanned so far.
    const chunks = events.filter((e): e is Extract<CompareEvent, { type: 'chunk' }> => e.type === 'chunk');
    expect(chunks.length).toBe(report.tables.reduce((n, t) => n + t.chunks.total, 0));
    expect(chunks.filter((c) => c.table === 'readings').at(-1)?.rowsScanned).toEqual({ sqlite: READINGS, mysql: READINGS });
    expect(events.at(-1)?.type).toBe('done');

    // The same as an event source for a UI, which can cancel it.
    const run = new CompareRun({ sqlitePath: w.config.sqlitePath, hub: w.hub }, { tables: ['readings'], chunkSize: 500 });
    const seen: string[] = [];
    run.on('event', (e) => {
      seen.push(e.type);
      if (e.type === 'chunk' && e.chunk === 2) run.cancel();
    });
    await expect(run.start()).rejects.toBeInstanceOf(CompareCancelledError);
    expect(seen.filter((t) => t === 'chunk')).toHaveLength(2);

    // Chunks of one row (every boundary a key comparison) and of seven still line up.
    for (const chunkSize of [1, 7]) {
      const small = await compareNode(w.config, { chunkSize, tables: ['vals', 'kv', 'names', 'tags'] });
      expect(diffsOf(small), `chunk size ${chunkSize}`).toEqual([]);
      expect(small.match).toBe(true);
    }
  });

  it('finds one changed value, rows missing on either side and an extra row, by key', async () => {
    const w = await makeWorld();
    const expected = await breakData(w);
    for (const chunkSize of [100, 10_000]) {
      const report = await compareNode(w.config, { chunkSize });
      expect(report.match).toBe(false);
      expect(diffsOf(report), `chunk size ${chunkSize}`).toEqual(expected);
      const readings = report.tables.find((t) => t.table === 'readings');
      expect(readings?.byKind).toEqual({ 'missing-in-mysql': 2, 'missing-in-sqlite': 1, different: 1 });
      expect(readings?.rows).toEqual({ sqlite: READINGS, mysql: READINGS - 1 });
      // Only the chunks holding a difference are compared row by row.
      if (chunkSize === 100) expect(readings?.chunks.differing).toBeLessThanOrEqual(4);
      expect(report.tables.find((t) => t.table === 'names')?.status).toBe('match');
    }
    // The list is capped, the count is not.
    const capped = await compareNode(w.config, { maxDifferences: 1, tables: ['readings'] });
    expect(capped.tables[0]?.differences).toHaveLength(1);
    expect(capped.tables[0]?.differenceCount).toBe(4);
    expect(capped.tables[0]?.truncated).toBe(true);
  });

  it('text keys: case-only and non-ASCII differences, in binary and case-insensitive MySQL collations', async () => {
    const w = await makeWorld();
    // Binary collation: 'ÀBC' only in SQLite, 'àbc' only in MySQL; 'abc'/'ABC'/'Abc' stay equal.
    w.db.prepare('INSERT INTO names VALUES (?, 100)').run('ÀBC');
    await w.hub.execute('INSERT INTO names VALUES (?, 100)', ['àbc']);
    // Case-insensitive collation: the key's case changed on one side only.
    w.db.prepare("UPDATE tags SET tag = 'beta' WHERE tag = 'Beta'").run();
    const report = await compareNode(w.config, { chunkSize: 3, tables: ['names', 'tags'] });
    expect(diffsOf(report)).toEqual([
      'names missing-in-mysql ÀBC',
      'names missing-in-sqlite àbc',
      'tags missing-in-mysql beta',
      'tags missing-in-sqlite Beta',
    ]);

    const before = await logCounts(w);
    const fixed = await repairNode(w.config, { from: 'sqlite', chunkSize: 3, tables: ['names', 'tags'] });
    expect(fixed.ok).toBe(true);
    expect((await compareNode(w.config, { tables: ['names', 'tags'] })).match).toBe(true);
    expect(await logCounts(w)).toEqual(before);
    const [tag] = await w.hub.query<{ tag: string }>("SELECT tag FROM tags WHERE tag = 'beta'");
    expect(tag?.tag).toBe('beta');
  });

  it('repair --from sqlite: the hub becomes equal, parents before children, and nothing is captured', async () => {
    const w = await makeWorld();
    const expected = await breakData(w);
    // A parent and its child only in SQLite (the child must go after its parent), and a
    // parent and child only on the hub (the child must be deleted first).
    w.db.prepare("INSERT INTO parents VALUES (6, 'p6')").run();
    w.db.prepare("INSERT INTO children VALUES (60, 6, 'c60')").run();
    await w.hub.execute("INSERT INTO parents VALUES (9, 'p9')");
    await w.hub.execute("INSERT INTO children VALUES (90, 9, 'c90')");
    const before = await logCounts(w);

    const report = await repairNode(w.config, { from: 'sqlite', chunkSize: 100, batchSize: 2 });
    expect(report.ok).toBe(true);
    expect(report.to).toBe('mysql');
    expect(report.pullCursor).toBeNull();
    const changed = report.tables.flatMap((t) => t.changes.map((c) => `${t.table} ${c.action} ${c.key}`)).sort();
    expect(changed).toEqual(
      [
        'children delete 90',
        'children insert 60',
        'kv delete 1:16::a2:bb1:1',
        'parents delete 9',
        'parents insert 6',
        'readings delete 2500',
        'readings insert 10',
        'readings insert 5000',
        'readings update 1777',
        'vals update 1',
        'vals update 2',
        'vals update 3',
      ].sort(),
    );
    expect(expected).toHaveLength(8);
    expect(report.totals).toEqual({ inserted: 4, updated: 4, deleted: 4, failures: 0 });

    const after = await compareNode(w.config, { chunkSize: 100 });
    expect(diffsOf(after)).toEqual([]);
    expect(after.match).toBe(true);
    expect(await logCounts(w)).toEqual(before);
    // Exact values made it: 2^53 (not its double neighbour), '' (not NULL).
    const [v1] = await w.hub.query<{ i64: string; txt: string | null }>('SELECT i64, txt FROM vals WHERE id = 1');
    expect(v1?.i64).toBe('9007199254740992');
    const [v2] = await w.hub.query<{ txt: string | null }>('SELECT txt FROM vals WHERE id = 2');
    expect(v2?.txt).toBe('');
    // The capture-off session variable did not leak into the pool.
    const probe = await w.hub.query<{ v: unknown }>('SELECT @dualdb_capture_off AS v');
    expect(probe[0]?.v).toBeNull();
  });

  it('repair --from mysql: the node becomes equal, nothing is captured, the pull cursor resumes without skipping a late commit', async () => {
    const w = await makeWorld();
    await breakData(w);
    w.db.prepare("INSERT INTO parents VALUES (9, 'p9')").run();
    w.db.prepare("INSERT INTO children VALUES (90, 9, 'c90')").run();
    await w.hub.execute("INSERT INTO parents VALUES (6, 'p6')");
    await w.hub.execute("INSERT INTO children VALUES (60, 6, 'c60')");
    const state = new LocalState(w.db);
    state.setMeta('resync_needed', 'the hub pruned its log past this node');

    // A hub transaction takes a sequence number and stays open across the repair, while a
    // later one commits: the open one's change must still reach the node afterwards.
    const late = await fixture.testHub.admin(w.config.mysql.database);
    await late.query('BEGIN');
    await late.query("INSERT INTO readings VALUES (9001, 'late', 1, '2024-07-01 00:00:00')");
    await w.hub.execute("INSERT INTO readings VALUES (9002, 'early', 2, '2024-07-01 00:00:01')");
    const [maxSeq] = await w.hub.query<{ s: string }>('SELECT MAX(seq) AS s FROM _dualdb_changes');
    const before = await logCounts(w);

    const report = await repairNode(w.config, { from: 'mysql', chunkSize: 100, batchSize: 3 });
    expect(report.ok).toBe(true);
    expect(report.totals.failures).toBe(0);
    expect(await logCounts(w)).toEqual(before);
    expect(report.pullCursor).toMatchObject({ moved: true, upto: maxSeq?.s });
    expect(report.pullCursor?.holes).toBeGreaterThanOrEqual(1);
    expect(report.resyncCleared).toBe(true);
    expect(state.getMeta('resync_needed')).toBeUndefined();
    expect(state.pullState().upto).toBe(BigInt(maxSeq?.s ?? -1));
    expect(w.db.prepare('SELECT id FROM readings WHERE id IN (9001, 9002) ORDER BY id').all()).toEqual([{ id: 9002n }]);
    expect(w.db.prepare('SELECT count(*) AS n FROM parents WHERE id = 9').get()).toEqual({ n: 0n });
    expect(w.db.prepare('SELECT parent_id FROM children WHERE id = 60').get()).toEqual({ parent_id: 6n });
    // The repaired node equals the hub as the repair saw it (9001 is not committed yet).
    const after = await compareNode(w.config, { chunkSize: 100 });
    expect(diffsOf(after)).toEqual([]);

    // Repair again: idempotent, nothing to change, the cursor stays at the hub's position.
    const again = await repairNode(w.config, { from: 'mysql' });
    expect(again.totals).toEqual({ inserted: 0, updated: 0, deleted: 0, failures: 0 });
    expect(again.pullCursor?.upto).toBe(maxSeq?.s);

    await late.query('COMMIT');
    await late.end();
    const syncer = Syncer.open(w.config, { planTtlMs: 0 });
    try {
      await syncer.pull();
    } finally {
      await syncer.close();
    }
    expect(w.db.prepare('SELECT id, sensor FROM readings WHERE id = 9001').get()).toEqual({ id: 9001n, sensor: 'late' });
    expect((await compareNode(w.config)).match).toBe(true);
  });

  it('--dry-run changes nothing and lists what would change', async () => {
    const w = await makeWorld();
    const expected = await breakData(w);
    const before = await compareNode(w.config, { chunkSize: 100 });
    const counts = await logCounts(w);
    for (const from of ['sqlite', 'mysql'] as const) {
      const plan = await repairNode(w.config, { from, dryRun: true, chunkSize: 100 });
      expect(plan.dryRun).toBe(true);
      expect(plan.ok).toBe(true);
      expect(plan.totals.inserted + plan.totals.updated + plan.totals.deleted).toBe(expected.length);
      expect(plan.tables.find((t) => t.table === 'readings')?.status).toBe('planned');
      expect(plan.pullCursor).toEqual(from === 'mysql' ? { moved: false, reason: 'dry run' } : null);
    }
    const after = await compareNode(w.config, { chunkSize: 100 });
    expect(diffsOf(after)).toEqual(diffsOf(before));
    expect(await logCounts(w)).toEqual(counts);
  });

  it('schema drift is a difference (paused, with its fix); a table on one side only is skipped, not a difference', async () => {
    const w = await makeWorld();
    w.db.exec('CREATE TABLE legacy (id INTEGER PRIMARY KEY, v TEXT)');
    w.db.exec("INSERT INTO legacy VALUES (1, 'x'), (2, 'y')");
    const onlyHere = await compareNode(w.config);
    // Not synced (the sync plan skips it), so not compared: nothing a repair could make equal.
    expect(onlyHere.match).toBe(true);
    expect(onlyHere.skipped).toEqual([
      { table: 'legacy', reason: 'only in SQLite: create it on the hub (`dualdb schema apply`)' },
    ]);
    await w.hub.execute('ALTER TABLE readings ADD COLUMN extra INT NULL');
    const report = await compareNode(w.config);
    expect(report.match).toBe(false);
    expect(report.tables.map((t) => t.table)).not.toContain('readings');
    expect(report.issues.map((i) => [i.table, i.kind, i.difference, i.rows])).toEqual(
      expect.arrayContaining([
        ['readings', 'schema-drift', true, { sqlite: READINGS, mysql: READINGS }],
        ['legacy', 'only-in-sqlite', false, { sqlite: 2, mysql: null }],
      ]),
    );
    expect(report.paused).toEqual([
      { table: 'readings', reason: 'schema drift — only in MySQL: extra', fix: expect.stringMatching(/dualdb schema apply/) },
    ]);
    await expect(compareNode(w.config, { tables: ['nope'] })).rejects.toMatchObject({ code: 'UNKNOWN_TABLE' });
  });

  // Operator: `sqlite3 instance/epi_detection.db "CREATE TABLE audit_log(ts TEXT, msg TEXT)"` (no key,
  // SQLite only, never synced) made `compare` exit 20 and send them to a repair that cannot fix it.
  it('CLI: compare and repair compare the synced tables only; the others are listed as skipped, one line each, exit 0', async () => {
    const w = await makeWorld();
    sqlite3Shell(w.config.sqlitePath, "CREATE TABLE audit_log(ts TEXT, msg TEXT); INSERT INTO audit_log VALUES ('t1', 'boot');");
    w.db.exec('CREATE TABLE legacy (id INTEGER PRIMARY KEY, v TEXT)');
    w.db.exec("INSERT INTO legacy VALUES (1, 'x')");
    await w.hub.execute('CREATE TABLE hub_notes (id BIGINT PRIMARY KEY, v TEXT NULL)');
    const env = envOf(w.config);
    const cwd = fixture.dir;
    const skipped = [
      {
        table: 'audit_log',
        reason: 'no primary key (and only in SQLite): rows cannot be matched; add one to sync this table',
      },
      { table: 'hub_notes', reason: 'only in MySQL: create it locally (`dualdb migrate --from mysql`)' },
      { table: 'legacy', reason: 'only in SQLite: create it on the hub (`dualdb schema apply`)' },
    ];

    const plain = runCli(['compare'], env, { cwd });
    expect(plain.code, plain.stdout + plain.stderr).toBe(EXIT.OK);
    const lines = plain.stdout.split('\n').map((l) => l.trim());
    for (const s of skipped)
      expect(
        lines.filter((l) => l.includes(`table ${s.table} skipped: ${s.reason}`)),
        plain.stdout,
      ).toHaveLength(1);
    expect(plain.stdout).toMatch(/all 7 synced table\(s\) match/);
    expect(plain.stdout).toContain('3 table(s) not synced');
    expect(plain.stdout).not.toContain('dualdb repair --from');
    const json = runCli(['compare', '--json'], env, { cwd });
    expect(json.code, json.stderr).toBe(EXIT.OK);
    const parsed = JSON.parse(json.stdout) as CompareReport;
    expect(parsed.skipped).toEqual(skipped);
    expect(parsed.paused).toEqual([]);
    expect(parsed.match).toBe(true);
    // Named on purpose: still skipped, still said why, still no difference.
    const named = runCli(['compare', '--tables', 'audit_log'], env, { cwd });
    expect(named.code, named.stdout + named.stderr).toBe(EXIT.OK);
    expect(named.stdout).toContain('table audit_log skipped: no primary key');

    // Repair never touches a skipped table and says why, in both directions.
    for (const from of ['sqlite', 'mysql'] as const) {
      const fix = runCli(['repair', '--from', from], env, { cwd });
      expect(fix.code, fix.stdout + fix.stderr).toBe(EXIT.OK);
      for (const s of skipped) expect(fix.stdout).toContain(`table ${s.table} skipped: ${s.reason}`);
      expect(fix.stdout).toContain('3 table(s) not synced (see above): not repaired');
      const fixJson = JSON.parse(runCli(['repair', '--from', from, '--json'], env, { cwd }).stdout) as { skipped: unknown };
      expect(fixJson.skipped).toEqual(skipped);
    }
    expect(await w.hub.query("SHOW TABLES LIKE 'audit_log'")).toEqual([]);
    expect(w.db.prepare("SELECT name FROM sqlite_master WHERE name = 'hub_notes'").all()).toEqual([]);
    expect(w.db.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 1n });

    // Paused by schema drift: a difference (20) that names the table and its fix, not a repair.
    await w.hub.execute('ALTER TABLE readings ADD COLUMN extra INT NULL');
    const drift = runCli(['compare'], env, { cwd });
    expect(drift.code, drift.stdout + drift.stderr).toBe(EXIT.DIFFERENCES);
    expect(drift.stdout).toMatch(
      /table readings paused: schema drift — only in MySQL: extra — fix: run `dualdb schema apply --yes`/,
    );
    expect(drift.stdout).toMatch(/1 table\(s\) paused by schema drift .*repairing rows cannot fix that/);
    expect(drift.stdout).toMatch(/all 6 compared synced table\(s\) match/);
    expect(drift.stdout).not.toContain('makes one side equal');
    const driftJson = JSON.parse(runCli(['compare', '--json'], env, { cwd }).stdout) as CompareReport;
    expect(driftJson.paused.map((p) => p.table)).toEqual(['readings']);
    expect(driftJson.skipped).toEqual(skipped);
    const driftRepair = runCli(['repair', '--from', 'sqlite'], env, { cwd });
    expect(driftRepair.code, driftRepair.stdout + driftRepair.stderr).toBe(EXIT.DIFFERENCES);
    expect(driftRepair.stdout).toContain('table readings paused: schema drift');
    expect(driftRepair.stdout).toMatch(/paused by schema drift \(see above\): not repaired; repairing rows cannot fix that/);
  });

  it("compare, the CLI and the monitor's compare tell changes still queued for sync from real differences", async () => {
    const w = await makeWorld();
    // On their way: a hub write not pulled yet, and a local write not pushed yet.
    await w.hub.execute("UPDATE readings SET sensor = 'hub-new' WHERE id = 5");
    w.db.prepare("INSERT INTO parents VALUES (6, 'local-new')").run();
    // Damage: a hub change that bypassed capture (no sync will ever carry it).
    await w.hub.withConnection(async (c) => {
      await c.query('SET @dualdb_capture_off = 1');
      await c.query("UPDATE children SET v = 'silent' WHERE id = 3");
      await c.query('SET @dualdb_capture_off = NULL');
    });
    const report = await compareNode(w.config);
    const flagged = report.tables.flatMap((t) => t.differences.map((d) => `${t.table} ${d.key} ${d.queued === true}`)).sort();
    expect(flagged).toEqual(['children 3 false', 'parents 6 true', 'readings 5 true']);
    const cli = runCli(['compare'], envOf(w.config), { cwd: fixture.dir });
    expect(cli.code).toBe(EXIT.DIFFERENCES);
    expect(cli.stdout).toMatch(/missing in MySQL\s+id=6\s+queued for sync/);
    expect(cli.stdout).toContain('2 of those key(s) are changes still queued for sync');
    const rows = await runMonitorCompare(w.config, () => {});
    const byTable = new Map(rows.map((r) => [r.table, r]));
    expect(byTable.get('readings')).toMatchObject({ equal: false, differences: 1, syncing: 1 });
    expect(byTable.get('parents')).toMatchObject({ equal: false, differences: 1, syncing: 1 });
    expect(byTable.get('children')).toMatchObject({ equal: false, differences: 1 });
    expect(byTable.get('children')?.syncing).toBeUndefined();
    // After one sync the queued ones are equal; the silent change is still a difference.
    const syncer = Syncer.open(w.config);
    try {
      await syncer.syncOnce();
    } finally {
      await syncer.close();
    }
    const after = new Map((await runMonitorCompare(w.config, () => {})).map((r) => [r.table, r]));
    expect(after.get('readings')?.equal).toBe(true);
    expect(after.get('parents')?.equal).toBe(true);
    expect(after.get('children')).toMatchObject({ equal: false, differences: 1 });
  });

  it('a table without a primary key is reported as not synced, never as a difference (exit 0)', async () => {
    const w = await makeWorld();
    // What setup leaves for such a table: created on both sides, its rows only where the app wrote them.
    w.db.exec('CREATE TABLE settings (k TEXT, v TEXT)');
    w.db.exec("INSERT INTO settings VALUES ('theme', 'dark')");
    await w.hub.execute('CREATE TABLE settings (k VARCHAR(20) NULL, v VARCHAR(20) NULL)');
    const report = await compareNode(w.config);
    expect(report.issues.map((i) => [i.table, i.kind, i.difference, i.rows])).toEqual([
      ['settings', 'no-primary-key', false, { sqlite: 1, mysql: 0 }],
    ]);
    expect(report.match).toBe(true);
    const cli = runCli(['compare'], envOf(w.config), { cwd: fixture.dir });
    expect(cli.code, cli.stdout + cli.stderr).toBe(EXIT.OK);
    expect(cli.stdout).toMatch(/table settings skipped: no primary key/);
    // Said as never repaired, never as something a repair would fix.
    expect(cli.stdout).not.toContain('dualdb repair');
  });

  it('CLI: exit 20 with differences, 0 when equal, 2 for a bad flag', async () => {
    const w = await makeWorld();
    await breakData(w);
    const env = envOf(w.config);
    const cwd = fixture.dir;
    const differ = runCli(['compare', '--chunk-size', '500'], env, { cwd });
    expect(differ.code, differ.stderr).toBe(EXIT.DIFFERENCES);
    expect(differ.stdout).toContain('readings');
    expect(differ.stdout).toMatch(/missing in MySQL\s+id=5000/);
    expect(differ.stdout).toMatch(/different\s+id=1777\s+columns: sensor/);

    const json = runCli(['compare', '--json', '--tables', 'readings,vals'], env, { cwd });
    expect(json.code, json.stderr).toBe(EXIT.DIFFERENCES);
    const parsed = JSON.parse(json.stdout) as CompareReport;
    expect(parsed.tables.map((t) => t.table).sort()).toEqual(['readings', 'vals']);
    expect(parsed.totals.differences).toBe(7);

    const dry = runCli(['repair', '--from', 'mysql', '--dry-run'], env, { cwd });
    expect(dry.code, dry.stderr).toBe(EXIT.DIFFERENCES);
    expect(dry.stdout).toContain('would be');

    const fix = runCli(['repair', '--from', 'mysql', '--json'], env, { cwd });
    expect(fix.code, fix.stderr).toBe(EXIT.OK);
    expect((JSON.parse(fix.stdout) as { totals: { failures: number } }).totals.failures).toBe(0);

    const clean = runCli(['compare'], env, { cwd });
    expect(clean.code, clean.stderr + clean.stdout).toBe(EXIT.OK);
    expect(clean.stdout).toContain('match');

    const bad = runCli(['repair', '--from', 'postgres'], env, { cwd });
    expect(bad.code).toBe(EXIT.CONFIG);
  });
});
