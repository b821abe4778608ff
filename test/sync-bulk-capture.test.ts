/**
 * Set-based hub capture of bulk pushes (src/sync/hub-capture-bulk.ts) logs exactly what the row
 * triggers would have: one entry per written row, the triggers' key text (composite keys
 * included), op I for new rows and U for rows the hub had, the node's origin; capture is on
 * again for the rest of the transaction; a failing row rolls back its log entries with it; a
 * table with a trigger of its own keeps the row triggers. Re-keying many rows drops the moved
 * rows' spent log entries once the hub has them, and every side keeps every row. Key lookups are
 * cut by bytes (key-chunks.ts).
 */
import { describe, expect, it } from 'vitest';
import { encodeKey } from '../src/capture/keys.js';
import { bulkCaptureAllowed } from '../src/sync/hub-capture-bulk.js';
import { keyBytes, keyChunks } from '../src/sync/key-chunks.js';
import { divergence, hubLog, localLog, planTable, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE readings (site TEXT NOT NULL, n INTEGER NOT NULL, v REAL, PRIMARY KEY (site, n))',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, site TEXT NOT NULL, body TEXT)',
  'CREATE TABLE tagged (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE)',
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE readings (site VARCHAR(40) NOT NULL, n BIGINT NOT NULL, v DOUBLE NULL, PRIMARY KEY (site, n)) ENGINE=InnoDB',
  'CREATE TABLE notes (id BIGINT PRIMARY KEY, site VARCHAR(40) NOT NULL, body VARCHAR(200) NULL) ENGINE=InnoDB',
  'CREATE TABLE tagged (id BIGINT PRIMARY KEY, code VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL) ENGINE=InnoDB',
];

describe('key chunks', () => {
  it('cuts long keys by bytes and short ones by count, in order, every key once', () => {
    const long = Array.from({ length: 50 }, (_, i) => `${'k'.repeat(3000)}${i}`);
    const chunks = keyChunks(long, 64 * 1024);
    expect(chunks.flat()).toEqual(long);
    for (const c of chunks) expect(c.reduce((s, k) => s + keyBytes(k), 0)).toBeLessThanOrEqual(64 * 1024);
    expect(chunks.length).toBeGreaterThan(1);
    const short = Array.from({ length: 2500 }, (_, i) => String(i));
    expect(keyChunks(short, 16 * 1024 * 1024, 1000).map((c) => c.length)).toEqual([1000, 1000, 500]);
  });
});

