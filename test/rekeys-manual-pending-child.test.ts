/**
 * SYNC_KEY_COLLISIONS=manual, operator report (issue 11): a child collision left "pending" while its
 * parent's collision was held ("children that follow their parent's decision, settled by the next
 * sync") became "held" once the parent was resolved, waiting for a decision of its own. It now
 * follows the parent's decision: the next sync moves the same side's child to a new id.
 */
import { describe, expect, it } from 'vitest';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { divergence, makeWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
  `CREATE TABLE notes (id INTEGER PRIMARY KEY, attendance_id INTEGER NOT NULL REFERENCES attendance (id) ON DELETE CASCADE,
     body TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  `CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, attendance_id BIGINT NOT NULL, body VARCHAR(80) NULL,
     CONSTRAINT fk_note_att FOREIGN KEY (attendance_id) REFERENCES attendance (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('manual: a pending child follows its parent’s decision', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  for (const side of ['node', 'hub'] as const)
    it(`the parent resolved --rekey ${side}: the next sync moves the ${side}'s child (and grandchild) too, nothing held`, async () => {
      const w = await makeWorld(fx.testHub, fx.dir, {
        prefix: `rkfollow${side}`,
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['a'],
        env: { SYNC_KEY_COLLISIONS: 'manual' },
      });
      try {
        const a = w.node('a');
        a.db.prepare("INSERT INTO workers (badge) VALUES ('node')").run();
        a.db.prepare("INSERT INTO attendance (worker_id, note) VALUES (1, 'node')").run();
        a.db.prepare("INSERT INTO notes (attendance_id, body) VALUES (1, 'node')").run();
        await w.hub.execute("INSERT INTO workers (badge) VALUES ('hub')");
        await w.hub.execute("INSERT INTO attendance (worker_id, note) VALUES (1, 'hub')");
        await w.hub.execute("INSERT INTO notes (attendance_id, body) VALUES (1, 'hub')");
        await syncUntilQuiet(w.nodes);
        const open = a.syncer.rekeys.list({ limit: 10 });
        const parent = open.find((r) => r.tbl === 'workers');
        const child = open.find((r) => r.tbl === 'attendance');
        expect(parent?.status).toBe('held');
        expect(child?.status).toBe('pending');

        await resolveRekey(a.syncer, parent?.id as number, side);
        await syncUntilQuiet(w.nodes);
        // Followed, not held for a decision of its own.
        const after = a.syncer.rekeys.get(child?.id as number);
        expect([after?.status, after?.moved]).toEqual(['done', side]);
        const counts = a.syncer.rekeys.statusCounts();
        expect([counts.held, counts.pending]).toEqual([0, 0]);
        expect(await divergence(w, ['workers', 'attendance', 'notes'])).toEqual([]);
        // Every row once, each on the parent it was written for.
        const chain = `SELECT w.badge, a.note, n.body FROM notes n JOIN attendance a ON a.id = n.attendance_id
          JOIN workers w ON w.id = a.worker_id ORDER BY n.body`;
        const rows = (await w.hub.query(chain)) as { badge: string; note: string; body: string }[];
        expect(rows.map((r) => [r.badge, r.note, r.body])).toEqual([
          ['hub', 'hub', 'hub'],
          ['node', 'node', 'node'],
        ]);
        expect(a.db.prepare(chain).raw().all()).toEqual([
          ['hub', 'hub', 'hub'],
          ['node', 'node', 'node'],
        ]);
      } finally {
        await w.close();
      }
    }, 180_000);
});
