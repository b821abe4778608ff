/**
 * `dualdb migrate` as a separate process while a central application writes on
 * the hub (a mysql2 connection with capture on, as any hub client): it updates
 * and deletes rows the copy has already written, updates rows it has not
 * reached yet (no row on the hub: nothing happens), inserts new rows and
 * renames parents, and inserts rows without an id (the hub's AUTO_INCREMENT picks one:
 * never one the copy has yet to write). After the migration and one `dualdb sync --once` both sides
 * are identical, and the compare agrees.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { envOf, runCli, spawnCli, until } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { copiedSoFar, differences, epiSite, hubCount, rowCount } from './helpers/migrate.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_AVAILABLE)('dualdb migrate (CLI process): a central writer on the hub throughout', () => {
  const hub = privateHub();

  it('hub rows changed while the copy runs: after one sync, both sides are identical', async () => {
    const rows = 20_000;
    const site = hub.keep(await epiSite(hub.testHub, hub.dir, 'central', rows));
    const env = envOf(site.config);
    const child = spawnCli(['migrate', '--batch-size', '1000'], env);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    // The central application: its own connection, capture on (no session variable set).
    const app = await mysql.createConnection({
      host: site.mysql.host,
      port: site.mysql.port,
      user: site.mysql.user,
      password: site.mysql.password,
      database: site.mysql.database,
      charset: 'UTF8MB4_UNICODE_CI',
    });
    let rounds = 0;
    let changed = 0;
    try {
      await until(async () => exited || (await copiedSoFar(site)) >= 2000, 'the copy of detections to be under way', 40_000);
      while (!exited && rounds < 300) {
        const done = await copiedSoFar(site);
        if (done > 0) {
          // A row already copied (and not referenced by an alert: ids ≡ 3 mod 10), another one
          // copied, one far ahead of the copy (not on the hub yet: the update changes nothing).
          const copied = 1 + ((rounds * 7919) % Math.max(1, done - 1));
          const gone = 3 + 10 * (rounds % Math.max(1, Math.floor((done - 3) / 10)));
          const [u] = await app.query('UPDATE detections SET confidence = 0.111, zone = ? WHERE id IN (?, ?)', [
            `hub ${rounds} ✓`,
            copied,
            rows - rounds,
          ]);
          changed += (u as mysql.ResultSetHeader).affectedRows;
          await app.query(
            'DELETE FROM detections WHERE id = ? AND id NOT IN (SELECT detection_id FROM alerts WHERE detection_id IS NOT NULL)',
            [gone],
          );
          await app.query("INSERT INTO detections (id, camera_id, confidence, zone) VALUES (?, 'cam-hub', 0.75, 'HQ')", [
            -1 - rounds, // below zero: leaves the AUTO_INCREMENT counter alone
          ]);
          await app.query('UPDATE workers SET name = ? WHERE id = ?', [`hub name ${rounds}`, 1 + (rounds % 40)]);
          // And without an id, as most applications insert: the hub picks it, and it must
          // not be one the copy has yet to write.
          await app.query("INSERT INTO detections (camera_id, confidence, zone) VALUES ('cam-hub-auto', 0.5, 'HQ')");
        }
        rounds++;
        await new Promise((r) => setTimeout(r, 15));
      }
    } finally {
      await app.end();
    }
    const code = await child.exited;
    expect(code, child.output()).toBe(0);
    expect(changed).toBeGreaterThan(0);

    const sync = runCli(['sync', '--once'], env, { timeoutMs: 60_000 });
    expect([0, 10], sync.stdout + sync.stderr).toContain(sync.code);
    expect(await differences(site.config, site.hub)).toEqual([]);
    const db = openSqlite(site.config.sqlitePath, { readonly: true });
    expect(await hubCount(site.hub, 'detections')).toBe(rowCount(db, 'detections'));
    // What the central application wrote reached the node.
    const n = (sql: string) => Number((db.prepare(sql).get() as { n: bigint }).n);
    expect(n("SELECT count(*) AS n FROM detections WHERE camera_id = 'cam-hub'")).toBeGreaterThan(0);
    expect(n("SELECT count(*) AS n FROM detections WHERE zone LIKE 'hub %'")).toBeGreaterThan(0);
    expect(n("SELECT count(*) AS n FROM workers WHERE name LIKE 'hub name %'")).toBeGreaterThan(0);
    expect(n("SELECT count(*) AS n FROM detections WHERE camera_id = 'cam-hub-auto'")).toBeGreaterThan(0);
    expect(n(`SELECT min(id) AS n FROM detections WHERE camera_id = 'cam-hub-auto'`)).toBeGreaterThan(rows);
    db.close();
    const cmp = runCli(['compare', '--json'], env);
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0);
  }, 120_000);
});
