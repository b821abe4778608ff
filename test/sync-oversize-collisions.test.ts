/**
 * Invariant 13 across a parked (oversize) insert, "Repro A" of an operator trial: the node's new
 * worker is parked because a value is too long for the hub's column (invariant 16) while the hub
 * inserts its own worker under the same generated id plus a child of it. The hub's child must
 * never attach to the node's worker: two workers, each with its own children on every side; the
 * node's worker stays parked with its cause until the operator fixes it, then arrives under a
 * fresh key with its children following. In each SYNC_KEY_COLLISIONS mode.
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, type SyncWorld, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, site TEXT)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers(id) ON DELETE CASCADE,
     label TEXT NOT NULL)`,
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers(id) ON DELETE SET NULL, label TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, site VARCHAR(10) NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NULL, label VARCHAR(40) NOT NULL,
     FOREIGN KEY (worker_id) REFERENCES workers(id) ON DELETE CASCADE) ENGINE=InnoDB`,
  `CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NULL, label VARCHAR(40) NOT NULL,
     FOREIGN KEY (worker_id) REFERENCES workers(id) ON DELETE SET NULL) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance', 'detections'];
const PAIRS = (t: string) => `SELECT c.label, w.name FROM ${t} c LEFT JOIN workers w ON w.id = c.worker_id ORDER BY c.label`;

function localPairs(node: TestNode, t: string): { label: string; name: string | null }[] {
  return node.db.prepare(PAIRS(t)).all() as { label: string; name: string | null }[];
}

async function syncTimes(node: TestNode, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await node.syncer.syncOnce();
}

const OWN: Record<string, string> = { 'hub a': 'hub w', 'hub d': 'hub w', 'node a': 'node w', 'node d': 'shared' };

/**
 * Every child points at the worker it was written for, on the hub and on the node. The node's
 * detection names the shared worker: it travels at once, unless (manual) its own id collides.
 * Before the fix, only the hub's children are sure to be on the hub; the node may not hold them yet
 * (they wait for their parent), but nothing is ever mispointed.
 */
async function expectOwnParents(w: SyncWorld, node: TestNode, all: boolean): Promise<void> {
  for (const t of ['attendance', 'detections']) {
    const hub = await w.hub.query<{ label: string; name: string | null }>(PAIRS(t));
    const labels = hub.map((p) => p.label);
    if (all) expect(labels).toEqual(t === 'attendance' ? ['hub a', 'node a'] : ['hub d', 'node d']);
    else expect(labels).toContain(t === 'attendance' ? 'hub a' : 'hub d');
    if (!all) expect(labels).not.toContain('node a'); // its worker is not on the hub
    for (const p of [...hub, ...localPairs(node, t)]) expect(`${p.label} -> ${p.name}`).toBe(`${p.label} -> ${OWN[p.label]}`);
  }
}

