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
import { openSqlite } from '../src/engines/sqlite/open.js';
import { HAVE_SQLITE3, sqlite3 } from './helpers/migrate.js';
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
