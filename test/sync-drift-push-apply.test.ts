/**
 * Invariant 16 with the push's schema check awaited late (push.ts: the hub schema is read while the
 * batch is applied, and checked before anything is recorded on the node and before the hub
 * commits). A hub column added under a cached plan, and the push's batch of new rows: nothing is
 * recorded for the stale batch (no row parked with the hub's refusal, none on the hub), the
 * table pauses with the drift named, and after the fix the rows arrive whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus } from '../src/sync/status.js';
import { makeWorld, type SyncWorld, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)'];

describe.skipIf(!HUB_AVAILABLE)('schema drift met by the push’s apply', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  const worlds: SyncWorld[] = [];
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    for (const w of worlds) await w.close();
    await testHub?.close();
    tmp.cleanup();
  });

  // NOT NULL without a default: the hub refuses the batch's inserts (strict mode), which would park them;
  // NULL: the inserts succeed, and only the check before the records stops them; a column dropped:
  // the push's first read of the table fails (unknown column), and the drift is what is reported.
  const cases = [
    { change: 'ADD COLUMN badge VARCHAR(20) NOT NULL', fix: "ADD COLUMN badge TEXT NOT NULL DEFAULT 'b'", badge: true },
    { change: 'ADD COLUMN badge VARCHAR(20) NULL', fix: "ADD COLUMN badge TEXT NOT NULL DEFAULT 'b'", badge: true },
    { change: 'DROP COLUMN name', fix: 'DROP COLUMN name', badge: false },
  ];
  for (const { change, fix, badge } of cases) {
    it(`the hub's ${change} under a cached plan: the batch is not recorded, the table pauses, the rows arrive after the fix`, async () => {
      const w = await makeWorld(testHub, tmp.dir, {
        prefix: 'driftapply',
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['A'],
        planTtlMs: 600_000,
      });
      worlds.push(w);
      const A = w.node('A');
      A.db.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
      await A.syncer.syncOnce();
      await w.hub.execute(`ALTER TABLE workers ${change}`);
      const ins = A.db.prepare('INSERT INTO workers VALUES (?, ?)');
      A.db.transaction(() => {
        for (let id = 2; id <= 120; id++) ins.run(id, `w${id}`);
      })();
      await A.syncer.syncOnce();
      expect((await w.hub.query<{ id: string }>('SELECT id FROM workers')).map((r) => Number(r.id))).toEqual([1]);
      expect(A.syncer.state.parked().filter((p) => !/schema|column|paused|drift/i.test(p.error ?? ''))).toEqual([]);
      const status = await collectStatus(A.syncer);
      expect(status.tables.find((t) => t.table === 'workers')?.state).toBe('paused');
      // The fix on the node's side: the rows go up whole (row 1, older than the column, keeps the hub's value).
      A.db.exec(`ALTER TABLE workers ${fix}`);
      const ids = Array.from({ length: 120 }, (_, i) => i + 1);
      await waitFor(
        async () => {
          await A.syncer.syncOnce();
          const hub = await w.hub.query<{ id: string; badge?: string | null }>('SELECT * FROM workers ORDER BY id');
          return (
            A.syncer.state.parked().length === 0 &&
            hub.length === ids.length &&
            hub.slice(1).every((r) => !badge || r.badge === 'b')
          );
        },
        'the rows to arrive after the fix',
        20_000,
      );
    }, 40_000);
  }
});
