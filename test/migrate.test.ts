/**
 * The initial migration as a library (src/migrate): the EPI dataset copies and
 * verifies (LOAD DATA, and the INSERT path with local_infile off, same result);
 * awkward values round-trip exactly; values MySQL would change are refused by
 * the pre-flight before anything is written; a non-empty target is refused
 * without --truncate; a dry run writes nothing; a new site is seeded from the hub.
 * Equality is checked independently of the compare library the migration uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { VerificationFailedError } from '../src/migrate/errors.js';
import { createMigration, type MigrationReport, type TableProgress } from '../src/migrate/index.js';
import { Syncer } from '../src/sync/syncer.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import {
  differences,
  EPI_TABLES,
  fillEpi,
  hubCount,
  loadEpiSchema,
  type MigrateSite,
  makeSite,
  rowCount,
} from './helpers/migrate.js';
import { nodeConfig } from './helpers/node.js';
import { tempDir } from './helpers/tmp.js';

async function hubLogCount(hub: MysqlHub): Promise<number> {
  const [r] = await hub.query<{ n: string }>('SELECT COUNT(*) AS n FROM _dualdb_changes');
  return Number(r?.n ?? 0);
}

describe.skipIf(!HUB_AVAILABLE)('dualdb migrate (library)', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  const sites: MigrateSite[] = [];
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    for (const s of sites) await s.close();
    await testHub?.close();
    tmp.cleanup();
  });

  async function epiSite(name: string, detections: number): Promise<MigrateSite> {
    const site = await makeSite(testHub, tmp.dir, name);
    sites.push(site);
    await loadEpiSchema(site, { sqlite: true, mysql: true });
    const db = openSqlite(site.config.sqlitePath);
    fillEpi(db, detections);
    db.close();
    return site;
  }

  async function migrate(config: Config, options: Parameters<typeof createMigration>[1] = {}) {
    const events: TableProgress[] = [];
    const m = createMigration(config, options);
    m.on('progress', (p) => events.push(p));
    const report = await m.run();
    return { report, events };
  }

  it('copies the EPI dataset with LOAD DATA, verifies it, and leaves nothing for the sync to echo', async () => {
    const site = await epiSite('epi', 3000);
    const { report, events } = await migrate(site.config, { batchSize: 700 });
    expect(report.ok).toBe(true);
    expect(report.method).toBe('load-data');
    expect(
      report.tables
        .filter((t) => t.state === 'done')
        .map((t) => t.table)
        .sort(),
    ).toEqual([...EPI_TABLES].sort());
    // Parents before children.
    const order = report.tables.map((t) => t.table);
    expect(order.indexOf('workers')).toBeLessThan(order.indexOf('detections'));
    expect(order.indexOf('detections')).toBeLessThan(order.indexOf('alerts'));
    for (const t of report.tables) expect(t.verification?.status).toBe('match');
    expect(report.tables.find((t) => t.table === 'detections')?.rowsCopied).toBe(3000);
    expect(await differences(site.config, site.hub)).toEqual([]);
    // Progress: every table went through copying (several batches) to done, with rates.
    const det = events.filter((e) => e.table === 'detections');
    expect(det.some((e) => e.state === 'copying' && e.rowsDone > 0 && e.rowsDone < 3000)).toBe(true);
    expect(det.at(-1)).toMatchObject({ state: 'done', rowsDone: 3000, rowsTotal: 3000 });
    // The copy was not captured on the hub, and the local log holds nothing to push.
    expect(await hubLogCount(site.hub)).toBe(0);
    const syncer = Syncer.open(site.config, { planTtlMs: 0 });
    try {
      const cycle = await syncer.syncOnce();
      // Only dualdb's own heartbeat row may travel.
      const moved = [...cycle.push.perTable.keys(), ...cycle.pull.perTable.keys()].filter((t) => !t.startsWith('_dualdb_'));
      expect(moved).toEqual([]);
    } finally {
      await syncer.close();
    }
  });

  it('the verification reads the hub back: a value the hub stored differently from the file fails the run, by key', async () => {
    const site = await epiSite('tamper', 2000);
    // A hub trigger of the central application's: it changes what LOAD DATA stores for two rows,
    // logging nothing (the copy's rows are sums of what the copy read, never of what it sent).
    await site.hub.query(
      "CREATE TRIGGER tamper BEFORE INSERT ON detections FOR EACH ROW BEGIN IF NEW.id IN (7, 1500) THEN SET NEW.zone = CONCAT(IFNULL(NEW.zone, ''), '!'); END IF; END",
    );
    const err = await migrate(site.config, { batchSize: 700 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationFailedError);
    const det = (err as VerificationFailedError).report.tables.find((t) => t.table === 'detections');
    expect(det?.verification).toMatchObject({ status: 'differ', differences: 2, explained: 0, unexplainedKeys: ['7', '1500'] });
    expect(
      (err as VerificationFailedError).report.tables.filter((t) => t.verification?.status !== 'match').map((t) => t.table),
    ).toEqual(['detections']);
  });

  it('a run announces its phases in order, each started then done; a dry run plans after the pre-flight', async () => {
    const phasesOf = async (config: Config, options: Parameters<typeof createMigration>[1]) => {
      const seen: string[] = [];
      const m = createMigration(config, options);
      m.on('phase', (e) => {
        seen.push(`${e.phase}:${e.state}`);
        if (e.state === 'done') expect(e.ms).toBeGreaterThanOrEqual(0);
      });
      await m.run();
      return seen;
    };
    const site = await epiSite('phases', 50);
    const steps = (names: string[]) => names.flatMap((n) => [`${n}:started`, `${n}:done`]);
    expect(await phasesOf(site.config, { dryRun: true })).toEqual(steps(['schema', 'preflight', 'dry-run']));
    expect(await phasesOf(site.config, {})).toEqual(
      steps(['schema', 'preflight', 'create-tables', 'prepare-target', 'copy', 'verify', 'finish']),
    );
  });

  it('the INSERT path (local_infile off on the server) gives the same result', async () => {
    const site = await epiSite('insert', 2000);
    const admin = await testHub.admin();
    await admin.query('SET GLOBAL local_infile = 0');
    try {
      const { report } = await migrate(site.config, { batchSize: 900 });
      expect(report.ok).toBe(true);
      expect(report.method).toBe('insert');
      expect(report.methodReason).toMatch(/local_infile OFF/);
    } finally {
      await admin.query('SET GLOBAL local_infile = 1');
      await admin.end();
    }
    expect(await differences(site.config, site.hub)).toEqual([]);
    expect(await hubCount(site.hub, 'detections')).toBe(2000);
  });

  const AWKWARD_SQLITE =
    'CREATE TABLE awkward (id INTEGER PRIMARY KEY, big INTEGER, txt TEXT, bin BLOB, real_v REAL, at DATETIME, dec_v NUMERIC(20,6))';
  const AWKWARD_ROWS: unknown[][] = [
    [
      1n,
      9007199254740993n,
      '🦺 émoji 𝄞',
      Buffer.from([0, 1, 2, 255, 10, 9, 92]),
      -0,
      '2024-02-29 23:59:59.123456',
      '12345678901234.123456',
    ],
    [2n, -9223372036854775808n, '', Buffer.alloc(0), 5e-324, '2024-01-01 00:00:00', '0.000001'],
    [3n, 9223372036854775807n, null, null, 1.7976931348623157e308, null, null],
    [
      4n,
      0n,
      'tab\there\nnewline\\backslash \\N not null\r',
      Buffer.from('\\N\t\n', 'utf8'),
      0.1 + 0.2,
      '1999-12-31 12:00:00.5',
      '-99.5',
    ],
    [5n, 1n, 'nul \u0000 inside', Buffer.alloc(3 * 1024 * 1024, 0xab), 123456.789e-20, '2024-06-01 08:09:10.000001', '1'],
    [6n, 2n, 'NULL', Buffer.from('NULL'), -2.5e-300, '2000-01-01 00:00:00', '0'],
  ];

  for (const method of ['load-data', 'insert'] as const) {
    it(`awkward values round-trip exactly (${method}), the hub table created from the translation`, async () => {
      const site = await makeSite(testHub, tmp.dir, `awk_${method.replace('-', '')}`);
      sites.push(site);
      const db = openSqlite(site.config.sqlitePath, { create: true });
      db.exec(AWKWARD_SQLITE);
      const ins = db.prepare('INSERT INTO awkward VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const r of AWKWARD_ROWS) ins.run(...r);
      // Many more plain rows so that several batches run.
      db.transaction(() => {
        for (let i = 10; i < 1200; i++)
          ins.run(BigInt(i), BigInt(i) * 1000000007n, `row ${i} 🙂`, Buffer.from([i % 256]), i / 3, null, `${i}.25`);
        // ISO date-times: the codec rewrites them in MySQL's form.
        ins.run(1300n, 1n, 'iso', null, 0.5, '2024-06-01T08:09:10.25Z', '1');
        ins.run(1301n, 2n, 'iso', null, 0.5, '2024-06-01T08:09', '1');
      })();
      db.close();
      const { report } = await migrate(site.config, { batchSize: 250, method });
      expect(report.ok).toBe(true);
      expect(report.method).toBe(method);
      expect(report.created.map((c) => c.table)).toContain('awkward');
      expect(await differences(site.config, site.hub)).toEqual([]);
      // Spot checks on the hub's own text, beyond the canonical comparison.
      const [r1] = await site.hub.query<Record<string, unknown>>('SELECT big, txt, HEX(bin) AS h, at FROM awkward WHERE id = 1');
      expect(r1).toMatchObject({ big: '9007199254740993', txt: '🦺 émoji 𝄞', h: '000102FF0A095C' });
      expect(String(r1?.at)).toMatch(/^2024-02-29 23:59:59\.123456/);
      const [r2] = await site.hub.query<Record<string, unknown>>('SELECT txt, bin FROM awkward WHERE id = 2');
      expect(r2?.txt).toBe('');
      expect(r2?.bin).toEqual(Buffer.alloc(0));
      const [r3] = await site.hub.query<Record<string, unknown>>('SELECT txt, bin FROM awkward WHERE id = 3');
      expect(r3).toMatchObject({ txt: null, bin: null });
      const [r5] = await site.hub.query<{ n: string; t: string }>('SELECT LENGTH(bin) AS n, txt AS t FROM awkward WHERE id = 5');
      expect(Number(r5?.n)).toBe(3 * 1024 * 1024);
      expect(r5?.t).toBe('nul \u0000 inside');
    });
  }

  it('refuses, before writing anything, values MySQL would change (pre-flight), naming table, key and value', async () => {
    const site = await makeSite(testHub, tmp.dir, 'refuse');
    sites.push(site);
    const db = openSqlite(site.config.sqlitePath, { create: true });
    db.exec('CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)');
    db.exec("INSERT INTO tags VALUES ('Helmet', 'a'), ('helmet', 'b'), ('vest', 'c')");
    db.close();
    // The server's case-insensitive collation on the new table's key (the default is binary, where these stay distinct).
    process.env.DUALDB_KEY_COLLATION = 'server';
    const err = await migrate(site.config)
      .catch((e: unknown) => e)
      .finally(() => {
        delete process.env.DUALDB_KEY_COLLATION;
      });
    expect(err).toMatchObject({ code: 'MIGRATION_PREFLIGHT_FAILED' });
    const report = (err as { report: { findings: { table: string; kind: string; value: string }[] } }).report;
    expect(report.findings.some((f) => f.table === 'tags' && f.kind === 'duplicate-key')).toBe(true);
    // Nothing written: no table, no capture on the hub.
    expect(await site.hub.query("SHOW TABLES LIKE 'tags'")).toEqual([]);
    expect(await site.hub.query("SHOW TABLES LIKE '\\_dualdb\\_%'")).toEqual([]);
  });

  it('refuses a non-empty target without --truncate (one line naming the table and the fix); --truncate replaces it', async () => {
    const site = await epiSite('nonempty', 300);
    await site.hub.execute(
      "INSERT INTO workers (id, employee_code, name, required_ppe, is_active, created_at, updated_at) VALUES (999, 'X', 'stale', 'helmet', 1, NOW(), NOW())",
    );
    // The hub's row is not in this file (another site's, as far as dualdb can tell), and the
    // file's rows are not on the hub: the join guard refuses before capture (invariant 15), one
    // line naming the table, and does not suggest emptying the hub.
    const err = (await migrate(site.config).catch((e: unknown) => e)) as Error & { code: string; hint?: string };
    expect(err.code).toBe('UNSYNCED_ROWS');
    expect(err.message).toMatch(
      /^workers: \d+ of this file's \d+ row\(s\) are not on the hub as they are .*the hub holds 1 row\(s\)/,
    );
    expect(err.message.split('\n')).toHaveLength(1);
    expect(err.message).not.toMatch(/--truncate/);
    expect(await hubCount(site.hub, 'detections')).toBe(0);
    const { report } = await migrate(site.config, { truncate: true });
    expect(report.ok).toBe(true);
    expect(await differences(site.config, site.hub)).toEqual([]);
  });

  it('a dry run prints the plan and writes nothing on either side', async () => {
    const site = await makeSite(testHub, tmp.dir, 'dry');
    sites.push(site);
    await loadEpiSchema(site, { sqlite: true });
    const db = openSqlite(site.config.sqlitePath);
    fillEpi(db, 500);
    const before = db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '\\_dualdb%' ESCAPE '\\'").all();
    db.close();
    const { report } = await migrate(site.config, { dryRun: true, batchSize: 123 });
    expect(report.dryRun).toBe(true);
    expect(report.ok).toBe(true);
    expect(report.method).toBe('load-data');
    expect(report.batchSize).toBe(123);
    expect(report.created.map((c) => c.table)).toEqual(expect.arrayContaining(EPI_TABLES));
    expect(report.tables.find((t) => t.table === 'detections')).toMatchObject({
      rowsTotal: 500,
      state: 'planned',
      created: true,
    });
    expect(await site.hub.query('SHOW TABLES')).toEqual([]);
    const after = openSqlite(site.config.sqlitePath, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '\\_dualdb%' ESCAPE '\\'").all()).toEqual(before);
    after.close();
  });

  it('seeds a new site from the hub (--from mysql): tables created locally, copy verified, no echo', async () => {
    // The hub gets its data from a first site.
    const first = await epiSite('seed_src', 2500);
    const done: MigrationReport = (await migrate(first.config)).report;
    expect(done.ok).toBe(true);
    // A second site, empty SQLite file, same hub.
    const config = nodeConfig(tmp.dir, 'seed_dst', first.mysql, { NODE_ID: 'seed-dst' });
    const { report, events } = await migrate(config, { direction: 'mysql-to-sqlite', batchSize: 600 });
    expect(report.ok).toBe(true);
    expect(report.method).toBe('sqlite-upsert');
    expect(report.created.map((c) => c.table)).toEqual(expect.arrayContaining(EPI_TABLES));
    expect(events.filter((e) => e.table === 'detections').at(-1)).toMatchObject({ state: 'done', rowsDone: 2500 });
    expect(await differences(config, first.hub)).toEqual([]);
    const db = openSqlite(config.sqlitePath);
    expect(rowCount(db, 'detections')).toBe(2500);
    // Seeded rows were not captured locally: nothing to push back.
    expect(rowCount(db, '_dualdb_changes')).toBe(0);
    db.close();
  });

  it('an interrupted seeding (--from mysql) rolls back the batch in flight and --resume completes it exactly', async () => {
    const first = await epiSite('resume_src', 4000);
    expect((await migrate(first.config)).report.ok).toBe(true);
    const config = nodeConfig(tmp.dir, 'resume_dst', first.mysql, { NODE_ID: 'resume-dst' });
    const abort = new AbortController();
    const m = createMigration(config, { direction: 'mysql-to-sqlite', batchSize: 300, signal: abort.signal });
    // The first committed batch is always reported (later ones at most every 100 ms: a fast
    // machine may copy the whole table between two events).
    m.on('progress', (p) => {
      if (p.table === 'detections' && p.state === 'copying' && p.rowsDone >= 300) abort.abort();
    });
    const err = await m.run().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MIGRATION_INTERRUPTED', name: 'MigrationInterruptedError' });
    const db = openSqlite(config.sqlitePath);
    const partial = rowCount(db, 'detections');
    db.close();
    expect(partial).toBeGreaterThanOrEqual(300);
    expect(partial).toBeLessThan(4000);
    expect(partial % 300).toBe(0);
    const { report } = await migrate(config, { direction: 'mysql-to-sqlite', resume: true, batchSize: 1000 });
    expect(report.ok).toBe(true);
    expect(report.resumed).toBe(true);
    const det = report.tables.find((t) => t.table === 'detections');
    expect(det?.rowsResumed).toBe(partial);
    expect((det?.rowsResumed ?? 0) + (det?.rowsCopied ?? 0)).toBe(4000);
    expect(await differences(config, first.hub)).toEqual([]);
  });
});
