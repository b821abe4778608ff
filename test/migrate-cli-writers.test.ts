/**
 * `dualdb migrate` as a separate process while the `sqlite3` shell writes
 * (inserts, updates, deletes) into the SQLite file throughout the migration:
 * after the migration and one `dualdb sync --once` both sides are identical —
 * nothing written during the copy is lost. Then `init --uninstall` removes the
 * migration's resume tables along with the rest.
 */
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { envOf, runCli, spawnCli } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { copiedSoFar, differences, epiSite, HAVE_SQLITE3, hubCount, rowCount, sqlite3 } from './helpers/migrate.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_AVAILABLE || !HAVE_SQLITE3)('dualdb migrate (CLI process): a sqlite3 writer throughout', () => {
  const hub = privateHub();

  it('a sqlite3 process writing throughout the migration: after one sync, both sides are identical', async () => {
    const site = hub.keep(await epiSite(hub.testHub, hub.dir, 'writers', 20_000));
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
      if ((await copiedSoFar(site)) > 0) during++;
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

    // Uninstalling (with the hub's capture: the hub is shared, so that takes --hub) removes the
    // migration's resume tables too, on both sides.
    const un = runCli(['init', '--uninstall', '--hub', '--json'], env);
    expect(un.code, un.stdout + un.stderr).toBe(0);
    const left = await site.hub.query(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dualdb\\_%'",
    );
    expect(left).toEqual([]);
    const after = openSqlite(site.config.sqlitePath, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '\\_dualdb\\_%' ESCAPE '\\'").all()).toEqual([]);
    after.close();
  }, 120_000);
});
