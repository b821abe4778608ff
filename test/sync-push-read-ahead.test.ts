/**
 * The push's read-ahead (push.ts `PushReadAhead`, issue 16): the next batch is read from SQLite
 * while the hub logs the current one, and used only after that batch committed and recorded
 * nothing on the node (docs/SYNC-CONTRACT.md invariants 3 and 7). And the push's locked lookup of
 * an integer-keyed table by key ranges (mysql-io.ts `lookupConditions`): exactly the keys' rows.
 */
import { describe, expect, it } from 'vitest';
import { MysqlTableIO } from '../src/sync/mysql-io.js';
import type { SyncTable } from '../src/sync/plan.js';
import { type PushReadAhead, pushBatch } from '../src/sync/push.js';
import { interceptHub } from './helpers/intercept-hub.js';
import { type SyncWorld, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL)'];
// code is short on the hub: the node accepts a row the hub refuses (parked).
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL)'];

async function hubRows(w: SyncWorld): Promise<[number, string][]> {
  return (await w.hub.query<{ id: string; code: string }>('SELECT id, code FROM items ORDER BY id')).map((r) => [
    Number(r.id),
    r.code,
  ]);
}

function localRows(w: SyncWorld): [number, string][] {
  return (w.node('A').db.prepare('SELECT id, code FROM items ORDER BY id').all() as { id: number | bigint; code: string }[]).map(
    (r) => [Number(r.id), r.code],
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!HUB_AVAILABLE)('push read-ahead', () => {
  const worlds = syncWorlds({ prefix: 'readahead', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });

  async function backlog(rows: number, refused?: number): Promise<SyncWorld> {
    const w = await worlds.world({ env: { SYNC_BATCH_SIZE: '1000' } });
    const A = w.node('A');
    await A.syncer.syncOnce();
    const ins = A.db.prepare('INSERT INTO items (id, code) VALUES (?, ?)');
    A.db.transaction(() => {
      for (const id of range(1, rows)) ins.run(id, id === refused ? 'much-too-long-for-the-hub' : `c${id}`);
    })();
    return w;
  }

  it('a batch whose COMMIT failed: its read-ahead is not sent; the next batch starts where the cursors are', async () => {
    const w = await backlog(3000);
    const A = w.node('A');
    let readsAhead = 0;
    const readAhead: PushReadAhead = {
      nextLimit: () => {
        readsAhead++;
        return 1000;
      },
    };
    await expect(
      A.syncer.withContext((ctx) =>
        pushBatch(
          {
            ...ctx,
            hub: interceptHub(ctx.hub, /^COMMIT$/, () => {
              throw new Error('the COMMIT did not happen');
            }),
          },
          1000,
          readAhead,
        ),
      ),
    ).rejects.toThrow();
    // The next batch was read while the hub logged this one (else this test proves nothing).
    expect(readsAhead).toBe(1);
    expect(await hubRows(w)).toEqual([]);
    // Sent blindly, the read-ahead (rows 1001–2000) went up and the cursor passed rows 1–1000 for good.
    await A.syncer.withContext((ctx) => pushBatch(ctx, 1000, readAhead));
    expect((await hubRows(w)).map(([id]) => id)).toEqual(range(1, 1000));
    await A.syncer.push();
    expect(await hubRows(w)).toEqual(localRows(w));
    const [logged] = await w.hub.query<{ n: string; keys: string }>(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT pk) AS `keys` FROM _dualdb_changes WHERE tbl = 'items'",
    );
    expect([Number(logged?.n), Number(logged?.keys)]).toEqual([3000, 3000]);
  }, 60_000);

  it('used after a plain batch: a snapshot from before later local writes, which follow in later batches, in order', async () => {
    const w = await backlog(3000);
    const A = w.node('A');
    const readAhead: PushReadAhead = { nextLimit: () => 1000 };
    await A.syncer.withContext((ctx) => pushBatch(ctx, 1000, readAhead));
    expect(readAhead.next?.batch.entries).toBe(1000);
    // Written after the read-ahead: logged past it.
    A.db.prepare("UPDATE items SET code = 'edited' WHERE id = 1500").run();
    A.db.prepare('DELETE FROM items WHERE id = 1200').run();
    A.db.prepare("INSERT INTO items (id, code) VALUES (1201, 'x') ON CONFLICT (id) DO UPDATE SET code = 'again'").run();
    await A.syncer.withContext((ctx) => pushBatch(ctx, 1000, readAhead));
    // The batch read ahead went up as read: the rows as they were before those writes.
    const second = new Map(await hubRows(w));
    expect([second.size, second.get(1500), second.get(1200), second.get(1201)]).toEqual([2000, 'c1500', 'c1200', 'c1201']);
    await A.syncer.push();
    const hub = await hubRows(w);
    expect(hub).toEqual(localRows(w));
    expect(new Map(hub).get(1500)).toBe('edited');
    expect(new Map(hub).has(1200)).toBe(false);
    expect(new Map(hub).get(1201)).toBe('again');
  }, 60_000);

  it('a batch that parked a row drops its read-ahead (the node recorded something the next read must see)', async () => {
    const w = await backlog(3000, 500);
    const A = w.node('A');
    const readAhead: PushReadAhead = { nextLimit: () => 1000 };
    const r = await A.syncer.withContext((ctx) => pushBatch(ctx, 1000, readAhead));
    expect(r.parked).toBe(1);
    expect(readAhead.next).toBeUndefined();
    await A.syncer.push();
    expect((await hubRows(w)).map(([id]) => id)).toEqual(range(1, 3000).filter((id) => id !== 500));
  }, 60_000);

  it('SYNC_BATCH_SIZE unset: a backlog of small rows goes up in one batch from the cycle’s first read (one COMMIT), every row once', async () => {
    const w = await worlds.world({});
    const A = w.node('A');
    await A.syncer.syncOnce();
    const ins = A.db.prepare('INSERT INTO items (id, code) VALUES (?, ?)');
    A.db.transaction(() => {
      for (const id of range(1, 9000)) ins.run(id, `c${id}`);
    })();
    const [before] = await w.hub.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Com_commit'");
    const r = await A.syncer.push();
    const [after] = await w.hub.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Com_commit'");
    expect(r.perTable.get('items')?.upserts).toBe(9000);
    // 2,000 then 7,000 before: two commits.
    expect(Number(after?.Value) - Number(before?.Value)).toBe(1);
    expect(await hubRows(w)).toEqual(localRows(w));
    const [logged] = await w.hub.query<{ n: string; keys: string }>(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT pk) AS `keys` FROM _dualdb_changes WHERE tbl = 'items'",
    );
    expect([Number(logged?.n), Number(logged?.keys)]).toEqual([9000, 9000]);
  }, 60_000);

  it('the locked lookup by key ranges finds exactly the keys’ rows, in one statement for a backlog', async () => {
    const w = await worlds.world({});
    const A = w.node('A');
    await A.syncer.syncOnce();
    // Hub rows inside the runs, in the gaps between them and around them.
    const onHub = [...range(1, 120), 150, ...range(200, 260), 5000];
    await w.hub.execute(`INSERT INTO items (id, code) VALUES ${onHub.map((id) => `(${id}, 'h')`).join(', ')}`);
    const table = await A.syncer.withContext(async (ctx) => ctx.plan.byName.get('items') as SyncTable);
    const io = new MysqlTableIO(table);
    const keys = [...range(10, 40), ...range(60, 140), '145', '155', ...range(180, 230), ...range(4990, 5010)].map(String);
    const want = keys.filter((k) => onHub.includes(Number(k))).sort();
    // Three runs and two lone keys: the runs' ranges in one statement, the lone keys' IN list in another.
    expect(io.lookupConditions(keys)).toHaveLength(2);
    expect(io.lookupConditions(range(1, 20_000).map(String))).toHaveLength(1);
    const found = await w.hub.transaction((conn) => io.fetch(conn, keys, { forUpdate: true }));
    expect([...found.keys()].sort()).toEqual(want);
    const plain = await w.hub.withConnection((conn) => io.fetch(conn, keys));
    expect([...plain.keys()].sort()).toEqual(want);
  }, 60_000);
});
