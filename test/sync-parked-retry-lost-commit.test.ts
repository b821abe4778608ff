/**
 * Operator trial trial-manual-2026-12-07T19-00-42-786Z (manual collisions): site2's notification 39
 * never reached the hub. It was parked, waiting for its alert 51 held apart by a key collision; a
 * pull applied another node's delete of the alert's detection, whose cascade took the alert here and
 * nulled the notification's alert_id (an ON DELETE action, not logged). The next push sent the
 * parked notification — and the hub was SIGKILLed before its COMMIT landed. The push records its node
 * half (push-record.ts recordOnNode) before the hub COMMIT, and that record unparked the retry:
 * with the COMMIT lost, the hub never had the row, its log entry was long below the push cursor,
 * and its parked entry was gone — nothing left to send it again. Later the key was taken here by
 * another node's row, written over it as if this node had nothing under it.
 */
import { describe, expect, it } from 'vitest';
import { loseHubCommit } from './helpers/lost-commit.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE dets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, det_id INTEGER REFERENCES dets(id) ON DELETE CASCADE)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, name TEXT NOT NULL, alert_id INTEGER REFERENCES alerts(id) ON DELETE SET NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE dets (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL, det_id BIGINT NULL, FOREIGN KEY (det_id) REFERENCES dets(id) ON DELETE CASCADE) ENGINE=InnoDB',
  'CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL, alert_id BIGINT NULL, FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE SET NULL) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('a parked push retry whose hub COMMIT is lost', () => {
  const fixture = syncWorlds({
    prefix: 'parkedlost',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'manual' },
  });

  it('is sent again by the next push: the notification reaches the hub (alert_id NULL) and every node', async () => {
    await scenario(false);
  }, 120_000);

  // The trial's sequel: the key taken on the hub by another node's row before this node pushed again.
  it('its key then taken on the hub by another node: a collision held apart, not the other row written over it', async () => {
    await scenario(true);
  }, 120_000);

  // The other side of the fix: the parked retry stays parked until the COMMIT is known, so a COMMIT
  // that went through with its answer lost sends it once more — harmless, the hub has it as it is.
  it('a COMMIT that went through, its answer lost: sent once more, the notification once on every side, nothing parked', async () => {
    await scenario(false, true);
  }, 120_000);

  async function scenario(taken: boolean, landed = false): Promise<void> {
    const w = await fixture.world();
    const [a, b] = ['a', 'b'].map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    // a's push loses the COMMIT that sends the notification, once armed.
    const lost = await loseHubCommit(a.syncer, {
      server: landed ? 'commit' : 'rollback',
      armed: false,
      when: async (conn) => ((await conn.query("SELECT 1 FROM notes WHERE name = 'a-n'"))[0] as unknown[]).length > 0,
    });
    b.db.prepare("INSERT INTO dets (id, name) VALUES (1, 'b-d')").run();
    b.db.prepare("INSERT INTO alerts (id, name, det_id) VALUES (1, 'b-a', 1)").run();
    await b.syncer.syncOnce();
    // a's alert 1 collides with b's (held apart, manual); its notification parks, waiting for it.
    a.db.prepare("INSERT INTO dets (id, name) VALUES (2, 'a-d')").run();
    a.db.prepare("INSERT INTO alerts (id, name, det_id) VALUES (1, 'a-a', 2)").run();
    a.db.prepare("INSERT INTO notes (id, name, alert_id) VALUES (1, 'a-n', 1)").run();
    await a.syncer.syncOnce();
    await a.syncer.syncOnce();
    expect(a.db.prepare("SELECT count(*) FROM _dualdb_parked WHERE direction = 'push' AND tbl = 'notes'").pluck().get()).toBe(1n);
    // b deletes a's detection; a's pull cascades it to a's alert 1 and nulls the notification's alert_id.
    await b.syncer.syncOnce();
    b.db.prepare('DELETE FROM dets WHERE id = 2').run();
    await b.syncer.syncOnce();
    await a.syncer.syncOnce({ push: false });
    expect(a.db.prepare("SELECT alert_id FROM notes WHERE name = 'a-n'").get()).toEqual({ alert_id: null });
    // a's next push sends the parked notification; the hub dies before its COMMIT lands (rolled back).
    lost.armed = true;
    await a.syncer.syncOnce({ pull: false }).catch(() => {});
    expect(lost.lost).toBe(1);
    expect(await w.hub.query("SELECT id FROM notes WHERE name = 'a-n'")).toEqual(landed ? [{ id: '1' }] : []);
    if (taken) {
      b.db.prepare("INSERT INTO notes (id, name, alert_id) VALUES (1, 'b-n', NULL)").run();
      await b.syncer.syncOnce();
      for (let i = 0; i < 3; i++) await a.syncer.syncOnce();
      // a's notification stays under its key, held apart from b's (manual), until `dualdb rekeys resolve`.
      expect(a.db.prepare('SELECT name FROM notes WHERE id = 1').pluck().get()).toBe('a-n');
      expect(a.syncer.rekeys.list({ status: 'held', limit: 10 }).map((r) => [r.tbl, r.oldKey])).toContainEqual(['notes', '1']);
      return;
    }
    await syncUntilQuiet(w.nodes, 8).catch(() => {});
    expect(await w.hub.query('SELECT name, alert_id FROM notes')).toEqual([{ name: 'a-n', alert_id: null }]);
    // a's held alert 1, taken by the cascade, closed: b's alert 1 came to a (sync-collisions-held-cascade-gone).
    expect(await divergence(w, ['dets', 'alerts', 'notes'])).toEqual([]);
    for (const n of w.nodes)
      expect(n.db.prepare('SELECT name, alert_id FROM notes').all()).toEqual([{ name: 'a-n', alert_id: null }]);
    expect(a.db.prepare("SELECT count(*) FROM _dualdb_parked WHERE tbl = 'notes'").pluck().get()).toBe(0n);
    expect(a.db.prepare("SELECT count(*) FROM _dualdb_conflicts WHERE tbl = 'notes'").pluck().get()).toBe(0n);
  }
});
