/**
 * N6 (docs/SYNC-CONTRACT.md invariant 11): a pulled child parked because its parent was missing
 * here (SQLite's FOREIGN KEY refused it) is retried as soon as a pull or a push brings that parent,
 * not after its retry delay (up to 10 minutes after four attempts, then only by hand).
 *
 * The hub has no foreign key on the child table (the control room wrote the child first), so the
 * hub holds the child before its parent; the node parks it and counts its attempts.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL) ENGINE=InnoDB',
];

/** The node's parked pull of attendance 1: its attempts and whether its retry is due by the next cycle. */
function parkedChild(n: TestNode): { attempts: number; dueSoon: boolean } | undefined {
  const p = n.syncer.state.parked('pull').find((x) => x.tbl === 'attendance' && x.pk === '1');
  return p && { attempts: p.attempts, dueSoon: p.nextRetryMs !== null && p.nextRetryMs <= Date.now() + 60_000 };
}

describe.skipIf(!HUB_AVAILABLE)('a pulled child parked for its missing parent', () => {
  const fx = syncWorlds({ prefix: 'parkpar', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a', 'b'] });

  for (const by of ['pull', 'push'] as const)
    it(`is applied by the next cycle once a ${by} brings its parent`, async () => {
      const w = await fx.world();
      const a = w.node('a');
      await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 7, 'for w7')");
      await a.syncer.syncOnce();
      // Parked, and retried by hand (`dualdb parked retry`) until its next automatic try is 10 minutes away.
      for (let i = 0; i < 3; i++) {
        a.syncer.state.retryParked();
        await a.syncer.syncOnce();
      }
      expect(parkedChild(a)).toEqual({ attempts: 4, dueSoon: false });
      expect(a.syncer.state.parked('pull')[0]?.error).toContain('(its parent workers 7 is not here)');
      // Another worker arriving does not make it due: it waits for its own.
      await w.hub.execute("INSERT INTO workers (id, name) VALUES (8, 'w8')");
      await a.syncer.syncOnce();
      expect(parkedChild(a)).toEqual({ attempts: 4, dueSoon: false });
      if (by === 'pull') await w.hub.execute("INSERT INTO workers (id, name) VALUES (7, 'w7')");
      else {
        // The parent comes with a push: a's own worker 7 collides with the hub's (rekey-node), and
        // the push places the hub's row here.
        await w.hub.execute("INSERT INTO workers (id, name) VALUES (7, 'w7')");
        a.db.prepare("INSERT INTO workers (id, name) VALUES (7, 'a-own')").run();
        await a.syncer.syncOnce({ pull: false });
        expect(a.db.prepare('SELECT name FROM workers WHERE id = 7').pluck().get()).toBe('w7');
      }
      await a.syncer.syncOnce();
      await a.syncer.syncOnce();
      expect(a.db.prepare('SELECT note FROM attendance WHERE id = 1').pluck().get()).toBe('for w7');
      expect(a.syncer.state.parked()).toEqual([]);
      await w.node('b').syncer.syncOnce();
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    }, 120_000);
});
