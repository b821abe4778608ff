/**
 * POSIX advisory locks belong to a process and a file, not to a descriptor: closing any
 * descriptor of the database file drops every lock the process holds on it. If dualdb opened
 * and closed the file itself (to peek at its header, say) while its sync connection was open,
 * the Python app's connection, on closing, would find itself "last", checkpoint and delete
 * the WAL the sync connection still uses; the app's next commits would then be lost. This
 * test opens connections the way the monitor and `dualdb compare` do next to a running sync
 * connection, while another process writes through the `sqlite3` shell, and counts rows.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { MonitorModel } from '../src/monitor/model.js';
import { initNode } from '../src/sync/init.js';
import { HUB_AVAILABLE, startTestHub } from './helpers/hub.js';
import { HAVE_SQLITE3, sqlite3 } from './helpers/migrate.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { waitFor } from './helpers/sync.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-locks-');
afterAll(() => tmp.cleanup());

describe.skipIf(!HAVE_SQLITE3 && process.env.CI !== 'true')('SQLite connections opened next to a live one', () => {
  it("never cost another process's commits", () => {
    const file = path.join(tmp.dir, 'site.db');
    const main = openSqlite(file, { create: true });
    main.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, source TEXT NOT NULL)');
    const ours = main.prepare("INSERT INTO readings (source) VALUES ('dualdb')");
    const count = main.prepare('SELECT count(*) AS n FROM readings');
    const rounds = 40;
    for (let i = 0; i < rounds; i++) {
      ours.run();
      // What the monitor's health check, its compare and `dualdb status` do beside the sync loop.
      const side = openSqlite(file, { readonly: i % 2 === 0 });
      side.prepare('SELECT count(*) FROM readings').get();
      side.close();
      // The Python app: a connection per request, opened, written, closed.
      sqlite3(file, "INSERT INTO readings (source) VALUES ('app');");
      count.get();
    }
    main.close();
    const check = openSqlite(file, { readonly: true, safeIntegers: false });
    const bySource = check.prepare('SELECT source, count(*) AS n FROM readings GROUP BY source ORDER BY source').all();
    expect(bySource).toEqual([
      { source: 'app', n: rounds },
      { source: 'dualdb', n: rounds },
    ]);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
  });
});

describe.skipIf(!HUB_AVAILABLE || (!HAVE_SQLITE3 && process.env.CI !== 'true'))('the monitor process', () => {
  it("syncs, probes and compares in one process without costing the app's commits", async () => {
    const hub = await startTestHub();
    const mysql = await hub.freshDatabase('locks');
    const config = nodeConfig(path.join(tmp.dir, 'monitor'), 'site', mysql, { SYNC_INTERVAL: '0.3' });
    createSqlite(config, ['CREATE TABLE readings (id INTEGER PRIMARY KEY, source TEXT NOT NULL)']).close();
    const central = await MysqlHub.connect(mysql);
    await central.execute('CREATE TABLE readings (id BIGINT PRIMARY KEY, source VARCHAR(20) NOT NULL)');
    await initNode(config);
    // What `dualdb monitor` runs: the sync loop, health probes (with the integrity check),
    // counts, and compares, all in this process, each opening SQLite when it needs it.
    const model = new MonitorModel({ config, statusEveryMs: 100, healthEveryMs: 100, countsEveryMs: 100, integrityEveryMs: 200 });
    try {
      await model.start();
      await waitFor(() => model.getSnapshot().state === 'online', 'the node to come online');
      const rounds = 30;
      for (let i = 0; i < rounds; i++) {
        sqlite3(config.sqlitePath, "INSERT INTO readings (source) VALUES ('app');");
        if (i % 3 === 0) await model.compare();
        else await new Promise((r) => setTimeout(r, 50));
      }
      const hubCount = async () =>
        Number((await central.query<{ n: string }>("SELECT COUNT(*) AS n FROM readings WHERE source = 'app'"))[0]?.n);
      await waitFor(async () => (await hubCount()) === rounds, `all ${rounds} app rows on the hub`, 20_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}: the hub has ${await hubCount()}`);
      });
    } finally {
      await model.close();
      await central.close();
      await hub.close();
    }
    const check = openSqlite(config.sqlitePath, { readonly: true, safeIntegers: false });
    expect(check.prepare("SELECT count(*) FROM readings WHERE source = 'app'").pluck().get()).toBe(30);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
  }, 60_000);
});
