/**
 * Invariant 16 across a column one side gains after the other (operator trial: a column re-added
 * on the hub during sync came back NULL on node rows, and a node push could then carry such a
 * NULL over the hub's value). The side that lacked the column holds NULLs that are no values:
 * they never overwrite the other side's values, and they are filled from it.
 */
import { describe, expect, it } from 'vitest';
import { divergence, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, badge TEXT)'];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, badge VARCHAR(20) NULL) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)(
  'invariant 16: a NULL only there because a side lacked the column never overwrites a value',
  () => {
    const fixture = syncWorlds({ prefix: 'readd', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

    for (const policy of ['node-wins', 'hub-wins'] as const) {
      it(`CONFLICT_POLICY=${policy}: dropped and re-added on the hub (NULL there); both sides write meanwhile; the node's values stay`, async () => {
        const w = await fixture.world({ env: { CONFLICT_POLICY: policy } });
        const node = w.node('A');
        const ins = node.db.prepare('INSERT INTO workers (id, name, badge) VALUES (?, ?, ?)');
        for (let i = 1; i <= 3; i++) ins.run(i, `w${i}`, `N-${i}`);
        await node.syncer.syncOnce();

        await w.hub.execute('ALTER TABLE workers DROP COLUMN badge');
        await node.syncer.syncOnce(); // paused: only in SQLite
        await w.hub.execute("UPDATE workers SET name = 'w1 hub' WHERE id = 1");
        node.db.prepare("UPDATE workers SET name = 'w2 node' WHERE id = 2").run();
        await w.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
        await w.hub.execute("UPDATE workers SET badge = 'H-3' WHERE id = 3");
        for (let i = 0; i < 4; i++) await node.syncer.syncOnce();
        node.db.prepare("UPDATE workers SET name = 'w1 node later' WHERE id = 1").run();
        for (let i = 0; i < 2; i++) await node.syncer.syncOnce();

        const rows = (r: { id: unknown; name: string; badge: string | null }[]) => r.map((x) => [Number(x.id), x.name, x.badge]);
        expect(rows(await w.hub.query('SELECT id, name, badge FROM workers ORDER BY id'))).toEqual([
          [1, 'w1 node later', 'N-1'],
          [2, 'w2 node', 'N-2'],
          [3, 'w3', 'H-3'],
        ]);
        expect(await divergence(w, ['workers'])).toEqual([]);
      }, 60_000);

      it(`CONFLICT_POLICY=${policy}: dropped and re-added on the node (NULL here); the node's later pushes keep the hub's values`, async () => {
        const w = await fixture.world({ env: { CONFLICT_POLICY: policy } });
        const node = w.node('A');
        const ins = node.db.prepare('INSERT INTO workers (id, name, badge) VALUES (?, ?, ?)');
        for (let i = 1; i <= 3; i++) ins.run(i, `w${i}`, null);
        await node.syncer.syncOnce();

        node.db.exec('ALTER TABLE workers DROP COLUMN badge');
        await node.syncer.syncOnce(); // paused: only in MySQL
        await w.hub.execute("UPDATE workers SET badge = CONCAT('H-', id)");
        node.db.prepare("UPDATE workers SET name = 'w2 node' WHERE id = 2").run();
        node.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
        for (let i = 0; i < 4; i++) await node.syncer.syncOnce();
        node.db.prepare("UPDATE workers SET name = 'w3 node later' WHERE id = 3").run();
        for (let i = 0; i < 2; i++) await node.syncer.syncOnce();

        const rows = (r: { id: unknown; name: string; badge: string | null }[]) => r.map((x) => [Number(x.id), x.name, x.badge]);
        expect(rows(await w.hub.query('SELECT id, name, badge FROM workers ORDER BY id'))).toEqual([
          [1, 'w1', 'H-1'],
          // Changed on both sides while paused (the hub's badge, the node's name): the policy decides the row.
          [2, policy === 'node-wins' ? 'w2 node' : 'w2', 'H-2'],
          [3, 'w3 node later', 'H-3'],
        ]);
        expect(await divergence(w, ['workers'])).toEqual([]);
      }, 60_000);
    }
  },
);
