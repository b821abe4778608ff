/**
 * The join guard (docs/SYNC-CONTRACT.md invariant 15, operator trial F1 of 2026-12-07): a site
 * whose SQLite file holds rows of its own joins a hub that holds other sites' rows. Capture would
 * never log the file's earlier rows, and where their ids are the hub's ids of other sites' rows a
 * later update or delete there is pushed as a change of the other site's row (overwritten or
 * cascaded away, no conflict, no re-key). `dualdb init` (and `migrate`, the wizard's copy) refuse
 * before any capture is installed, one line per table with the counts and the fix; the hub is
 * unchanged. The first site (hub table empty), an identical copy of the hub (values the engines
 * print differently included) and a node already initialised go on as before.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { SetupSession } from '../src/setup/session.js';
import { envOf, runCli } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_WORKERS =
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1, rate REAL)';
const HUB_WORKERS =
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, active TINYINT NOT NULL DEFAULT 1, rate DOUBLE NULL)';
/** Site A's workers, on the hub. 0.1 and 1e-7 print differently in the two engines. */
const SITE_A = [
  [1, 'Ana', 1, 0.1],
  [2, 'Bia', 1, 1e-7],
  [3, 'Caio', 1, 2.5],
  [4, 'Duda', 1, null],
  [5, 'Enzo', 1, 3],
] as const;
/** Site B's own workers, held before init: the same ids, other people. */
const SITE_B = [
  [1, 'Zeca', 1, 9.5],
  [2, 'Yara', 1, 8],
  [3, 'Xavi', 1, 7],
  [4, 'Wil', 1, 6],
  [5, 'Vera', 1, 5],
] as const;

const insertSqlite = (rows: readonly (readonly (string | number | null)[])[]) =>
  `INSERT INTO workers (id, name, active, rate) VALUES ${rows.map((r) => `(${r.map((v) => (typeof v === 'string' ? `'${v}'` : v === null ? 'NULL' : String(v))).join(', ')})`).join(', ')}`;

async function hubWith(m: MysqlConfig, rows: readonly (readonly (string | number | null)[])[]): Promise<void> {
  const h = await MysqlHub.connect(m);
  try {
    await h.execute(HUB_WORKERS);
    if (rows.length) await h.execute(insertSqlite(rows));
  } finally {
    await h.close();
  }
}

async function hubWorkers(m: MysqlConfig): Promise<unknown[]> {
  const h = await MysqlHub.connect(m);
  try {
    return await h.query('SELECT id, name, active, rate FROM workers ORDER BY id');
  } finally {
    await h.close();
  }
}

