/**
 * docs/SYNC-CONTRACT.md invariant 13, operator trial 2026-12-07 (wip9-r10, manual seed 1102: site3's
 * attendance 291 lost everywhere). Site2 created attendance 291 and deleted it again while the hub
 * was down; its next push sent the delete (the hub had no row under 291 when the push looked, so
 * nothing stood against it). A FOR UPDATE read of an absent key locks nothing under READ
 * COMMITTED: site3's own new row under 291 went up between that lookup and the delete (hub log
 * #1384, then #1411), and the blind delete removed it. A delete decided for a key the hub held no
 * row under is a no-op by the decision's own facts: it is not sent, so it never lands on a row
 * another node put there meanwhile.
 */
import { describe, expect, it } from 'vitest';
import type { KeyCollisionMode } from '../src/config/schema.js';
import { pushWith } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     ref TEXT NOT NULL UNIQUE)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, ref VARCHAR(40) NOT NULL UNIQUE,
     CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const TABLES = ['workers', 'attendance'];
const MODES: KeyCollisionMode[] = ['manual', 'rekey-hub', 'rekey-node'];

describe.skipIf(!HUB_AVAILABLE)(
  'a delete of a row never pushed, another node’s row arriving under the key meanwhile (trial 1102, attendance 291)',
  () => {
    const worlds = syncWorlds({ prefix: 'delabs', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['B', 'C'] });

    for (const mode of MODES)
      it(`${mode}: C's row under the key goes up between B's lookup and B's delete; C's row stays everywhere`, async () => {
        const w = await worlds.world({ env: { SYNC_KEY_COLLISIONS: mode } });
        const b = w.node('B').db;
        const c = w.node('C').db;
        c.prepare("INSERT INTO workers (id, ref) VALUES (1, 'w-C1')").run();
        c.prepare("INSERT INTO workers (id, ref) VALUES (2, 'w-C2')").run();
        await syncUntilQuiet(w.nodes, 8);
        // B: its own attendance under 5, created and deleted before any push (the hub was down).
        b.prepare("INSERT INTO attendance (id, worker_id, ref) VALUES (5, 1, 'a-B')").run();
        b.prepare('DELETE FROM attendance WHERE id = 5').run();
        // C: its own attendance under 5 (another parent), not pushed yet.
        c.prepare("INSERT INTO attendance (id, worker_id, ref) VALUES (5, 2, 'a-C')").run();
        // B's push looked the key up (no row: nothing locked); C's push puts its row there now.
        let raced = false;
        await pushWith(w, 'B', /^DELETE FROM `attendance`/, async () => {
          raced = true;
          await w.node('C').syncer.syncOnce({ pull: false });
        });
        // Not sent (below), the delete gave C no moment to race it: C pushes now.
        if (!raced) await w.node('C').syncer.syncOnce({ pull: false });
        await syncUntilQuiet(w.nodes, 8);
        expect(await divergence(w, TABLES)).toEqual([]);
        expect(await w.hub.query('SELECT ref FROM attendance')).toEqual([{ ref: 'a-C' }]);
        expect(c.prepare('SELECT ref FROM attendance').all()).toEqual([{ ref: 'a-C' }]);
        // The delete had nothing to delete when decided: it is not sent (without the fix it is, and takes C's row).
        expect(raced).toBe(false);
      }, 120_000);
  },
);
