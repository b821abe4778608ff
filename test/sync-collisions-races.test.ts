/**
 * docs/SYNC-CONTRACT.md invariant 13 under SYNC_KEY_COLLISIONS=rekey-node (the default), where
 * the random property run (sync-collisions-property.test.ts) cannot reach: a writer acting
 * *inside* a push (between its reads and its writes), and a push that fails half-way. A hub
 * connection wrapper runs the other writer (or the failure) just before a chosen statement of
 * the push's hub transaction; nothing in the product is mocked.
 */
import { describe, expect, it } from 'vitest';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL UNIQUE, name TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     ref TEXT NOT NULL UNIQUE)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(80) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, ref VARCHAR(40) NOT NULL UNIQUE,
     CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];

async function refs(w: SyncWorld, table: string): Promise<string[]> {
  return (await w.hub.query<{ ref: string }>(`SELECT ref FROM ${table} ORDER BY ref`)).map((r) => r.ref);
}

describe.skipIf(!HUB_AVAILABLE)('invariant 13, rekey-node: writers inside a push, a push failing half-way', () => {
  const worlds = syncWorlds({
    prefix: 'colr',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    env: { SYNC_KEY_COLLISIONS: 'rekey-node', CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });

  it('a hub writer takes the key between the push’s lookup and its insert: both rows kept', async () => {
    const w = await worlds.world();
    const a = w.node('A').db;
    a.prepare("INSERT INTO workers (ref, name) VALUES ('w-A', 'node')").run();
    a.prepare("INSERT INTO attendance (worker_id, ref) VALUES (1, 'c-A')").run();
    // The push looked up workers 1 (absent, so nothing locked); the hub's writer gets id 1 now.
    await pushWith(w, 'A', /^INSERT INTO `workers`/, async () => {
      await w.hub.execute("INSERT INTO workers (ref, name) VALUES ('w-H', 'hub')");
    });
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, TABLES)).toEqual([]);
    expect(await refs(w, 'workers')).toEqual(['w-A', 'w-H']);
    const [child] = await w.hub.query<{ parent: string }>(
      "SELECT w.ref AS parent FROM attendance a JOIN workers w ON w.id = a.worker_id WHERE a.ref = 'c-A'",
    );
    expect(child?.parent).toBe('w-A');
    expect(w.node('A').syncer.state.parked()).toEqual([]);
  }, 60_000);

  it('a push that closed a pending collision, then failed, leaves it open: the node’s row is kept', async () => {
    const w = await worlds.world();
    const a = w.node('A').db;
    a.prepare("INSERT INTO workers (ref, name) VALUES ('w-A', 'node')").run();
    await w.hub.execute("INSERT INTO workers (ref, name) VALUES ('w-H', 'hub')");
    await w.node('A').syncer.syncOnce({ push: false, pull: true }); // the collision is left to the push
    await w.hub.execute("DELETE FROM workers WHERE ref = 'w-H'");
    // The push decides "the hub's row is gone: the node's goes up", then its hub transaction fails before COMMIT.
    await expect(
      pushWith(w, 'A', /^COMMIT$/, () => {
        throw new Error('connection lost (test)');
      }),
    ).rejects.toThrow();
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, TABLES)).toEqual([]);
    expect(await refs(w, 'workers')).toEqual(['w-A']);
  }, 60_000);

  it('the node’s records and its moves are one transaction: a parked retry is not unparked by a failed move', async () => {
    const w = await worlds.world();
    const a = w.node('A').db;
    a.prepare("INSERT INTO workers (ref, name) VALUES ('w-A', 'node')").run();
    a.prepare("INSERT INTO workers (ref, name) VALUES ('w-P', 'parked')").run();
    // w-P (id 2) as a failed push left it: parked, due now, its log entry consumed.
    a.prepare("DELETE FROM _dualdb_changes WHERE tbl = 'workers' AND pk = '2'").run();
    w.node('A').syncer.state.park('push', 'workers', '2', 'failed before (test)', { firstOp: 'I' });
    a.prepare("UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE pk = '2'").run();
    await w.hub.execute("INSERT INTO workers (ref, name) VALUES ('w-H', 'hub')"); // id 1: collides with w-A
    // Recording the move fails once on the node: nothing of this push may stick.
    a.exec(`CREATE TEMP TRIGGER fail_once BEFORE INSERT ON _dualdb_rekeys
                BEGIN SELECT RAISE(ABORT, 'disk trouble (test)'); END`);
    await expect(w.node('A').syncer.syncOnce({ push: true, pull: false })).rejects.toThrow();
    a.exec('DROP TRIGGER fail_once');
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, TABLES)).toEqual([]);
    expect(await refs(w, 'workers')).toEqual(['w-A', 'w-H', 'w-P']);
    expect(w.node('A').syncer.state.parked()).toEqual([]);
  }, 60_000);

  it('the application re-uses a freed id while the push takes the hub’s row under it: both kept', async () => {
    const w = await worlds.world();
    const a = w.node('A').db;
    a.prepare("INSERT INTO workers (ref, name) VALUES ('w-A', 'node')").run();
    await syncUntilQuiet(w.nodes, 10);
    // attendance has no AUTOINCREMENT: SQLite hands a freed max(id) out again.
    a.prepare("INSERT INTO attendance (worker_id, ref) VALUES (1, 'c-A1')").run();
    a.prepare("DELETE FROM attendance WHERE ref = 'c-A1'").run();
    await w.hub.execute("INSERT INTO attendance (worker_id, ref) VALUES (1, 'c-H')"); // id 1 on the hub
    // The push takes the hub's attendance 1 (the node's is gone); meanwhile the application writes id 1 again.
    await pushWith(w, 'A', /^COMMIT$/, () => {
      a.prepare("INSERT INTO attendance (worker_id, ref) VALUES (1, 'c-A2')").run();
    });
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, TABLES)).toEqual([]);
    expect(await refs(w, 'attendance')).toEqual(['c-A2', 'c-H']);
  }, 60_000);
});
