/**
 * `dualdb migrate` as a separate process, as users run it:
 *  - SIGKILL in the middle of the copy, then `--resume`: the result equals a
 *    clean run (every row once, identical values), and a plain re-run is refused;
 *  - the `sqlite3` shell writing (inserts, updates, deletes) into the SQLite file
 *    throughout the migration: after the migration and one `dualdb sync --once`
 *    both sides are identical — nothing written during the copy is lost.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { envOf, runCli, spawnCli, until } from './helpers/cli.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { differences, fillEpi, hubCount, loadEpiSchema, type MigrateSite, makeSite, rowCount } from './helpers/migrate.js';
import { tempDir } from './helpers/tmp.js';

const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

function sqlite3(file: string, sql: string): void {
  const r = spawnSync('sqlite3', ['-bail', file], { input: `.timeout 10000\n${sql}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr}`);
}

describe.skipIf(!HUB_AVAILABLE || !HAVE_SQLITE3)('dualdb migrate (CLI process)', () => {
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

  async function markerRows(site: MigrateSite): Promise<number> {
    const rows = await site.hub
      .query<{ n: string | null }>("SELECT SUM(rows_done) AS n FROM _dualdb_migration WHERE tbl = 'detections' AND done = 0")
      .catch(() => [{ n: null }]);
    return Number(rows[0]?.n ?? 0);
  }

  it('SIGKILL mid-copy, then --resume: every row exactly once, identical to the source', async () => {
    const site = await epiSite('kill', 30_000);
    const env = envOf(site.config);
    const child = spawnCli(['migrate', '--batch-size', '500'], env);
    await until(async () => (await markerRows(site)) >= 2000, 'the copy of detections to be under way', 40_000);
    child.child.kill('SIGKILL');
    await child.exited;
    const partial = await hubCount(site.hub, 'detections');
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(30_000);

    // A plain re-run refuses the half-filled table and says how to go on.
    const plain = runCli(['migrate'], env);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/already holds .* row\(s\).*--resume/s);

    const resumed = runCli(['migrate', '--resume', '--json', '--batch-size', '5000'], env, { timeoutMs: 90_000 });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const report = JSON.parse(resumed.stdout) as {
      ok: boolean;
      resumed: boolean;
      tables: { table: string; rowsResumed: number; rowsCopied: number; verification: { status: string } }[];
    };
    expect(report.ok).toBe(true);
    expect(report.resumed).toBe(true);
    const det = report.tables.find((t) => t.table === 'detections');
    expect(det?.rowsResumed).toBeGreaterThan(0);
    expect((det?.rowsResumed ?? 0) + (det?.rowsCopied ?? 0)).toBe(30_000);
    expect(det?.verification.status).toBe('match');
    expect(await hubCount(site.hub, 'detections')).toBe(30_000);
    expect(await differences(site.config, site.hub)).toEqual([]);
  }, 120_000);

  it('a sqlite3 process writing throughout the migration: after one sync, both sides are identical', async () => {
    const site = await epiSite('writers', 20_000);
    const env = envOf(site.config, { DUALDB_DEBUG: '1' });
    const child = spawnCli(['migrate', '--batch-size', '1000'], env);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    let rounds = 0;
    let during = 0;
    // Writes spread over keys already copied, being copied and not yet copied.
    while (!exited && rounds < 400) {
      const base = 100_000 + rounds * 10;
      const hot = 1 + ((rounds * 7919) % 20_000);
      sqlite3(
        site.config.sqlitePath,
        `PRAGMA foreign_keys = ON;
         BEGIN;
         INSERT INTO detections (id, camera_id, confidence, zone) VALUES (${base}, 'cam-new', 0.5, 'Z9'), (${base + 1}, 'cam-new', 0.25, 'Z9 🦺');
         UPDATE detections SET confidence = 0.999, zone = 'moved ${rounds}' WHERE id IN (${hot}, ${20_001 - hot}, ${1 + rounds});
         DELETE FROM detections WHERE id = ${hot + 3};
         COMMIT;
         UPDATE workers SET name = 'renamed ${rounds}' WHERE id = ${1 + (rounds % 40)};
         INSERT INTO system_logs (level, source, message) VALUES ('INFO', 'writer', 'round ${rounds}');`,
      );
      if ((await markerRows(site)) > 0) during++;
      rounds++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const code = await child.exited;
    expect(code, child.output()).toBe(0);
    expect(during).toBeGreaterThan(0);

    // The migration itself is not the whole story: the changes made meanwhile travel with the sync.
    const sync = runCli(['sync', '--once'], env, { timeoutMs: 60_000 });
    expect([0, 10]).toContain(sync.code);
    expect(await differences(site.config, site.hub)).toEqual([]);
    const db = openSqlite(site.config.sqlitePath, { readonly: true });
    expect(await hubCount(site.hub, 'detections')).toBe(rowCount(db, 'detections'));
    db.close();
    // And the compare agrees.
    const cmp = runCli(['compare', '--json'], env);
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0);
  }, 120_000);
});
