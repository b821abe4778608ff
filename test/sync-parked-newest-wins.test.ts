/**
 * Invariants 6 and 11 of docs/SYNC-CONTRACT.md: a parked push is weighed at the time its change was
 * made. It was replayed stamped with its retry's time (and `_dualdb_parked` kept only whole-second
 * times of its attempts), so under newest-wins a node edit parked before the hub's later update of
 * the row came back "newer" and overwrote it. Now the parked change keeps the time of its change-log
 * entry, in ms (`changed_ms`): the hub's newer update wins, and the conflict records the edit's time.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE badges (id INTEGER PRIMARY KEY, code TEXT NOT NULL, tag TEXT, note TEXT)'];
// The tag is unique on the hub only: a node edit taking a tag the hub holds is refused there, parked.
const MYSQL_DDL = [
  'CREATE TABLE badges (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL, tag VARCHAR(20) NULL, note TEXT NULL, UNIQUE KEY uq_tag (tag))',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HUB_AVAILABLE)('newest-wins and a parked push', () => {
  const worlds = syncWorlds({
    prefix: 'parknew',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['A'],
    env: { CONFLICT_POLICY: 'newest-wins' },
  });

  it('a parked node edit older than the hub’s update loses to it when retried (weighed at its edit’s time)', async () => {
    const w = await worlds.world();
    const A = w.node('A');
    await w.hub.execute("INSERT INTO badges (id, code, tag, note) VALUES (1, 'C1', 'x', 'n0'), (2, 'C2', 'taken', NULL)");
    await A.syncer.syncOnce();
    // 1. A's edit of badge 1 takes a tag the hub's badge 2 holds: refused on the hub, parked.
    A.db.prepare("UPDATE badges SET tag = 'taken', note = 'node-edit' WHERE id = 1").run();
    const editedAt = Number(A.db.prepare("SELECT max(at) FROM _dualdb_changes WHERE tbl = 'badges' AND pk = '1'").pluck().get());
    const r = await A.syncer.syncOnce();
    expect(r.push.parked).toBe(1);
    const [parked] = A.syncer.state.parked('push');
    expect(parked?.error).toMatch(/ER_DUP_ENTRY/);
    // The time of the change, to the ms (not of the attempt, not whole seconds).
    expect(parked?.changedMs).toBe(editedAt);
    // 2. Later, the control room updates badge 1 and frees the tag.
    await sleep(150);
    await w.hub.execute("UPDATE badges SET note = 'hub-edit' WHERE id = 1");
    await w.hub.execute('UPDATE badges SET tag = NULL WHERE id = 2');
    await sleep(150);
    // 3. The parked edit is retried: the hub's update is the newer change of the row, and wins.
    A.syncer.state.retryParked();
    await A.syncer.syncOnce();
    await A.syncer.syncOnce();
    const conflicts = A.db
      .prepare("SELECT winner, policy, node_at, node_image FROM _dualdb_conflicts WHERE tbl = 'badges' AND pk = '1'")
      .all() as { winner: string; policy: string; node_at: number; node_image: string }[];
    expect(conflicts.map((c) => [c.winner, c.policy])).toEqual([['hub', 'newest-wins']]);
    expect(conflicts[0]?.node_at).toBe(editedAt);
    expect(conflicts[0]?.node_image).toContain('node-edit');
    expect(await w.hub.query('SELECT id, tag, note FROM badges ORDER BY id')).toEqual([
      { id: '1', tag: 'x', note: 'hub-edit' },
      { id: '2', tag: null, note: null },
    ]);
    expect(A.db.prepare('SELECT tag, note FROM badges ORDER BY id').all()).toEqual([
      { tag: 'x', note: 'hub-edit' },
      { tag: null, note: null },
    ]);
    expect(A.syncer.state.parked()).toEqual([]);
    expect(await divergence(w, ['badges'])).toEqual([]);
  }, 60_000);

  it('a parked edit retried together with a later edit of the row keeps the later time', async () => {
    const w = await worlds.world();
    const A = w.node('A');
    await w.hub.execute("INSERT INTO badges (id, code, tag, note) VALUES (1, 'C1', 'x', 'n0'), (2, 'C2', 'taken', NULL)");
    await A.syncer.syncOnce();
    A.db.prepare("UPDATE badges SET tag = 'taken' WHERE id = 1").run();
    await A.syncer.syncOnce();
    const first = A.syncer.state.parked('push')[0]?.changedMs;
    expect(first).toEqual(expect.any(Number));
    await sleep(20);
    // Still refused: parked again, carrying the newer edit's time.
    A.db.prepare("UPDATE badges SET note = 'later' WHERE id = 1").run();
    const laterAt = Number(A.db.prepare("SELECT max(at) FROM _dualdb_changes WHERE tbl = 'badges' AND pk = '1'").pluck().get());
    A.syncer.state.retryParked();
    await A.syncer.syncOnce();
    const [again] = A.syncer.state.parked('push');
    expect(again?.attempts).toBe(2);
    expect(again?.changedMs).toBe(laterAt);
    expect(laterAt).toBeGreaterThan(first as number);
  }, 60_000);
});
