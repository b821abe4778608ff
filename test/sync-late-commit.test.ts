/**
 * Invariant 4 of docs/SYNC-CONTRACT.md (no skipped late commits). On the hub a transaction takes
 * a change-log seq and stays open while another connection commits later rows;
 * the node pulls the later ones and remembers the gap as a hole; when the first
 * transaction commits, the next pull delivers it. A rolled-back transaction's
 * hole is proven dead (the test user has PROCESS: no open transaction is older
 * than the hole) and the hole list does not grow; without PROCESS, a hole is
 * given up after SYNC_HOLE_TIMEOUT, with a warning in the sync log.
 */
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, type SyncWorld, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, value REAL)'];
const MYSQL_DDL = ['CREATE TABLE readings (id BIGINT PRIMARY KEY, sensor VARCHAR(40) NOT NULL, value DOUBLE NULL)'];

describe.skipIf(!HUB_AVAILABLE)('late commits on the hub', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  const open: (SyncWorld | mysql.Connection)[] = [];
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    for (const o of open) await ('close' in o && typeof o.close === 'function' ? o.close() : (o as mysql.Connection).end());
    await testHub?.close();
    tmp.cleanup();
  });

  async function world(env: Record<string, string> = {}): Promise<SyncWorld> {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'late',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['A'],
      env,
    });
    open.push(w);
    return w;
  }

  async function conn(database: string): Promise<mysql.Connection> {
    const c = await testHub.admin(database);
    open.push(c);
    return c;
  }

  const ids = (w: SyncWorld) =>
    (w.node('A').db.prepare('SELECT id FROM readings ORDER BY id').all() as { id: bigint }[]).map((r) => Number(r.id));

  it('a transaction held open across a pull is delivered by the pull after it commits', async () => {
    const w = await world();
    const A = w.node('A');
    const slow = await conn(w.mysql.database);
    await slow.query('START TRANSACTION');
    await slow.query("INSERT INTO readings VALUES (1, 'slow', 1.5)"); // takes seq 1, not committed
    await w.hub.execute("INSERT INTO readings VALUES (2, 'fast', 2.5), (3, 'fast', 3.5)"); // seqs 2, 3, committed

    const first = await A.syncer.syncOnce();
    expect(first.pull.perTable.get('readings')?.upserts).toBe(2);
    expect(ids(w)).toEqual([2, 3]);
    const state = A.syncer.state.pullState();
    expect(state.upto).toBeGreaterThanOrEqual(3n);
    const [late] = (await slow.query("SELECT seq FROM _dualdb_changes WHERE tbl = 'readings' AND pk = '1'")) as unknown as [
      { seq: string }[],
    ];
    const lateSeq = BigInt(late[0]?.seq ?? -1);
    expect([...state.holes.keys()]).toEqual([lateSeq]);
    // While it stays open, the hole survives further pulls (it may still commit).
    await A.syncer.syncOnce();
    expect([...A.syncer.state.pullState().holes.keys()]).toEqual([lateSeq]);
    // Nor may the hub prune below it on this node's behalf.
    const [node] = await w.hub.query<{ pull_upto: string }>('SELECT pull_upto FROM _dualdb_nodes WHERE node_id = ?', ['A']);
    expect(BigInt(node?.pull_upto ?? 0)).toBe(lateSeq - 1n);

    await slow.query('COMMIT');
    const second = await A.syncer.syncOnce();
    expect(second.pull.perTable.get('readings')?.upserts).toBe(1);
    expect(ids(w)).toEqual([1, 2, 3]);
    expect(A.db.prepare('SELECT sensor, value FROM readings WHERE id = 1').get()).toEqual({ sensor: 'slow', value: 1.5 });
    expect(A.syncer.state.pullState().holes.size).toBe(0);
  });

  it('the late commit is found when the hole lies between batches and other changes keep arriving', async () => {
    const w = await world({ SYNC_BATCH_SIZE: '2' });
    const A = w.node('A');
    const slow = await conn(w.mysql.database);
    await w.hub.execute("INSERT INTO readings VALUES (10, 'before', 0)");
    await slow.query('START TRANSACTION');
    await slow.query('UPDATE readings SET value = 99 WHERE id = 10'); // the late change is an update
    await slow.query("INSERT INTO readings VALUES (11, 'slow', 1)");
    for (let i = 12; i < 20; i++) await w.hub.execute("INSERT INTO readings VALUES (?, 'fast', ?)", [i, i]);
    await A.syncer.syncOnce();
    expect(ids(w)).toEqual([10, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(A.syncer.state.pullState().holes.size).toBe(2);
    await slow.query('COMMIT');
    await w.hub.execute("INSERT INTO readings VALUES (20, 'after', 20)");
    await A.syncer.syncOnce();
    expect(ids(w)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(A.db.prepare('SELECT value FROM readings WHERE id = 10').get()).toEqual({ value: 99 });
    expect(A.syncer.state.pullState().holes.size).toBe(0);
  });

  it('a hole is not declared dead while its transaction is open, even just after the hub refreshed its transaction list', async () => {
    // InnoDB answers INNODB_TRX from a cache refreshed at most every 0.1 s. Refresh it, then open
    // the transaction and pull twice at once: the second pull reads a list that predates it.
    const w = await world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    const slow = await conn(w.mysql.database);
    for (let attempt = 0; attempt < 3; attempt++) {
      await w.hub.query('SELECT COUNT(*) FROM information_schema.INNODB_TRX');
      await slow.query('START TRANSACTION');
      await slow.query("INSERT INTO readings VALUES (?, 'slow', 0)", [100 + attempt]);
      await w.hub.execute("INSERT INTO readings VALUES (?, 'fast', 0)", [attempt + 1]);
      await A.syncer.syncOnce();
      await A.syncer.syncOnce();
      expect(A.syncer.state.pullState().holes.size, `attempt ${attempt}`).toBe(1);
      await slow.query('COMMIT');
      await A.syncer.syncOnce();
      expect(A.db.prepare('SELECT count(*) AS n FROM readings WHERE id = ?').get(100 + attempt)).toEqual({ n: 1n });
      expect(A.syncer.state.pullState().holes.size).toBe(0);
    }
  });

  it('holes of rolled-back transactions are proven dead and do not accumulate', async () => {
    const w = await world();
    const A = w.node('A');
    const slow = await conn(w.mysql.database);
    for (let round = 0; round < 25; round++) {
      await slow.query('START TRANSACTION');
      await slow.query("INSERT INTO readings VALUES (?, 'doomed', 0)", [1000 + round]);
      await w.hub.execute("INSERT INTO readings VALUES (?, 'kept', ?)", [round + 1, round]);
      await A.syncer.syncOnce();
      // Open transaction older than the hole: it must be kept.
      expect(A.syncer.state.pullState().holes.size).toBeGreaterThanOrEqual(1);
      await slow.query('ROLLBACK');
    }
    // No transaction is open any more: pulls prove every hole dead (once the hub's list of
    // open transactions is known to be newer than the holes).
    await waitFor(
      async () => {
        await A.syncer.syncOnce();
        return A.syncer.state.pullState().holes.size === 0;
      },
      'the dead holes to be dropped',
      15_000,
    );
    expect(A.syncer.log.recent(500).some((e) => e.event === 'pull.holes-expired')).toBe(false);
    expect(A.db.prepare('SELECT count(*) AS n FROM _dualdb_pull_holes').get()).toEqual({ n: 0n });
    expect(ids(w)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const [node] = await w.hub.query<{ pull_upto: string }>('SELECT pull_upto FROM _dualdb_nodes WHERE node_id = ?', ['A']);
    expect(BigInt(node?.pull_upto ?? 0)).toBe(A.syncer.state.pullState().upto);
  });

  it('without PROCESS, a hole expires after SYNC_HOLE_TIMEOUT with a warning in the log', async () => {
    const m = await testHub.freshDatabase('late_noproc');
    const admin = await testHub.admin();
    const user = `noproc_${m.database.slice(-8)}`;
    const password = 'Np-pass-1';
    for (const host of ['127.0.0.1', 'localhost']) {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${m.database}\`.* TO ?@?`, [user, host]);
    }
    await admin.end();
    const w = await makeWorld({ ...testHub, freshDatabase: async () => ({ ...m, user, password }) }, tmp.dir, {
      prefix: 'late',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['A'],
      env: { SYNC_HOLE_TIMEOUT: '1' },
    });
    open.push(w);
    const A = w.node('A');
    const [priv] = await w.hub.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('PROCESS', 'SUPER')",
    );
    expect(Number(priv?.n)).toBe(0);

    const slow = await conn(m.database);
    await slow.query('START TRANSACTION');
    await slow.query("INSERT INTO readings VALUES (1, 'slow', 1)");
    await w.hub.execute("INSERT INTO readings VALUES (2, 'fast', 2)");
    await A.syncer.syncOnce();
    expect(A.syncer.state.pullState().holes.size).toBe(1);
    // Not provable either way without PROCESS: kept until the timeout, then given up with a warning.
    await waitFor(
      async () => {
        await A.syncer.syncOnce();
        return A.syncer.state.pullState().holes.size === 0;
      },
      'the hole to expire',
      15_000,
    );
    const warning = A.syncer.log.recent(200).find((e) => e.event === 'pull.holes-expired');
    expect(warning?.level).toBe('warn');
    expect(warning?.msg).toMatch(/SYNC_HOLE_TIMEOUT/);
    await slow.query('ROLLBACK');
  });
});
