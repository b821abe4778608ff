/**
 * Operator trial of 2026-12-07, `manual`, run 10: an acknowledged hub update overwritten, no
 * conflict recorded. Site3's `rekeys resolve --rekey hub` moved the hub's worker W 25 → 37; site2,
 * its own worker under 37 held against W there (#77), kept W as an unsettled copy under 25
 * (`_dualdb_hub_moves`) and edited it; the control room then updated W under 37. Site2's resolve of
 * #77 settled the copy, edit and all, into W's new key, and the next push sent it as a plain update:
 * the hub's updates were lost. The resolve never read the row's hub history (only the push did,
 * row-history.ts), so the copy's edit was never weighed against them. Now it is, as the push does:
 * a conflict decided by the policy, the losing image kept, the winner on every side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, name TEXT)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, worker_id INTEGER REFERENCES workers (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  `CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, name VARCHAR(40) NULL,
     CONSTRAINT uq_workers_ref UNIQUE (ref)) ENGINE=InnoDB`,
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, worker_id BIGINT NULL,
     CONSTRAINT fk_at_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const POLICY of ['hub-wins', 'node-wins', 'newest-wins'] as const)
  describe.skipIf(!HUB_AVAILABLE)(`manual, ${POLICY}: a resolve settling an edited copy weighs the hub's later changes`, () => {
    const fx = syncWorlds({
      prefix: `rcopy${POLICY.slice(0, 3)}`,
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a', 'b'],
      env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: POLICY },
    });
    const open: { close(): Promise<void> }[] = [];
    afterEach(async () => {
      for (const x of open.splice(0).reverse()) await x.close();
    });

    for (const SIDE of ['hub', 'node'] as const)
      it(`B's edit of its copy and the hub's later update are one conflict (resolve --rekey ${SIDE})`, async () => {
        const w = await fx.world();
        open.push(w);
        const [a, b] = ['a', 'b'].map((n) => w.node(n));
        if (!a || !b) throw new Error('nodes');
        // 1. The hub's W under 1 (with a child); B pulls it.
        await w.hub.execute("INSERT INTO workers (id, ref, name) VALUES (1, 'W', 'w0')");
        await w.hub.execute("INSERT INTO attendance (id, ref, worker_id) VALUES (100, 'at-W', 1)");
        await b.syncer.syncOnce();
        expect(b.db.prepare('SELECT name FROM workers WHERE id = 1').pluck().get()).toBe('w0');
        // 2. A's own row under 1, held; A resolves --rekey hub: the hub's W moves 1 → 2.
        a.db.prepare("INSERT INTO workers (id, ref, name) VALUES (1, 'A1', 'a')").run();
        await a.syncer.syncOnce();
        const [heldA] = a.syncer.rekeys.list({ status: 'held' });
        expect([heldA?.tbl, heldA?.oldKey]).toEqual(['workers', '1']);
        const evA = await resolveRekey(a.syncer, heldA?.id as number, 'hub');
        expect([evA?.moved, evA?.oldKey, evA?.newKey]).toEqual(['hub', '1', '2']);
        // 3. B's own row under 2, its edit of W by id 1; its sync holds 2, W stays a copy under 1.
        b.db.prepare("INSERT INTO workers (id, ref, name) VALUES (2, 'B2', 'b')").run();
        b.db.prepare("UPDATE workers SET name = 'b-edit' WHERE id = 1").run();
        await b.syncer.syncOnce();
        const [heldB] = b.syncer.rekeys.list({ status: 'held' });
        expect([heldB?.tbl, heldB?.oldKey]).toEqual(['workers', '2']);
        expect(b.db.prepare('SELECT hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all()).toEqual([
          { hub_key: '2', local_key: '1' },
        ]);
        // 4. The control room updates W under 2, after B's edit.
        await sleep(30);
        await w.hub.execute("UPDATE workers SET name = 'hub-edit' WHERE id = 2");
        // 5. B resolves its collision; both nodes sync.
        await resolveRekey(b.syncer, heldB?.id as number, SIDE);
        await syncUntilQuiet(w.nodes, 8);
        const winner = POLICY === 'node-wins' ? 'b-edit' : 'hub-edit';
        const loser = POLICY === 'node-wins' ? 'hub-edit' : 'b-edit';
        const conflicts = b.db
          .prepare("SELECT winner, status, detected_in, node_image, hub_image FROM _dualdb_conflicts WHERE tbl = 'workers'")
          .all() as { winner: string; status: string; detected_in: string; node_image: string; hub_image: string }[];
        expect(conflicts.map((c) => [c.winner, c.status])).toEqual([[POLICY === 'node-wins' ? 'node' : 'hub', 'resolved']]);
        // Found by the resolve that settled the copy, not by a push (the edit never went up on its own).
        expect(conflicts.map((c) => c.detected_in)).toEqual(['resolve']);
        const kept = POLICY === 'node-wins' ? conflicts[0]?.hub_image : conflicts[0]?.node_image;
        expect(kept).toContain(loser);
        for (const n of w.nodes) {
          expect(n.db.prepare('SELECT ref, name FROM workers ORDER BY ref').raw().all(), n.name).toEqual([
            ['A1', 'a'],
            ['B2', 'b'],
            ['W', winner],
          ]);
          expect(
            n.db.prepare('SELECT a.ref, w.ref FROM attendance a JOIN workers w ON w.id = a.worker_id').raw().all(),
            n.name,
          ).toEqual([['at-W', 'W']]);
          expect(n.syncer.state.parked(), n.name).toEqual([]);
        }
        expect(await w.hub.query('SELECT ref, name FROM workers ORDER BY ref')).toEqual([
          { ref: 'A1', name: 'a' },
          { ref: 'B2', name: 'b' },
          { ref: 'W', name: winner },
        ]);
        expect(b.syncer.rekeys.list({ status: 'held' })).toEqual([]);
        expect(await divergence(w, TABLES)).toEqual([]);
      }, 120_000);
  });
