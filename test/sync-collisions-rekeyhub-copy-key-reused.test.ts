/**
 * Operator trial of 2026-12-07 (seed 1103, rekey-hub, hub-wins): site3 never received site1's
 * detection 81 (nor its alert and notification), six changes parked for good.
 *
 * Site3 held a copy of site2's detection under 81. Site1's own 81 went up: the hub's row moved
 * 81 -> 108, and site3's application had meanwhile taken 108 for a detection of its own, so the
 * copy waited under 81, unsettled (hub-moves.ts). Site2 then deleted that row on the hub (under
 * 108) after site3's push had checked its copies on the hub (learnHubMoves: the row was still
 * there) and before it read the hub under lock: site3's own row went up under the free key 108,
 * no collision. From then on the hub's row under 108 was site3's own, so no check ever found the
 * copy's row gone; the copy kept 81 here, and the hub's row under 81 (site1's) waited for it to
 * move, forever.
 *
 * A copy whose row the hub deleted is gone, whatever took its hub key since: deleted here too
 * (its own unpushed changes dropped), and the key is free for the hub's row under it.
 */
import { describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import type { Syncer } from '../src/sync/syncer.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE, text TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id BIGINT NOT NULL, text VARCHAR(80) NOT NULL,
     CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

/** The hub pool a Syncer uses (opened by its first context). */
async function hubOf(syncer: Syncer): Promise<MysqlHub> {
  return syncer.withContext(async (ctx) => ctx.hub);
}

describe.skipIf(!HUB_AVAILABLE)(
  'rekey-hub: the row of an unsettled copy deleted on the hub, its hub key re-used by the node (trial seed 1103)',
  () => {
    const fixture = syncWorlds({
      prefix: 'rhcopyreuse',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['s1', 's2', 's3'],
      env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
    });

    for (const policy of ['hub-wins', 'node-wins'] as const)
      for (const copy of ['kept', 'deleted'] as const)
        it(`${policy}, the copy ${copy} here: every row reaches every side, nothing parked`, async () => {
          const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', CONFLICT_POLICY: policy } });
          const [s1, s2, s3] = ['s1', 's2', 's3'].map((n) => w.node(n));
          if (!s1 || !s2 || !s3) throw new Error('nodes');
          // site2's row P (with a note) under 1, copied to site3.
          s2.db.prepare("INSERT INTO items (id, name) VALUES (1, 's2-item')").run();
          s2.db.prepare("INSERT INTO notes (id, item_id, text) VALUES (10, 1, 's2-note')").run();
          await s2.syncer.syncOnce();
          await s3.syncer.syncOnce();
          // site1's own 1 goes up: the hub's P moves 1 -> 2.
          s1.db.prepare("INSERT INTO items (id, name) VALUES (1, 's1-item')").run();
          await s1.syncer.syncOnce({ pull: false });
          // site3's application takes 2 first; its pull learns the move: the copy waits under 1.
          s3.db.prepare("INSERT INTO items (id, name) VALUES (2, 's3-item')").run();
          await s3.syncer.syncOnce({ push: false });
          expect(s3.db.prepare('SELECT hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all()).toEqual([
            { hub_key: '2', local_key: '1' },
          ]);
          if (copy === 'deleted') s3.db.prepare('DELETE FROM items WHERE id = 1').run();
          // P is deleted on the hub after site3's push checked its copies there, before it locks its keys.
          const hub = await hubOf(s3.syncer);
          const withConnection = hub.withConnection.bind(hub);
          let armed = true;
          hub.withConnection = (async (fn: (conn: never) => Promise<unknown>) => {
            const r = await withConnection(fn as never);
            if (armed) {
              armed = false;
              await w.hub.execute('DELETE FROM items WHERE id = 2');
            }
            return r;
          }) as typeof hub.withConnection;
          await s3.syncer.syncOnce({ pull: false });
          hub.withConnection = withConnection;
          expect(armed).toBe(false);
          expect((await w.hub.query<{ name: string }>('SELECT name FROM items WHERE id = 2')).map((r) => r.name)).toEqual([
            's3-item',
          ]);
          await syncUntilQuiet(w.nodes, 8);
          expect(await divergence(w, ['items', 'notes'])).toEqual([]);
          const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
          expect(names).toEqual(['s1-item', 's3-item']);
          expect(await w.hub.query('SELECT id FROM notes')).toEqual([]);
          for (const n of w.nodes) {
            expect(n.db.prepare('SELECT name FROM items ORDER BY name').pluck().all()).toEqual(['s1-item', 's3-item']);
            expect(n.db.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
          }
          expect(s3.db.prepare('SELECT count(*) AS n FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').get()).toEqual({
            n: 0n,
          });
        }, 120_000);
  },
);
