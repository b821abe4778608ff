/**
 * The push's unseen hub changes read by range (push-hub-read.ts `unseenHubChanges`): the other
 * origins' entries come by the range, this node's own inserts only under the keys those touch
 * (docs/PERFORMANCE.md, "The push's node CPU: per-row garbage"). An own insert restarts a key's
 * history: a hub insert and delete before it are not the hub's change of the row this node then
 * edits, so that edit is no conflict. Dropping the own inserts' read makes it one again.
 */
import { describe, expect, it } from 'vitest';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const N = 600; // more keys than one probe statement (500): the read takes the range

describe.skipIf(!HUB_AVAILABLE)('unseen hub changes by range, this node’s own inserts', () => {
  const fixture = syncWorlds({
    prefix: 'unseenown',
    sqliteDdl: ['CREATE TABLE tags (name TEXT PRIMARY KEY, v TEXT NOT NULL)'],
    mysqlDdl: ['CREATE TABLE tags (name VARCHAR(40) PRIMARY KEY, v VARCHAR(40) NOT NULL) ENGINE=InnoDB'],
    nodes: ['A'],
  });

  it('a hub insert and delete before the node’s own insert of the key do not make its later edit a conflict', async () => {
    const w = await fixture.world({ env: { CONFLICT_POLICY: 'node-wins' } });
    const A = w.node('A');
    await A.syncer.syncOnce();
    // Logged on the hub (no origin), past A's pull cursor: A never pulls in this test.
    await w.hub.execute("INSERT INTO tags (name, v) VALUES ('k', 'hub')");
    await w.hub.execute("DELETE FROM tags WHERE name = 'k'");
    const ins = A.db.prepare("INSERT INTO tags (name, v) VALUES (?, 'new')");
    A.db.transaction(() => {
      for (let i = 0; i < N; i++) ins.run(`a${String(i).padStart(4, '0')}`);
      ins.run('k');
    })();
    const first = await A.syncer.syncOnce({ pull: false });
    expect(first.push.perTable.get('tags')?.upserts).toBe(N + 1);
    expect(await w.hub.query("SELECT v FROM tags WHERE name = 'k'")).toEqual([{ v: 'new' }]);
    const before = A.syncer.state.conflicts().length;

    // The hub's log past A's pull cursor now ends with A's own inserts, 'k' among them.
    A.db.prepare("UPDATE tags SET v = 'edited'").run();
    const second = await A.syncer.syncOnce({ pull: false });
    expect(second.push.perTable.get('tags')?.conflicts).toBe(0);
    expect(A.syncer.state.conflicts().length).toBe(before);
    const hub = await w.hub.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM tags WHERE v = 'edited'");
    expect(Number(hub[0]?.n)).toBe(N + 1);
  });
});
