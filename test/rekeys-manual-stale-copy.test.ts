/**
 * Operator trial 6 on the merged code (2026-12-07 03:37, `manual`, seed 901): site2 kept 8
 * unsettled copies (`_dualdb_hub_moves.local_key` set) although the row under each hub key there
 * was already the hub's row and the row under each local key the one the hub has there; the hub
 * rows referencing those keys (34 attendance rows) waited on the pull side for good ("waits for its
 * parent row, one of two rows created under the same key").
 *
 * The path: `rekeys resolve` (its own process, beside `sync --watch` on the same file) learns the
 * hub's moves first (hub-moves.ts `learnHubMoves`): it reads the pull cursor, then the R entries
 * after it. The sync process's pull passed the same R meanwhile (the copy moved to the new key, the
 * other node's row written under the old one, the move's entry forgotten once pulled past), and the
 * resolve applied the R a second time, on rows already in place: the other node's row under the old
 * key taken for the copy, the new key "taken" (by the copy itself), an unsettled entry that nothing
 * settles. Now a move the pull has passed is not applied again, and an unsettled entry whose two
 * keys hold here what the hub holds there, nothing unpushed under them, is forgotten (its waiting
 * children woken).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MysqlHub } from '../src/engines/mysql/connect.js';
import { learnHubMoves } from '../src/sync/hub-moves.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { Syncer } from '../src/sync/syncer.js';
import { interceptHub } from './helpers/intercept-hub.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE)',
  'CREATE TABLE attendance (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, worker_id INTEGER REFERENCES workers (id) ON DELETE CASCADE)',
];
const MYSQL_DDL = [
  `CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL,
     CONSTRAINT uq_workers_ref UNIQUE (ref)) ENGINE=InnoDB`,
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, worker_id BIGINT NULL,
     CONSTRAINT fk_at_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];
const R_READ = /op = 'R'/;

describe.skipIf(!HUB_AVAILABLE)('manual: an unsettled copy already in place (trial 6, seed 901)', () => {
  const fx = syncWorlds({
    prefix: 't6stale',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['site1', 'site2', 'site3'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });

  /** Site2's `rekeys resolve` process: a Syncer of its own on site2's file, its hub hooked. */
  function resolveProcess(s2: TestNode): Syncer {
    const s = Syncer.open(s2.config, { planTtlMs: 0 });
    open.push(s);
    return s;
  }

  async function withHook<T>(syncer: Syncer, hook: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    const s = syncer as unknown as { hub: MysqlHub };
    const hub = await syncer.connectHub();
    s.hub = interceptHub(hub, R_READ, hook);
    try {
      return await fn();
    } finally {
      s.hub = hub;
    }
  }

  /**
   * Site3's worker X under 1 on every side; site2's own worker under 10 held against the control
   * room's; site1's own S1 under 1 held against X, resolved `--rekey hub` (X 1 → 11 on the hub, S1
   * into 1), an attendance row of each (S1's by site1, X's by the control room).
   */
  async function start(): Promise<{ w: SyncWorld; s1: TestNode; s2: TestNode; s3: TestNode; held2: number }> {
    const w = await fx.world();
    open.push(w);
    const [s1, s2, s3] = ['site1', 'site2', 'site3'].map((n) => w.node(n));
    if (!s1 || !s2 || !s3) throw new Error('nodes');
    s3.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'X')").run();
    await s3.syncer.syncOnce();
    await w.hub.execute("INSERT INTO workers (id, ref) VALUES (10, 'H10')");
    s2.db.prepare("INSERT INTO workers (id, ref) VALUES (10, 'N10')").run();
    await s2.syncer.syncOnce();
    await s2.syncer.syncOnce();
    expect(s2.syncer.rekeys.list({ status: 'held' }).map((r) => [r.tbl, r.oldKey])).toEqual([['workers', '10']]);
    expect(s2.db.prepare('SELECT ref FROM workers WHERE id = 1').pluck().get()).toBe('X');
    s1.db.prepare("INSERT INTO workers (id, ref) VALUES (1, 'S1')").run();
    await s1.syncer.syncOnce();
    const [held1] = s1.syncer.rekeys.list({ status: 'held' });
    expect([held1?.tbl, held1?.oldKey]).toEqual(['workers', '1']);
    const ev = await resolveRekey(s1.syncer, held1?.id as number, 'hub');
    expect([ev?.moved, ev?.oldKey]).toEqual(['hub', '1']);
    const xKey = Number(ev?.newKey);
    expect(await w.hub.query('SELECT id, ref FROM workers WHERE id IN (1, ?) ORDER BY id', [xKey])).toEqual([
      { id: '1', ref: 'S1' },
      { id: String(xKey), ref: 'X' },
    ]);
    s1.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (1, 'at-S1', 1)").run();
    await s1.syncer.syncOnce();
    await w.hub.execute("INSERT INTO attendance (id, ref, worker_id) VALUES (100, 'at-X', ?)", [xKey]);
    return { w, s1, s2, s3, held2: s2.syncer.rekeys.list({ status: 'held' })[0]?.id as number };
  }

  async function expectConverged(w: SyncWorld, s2: TestNode, ats: string[]) {
    await syncUntilQuiet(w.nodes, 8);
    for (const n of w.nodes) {
      expect(
        n.syncer.state.parked().map((p) => [p.tbl, p.pk, p.error]),
        n.name,
      ).toEqual([]);
      expect(
        n.db.prepare('SELECT a.ref, w.ref FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.ref').raw().all(),
        n.name,
      ).toEqual(ats.map((a) => [a, a.startsWith('at-S1') ? 'S1' : 'X']));
      expect(
        n.db.prepare('SELECT tbl, hub_key, local_key FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').all(),
        n.name,
      ).toEqual([]);
    }
    expect(s2.syncer.rekeys.list({ status: 'held' })).toEqual([]);
    expect(await divergence(w, TABLES)).toEqual([]);
  }

  for (const SIDE of ['node', 'hub'] as const)
    it(`site2's resolve --rekey ${SIDE} learns the hub's move after its sync pulled past it: nothing left unsettled, every attendance row on every side`, async () => {
      const { w, s1, s2, held2 } = await start();
      // Site2's operator resolves its own collision (10) while its `sync --watch` pulls: the
      // resolve has read the pull cursor, its read of the hub's moves goes out after the pull.
      const resolver = resolveProcess(s2);
      await withHook(
        resolver,
        async () => {
          await s2.syncer.syncOnce({ push: false });
        },
        () => resolveRekey(resolver, held2, SIDE),
      );
      // The move the pull applied and passed is not applied again (nothing recorded for it).
      expect(s2.db.prepare('SELECT seq, hub_key, local_key FROM _dualdb_hub_moves').all()).toEqual([]);
      // New children of both workers, written on the hub side: site2's pull must attach them.
      s1.db.prepare("INSERT INTO attendance (id, ref, worker_id) VALUES (2, 'at-S1b', 1)").run();
      await s1.syncer.syncOnce();
      await w.hub.execute("INSERT INTO attendance (id, ref, worker_id) SELECT 101, 'at-Xb', id FROM workers WHERE ref = 'X'");
      await expectConverged(w, s2, ['at-S1', 'at-S1b', 'at-X', 'at-Xb']);
    }, 120_000);

  it('a stale unsettled entry left by an earlier version (its two keys already hold the hub’s rows) is forgotten, its waiting children woken', async () => {
    const { w, s2, held2 } = await start();
    // Site2 pulls: the move applies once, correctly (the copy moved, S1 under 1).
    await s2.syncer.syncOnce({ push: false });
    const r = s2.db.prepare("SELECT seq, hub_key FROM _dualdb_hub_moves WHERE tbl = 'workers'").all() as {
      seq: bigint;
      hub_key: string;
    }[];
    // The state the trial left (as an earlier version wrote it): the applied move recorded again,
    // unsettled, with the other node's row under its old key.
    const xKey = (await w.hub.query<{ id: string }>("SELECT id FROM workers WHERE ref = 'X'"))[0]?.id as string;
    s2.db
      .prepare("INSERT OR REPLACE INTO _dualdb_hub_moves (seq, tbl, hub_key, local_key) VALUES (?, 'workers', ?, '1')")
      .run(r[0]?.seq ?? 999_999n, xKey);
    expect(s2.db.prepare('SELECT ref FROM workers WHERE id = 1').pluck().get()).toBe('S1');
    expect(s2.db.prepare('SELECT ref FROM workers WHERE id = ?').pluck().get(Number(xKey))).toBe('X');
    // A child of S1 arriving now waits for its parent as long as the entry stands.
    await w.hub.execute("INSERT INTO attendance (id, ref, worker_id) VALUES (102, 'at-S1b', 1)");
    await s2.syncer.syncOnce({ push: false });
    await s2.syncer.withContext((ctx) => learnHubMoves(ctx));
    await syncUntilQuiet(w.nodes, 8);
    for (const n of w.nodes) {
      expect(n.db.prepare('SELECT ref FROM attendance ORDER BY ref').pluck().all(), n.name).toEqual(['at-S1', 'at-S1b', 'at-X']);
      expect(n.syncer.state.parked(), n.name).toEqual([]);
      expect(n.db.prepare('SELECT count(*) FROM _dualdb_hub_moves WHERE local_key IS NOT NULL').pluck().get(), n.name).toBe(0n);
    }
    // Site2's own collision (10), left held so far, resolved: every side agrees.
    await resolveRekey(s2.syncer, held2, 'node');
    await syncUntilQuiet(w.nodes, 8);
    expect(await divergence(w, TABLES)).toEqual([]);
  }, 120_000);
});
