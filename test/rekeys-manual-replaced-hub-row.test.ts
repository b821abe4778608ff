/**
 * Operator trial 6 (2026-12-07, `manual`, seed 703, finding T6-M1; also runs 01:43 and 02:08 of
 * the N2u trials): a held collision whose hub row was replaced before the resolve; `rekeys resolve
 * --rekey hub` moved the new row, another node's, and that node then held its own row
 * twice-named: a collision neither `--rekey node` nor `--rekey hub` resolves ("Duplicate entry …
 * for key 'uq_workers_ref'"), the row's children parked.
 *
 * In the trial (workers 67): site1's worker W1 went up under 67; site3's own worker under 67
 * collided (held). Site1 deleted W1; site2's own W2 went into the freed 67. Site3's operator ran
 * `resolve --rekey hub`: the hub's row under 67, now W2, moved 67 → 236. Site2, its W2 still logged
 * as pending, did not follow and held 67 against site3's worker. Now the resolve moves only the row
 * the record was held with (else the node's own row), and a resolve that writes the node's row to
 * the hub leaves nothing pending (src/sync/rekey-resolve.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, worker_id INTEGER REFERENCES workers (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  `CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL,
     CONSTRAINT uq_workers_ref UNIQUE (ref)) ENGINE=InnoDB`,
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, worker_id BIGINT NULL,
     CONSTRAINT fk_at_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];

describe.skipIf(!HUB_AVAILABLE)('manual: resolve --rekey hub after the held key’s hub row was replaced (trial 6, T6-M1)', () => {
  const fx = syncWorlds({
    prefix: 't6m1',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['site1', 'site2', 'site3'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });
  const open: SyncWorld[] = [];
  afterEach(async () => {
    for (const w of open.splice(0)) await w.close();
  });

  /**
   * Three nodes; W1 under 1 (site1's); optionally site3's W3 held against it; site2's W2 (with a child) held too.
   * Site1 deletes W1. With `bySync`, site2's next sync closes its collision by itself (issue 11): W2
   * goes up into the freed 1. Else site2 only pushes and pulls (no sync yet), its collision still held
   * for its operator's resolve.
   */
  async function start(heldOnSite3: boolean, bySync = false) {
    const w = await fx.world();
    open.push(w);
    const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n));
    if (!s1 || !s2 || !s3) throw new Error('nodes');
    s1.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W1')").run();
    await s1.syncer.syncOnce();
    if (heldOnSite3) {
      s3.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W3')").run();
      await s3.syncer.syncOnce();
    }
    s2.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W2')").run();
    s2.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (1, 'at of W2', 1)").run();
    await s2.syncer.syncOnce();
    expect(s2.syncer.rekeys.list({ status: 'held' }).map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '1']]);
    const held2 = s2.syncer.rekeys.list({ status: 'held' })[0]?.id as number;
    // Site1 deletes W1; site2's operator resolves (or its sync closes it), one row gone: W2 goes up into the freed 1.
    s1.db.prepare('DELETE FROM workers WHERE id = 1').run();
    await s1.syncer.syncOnce();
    if (bySync) {
      await s2.syncer.syncOnce();
      const rec = s2.syncer.rekeys.get(held2);
      expect([rec?.status, rec?.reason]).toEqual(['closed', 'hub-row-gone']);
    } else {
      await s2.syncer.push();
      await s2.syncer.pull();
    }
    return { w, s2, s3, held2 };
  }

  /** Nothing held, W2 (as `w2`) and W3 everywhere, each attendance row with W2. */
  async function expectConverged(w: SyncWorld, w2: string, ats: string[]) {
    for (const n of w.nodes) expect(n.syncer.rekeys.list({ status: 'held' }), n.name).toEqual([]);
    expect(await w.hub.query('SELECT ref FROM workers ORDER BY ref')).toEqual([{ ref: w2 }, { ref: 'W3' }]);
    for (const n of w.nodes) {
      expect(n.db.prepare('SELECT ref FROM workers ORDER BY ref').pluck().all(), n.name).toEqual([w2, 'W3']);
      expect(
        n.db.prepare('SELECT a.ref, w.ref FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.ref').raw().all(),
        n.name,
      ).toEqual(ats.map((a) => [a, w2]));
    }
    expect(await divergence(w, TABLES)).toEqual([]);
  }

  for (const SIDE2 of ['node', 'hub', 'sync'] as const)
    for (const THEN of ['synced', 'pushed', 'idle'] as const)
      for (const LATE of ['none', 'update', 'child'] as const)
        it(`site2 ${SIDE2 === 'sync' ? 'closed it by its sync' : `resolved --rekey ${SIDE2}`}, ${THEN}, then wrote ${LATE} before its next sync: nothing held, every row everywhere, W2 untouched`, async () => {
          const { w, s2, s3, held2 } = await start(true, SIDE2 === 'sync');
          const [held] = s3.syncer.rekeys.list({ status: 'held' });
          expect([held?.tbl, held?.oldKey]).toEqual(['workers', '1']);
          if (SIDE2 !== 'sync') await resolveRekey(s2.syncer, held2, SIDE2);
          if (THEN !== 'idle') await s2.syncer.syncOnce({ pull: THEN === 'synced' });
          expect(await w.hub.query('SELECT id, ref FROM workers')).toEqual([{ id: '1', ref: 'W2' }]);

          // Site3's operator decided about W1, which is gone, and W2 stands under 1: site3's own
          // row moves, W2 (another node's row) stays where it is.
          const ev = await resolveRekey(s3.syncer, held?.id as number, 'hub');
          expect([ev?.moved, ev?.oldKey]).toEqual(['node', '1']);
          expect(await w.hub.query('SELECT ref FROM workers WHERE id = 1')).toEqual([{ ref: 'W2' }]);
          expect(s3.db.prepare('SELECT ref FROM workers WHERE id = ?').pluck().get(Number(ev?.newKey))).toBe('W3');
          if (LATE === 'update') s2.db.prepare("UPDATE workers SET ref = 'W2b' WHERE ref = 'W2'").run();
          if (LATE === 'child') s2.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (2, 'at2 of W2', 1)").run();
          await syncUntilQuiet(w.nodes, 8);
          await expectConverged(w, LATE === 'update' ? 'W2b' : 'W2', LATE === 'child' ? ['at of W2', 'at2 of W2'] : ['at of W2']);
        }, 120_000);

  for (const SIDE2 of ['node', 'hub'] as const)
    it(`site2 resolved --rekey ${SIDE2} (its row up by the resolve, its log entry still pending), site3's row then held with that row and moved it by --rekey hub: site2 follows its own row`, async () => {
      const { w, s2, s3, held2 } = await start(false);
      await resolveRekey(s2.syncer, held2, SIDE2);
      expect(await w.hub.query('SELECT id, ref FROM workers')).toEqual([{ id: '1', ref: 'W2' }]);

      // Site3's own worker under 1 meets W2 itself: held, and its operator moves W2 away.
      s3.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'W3')").run();
      await s3.syncer.syncOnce();
      const [held3] = s3.syncer.rekeys.list({ status: 'held' });
      const ev = await resolveRekey(s3.syncer, held3?.id as number, 'hub');
      expect([ev?.moved, ev?.oldKey]).toEqual(['hub', '1']);
      await syncUntilQuiet(w.nodes, 8);
      await expectConverged(w, 'W2', ['at of W2']);
    }, 120_000);
});
