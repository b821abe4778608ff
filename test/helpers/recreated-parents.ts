/**
 * Operator trial 5 on merged main (P2): a parent deleted and created again under the same key on the
 * hub, not pulled yet by the node whose collision places a child of the new parent here. Shared by
 * the push's test (test/sync-collisions-placed-parent.test.ts) and the resolve's
 * (test/rekeys-manual-resolve-guards.test.ts).
 */
import { expect } from 'vitest';
import type { TestNode } from './sync.js';

export const SQLITE_DDL = [
  'CREATE TABLE detections (id INTEGER PRIMARY KEY, ref TEXT NOT NULL)',
  'CREATE TABLE alerts (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, detection_id INTEGER REFERENCES detections (id) ON DELETE CASCADE)',
  'CREATE TABLE notifications (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, alert_id INTEGER REFERENCES alerts (id) ON DELETE SET NULL)',
];
export const MYSQL_DDL = [
  'CREATE TABLE detections (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE alerts (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, detection_id BIGINT NULL,
     CONSTRAINT fk_al_det FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE CASCADE) ENGINE=InnoDB`,
  `CREATE TABLE notifications (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL, alert_id BIGINT NULL,
     CONSTRAINT fk_no_al FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL) ENGINE=InnoDB`,
];
export const TABLES = ['detections', 'alerts', 'notifications'];
/** Each notification with its alert's text. */
export const NOTIFICATION_ALERTS =
  'SELECT n.ref, a.ref AS alert FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.ref';

/**
 * Site2 pushes detection 1 with alert 1, site1 pulls them; site2 deletes the detection (its alert by
 * cascade) and writes a new detection, alert and notification under the freed ids 1, and pushes them.
 * Then site1 writes its own notification 1 and pushes it before it pulls: a collision on it.
 */
export async function collideUnderRecreatedParents(s1: TestNode, s2: TestNode): Promise<void> {
  s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'd-old')").run();
  s2.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'a-old', 1)").run();
  await s2.syncer.syncOnce();
  await s1.syncer.syncOnce();
  expect(s1.db.prepare('SELECT ref FROM alerts WHERE id = 1').pluck().get()).toBe('a-old');
  s2.db.prepare('DELETE FROM detections WHERE id = 1').run();
  s2.db.prepare("INSERT INTO detections (id, ref) VALUES (1, 'd-new')").run();
  s2.db.prepare("INSERT INTO alerts (id, ref, detection_id) VALUES (1, 'a-new', 1)").run();
  s2.db.prepare("INSERT INTO notifications (id, ref, alert_id) VALUES (1, 'n-site2', 1)").run();
  await s2.syncer.syncOnce({ pull: false });
  s1.db.prepare("INSERT INTO notifications (id, ref, alert_id) VALUES (1, 'n-site1', NULL)").run();
  await s1.syncer.syncOnce({ pull: false });
}
