/**
 * Operator trial, finding 2 (rekey-hub): another node's move of a hub row commits between a
 * push's read of the hub moves (push start) and its read of the hub rows (readHubFacts). The
 * push then sees its own row, moved onto a key of its batch, as somebody else's: it moved it once
 * more, and the move it learned later left a copy waiting for a key nothing ever frees (a pull
 * parked for good). A hub connection wrapper (as in sync-collisions-races.test.ts) runs b's push
 * just before a's lock read; nothing in the product is mocked.
 */
import { describe, expect, it } from 'vitest';
import { PushRaceError } from '../src/sync/push.js';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB'];

describe.skipIf(!HUB_AVAILABLE)('rekey-hub: a move another node commits inside a push', () => {
  const fixture = syncWorlds({
    prefix: 'rhunl',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: 'newest-wins' },
    planTtlMs: 600_000,
  });

  it('a’s own row, moved onto a key of its batch after it read the moves, is not taken for another’s', async () => {
    const w = await fixture.world();
    const [a, b] = [w.node('a'), w.node('b')];
    a.db.prepare("INSERT INTO items (name) VALUES ('a-first')").run(); // 1
    await a.syncer.syncOnce({ pull: false });
    b.db.prepare("INSERT INTO items (name) VALUES ('b-first')").run(); // 1 too: b has not pulled
    a.db.prepare("INSERT INTO items (name) VALUES ('a-second')").run(); // 2
    // a read the hub's moves; now b's push moves a's row 1 to the hub's next key (2), then a locks key 2.
    // (The push may give the batch back, as a race the syncer retries: nothing decided on stale moves.)
    await pushWith(w, 'a', /FROM `items` WHERE .* FOR UPDATE$/, async () => {
      await b.syncer.syncOnce({ pull: false });
    }).catch((e: unknown) => {
      if (!(e instanceof PushRaceError)) throw e;
    });
    await syncUntilQuiet(w.nodes, 10);
    expect(await divergence(w, ['items'])).toEqual([]);
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
    expect(names).toEqual(['a-first', 'a-second', 'b-first']);
    for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
  }, 120_000);
});
