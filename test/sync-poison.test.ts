/**
 * Invariant 11 of docs/SYNC-CONTRACT.md (a poison change never stalls the stream and is never
 * dropped). Changes the hub refuses — a string longer than its VARCHAR in strict
 * mode, a value clashing with a hub-only UNIQUE key, a key SQLite cannot encode —
 * are parked with their error while the rest of the batch arrives; `dualdb
 * parked` shows them (exit 12); after the cause is fixed, `dualdb parked retry`
 * and a sync deliver them. The same for a hub change the node refuses.
 */
import { describe, expect, it } from 'vitest';
import type { ParkedChange } from '../src/sync/local-state.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE badges (id INTEGER PRIMARY KEY, code TEXT NOT NULL, tag TEXT, note TEXT)',
  // SQLite-only rule: the hub accepts what the node refuses (pull direction).
  'CREATE TABLE limits (id INTEGER PRIMARY KEY, value INTEGER CHECK (value >= 0))',
  'CREATE TABLE pairs (a TEXT NOT NULL, b TEXT NOT NULL, v INTEGER, PRIMARY KEY (a, b))',
];
const MYSQL_DDL = [
  // code is short and tag unique on the hub only.
  'CREATE TABLE badges (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL, tag VARCHAR(20) NULL, note TEXT NULL, UNIQUE KEY uq_tag (tag))',
  'CREATE TABLE limits (id BIGINT PRIMARY KEY, value BIGINT NULL)',
  'CREATE TABLE pairs (a VARCHAR(20) COLLATE utf8mb4_bin NOT NULL, b VARCHAR(20) COLLATE utf8mb4_bin NOT NULL, v BIGINT NULL, PRIMARY KEY (a, b))',
];

