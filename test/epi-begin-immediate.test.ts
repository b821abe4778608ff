/**
 * The README's SQLAlchemy recipe under a running syncer (operator report): requests of a
 * Python/SQLAlchemy application that read a row by id and then update it by id, each request one
 * transaction as the README says (docs/SYNC-CONTRACT.md invariant 13: a re-key commits between two
 * transactions, so read and write must be one), in several processes, while `dualdb sync --watch`
 * pushes their changes and pulls the hub's into the same SQLite file. With the recipe's
 * `BEGIN IMMEDIATE` the write lock is taken at BEGIN, where busy_timeout waits: no request fails.
 * (A plain deferred BEGIN upgrades a read snapshot to a write, which SQLite refuses at once with
 * "database is locked" whenever another connection wrote meanwhile; busy_timeout does not retry
 * it. RTU_BEGIN=deferred runs this test with that variant, to see it fail.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { createMigration } from '../src/migrate/index.js';
import { envOf, spawnCli } from './helpers/cli.js';
import { nodeConfig } from './helpers/node.js';
import { PYTHON, runPython } from './helpers/python.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const BEGIN = process.env.RTU_BEGIN === 'deferred' ? 'deferred' : 'immediate';
// RTU_PROCESSES=1 leaves the syncer as the only other writer (to see a plain BEGIN fail against it alone).
const PROCESSES = Number(process.env.RTU_PROCESSES ?? 3);
const SECONDS = 6;
const APP_ROWS = 30; // ids 1..30: the application's requests
const ROWS = 40; // ids 31..40: changed on the hub, pulled into SQLite while the requests run

interface Run {
  requests: number;
  locked: number;
  errors: string[];
}

describe.skipIf(!HUB_AVAILABLE || !PYTHON)('the README SQLAlchemy recipe (BEGIN IMMEDIATE) beside sync --watch', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it(`read-then-update-by-id requests in ${PROCESSES} processes: none fails with "database is locked"`, async () => {
    const mysql = await testHub.freshDatabase('epi_begin');
    const config = nodeConfig(tmp.dir, 'begin', mysql, { NODE_ID: 'begin', SYNC_INTERVAL: '0.2' });
    await runPython('read_then_update.py', ['create', '--db', config.sqlitePath, '--rows', String(ROWS)]);
    const report = await createMigration(config).run();
    expect(report.ok, JSON.stringify(report.tables ?? report)).toBe(true);

    const watch = spawnCli(['sync', '--watch'], envOf(config));
    const hub = await MysqlHub.connect(config.mysql);
    try {
      let writing = true;
      const apps = Array.from({ length: PROCESSES }, (_, i) =>
        runPython<Run>(
          'read_then_update.py',
          ['run', '--db', config.sqlitePath, '--seconds', String(SECONDS), '--seed', String(i + 1)].concat([
            '--first',
            '1',
            '--last',
            String(APP_ROWS),
            '--begin',
            BEGIN,
          ]),
          { timeoutMs: 120_000 },
        ),
      );
      const done = Promise.all(apps).finally(() => {
        writing = false;
      });
      // The control room: the hub's changes that the watcher pulls (writes into SQLite) meanwhile.
      let hubUpdates = 0;
      while (writing) {
        const id = APP_ROWS + 1 + (hubUpdates % (ROWS - APP_ROWS));
        await hub.query('UPDATE counters SET n = n + 1, note = ? WHERE id = ?', [`hub ${hubUpdates}`, id]);
        hubUpdates++;
        await new Promise((r) => setTimeout(r, 20));
      }
      const runs = await done;
      const requests = runs.reduce((n, r) => n + r.requests, 0);
      const locked = runs.reduce((n, r) => n + r.locked, 0);
      process.stderr.write(`BEGIN ${BEGIN}: ${requests} requests, ${locked} "database is locked", ${hubUpdates} hub updates\n`);
      expect(runs.flatMap((r) => r.errors)).toEqual([]);
      expect(locked).toBe(0);
      expect(requests).toBeGreaterThan(PROCESSES * 10);
      expect(hubUpdates).toBeGreaterThan(10);

      // The syncer did work beside them: the hub's changes reached SQLite while the requests ran.
      const db = openSqlite(config.sqlitePath);
      try {
        const pulled = db.prepare('SELECT COUNT(*) AS n FROM counters WHERE id > ? AND n > 0').get(APP_ROWS) as { n: bigint };
        expect(Number(pulled.n)).toBeGreaterThan(0);
      } finally {
        db.close();
      }
    } finally {
      await hub.close();
      watch.child.kill('SIGTERM');
      await watch.exited;
    }
  }, 180_000);
});
