/**
 * A pull batch's rows go into SQLite as one group of multi-row upserts (pull.ts `upsertAll`,
 * docs/PERFORMANCE.md "Pull: the node's own work"), with the same outcome as row by row: a row
 * the node refuses makes the group fall back to row by row, so that only it is parked
 * (invariant 11 of docs/SYNC-CONTRACT.md) and every other row arrives once, with the cursor at
 * the hub's last entry (invariant 3). A row deleted and re-created on a hub that cascades keeps
 * the row-by-row path: its local delete first, then the upsert.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteTableIO } from '../src/sync/sqlite-io.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  // SQLite-only rule: the hub accepts what the node refuses.
  'CREATE TABLE limits (id INTEGER PRIMARY KEY, value INTEGER CHECK (value >= 0), note TEXT)',
];
const MYSQL_DDL = ['CREATE TABLE limits (id BIGINT PRIMARY KEY, value BIGINT NULL, note VARCHAR(40) NULL)'];

describe.skipIf(!HUB_AVAILABLE)('pull: the group upsert', () => {
  const worlds = syncWorlds({ prefix: 'pullgroup', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
  const world = () => worlds.world();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function hubCursor(hub: { query: <R>(sql: string) => Promise<R[]> }): Promise<bigint> {
    const [r] = await hub.query<{ s: string }>('SELECT MAX(seq) AS s FROM _dualdb_changes');
    return BigInt(r?.s ?? 0);
  }

  it('a clean batch goes in multi-row statements, no statement per row; every row once, the cursor at the end', async () => {
    const w = await world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    const many = vi.spyOn(SqliteTableIO.prototype, 'upsertManyOfValues');
    const one = vi.spyOn(SqliteTableIO.prototype, 'upsertValues');
    const rows = Array.from({ length: 700 }, (_, i) => [i + 1, i, `n${i}`]);
    await w.hub.execute('INSERT INTO limits (id, value, note) VALUES ?', [rows]);
    await w.hub.execute("UPDATE limits SET note = 'changed' WHERE id IN (5, 600)");
    const r = await A.syncer.syncOnce();
    expect(r.pull.applied).toBe(700);
    expect(r.pull.parked).toBe(0);
    expect(many).toHaveBeenCalled();
    expect(one).not.toHaveBeenCalled();
    expect(A.db.prepare('SELECT count(*) AS n, sum(value) AS s FROM limits').get()).toEqual({ n: 700n, s: 244650n });
    expect(A.db.prepare('SELECT id FROM limits WHERE note = ? ORDER BY id').all('changed')).toEqual([{ id: 5n }, { id: 600n }]);
    expect(A.syncer.state.pullState().upto).toBe(await hubCursor(w.hub));
    // Applied quietly (no echo, invariant 2): nothing for this node to push.
    expect(A.syncer.state.pendingPush(true).count).toBe(0);
  });

  it('the upsert statements are compiled once per table, not again for every batch', async () => {
    const w = await world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    const first = Array.from({ length: 700 }, (_, i) => [i + 1, i, `n${i}`]);
    await w.hub.execute('INSERT INTO limits (id, value, note) VALUES ?', [first]);
    expect((await A.syncer.syncOnce()).pull.applied).toBe(700);
    const prepare = vi.spyOn(A.db, 'prepare');
    // Three more batches of the same sizes (a full statement and the rest): no upsert compiled again.
    for (let b = 1; b <= 3; b++) {
      const more = Array.from({ length: 700 }, (_, i) => [b * 1000 + i + 1, i, `m${i}`]);
      await w.hub.execute('INSERT INTO limits (id, value, note) VALUES ?', [more]);
      expect((await A.syncer.syncOnce()).pull.applied).toBe(700);
    }
    const upserts = prepare.mock.calls.filter(([sql]) => /^INSERT INTO "limits"/.test(String(sql)));
    expect(upserts).toEqual([]);
    expect(A.db.prepare('SELECT count(*) AS n FROM limits').get()).toEqual({ n: 2800n });
  });

  it('a refused row among them: the group falls back to row by row, only that row is parked, the rest arrive once', async () => {
    const w = await world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    const many = vi.spyOn(SqliteTableIO.prototype, 'upsertManyOfValues');
    const one = vi.spyOn(SqliteTableIO.prototype, 'upsertValues');
    const rows = Array.from({ length: 500 }, (_, i) => [i + 1, i === 250 ? -1 : i, null]);
    await w.hub.execute('INSERT INTO limits (id, value, note) VALUES ?', [rows]);
    const r = await A.syncer.syncOnce();
    expect(many).toHaveBeenCalled();
    expect(one).toHaveBeenCalledTimes(500);
    expect(r.pull.parked).toBe(1);
    expect(r.pull.applied).toBe(499);
    const parked = A.syncer.state.parked();
    expect(parked.map((p) => [p.direction, p.tbl, p.pk])).toEqual([['pull', 'limits', '251']]);
    expect(parked[0]?.error).toMatch(/CHECK constraint failed/);
    expect(A.db.prepare('SELECT count(*) AS n FROM limits').get()).toEqual({ n: 499n });
    expect(A.syncer.state.pullState().upto).toBe(await hubCursor(w.hub));
    // Fixed at the source, the parked row arrives; nothing else moves twice.
    await w.hub.execute('UPDATE limits SET value = 1 WHERE id = 251');
    const again = await A.syncer.syncOnce();
    expect(again.pull.applied).toBe(1);
    expect(A.syncer.state.parked()).toEqual([]);
    expect(A.db.prepare('SELECT count(*) AS n FROM limits').get()).toEqual({ n: 500n });
  });
});
