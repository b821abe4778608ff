/**
 * The own-inserts read of a full pull batch (pull-read.ts `ownInserts`, operator trial 4 R1) leaves
 * out the batch's own log range: every entry the snapshot shows there is among the batch's entries
 * already, and the range scan read it again, ~20,000 of the ~120,000 hub rows a 20k bulk pull read
 * (docs/PERFORMANCE.md, "Pull: the own inserts past the batch only"). What it reads: the log before
 * the batch back to an older hole's entry, and the log past the batch; nothing at all when the
 * batch ends the log. The answer (this node's latest insert per key) is the same: the restart
 * cases are test/sync-collisions-own-delete.test.ts (batches of one entry, the range read and the
 * key probes) and the same below with batches of two.
 */
import { describe, expect, it } from 'vitest';
import { pullBatch } from '../src/sync/pull.js';
import { ownInsertRanges } from '../src/sync/pull-read.js';
import { observeHub } from './helpers/intercept-hub.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

describe('ownInsertRanges (pull-read.ts)', () => {
  it('a full batch with no hole: only the log past the batch', () => {
    // Entries 11..20 read (prevUpto 10, readUpto 20), the log's last seq 50.
    expect(ownInsertRanges(11n, 10n, 20n, 50n)).toEqual({ sql: 'seq > ?', params: [20n], rows: 30n });
  });
  it('the batch ends the log: nothing to read', () => {
    expect(ownInsertRanges(11n, 10n, 20n, 20n)).toEqual({ sql: '', params: [], rows: 0n });
  });
  it('an older hole among the entries: the log from it up to the batch, and past the batch', () => {
    // Hole 4 filled in this read (its entry is the lowest, `from`), entries 11..20, log up to 50.
    expect(ownInsertRanges(4n, 10n, 20n, 50n)).toEqual({
      sql: '(seq > ? AND seq <= ?) OR seq > ?',
      params: [4n, 10n, 20n],
      rows: 36n,
    });
    // The same at the log's end: the part before the batch only.
    expect(ownInsertRanges(4n, 10n, 20n, 20n)).toEqual({ sql: '(seq > ? AND seq <= ?)', params: [4n, 10n], rows: 6n });
  });
  it('only hole entries (no new entries: readUpto is prevUpto): from the hole on, as one range', () => {
    expect(ownInsertRanges(4n, 10n, 10n, 30n)).toEqual({
      sql: '(seq > ? AND seq <= ?) OR seq > ?',
      params: [4n, 10n, 10n],
      rows: 26n,
    });
  });
});

const SQLITE_DDL = ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)'];
const MYSQL_DDL = ['CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE) ENGINE=InnoDB'];

/** The own-inserts range read's text (ownInserts): `origin = ?` over the log's primary key. */
const OWN_INSERTS_RANGE = /FROM _dualdb_changes FORCE INDEX \(PRIMARY\)/;

describe.skipIf(!HUB_AVAILABLE)('the own-inserts read of a full pull batch', () => {
  const fixture = syncWorlds({ prefix: 'ownrange', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['a', 'b'] });

  it('a full batch that ends the hub log sends no own-inserts read', async () => {
    const w = await fixture.world({ env: { SYNC_BATCH_SIZE: '4' } });
    const a = w.node('a');
    const b = w.node('b');
    await a.syncer.syncOnce();
    for (const name of ['b1', 'b2', 'b3', 'b4']) b.db.prepare('INSERT INTO items (name) VALUES (?)').run(name);
    await b.syncer.syncOnce({ pull: false });
    // A batch of exactly the log's entries past A's cursor (B's rows, and the nodes' own heartbeats).
    const [row] = await w.hub.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM _dualdb_changes WHERE seq > ?', [
      a.syncer.state.pullState().upto,
    ]);
    const sent: string[] = [];
    const r = await a.syncer.withContext((ctx) =>
      pullBatch({ ...ctx, hub: observeHub(ctx.hub, (sql) => void sent.push(sql)) }, Number(row?.n)),
    );
    // Full: more may follow, so the log past the batch counts; here there is none.
    expect(r.more).toBe(true);
    expect(r.perTable.get('items')?.upserts).toBe(4);
    expect(sent.filter((s) => OWN_INSERTS_RANGE.test(s))).toEqual([]);
    expect(a.db.prepare('SELECT name FROM items ORDER BY name').all()).toEqual(
      ['b1', 'b2', 'b3', 'b4'].map((name) => ({ name })),
    );
  }, 60_000);

  it('a full batch with log past it reads it, and the batch’s own range is not read again', async () => {
    const w = await fixture.world({ env: { SYNC_BATCH_SIZE: '2' } });
    const a = w.node('a');
    const b = w.node('b');
    await a.syncer.syncOnce();
    for (const name of ['b1', 'b2', 'b3']) b.db.prepare('INSERT INTO items (name) VALUES (?)').run(name);
    await b.syncer.syncOnce({ pull: false });
    const sent: string[] = [];
    await a.syncer.withContext((ctx) => pullBatch({ ...ctx, hub: observeHub(ctx.hub, (sql) => void sent.push(sql)) }, 2));
    const reads = sent.filter((s) => OWN_INSERTS_RANGE.test(s));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/WHERE \(seq > \?\) AND origin = \?/);
  }, 60_000);

  // Trial 4 R1 with batches of two entries: B's insert of the key and A's own insert of it in the
  // same batch (the own insert noted from the batch's entries, no longer read back from the log)
  // or in the next one (read past the batch), with hub rows after so that every batch is full.
  for (const later of [0, 3])
    it(`rekey-hub, pull batches of two entries, ${later} hub rows after A’s insert: A's delete of its row reaches every side`, async () => {
      const w = await fixture.world({ env: { SYNC_KEY_COLLISIONS: 'rekey-hub', SYNC_BATCH_SIZE: '2' } });
      const a = w.node('a');
      const b = w.node('b');
      b.db.prepare("INSERT INTO items (id, name) VALUES (1, 'b1')").run();
      await b.syncer.syncOnce({ pull: false });
      a.db.prepare("INSERT INTO items (id, name) VALUES (1, 'a1')").run();
      await a.syncer.syncOnce({ pull: false });
      for (let i = 0; i < later; i++) await w.hub.execute('INSERT INTO items (id, name) VALUES (?, ?)', [1000 + i, `hub${i}`]);
      a.db.prepare("DELETE FROM items WHERE name = 'a1'").run();
      for (let batch = 0; batch < 4; batch++) {
        await a.syncer.syncOnce({ push: false, maxBatches: 1 });
        expect(a.db.prepare("SELECT count(*) AS n FROM items WHERE name = 'a1'").get()).toEqual({ n: 0n });
      }
      await syncUntilQuiet(w.nodes, 8);
      expect(await divergence(w, ['items'])).toEqual([]);
      const names = (await w.hub.query<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name);
      expect(names).toEqual(['b1', ...Array.from({ length: later }, (_, i) => `hub${i}`)].sort());
      for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
    }, 120_000);
});