describe.skipIf(!HUB_AVAILABLE)('poison changes', () => {
  const worlds = syncWorlds({ prefix: 'poison', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
  const world = () => worlds.world();

  it('push of one refused row (one statement, no savepoint): parked with its error, the next change still flows', async () => {
    const w = await world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    A.db.prepare("INSERT INTO badges (id, code) VALUES (1, 'much-too-long-for-the-hub')").run();
    const r = await A.syncer.syncOnce();
    expect(r.push.parked).toBe(1);
    const parked = A.syncer.state.parked();
    expect(parked.map((p) => p.pk)).toEqual(['1']);
    expect(parked[0]?.error).toMatch(/ER_DATA_TOO_LONG|too long/i);
    A.db.prepare("INSERT INTO badges (id, code) VALUES (2, 'C2')").run();
    await A.syncer.syncOnce();
    expect((await w.hub.query<{ id: string }>('SELECT id FROM badges ORDER BY id')).map((h) => h.id)).toEqual(['2']);
  });

  it('push: refused rows are parked with their error, the rest of the batch arrives, and a fix delivers them', async () => {
    const w = await world();
    const A = w.node('A');
    await w.hub.execute("INSERT INTO badges (id, code, tag) VALUES (100, 'HUB', 'taken')");
    await A.syncer.syncOnce();
    const ins = A.db.prepare('INSERT INTO badges (id, code, tag, note) VALUES (?, ?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 10; i++) ins.run(i, `C${i}`, `t${i}`, null);
      A.db.prepare("UPDATE badges SET code = 'much-too-long-for-the-hub' WHERE id = 3").run(); // poison 1
      A.db.prepare("UPDATE badges SET tag = 't5' WHERE id = 6").run(); // clashes with row 5 only on the hub
      A.db.prepare("UPDATE badges SET tag = 'taken' WHERE id = 7").run(); // clashes with the hub's own row
      A.db.prepare("UPDATE badges SET tag = 'taken', note = 'mine' WHERE id = 100").run(); // fine: same row
    })();
    const r = await A.syncer.syncOnce();
    expect(r.push.parked).toBe(3);
    expect(r.push.perTable.get('badges')).toMatchObject({ upserts: 8, parked: 3 });
    // Everything else arrived, and no other row was touched by the clashes.
    const hub = await w.hub.query<{ id: string; code: string; tag: string; note: string | null }>(
      'SELECT id, code, tag, note FROM badges ORDER BY id',
    );
    expect(hub.map((h) => Number(h.id))).toEqual([1, 2, 4, 5, 8, 9, 10, 100]);
    expect(hub.find((h) => h.id === '5')).toMatchObject({ code: 'C5', tag: 't5' });
    expect(hub.find((h) => h.id === '100')).toMatchObject({ code: 'HUB', tag: 'taken', note: 'mine' });
    const parked = A.syncer.state.parked();
    const byKey = new Map(parked.map((p) => [p.pk, p]));
    expect([...byKey.keys()].sort()).toEqual(['3', '6', '7']);
    expect(byKey.get('3')?.error).toMatch(/ER_DATA_TOO_LONG|too long/i);
    expect(byKey.get('6')?.error).toMatch(/ER_DUP_ENTRY.*t5/);
    expect(byKey.get('7')?.error).toMatch(/ER_DUP_ENTRY.*taken/);
    for (const p of parked) expect(p).toMatchObject({ direction: 'push', tbl: 'badges', attempts: 1 });
    // The stream keeps flowing past them.
    A.db.prepare("INSERT INTO badges (id, code) VALUES (11, 'C11')").run();
    await A.syncer.syncOnce();
    expect((await w.hub.query('SELECT id FROM badges WHERE id = 11')).length).toBe(1);

    // `dualdb parked` shows them with the error, exit code 12.
    const list = runCli(['parked'], envOf(A.config));
    expect(list.code).toBe(12);
    expect(list.stdout).toMatch(/badges/);
    expect(list.stdout).toMatch(/too long/i);
    const json = runCli(['parked', '--json'], envOf(A.config));
    expect((JSON.parse(json.stdout) as ParkedChange[]).map((p) => p.pk).sort()).toEqual(['3', '6', '7']);

    // Fix the causes on the hub, then retry: all three arrive.
    await w.hub.execute('ALTER TABLE badges MODIFY code VARCHAR(40) NOT NULL');
    await w.hub.execute('ALTER TABLE badges DROP INDEX uq_tag');
    expect(runCli(['parked', 'retry'], envOf(A.config)).code).toBe(0);
    const sync = runCli(['sync', '--once', '--json'], envOf(A.config));
    expect(sync.code).toBe(0);
    expect(A.syncer.state.parked()).toEqual([]);
    expect(runCli(['parked'], envOf(A.config)).code).toBe(0);
    await w.node('B').syncer.syncOnce();
    expect(await divergence(w, ['badges'])).toEqual([]);
    expect((await w.hub.query<{ code: string }>('SELECT code FROM badges WHERE id = 3'))[0]?.code).toBe(
      'much-too-long-for-the-hub',
    );
  });

  it('pull: a hub change the node refuses is parked, the rest arrives, and a fix delivers it', async () => {
    const w = await world();
    const A = w.node('A');
    await w.hub.execute('INSERT INTO limits (id, value) VALUES (1, 10), (2, -5), (3, 30)');
    const r = await A.syncer.syncOnce();
    expect(r.pull.parked).toBe(1);
    expect(A.db.prepare('SELECT id FROM limits ORDER BY id').all()).toEqual([{ id: 1n }, { id: 3n }]);
    const [p] = A.syncer.state.parked();
    expect(p).toMatchObject({ direction: 'pull', tbl: 'limits', pk: '2' });
    expect(p?.error).toMatch(/CHECK constraint failed/);
    await w.hub.execute('INSERT INTO limits (id, value) VALUES (4, 40)');
    await A.syncer.syncOnce();
    expect(A.db.prepare('SELECT count(*) AS n FROM limits').get()).toEqual({ n: 3n });
    // Fixing the data at the source (a new hub change) delivers it without a manual retry.
    await w.hub.execute('UPDATE limits SET value = 5 WHERE id = 2');
    await A.syncer.syncOnce();
    expect(A.db.prepare('SELECT value FROM limits WHERE id = 2').get()).toEqual({ value: 5n });
    expect(A.syncer.state.parked()).toEqual([]);
    await w.node('B').syncer.syncOnce(); // B refuses -5 too; it only ever saw 5
    expect(await divergence(w, ['limits'])).toEqual([]);
  });

  it('a composite key SQLite cannot encode (a NUL inside a part) is parked, not a stalled stream', async () => {
    const w = await world();
    const A = w.node('A');
    A.db.prepare('INSERT INTO pairs (a, b, v) VALUES (?, ?, 1)').run('x\u0000y', 'z');
    A.db.prepare("INSERT INTO pairs (a, b, v) VALUES ('ok', 'fine', 2)").run();
    A.db.prepare("INSERT INTO badges (id, code) VALUES (1, 'after')").run();
    await A.syncer.syncOnce();
    expect(await w.hub.query('SELECT a, b FROM pairs')).toEqual([{ a: 'ok', b: 'fine' }]);
    expect((await w.hub.query('SELECT id FROM badges')).length).toBe(1);
    const parked = A.syncer.state.parked();
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ direction: 'push', tbl: 'pairs' });
    expect(parked[0]?.error).toMatch(/key/i);
    A.db.prepare("INSERT INTO pairs (a, b, v) VALUES ('later', 'row', 3)").run();
    await A.syncer.syncOnce();
    expect((await w.hub.query('SELECT a FROM pairs ORDER BY a')).map((r) => (r as { a: string }).a)).toEqual(['later', 'ok']);
  });
});
