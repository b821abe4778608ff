/**
 * A pull batch that holds a hub move (another node's rekey-hub collision moved a row this node
 * pulled before) and a child row whose parent exists nowhere: a control-room script wrote it on the
 * hub with `SET foreign_key_checks = 0`. Applying the move defers SQLite's foreign key checks to the
 * COMMIT (children repointed before their parent); left so for the rest of the batch, the orphan did
 * not fail alone but failed the COMMIT ("FOREIGN KEY constraint failed"), the whole pull rolled back
 * and every later pull met it again: the stream stalled. The orphan must be parked with its error
 * and the other rows land (docs/SYNC-CONTRACT.md invariants 7, 11 and 13).
 */
import { describe, expect, it } from 'vitest';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, worker_id INTEGER REFERENCES workers (id), what TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NULL, what VARCHAR(80) NOT NULL,
     CONSTRAINT fk_det_worker FOREIGN KEY (worker_id) REFERENCES workers (id)) ENGINE=InnoDB`,
];

describe.skipIf(!HUB_AVAILABLE)('pull: a hub move and an orphan child in one batch', () => {
  const fixture = syncWorlds({
    prefix: 'fkmove',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'rekey-hub' },
  });

  it('parks the orphan with its error, applies the move and the other rows', async () => {
    const w = await fixture.world();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => w.node(n));
    if (!a || !b || !c) throw new Error('nodes');
    // a's worker 1 and its detection reach the hub, and b.
    a.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'ana')").run();
    a.db.prepare("INSERT INTO detections (id, worker_id, what) VALUES (1, 1, 'helmet')").run();
    await a.syncer.syncOnce();
    await b.syncer.syncOnce();
    expect(b.db.prepare('SELECT worker_id FROM detections WHERE id = 1').get()).toEqual({ worker_id: 1n });

    // c, which never pulled, creates its own worker 1: a collision; rekey-hub moves the hub's row (a's) on.
    c.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'carla')").run();
    await c.syncer.syncOnce({ pull: false });
    const moved = await w.hub.query<{ id: string }>("SELECT id FROM workers WHERE name = 'ana'");
    expect(moved.map((r) => r.id)).not.toEqual(['1']);
    const anaKey = BigInt(moved[0]?.id ?? 0);

    // The control room: checks off, a detection naming a worker that exists nowhere; and a good one.
    const conn = await w.hub.pool.getConnection();
    try {
      await conn.query('SET SESSION foreign_key_checks = 0');
      await conn.query("INSERT INTO detections (id, worker_id, what) VALUES (50, 999, 'orphan')");
      await conn.query('SET SESSION foreign_key_checks = 1');
      await conn.query("INSERT INTO detections (id, worker_id, what) VALUES (51, 1, 'vest')");
    } finally {
      conn.release();
    }

    // b's pull: the move (its ana 1 → anaKey, detection 1 along), carla 1, the orphan, the good row.
    const r = await b.syncer.pull();
    expect(r.parked).toBe(1);
    const parked = b.syncer.state.parked();
    expect(parked.map((p) => [p.direction, p.tbl, p.pk])).toEqual([['pull', 'detections', '50']]);
    expect(parked[0]?.error).toMatch(/FOREIGN KEY|parent|workers/i);
    expect(b.db.prepare('SELECT id, name FROM workers ORDER BY id').all()).toEqual([
      { id: 1n, name: 'carla' },
      { id: anaKey, name: 'ana' },
    ]);
    expect(b.db.prepare('SELECT id, worker_id FROM detections ORDER BY id').all()).toEqual([
      { id: 1n, worker_id: anaKey },
      { id: 51n, worker_id: 1n },
    ]);
    // The stream flows on past the parked orphan.
    await w.hub.execute("INSERT INTO detections (id, worker_id, what) VALUES (52, 1, 'boots')");
    await b.syncer.pull();
    expect(b.db.prepare('SELECT count(*) AS n FROM detections WHERE id = 52').get()).toEqual({ n: 1n });
    expect(b.db.pragma('foreign_key_check')).toEqual([]);
  }, 120_000);
});
