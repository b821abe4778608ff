/**
 * Invariant 1 of docs/SYNC-CONTRACT.md (capture everything): writes made by other programs are
 * captured in their own transactions and synced — the `sqlite3` shell (a
 * separate process, with a multi-row transaction, an update, a key change and a
 * delete) on the node, and the `mariadb` client on the hub (the password goes
 * through MYSQL_PWD, never the command line). A second node receives both.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_SQLITE3, sqlite3Shell } from './helpers/node.js';
import { divergence, hubLog, localLog, makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, badge TEXT, shift INTEGER)'];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, badge VARCHAR(20) NULL, shift BIGINT NULL)',
];

const HAVE_TOOLS = HAVE_SQLITE3 && spawnSync('mariadb', ['--version']).status === 0 && HUB_AVAILABLE;

describe.skipIf(!HAVE_TOOLS)('writes by other programs are captured', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'writers',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['A', 'B'],
    });
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  function mariadb(sql: string): string {
    const m = world.mysql;
    const r = spawnSync(
      'mariadb',
      [
        '--default-character-set=utf8mb4',
        '-h127.0.0.1',
        `-P${m.port}`,
        `-u${m.user}`,
        '--batch',
        '--skip-column-names',
        m.database,
        '-e',
        sql,
      ],
      { env: { ...process.env, MYSQL_PWD: m.password }, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`mariadb failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  it('the sqlite3 shell’s writes are captured in its own transactions and reach the hub and the other node', async () => {
    const A = world.node('A');
    const B = world.node('B');
    sqlite3Shell(
      A.config.sqlitePath,
      `BEGIN;
       INSERT INTO workers VALUES (1, 'Ana', 'B-1', 1), (2, 'Bruno', 'B-2', 2), (3, 'Carla 🦺', NULL, 3);
       INSERT INTO workers VALUES (4, 'Davi', 'B-4', 1);
       COMMIT;
       UPDATE workers SET shift = 9 WHERE id = 2;
       UPDATE workers SET id = 40 WHERE id = 4;
       DELETE FROM workers WHERE id = 3;
       BEGIN; INSERT INTO workers VALUES (5, 'rolled back', NULL, NULL); ROLLBACK;`,
    );
    // Captured by the triggers in the shell's transactions: the rolled-back insert left nothing.
    expect(localLog(A.db, 'workers').map((e) => [e.pk, e.op])).toEqual([
      ['1', 'I'],
      ['2', 'I'],
      ['3', 'I'],
      ['4', 'I'],
      ['2', 'U'],
      ['4', 'D'],
      ['40', 'U'],
      ['3', 'D'],
    ]);
    const r = await A.syncer.syncOnce();
    expect(r.push.perTable.get('workers')).toMatchObject({ upserts: 3, parked: 0 });
    const hub = await world.hub.query<{ id: string; name: string; badge: string | null; shift: string }>(
      'SELECT id, name, badge, shift FROM workers ORDER BY id',
    );
    expect(hub).toEqual([
      { id: '1', name: 'Ana', badge: 'B-1', shift: '1' },
      { id: '2', name: 'Bruno', badge: 'B-2', shift: '9' },
      { id: '40', name: 'Davi', badge: 'B-4', shift: '1' },
    ]);
    await B.syncer.syncOnce();
    expect(await divergence(world, ['workers'])).toEqual([]);
  });

  it('the mariadb client’s writes on the hub are captured and reach both nodes', async () => {
    const A = world.node('A');
    const B = world.node('B');
    mariadb(
      `START TRANSACTION;
       INSERT INTO workers VALUES (100, 'Élodie 🚧', 'H-1', 1), (101, 'Fábio', 'H-2', 2), (102, 'Gil', NULL, 3);
       COMMIT;
       UPDATE workers SET badge = 'B-1*' WHERE id = 1;
       UPDATE workers SET id = 400 WHERE id = 40;
       DELETE FROM workers WHERE id = 102;
       START TRANSACTION; INSERT INTO workers VALUES (103, 'rolled back', NULL, NULL); ROLLBACK;`,
    );
    const log = await hubLog(world.hub, 'workers');
    const central = log.filter((e) => e.origin === null).map((e) => [e.pk, e.op]);
    expect(central).toEqual([
      ['100', 'I'],
      ['101', 'I'],
      ['102', 'I'],
      ['1', 'U'],
      ['40', 'D'],
      ['400', 'U'],
      ['102', 'D'],
    ]);
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    for (const n of [A, B]) {
      expect(n.db.prepare('SELECT id, name, badge FROM workers ORDER BY id').all()).toEqual([
        { id: 1n, name: 'Ana', badge: 'B-1*' },
        { id: 2n, name: 'Bruno', badge: 'B-2' },
        { id: 100n, name: 'Élodie 🚧', badge: 'H-1' },
        { id: 101n, name: 'Fábio', badge: 'H-2' },
        { id: 400n, name: 'Davi', badge: 'B-4' },
      ]);
    }
    expect(mariadb('SELECT name FROM workers WHERE id = 100').trim()).toBe('Élodie 🚧');
    expect(await divergence(world, ['workers'])).toEqual([]);
  });
});
