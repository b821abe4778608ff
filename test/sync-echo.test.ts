/**
 * Invariant 2 of docs/SYNC-CONTRACT.md (no echo): a change the syncer applies is not captured
 * again on that side. After a pull applies N rows the node's change log has no
 * entry for them; after a push the hub's entries carry the node's origin and the
 * node does not pull them back; with three parties (A, B, hub) a change made on
 * A reaches B through the hub, B does not send it back, and A does not re-apply it.
 *
 * "Re-apply" is observed directly: a TEMP trigger on the syncer's own SQLite
 * connection counts every row written through it, whether or not capture is quiet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { divergence, hubLog, localLog, makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, qty BIGINT NULL)'];

/** Counts rows written to `items` through this connection (the syncer's), including the syncer's own applies. */
function countWrites(db: SqliteDb): () => number {
  db.exec(`
    CREATE TEMP TABLE IF NOT EXISTS item_writes (n INTEGER NOT NULL);
    DELETE FROM item_writes; INSERT INTO item_writes VALUES (0);
    CREATE TEMP TRIGGER IF NOT EXISTS item_writes_i AFTER INSERT ON main.items BEGIN UPDATE item_writes SET n = n + 1; END;
    CREATE TEMP TRIGGER IF NOT EXISTS item_writes_u AFTER UPDATE ON main.items BEGIN UPDATE item_writes SET n = n + 1; END;
    CREATE TEMP TRIGGER IF NOT EXISTS item_writes_d AFTER DELETE ON main.items BEGIN UPDATE item_writes SET n = n + 1; END;
  `);
  return () => Number((db.prepare('SELECT n FROM item_writes').get() as { n: bigint }).n);
}

describe.skipIf(!HUB_AVAILABLE)('no echo', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld | undefined;
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  async function fresh(nodes: string[]): Promise<SyncWorld> {
    await world?.close();
    world = await makeWorld(testHub, tmp.dir, { prefix: 'echo', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes });
    return world;
  }

  it('a pull of N rows leaves nothing in the node’s change log, and the next push sends nothing back', async () => {
    const w = await fresh(['A']);
    const A = w.node('A');
    const N = 120;
    const rows = Array.from({ length: N }, (_, i) => [i + 1, `hub ${i + 1}`, i]);
    await w.hub.execute('INSERT INTO items (id, name, qty) VALUES ?', [rows]);
    await w.hub.execute('UPDATE items SET qty = qty + 1000 WHERE id <= 10');
    await w.hub.execute('DELETE FROM items WHERE id > 110');
    const hubBefore = await hubLog(w.hub, 'items');

    const r = await A.syncer.syncOnce();
    expect(r.pull.perTable.get('items')).toMatchObject({ upserts: 110, deletes: 10 });
    expect(A.db.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 110n });
    // Not one entry for the applied rows: the triggers were quiet during the apply…
    expect(localLog(A.db, 'items')).toEqual([]);
    // …and the flag is down again, so an ordinary local write is captured.
    expect(A.db.prepare('SELECT applying FROM _dualdb_flags').get()).toEqual({ applying: 0n });

    const again = await A.syncer.syncOnce();
    expect(again.push.perTable.get('items')).toBeUndefined();
    expect(again.pull.perTable.get('items')).toBeUndefined();
    // The hub saw no write from the node: its log for the table is exactly what the central writes made.
    expect(await hubLog(w.hub, 'items')).toEqual(hubBefore);

    A.db.prepare("UPDATE items SET name = 'local' WHERE id = 1").run();
    expect(localLog(A.db, 'items').map((e) => [e.pk, e.op])).toEqual([['1', 'U']]);
  });

  it('pushed changes carry the node’s origin on the hub and are not pulled back', async () => {
    const w = await fresh(['A']);
    const A = w.node('A');
    const writes = countWrites(A.db);
    const ins = A.db.prepare('INSERT INTO items (id, name, qty) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 50; i++) ins.run(i, `node ${i}`, i);
    })();
    A.db.prepare('UPDATE items SET qty = -1 WHERE id <= 5').run();
    A.db.prepare('DELETE FROM items WHERE id > 45').run();
    const written = writes();
    expect(written).toBe(60);

    const r = await A.syncer.syncOnce();
    expect(r.push.perTable.get('items')).toMatchObject({ upserts: 45, deletes: 5 });
    const log = await hubLog(w.hub, 'items');
    // 45 upserts logged; deleting rows the hub never had changes nothing there, so logs nothing.
    expect(log).toHaveLength(45);
    expect(new Set(log.map((e) => e.origin))).toEqual(new Set(['A']));
    // The pull of the same cycle skipped them: nothing written locally by the syncer.
    expect(r.pull.perTable.get('items')).toBeUndefined();
    expect(writes()).toBe(written);
    const again = await A.syncer.syncOnce();
    expect(again.pull.perTable.get('items')).toBeUndefined();
    expect(writes()).toBe(written);
    expect(A.syncer.state.pullState().upto).toBeGreaterThanOrEqual(log[log.length - 1]?.seq ?? 0n);
  });

  it('three parties: A’s change reaches B through the hub, B does not send it back, A does not re-apply it', async () => {
    const w = await fresh(['A', 'B']);
    const A = w.node('A');
    const B = w.node('B');
    const aWrites = countWrites(A.db);
    const bWrites = countWrites(B.db);

    A.db.prepare("INSERT INTO items (id, name, qty) VALUES (1, 'from A', 1), (2, 'from A', 2)").run();
    A.db.prepare('UPDATE items SET qty = 20 WHERE id = 2').run();
    expect(aWrites()).toBe(3);
    await A.syncer.syncOnce();
    const afterA = await hubLog(w.hub, 'items');
    expect(afterA.map((e) => e.origin)).toEqual(['A', 'A']);

    await B.syncer.syncOnce();
    expect(bWrites()).toBe(2); // applied once each
    expect(localLog(B.db, 'items')).toEqual([]);
    // B's cycle pushed nothing: the hub log is unchanged.
    await B.syncer.syncOnce();
    expect(await hubLog(w.hub, 'items')).toEqual(afterA);
    expect(bWrites()).toBe(2);

    // A's next cycles do not re-apply its own change, not even after B has seen it.
    await A.syncer.syncOnce();
    await A.syncer.syncOnce();
    expect(aWrites()).toBe(3);

    // A change made on B travels to A exactly once, and does not bounce back to B.
    B.db.prepare("UPDATE items SET name = 'from B' WHERE id = 1").run();
    expect(bWrites()).toBe(3);
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    expect(aWrites()).toBe(4);
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    expect(aWrites()).toBe(4);
    expect(bWrites()).toBe(3);
    expect((await hubLog(w.hub, 'items')).map((e) => e.origin)).toEqual(['A', 'A', 'B']);
    expect(localLog(A.db, 'items')).toEqual([]);
    expect(await divergence(w, ['items'])).toEqual([]);
  });
});
