/**
 * Issue 12 item 2 (docs/SYNC-CONTRACT.md invariant 11): one row larger than the hub accepts per
 * statement (a 20 MB BLOB, max_allowed_packet 16 MB) never stops the rows behind it. The 100
 * rows arrive, the big row is parked with its cause, and `status` / `health` show it. A large
 * row within the limits still travels both ways, and repair parks what cannot fit.
 */
import { describe, expect, it } from 'vitest';
import { repairNode } from '../src/compare/repair.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { envOf, runCli } from './helpers/cli.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE images (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)'];
const MYSQL_DDL = ['CREATE TABLE images (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, data LONGBLOB NULL) ENGINE=InnoDB'];
const MB = 1024 * 1024;

describe.skipIf(!HUB_AVAILABLE)('issue 12 item 2: a row too large for the hub is parked, the rest flows', () => {
  const fixture = syncWorlds({ prefix: 'big', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('a 20 MB BLOB behind 100 normal rows, max_allowed_packet 16 MB', async () => {
    const admin = await fixture.testHub.admin();
    await admin.query('SET GLOBAL max_allowed_packet = 16777216');
    await admin.end();
    const w = await fixture.world();
    const node = w.node('A');
    const ins = node.db.prepare('INSERT INTO images (id, name, data) VALUES (?, ?, ?)');
    for (let i = 1; i <= 100; i++) ins.run(i, `small ${i}`, Buffer.alloc(100, i));
    ins.run(101, 'huge', Buffer.alloc(20 * MB, 7));
    for (let i = 0; i < 3; i++) await node.syncer.syncOnce();

    const [n] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM images WHERE id <= 100');
    expect(Number(n?.n)).toBe(100);
    expect(await w.hub.query('SELECT id FROM images WHERE id = 101')).toEqual([]);
    const parked = node.syncer.state.parked('push');
    expect(parked.map((p) => [p.tbl, p.pk])).toEqual([['images', '101']]);
    // The row's own size (what the user stored) first, then what it takes as a statement.
    expect(parked[0]?.error).toMatch(
      /row id=101 of table images is 20\.0 MB \([\d.]+ MB as an SQL statement\); the hub accepts .*MB per statement: raise max_allowed_packet/,
    );

    const env = envOf(node.config);
    const status = runCli(['status'], env);
    expect(status.stdout).toMatch(/1 change\(s\) parked/);
    const health = runCli(['health'], env);
    expect(health.stdout).toContain('1 change(s) parked');
    expect(health.stdout).toContain('row id=101 of table images is');

    // A large row within the limits travels both ways.
    ins.run(102, 'large', Buffer.alloc(6 * MB, 3));
    await w.hub.execute('INSERT INTO images (id, name, data) VALUES (?, ?, ?)', [200, 'hub large', Buffer.alloc(6 * MB, 4)]);
    for (let i = 0; i < 3; i++) await node.syncer.syncOnce();
    const [up] = await w.hub.query<{ n: string }>('SELECT LENGTH(data) AS n FROM images WHERE id = 102');
    expect(Number(up?.n)).toBe(6 * MB);
    const down = node.db.prepare('SELECT length(data) AS n FROM images WHERE id = 200').get() as { n: bigint } | undefined;
    expect(Number(down?.n)).toBe(6 * MB);
  }, 120_000);

  it('repair --from sqlite: a row too large for the hub is reported with its cause, the others are written', async () => {
    const admin = await fixture.testHub.admin();
    await admin.query('SET GLOBAL max_allowed_packet = 16777216');
    await admin.end();
    const w = await fixture.world({ init: true });
    const node = w.node('A');
    await node.syncer.close();
    const db = openSqlite(node.config.sqlitePath);
    // Written with capture off, as if the rows predated the sync: only repair can bring them up.
    db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
    const ins = db.prepare('INSERT INTO images (id, name, data) VALUES (?, ?, ?)');
    for (let i = 1; i <= 20; i++) ins.run(i, `small ${i}`, Buffer.alloc(100, i));
    ins.run(21, 'huge', Buffer.alloc(20 * MB, 7));
    db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    db.close();
    const report = await repairNode(node.config, { from: 'sqlite', tables: ['images'] });
    const t = report.tables[0];
    expect(t?.inserted).toBe(20);
    expect(t?.failures.map((f) => f.key)).toEqual(['21']);
    expect(t?.failures[0]?.error).toMatch(
      /row id=21 of table images is [\d.]+ MB; the hub accepts [\d.]+ MB per statement: raise max_allowed_packet/,
    );
    const [n] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM images');
    expect(Number(n?.n)).toBe(20);
  }, 120_000);
});
