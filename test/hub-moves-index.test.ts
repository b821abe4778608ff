/**
 * The hub log's moves index (`_dualdb_changes_moves (op, seq)`, issue 16): the read of R entries
 * (re-key moves, sync/hub-moves.ts) that every pull batch and push makes examines those entries,
 * not the whole log after the cursor. A hub set up before the index still syncs; init adds it in
 * place, online, and gives up (changing nothing) when the log is busy (invariant 15).
 */
import { describe, expect, it } from 'vitest';
import { ensureMovesIndex, MOVES_INDEX } from '../src/capture/mysql-capture.js';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import type { SyncContext } from '../src/sync/context.js';
import { hubMovesQuery } from '../src/sync/hub-moves.js';
import { initNode } from '../src/sync/init.js';
import type { PullState } from '../src/sync/local-state.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

async function hasIndex(hub: MysqlHub): Promise<boolean> {
  const rows = await hub.query(
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_changes' AND INDEX_NAME = ?",
    [MOVES_INDEX],
  );
  return rows.length > 0;
}

const dropIndex = (hub: MysqlHub) => hub.execute(`ALTER TABLE _dualdb_changes DROP INDEX ${MOVES_INDEX}`);

/** Rows the hub examines for the moves read of a node at `upto` (its Handler_read_* counters, one session). */
async function rowsExamined(hub: MysqlHub, upto: bigint): Promise<{ examined: number; moves: number }> {
  const q = hubMovesQuery({ nodeId: 'reader' } as SyncContext, { upto, holes: new Map() } as PullState);
  return hub.withConnection(async (conn) => {
    const count = async () => {
      const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Handler_read%'");
      return (rows as { Value: string }[]).reduce((a, r) => a + Number(r.Value), 0);
    };
    const before = await count();
    const [found] = await conn.query(q.sql, q.params);
    const after = await count();
    // SHOW STATUS reads a few rows of its own: the second count's share is measured once more.
    const own = (await count()) - after;
    return { examined: after - before - own, moves: (found as unknown[]).length };
  });
}

describe.skipIf(!HUB_AVAILABLE)('the hub log moves index', () => {
  const fixture = syncWorlds({
    prefix: 'mvidx',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'node-wins' },
  });

  it('the moves read examines the R entries, not the log after the cursor', async () => {
    const w = await fixture.world({ nodes: ['a'] });
    expect(await hasIndex(w.hub)).toBe(true);
    const values = Array.from({ length: 5000 }, (_, i) => ['items', String(i + 1), 'U', 'other', 0]);
    for (let i = 0; i < values.length; i += 1000)
      await w.hub.execute('INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES ?', [values.slice(i, i + 1000)]);
    await w.hub.execute("INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES ('items', '1>2', 'R', 'other', 0)");
    await w.hub.execute('ANALYZE TABLE _dualdb_changes');
    const indexed = await rowsExamined(w.hub, 0n);
    expect(indexed.moves).toBe(1);
    expect(indexed.examined).toBeLessThan(100);
    // The same read on a hub without the index: the same answer, from a scan of the whole log.
    await dropIndex(w.hub);
    const scanned = await rowsExamined(w.hub, 0n);
    expect(scanned.moves).toBe(1);
    expect(scanned.examined).toBeGreaterThan(5000);
  }, 120_000);

  it('a hub set up before the index syncs moves the same; init adds it in place, once', async () => {
    const w = await fixture.world();
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    await dropIndex(w.hub);
    const push = (n: typeof a) => n.syncer.syncOnce({ pull: false });
    a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
    await push(a);
    b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
    await push(b); // a1 moves to 2 on the hub (an R entry), b1 takes 1
    await a.syncer.syncOnce({ push: false });
    expect(a.db.prepare('SELECT id, name FROM items ORDER BY id').all()).toEqual([
      { id: 1n, name: 'b1' },
      { id: 2n, name: 'a1' },
    ]);
    await syncUntilQuiet(w.nodes, 6);
    expect(await divergence(w, ['items'])).toEqual([]);
    expect(await hasIndex(w.hub)).toBe(false);

    // Init (as after an upgrade) adds it; every log entry and node row is kept.
    const log = await w.hub.query('SELECT seq, tbl, pk, op, origin FROM _dualdb_changes ORDER BY seq');
    const nodes = await w.hub.query('SELECT node_id, push_cursor, pull_upto FROM _dualdb_nodes ORDER BY node_id');
    expect((await initNode(a.config)).hubLogIndex).toBe('added');
    expect(await hasIndex(w.hub)).toBe(true);
    expect(await w.hub.query('SELECT seq, tbl, pk, op, origin FROM _dualdb_changes ORDER BY seq')).toEqual(log);
    expect(await w.hub.query('SELECT node_id, push_cursor, pull_upto FROM _dualdb_nodes ORDER BY node_id')).toEqual(nodes);
    // Idempotent, also when two nodes upgrade at once.
    const twice = await Promise.all([ensureMovesIndex(w.hub), ensureMovesIndex(w.hub), initNode(b.config)]);
    expect(twice.slice(0, 2)).toEqual(['present', 'present']);
    expect(twice[2].hubLogIndex).toBeUndefined();
    await dropIndex(w.hub);
    const racing = await Promise.all([ensureMovesIndex(w.hub), ensureMovesIndex(w.hub)]);
    // One adds it; the other finds it (or, on a very slow box, gave up waiting for the first).
    expect(racing.filter((r) => r === 'added')).toHaveLength(1);
    const opIndexes = await w.hub.query(
      "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_changes' AND COLUMN_NAME = 'op'",
    );
    expect(opIndexes).toHaveLength(1);

    // Moves still reach the other node with the index in place.
    b.db.prepare("INSERT INTO items (id, name) VALUES (3, 'b3')").run();
    await push(b);
    a.db.prepare("INSERT INTO items (id, name) VALUES (3, 'a3')").run();
    await push(a); // b3 moves on the hub, a3 takes 3
    await syncUntilQuiet(w.nodes, 6);
    expect(await divergence(w, ['items'])).toEqual([]);
    expect(b.db.prepare('SELECT name FROM items WHERE id = 3').get()).toEqual({ name: 'a3' });
  }, 120_000);

  it('a busy log: the upgrade gives up after its short lock wait, capture keeps writing, the next init adds it', async () => {
    const w = await fixture.world({ nodes: ['a'] });
    const a = w.node('a');
    await dropIndex(w.hub);
    // A long transaction that read the log holds its metadata lock: the ALTER cannot finish.
    const outcome = await w.hub.withConnection(async (reader) => {
      await reader.query('START TRANSACTION');
      await reader.query('SELECT COUNT(*) FROM _dualdb_changes');
      try {
        const r = await ensureMovesIndex(w.hub);
        // A captured write after the attempt goes through (the ALTER no longer waits).
        a.db.prepare("INSERT INTO items (id, name) VALUES (7, 'a7')").run();
        await a.syncer.syncOnce({ pull: false });
        return r;
      } finally {
        await reader.query('COMMIT');
      }
    });
    expect(outcome).toBe('skipped');
    expect(await hasIndex(w.hub)).toBe(false);
    expect(await w.hub.query('SELECT name FROM items')).toEqual([{ name: 'a7' }]);
    await initNode(a.config);
    expect(await hasIndex(w.hub)).toBe(true);
  }, 120_000);
});
