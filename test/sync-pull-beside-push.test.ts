/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 2026-12-07 (wip9-r10, manual seed 1102: three
 * of site2's own alerts gone from site2 only, their notifications' alert_id NULL on every side).
 *
 * `dualdb rekeys resolve --all` syncs between its rounds in its own process, beside the site's
 * watcher, on the same SQLite file. B's alert under K went up (the hub had none under K any more:
 * A's insert and delete of K) by one of them while the other's pull, whose hub snapshot was read
 * before that push, applied: the pull found no unpushed change of K here any more and the hub
 * "without a row" under K, and deleted B's row here (its notification's ON DELETE SET NULL with
 * it), while the hub and the other nodes kept it. A pull whose hub read is older than a push
 * committed meanwhile by another process reads its batch again (PullRaceError).
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { PullRaceError, pullBatch } from '../src/sync/pull.js';
import { Syncer } from '../src/sync/syncer.js';
import { observeHub } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)',
  `CREATE TABLE notifications (id INTEGER PRIMARY KEY, alert_id INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
     text TEXT NOT NULL UNIQUE)`,
];
const MYSQL_DDL = [
  'CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE notifications (id BIGINT AUTO_INCREMENT PRIMARY KEY, alert_id BIGINT NULL, text VARCHAR(80) NOT NULL UNIQUE,
     CONSTRAINT fk_notif_alert FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL) ENGINE=InnoDB`,
];

const MODES: KeyCollisionMode[] = ['manual', 'rekey-hub', 'rekey-node'];

describe.skipIf(!HUB_AVAILABLE)('a pull beside another process’s push on the same file (trial 1102)', () => {
  const fixture = syncWorlds({ prefix: 'pullbeside', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a', 'b'] });

  for (const mode of MODES)
    it(`${mode}: B's alert pushed by the other process after the pull's hub read; the pull reads again, B's alert and its notification stay`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: mode } });
      const a = w.node('a');
      const b = w.node('b');
      // B, offline: its own alert under 1, with a notification.
      b.db.prepare("INSERT INTO alerts (id, name) VALUES (1, 'b-alert')").run();
      b.db.prepare("INSERT INTO notifications (id, alert_id, text) VALUES (10, 1, 'of b-alert')").run();
      // A: its own alert under 1, pushed, deleted, pushed: the hub has no row under 1.
      a.db.prepare("INSERT INTO alerts (id, name) VALUES (1, 'a-alert')").run();
      await a.syncer.syncOnce();
      a.db.prepare('DELETE FROM alerts WHERE id = 1').run();
      await a.syncer.syncOnce();
      // The operator's `rekeys resolve --all` process (its round's sync), beside B's watcher.
      const other = Syncer.open(b.config, { planTtlMs: 0 });
      try {
        let pushed = false;
        const raced = await b.syncer.withContext((ctx) => {
          const hub = observeHub(ctx.hub, async (sql) => {
            // The pull's hub read is done (its snapshot: no row under 1); the other process pushes now.
            if (!pushed && sql === 'COMMIT') {
              pushed = true;
              await other.syncOnce({ pull: false });
            }
          });
          return pullBatch({ ...ctx, hub }).then(
            () => undefined,
            (e: unknown) => e,
          );
        });
        expect(pushed).toBe(true);
        expect(raced).toBeInstanceOf(PullRaceError);
      } finally {
        await other.close();
      }
      expect(await w.hub.query('SELECT name FROM alerts')).toEqual([{ name: 'b-alert' }]);
      // B's row is still here, its notification still under it.
      expect(
        b.db.prepare("SELECT n.text FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.name = 'b-alert'").all(),
      ).toEqual([{ text: 'of b-alert' }]);
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['alerts', 'notifications'])).toEqual([]);
      const got = await w.hub.query<{ text: string; name: string | null }>(
        'SELECT n.text, a.name FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.text',
      );
      expect(got.map((r) => `${r.text} → ${r.name}`)).toEqual(['of b-alert → b-alert']);
    }, 120_000);
});