function triggersOn(file: string, table: string): number {
  const db = openSqlite(file);
  try {
    return (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?").all(table) as unknown[]).length;
  } finally {
    db.close();
  }
}

describe.skipIf(!HUB_AVAILABLE)('init refuses a file whose rows are not on a hub that holds rows', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('a site with its own rows under the hub’s ids: init refuses with one line per table, installs no capture, changes nothing on the hub', async () => {
    const m = await testHub.freshDatabase('joinb');
    await hubWith(m, SITE_A);
    const before = await hubWorkers(m);
    const config = nodeConfig(tmp.dir, 'join-b', m, { NODE_ID: 'B' });
    createSqlite(config, [SQLITE_WORKERS, insertSqlite(SITE_B), "INSERT INTO workers (name) VALUES ('Uri')"]).close();
    const env = envOf(config);

    const r = runCli(['init'], env);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('workers:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /workers: 6 of this file's 6 row\(s\) are not on the hub as they are \(1 missing there, 5 with other values under the same key; the hub holds 5 row\(s\)\) — capture not installed/,
    );
    expect(lines[0]).toMatch(/`dualdb repair --from mysql`.*`dualdb compare`/);
    expect(r.stdout).not.toMatch(/capture .*installed/);
    expect(triggersOn(config.sqlitePath, 'workers')).toBe(0);
    expect(await hubWorkers(m)).toEqual(before);

    // The wizard's "copy SQLite → MySQL" (migrate) meets the same guard, and never leaves capture behind.
    const copy = runCli(['migrate'], env);
    expect(copy.code, copy.stdout + copy.stderr).not.toBe(0);
    expect(copy.stderr).toMatch(/workers: 6 of this file's 6 row\(s\) are not on the hub as they are/);
    expect(copy.stderr).not.toMatch(/--truncate to empty/);
    expect(triggersOn(config.sqlitePath, 'workers')).toBe(0);
    expect(await hubWorkers(m)).toEqual(before);

    // The fix the line names: the site starts from the hub's data, then init installs capture.
    const repaired = runCli(['repair', '--from', 'mysql'], env);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    const joined = runCli(['init'], env);
    expect(joined.code, joined.stderr).toBe(0);
    expect(await hubWorkers(m)).toEqual(before);
  });

  it('the wizard: its capture step and its "copy SQLite → MySQL" refuse the same way, the hub unchanged', async () => {
    const m = await testHub.freshDatabase('joinwiz');
    await hubWith(m, SITE_A);
    const before = await hubWorkers(m);
    const sqlitePath = path.join(tmp.dir, 'join-wizard.db');
    createSqlite(nodeConfig(tmp.dir, 'join-wizard', m), [SQLITE_WORKERS, insertSqlite(SITE_B)]).close();
    const s = new SetupSession({ envFile: path.join(tmp.dir, 'join-wizard.env'), sqlitePath });
    try {
      s.setMysql(m);
      const plan = await s.migrationPlan();
      expect(plan.direction).toBe('sqlite-to-mysql');
      for (const step of [() => s.installCapture(), () => s.migrate({ direction: 'sqlite-to-mysql', resume: false }, () => {})]) {
        const err = (await step().catch((e: unknown) => e)) as Error & { code?: string };
        expect(err.code).toBe('UNSYNCED_ROWS');
        expect(err.message).toMatch(
          /^workers: 5 of this file's 5 row\(s\) are not on the hub as they are \(0 missing there, 5 with other values/,
        );
        expect(err.message).not.toMatch(/--truncate/);
      }
      // What the refused setup says is still there: the bookkeeping tables it made before the
      // guard refused, not "change capture … installed" (no trigger went in: operator report).
      const left = s.leftBehind();
      expect(left.filter((l) => /capture/.test(l) && !/no capture triggers/.test(l))).toEqual([]);
      expect(left).toContain(
        `dualdb's bookkeeping tables (_dualdb_*, no capture triggers) on the SQLite file and the hub ${m.host}:${m.port}/${m.database}`,
      );
    } finally {
      await s.close();
    }
    expect(triggersOn(sqlitePath, 'workers')).toBe(0);
    expect(await hubWorkers(m)).toEqual(before);
  });

  it('the first site (hub table empty) and a copy of the hub’s data init as before; a node already initialised is not checked again', async () => {
    const m = await testHub.freshDatabase('joinfirst');
    await hubWith(m, []);
    const first = nodeConfig(tmp.dir, 'join-first', m, { NODE_ID: 'F' });
    createSqlite(first, [SQLITE_WORKERS, insertSqlite(SITE_B)]).close();
    const f = runCli(['init'], envOf(first));
    expect(f.code, f.stderr).toBe(0);

    const m2 = await testHub.freshDatabase('joincopy');
    await hubWith(m2, SITE_A);
    const copy = nodeConfig(tmp.dir, 'join-copy', m2, { NODE_ID: 'C' });
    createSqlite(copy, [SQLITE_WORKERS, insertSqlite(SITE_A)]).close();
    const env = envOf(copy);
    const c = runCli(['init'], env);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/capture installed on both sides/);
    expect(triggersOn(copy.sqlitePath, 'workers')).toBeGreaterThan(0);

    // A part of the hub's rows (the hub also holds other sites' rows) joins too; `migrate` then
    // does not suggest emptying the hub, which would delete the other sites' rows.
    const m3 = await testHub.freshDatabase('joinpart');
    await hubWith(m3, SITE_A);
    const part = nodeConfig(tmp.dir, 'join-part', m3, { NODE_ID: 'P' });
    createSqlite(part, [SQLITE_WORKERS, insertSqlite(SITE_A.slice(0, 2))]).close();
    const mg = runCli(['migrate'], envOf(part));
    expect(mg.code, mg.stdout + mg.stderr).not.toBe(0);
    expect(mg.stderr).toMatch(/already holds 5 row\(s\).*3 of them are not in this SQLite file \(other sites' data\)/);
    expect(mg.stderr).not.toMatch(/add --truncate/);

    // Initialised: a local edit not yet synced makes the file differ, and init runs again fine.
    const db = openSqlite(copy.sqlitePath);
    db.prepare("UPDATE workers SET name = 'Ana Maria' WHERE id = 1").run();
    db.close();
    const again = runCli(['init'], env);
    expect(again.code, again.stderr).toBe(0);
  });
});