describe.skipIf(!HUB_AVAILABLE)('set-based hub capture of bulk pushes', () => {
  const fixture = syncWorlds({ prefix: 'bulkcap', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('logs one entry per row with the triggers’ key text, I then U, the node’s origin; another node gets every row', async () => {
    const w = await fixture.world({ nodes: ['A', 'B'] });
    const A = w.node('A');
    const sites = ["north 'quoted'", 'süd', 'a:b'];
    const ins = A.db.prepare('INSERT INTO readings (site, n, v) VALUES (?, ?, ?)');
    const note = A.db.prepare('INSERT INTO notes (id, site, body) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (const s of sites) for (let n = 1; n <= 40; n++) ins.run(s, n, n / 2);
      // Fewer than the bulk threshold, after the bulk table in the same hub transaction: captured by the triggers.
      for (let i = 1; i <= 3; i++) note.run(i, 'north', `note ${i}`);
    })();
    await A.syncer.syncOnce();

    const keys = sites.flatMap((s) => Array.from({ length: 40 }, (_, i) => encodeKey([s, BigInt(i + 1)])));
    const inserted = await hubLog(w.hub, 'readings');
    expect(inserted.map((e) => [e.pk, e.op, e.origin]).sort()).toEqual(keys.map((k) => [k, 'I', A.syncer.nodeId]).sort());
    expect((await hubLog(w.hub, 'notes')).map((e) => [e.pk, e.op])).toEqual([
      ['1', 'I'],
      ['2', 'I'],
      ['3', 'I'],
    ]);

    A.db.prepare('UPDATE readings SET v = v + 100').run();
    await A.syncer.syncOnce();
    const updated = (await hubLog(w.hub, 'readings')).slice(inserted.length);
    expect(updated.map((e) => [e.pk, e.op]).sort()).toEqual(keys.map((k) => [k, 'U']).sort());

    // Capture is on again for every later write through the hub (here a central one).
    await w.hub.execute("INSERT INTO notes (id, site, body) VALUES (9, 'hub', 'central')");
    expect((await hubLog(w.hub, 'notes')).at(-1)).toMatchObject({ pk: '9', op: 'I', origin: null });

    await syncUntilQuiet(w.nodes);
    expect(await divergence(w, ['readings', 'notes'])).toEqual([]);
    // A does not pull its own rows back: nothing of them re-enters its change log.
    expect(localLog(A.db, 'readings')).toEqual([]);
  });

  it('a row that fails in a bulk write is parked and leaves no log entry; the others are logged once', async () => {
    const w = await fixture.world();
    const A = w.node('A');
    await w.hub.execute("INSERT INTO tagged (id, code) VALUES (1000, 'taken')");
    const ins = A.db.prepare('INSERT INTO tagged (id, code) VALUES (?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 100; i++) ins.run(i, i === 57 ? 'taken' : `code-${i}`);
    })();
    await A.syncer.syncOnce();
    const log = (await hubLog(w.hub, 'tagged')).filter((e) => e.origin === A.syncer.nodeId);
    expect(log.map((e) => e.pk).sort()).toEqual(
      Array.from({ length: 100 }, (_, i) => String(i + 1))
        .filter((k) => k !== '57')
        .sort(),
    );
    expect(A.syncer.state.parked('push').map((p) => [p.tbl, p.pk])).toEqual([['tagged', '57']]);
  });

  it('a table with a trigger of its own keeps the row triggers', async () => {
    const w = await fixture.world();
    const A = w.node('A');
    const t = await planTable(A.syncer, 'notes');
    await w.hub.withConnection(async (conn) => {
      expect(await bulkCaptureAllowed(conn, t)).toBe(true);
      await conn.query('CREATE TABLE audit (n INT)');
      await conn.query('CREATE TRIGGER notes_audit AFTER INSERT ON notes FOR EACH ROW INSERT INTO audit VALUES (1)');
      expect(await bulkCaptureAllowed(conn, t)).toBe(false);
    });
    const note = A.db.prepare('INSERT INTO notes (id, site, body) VALUES (?, ?, ?)');
    A.db.transaction(() => {
      for (let i = 1; i <= 80; i++) note.run(i, 's', `n${i}`);
    })();
    await A.syncer.syncOnce();
    expect((await hubLog(w.hub, 'notes')).length).toBe(80);
    const [audit] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM audit');
    expect(Number(audit?.n)).toBe(80);
  });

  it('re-keying 300 colliding inserts: every row once on both sides, moved rows not sent twice, one hub log entry each', async () => {
    const w = await fixture.world({ nodes: ['A', 'B'] });
    const A = w.node('A');
    await w.hub.execute('INSERT INTO workers (badge) VALUES ?', [Array.from({ length: 300 }, (_, i) => [`hub-${i}`])]);
    const ins = A.db.prepare('INSERT INTO workers (badge) VALUES (?)');
    A.db.transaction(() => {
      for (let i = 0; i < 300; i++) ins.run(`node-${i}`);
    })();
    const first = await A.syncer.push();
    expect(first.rekeys.length).toBe(300);
    // The moved rows reached the hub under their new keys in that push: nothing is left to send.
    expect(localLog(A.db, 'workers')).toEqual([]);
    const again = await A.syncer.push();
    expect(again.perTable.get('workers')).toBeUndefined();
    const mine = (await hubLog(w.hub, 'workers')).filter((e) => e.origin === A.syncer.nodeId);
    expect(mine.length).toBe(300);
    expect(new Set(mine.map((e) => e.pk)).size).toBe(300);
    await syncUntilQuiet(w.nodes);
    expect(await divergence(w, ['workers'])).toEqual([]);
    const [n] = await w.hub.query<{ n: number }>('SELECT COUNT(*) AS n FROM workers');
    expect(Number(n?.n)).toBe(600);
    expect(A.syncer.rekeys.counts().total).toBe(300);
  });
});