describe.skipIf(!HUB_AVAILABLE)("invariant 13: the hub's child never attaches to the node's parked (oversize) row", () => {
  const fixture = syncWorlds({ prefix: 'ocol', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  const cases = (['rekey-node', 'rekey-hub', 'manual'] as KeyCollisionMode[]).flatMap((mode) =>
    (['parked first', 'hub first'] as const).map((order) => ({ mode, order })),
  );
  for (const { mode, order } of cases) {
    it(`SYNC_KEY_COLLISIONS=${mode}, ${order}: two workers under one id, each keeps its children; the parked one arrives when fixed`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: mode } });
      const node = w.node('A');
      node.db.prepare("INSERT INTO workers (name) VALUES ('shared')").run();
      await node.syncer.syncOnce();

      // The node's new worker (id 2) is too long for the hub's site column: parked with its cause.
      node.db.prepare("INSERT INTO workers (name, site) VALUES ('node w', ?)").run('x'.repeat(30));
      node.db.prepare("INSERT INTO attendance (worker_id, label) VALUES (2, 'node a')").run();
      node.db.prepare("INSERT INTO detections (worker_id, label) VALUES (1, 'node d')").run();
      // 'parked first': the node's push parks the worker before the hub writes; 'hub first': the hub
      // holds its worker under id 2 when the push arrives (a collision that cannot be moved up).
      if (order === 'parked first') {
        await syncTimes(node, 2);
        expect(node.syncer.state.parked('push').find((p) => p.tbl === 'workers' && p.pk === '2')?.error).toMatch(/too long/i);
      }
      const parkedWorker = () => node.syncer.state.parked('push').find((p) => p.tbl === 'workers' && p.pk === '2');

      // The control room: its own worker, id 2 too, with an attendance and a detection of it.
      await w.hub.execute("INSERT INTO workers (name) VALUES ('hub w')");
      await w.hub.execute("INSERT INTO attendance (worker_id, label) VALUES (2, 'hub a')");
      await w.hub.execute("INSERT INTO detections (worker_id, label) VALUES (2, 'hub d')");
      await syncTimes(node, 3);

      // Still parked, cause kept (or, manual, held apart for `rekeys resolve`); nothing re-pointed; no conflict.
      const held = node.syncer.rekeys.list({ status: 'held' }).some((r) => r.tbl === 'workers' && r.oldKey === '2');
      if (!(mode === 'manual' && held)) expect(parkedWorker()?.error).toMatch(/too long/i);
      expect(node.db.prepare("SELECT name FROM workers WHERE name = 'node w'").all().length).toBe(1);
      await expectOwnParents(w, node, false);
      expect(node.syncer.state.conflicts()).toEqual([]);

      // `parked` tells the refused row (fix, retry) from its children (they follow by themselves).
      const env = envOf(node.config);
      if (order === 'parked first') {
        const listed = runCli(['parked'], env).stdout;
        expect(listed).toMatch(/Fix the cause, then `dualdb parked retry`/);
        expect(listed).toMatch(/waits for its parent row workers 2, parked on its way to the hub/);
        expect(listed).toMatch(/Waiting for their parent row/);
      }

      // The operator's fix: the column widened on the hub, the parked change retried (CLI).
      await w.hub.execute('ALTER TABLE workers MODIFY site VARCHAR(80) NULL');
      await node.syncer.close();
      expect(runCli(['parked', 'retry'], env).code).toBe(0);
      const { Syncer } = await import('../src/sync/syncer.js');
      node.syncer = Syncer.open(node.config, { planTtlMs: 0 });
      node.db = node.syncer.db;
      await syncTimes(node, 4);
      if (mode === 'manual') {
        for (let round = 0; round < 4; round++) {
          const held = node.syncer.rekeys
            .list({ status: 'held' })
            .sort((a, b) => (a.tbl === 'workers' ? -1 : b.tbl === 'workers' ? 1 : 0));
          if (held.length === 0) break;
          for (const r of held) {
            try {
              await resolveRekey(node.syncer, r.id, 'node');
            } catch (e) {
              if ((e as { code?: string }).code !== 'REKEY_PARENT_HELD') throw e;
            }
          }
          await syncTimes(node, 3);
        }
        expect(node.syncer.rekeys.list({ status: 'held' })).toEqual([]);
      }

      expect(await divergence(w, TABLES)).toEqual([]);
      expect(node.syncer.state.parked()).toEqual([]);
      await expectOwnParents(w, node, true);
      expect(localPairs(node, 'attendance')).toEqual(await w.hub.query(PAIRS('attendance')));
      expect(localPairs(node, 'detections')).toEqual(await w.hub.query(PAIRS('detections')));
      const [n] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM workers');
      expect(Number(n?.n)).toBe(3);
      expect(node.syncer.state.conflicts()).toEqual([]);
      expect(node.syncer.rekeys.list({ status: 'done' }).some((r) => r.tbl === 'workers' && r.oldKey === '2')).toBe(true);
    }, 120_000);
  }
});
