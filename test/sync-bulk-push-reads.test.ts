/**
 * The bulk push's set-based hub work (issue 16, docs/PERFORMANCE.md "The push's hub log and
 * unseen changes by range"): the hub changes a node has not pulled are read by one range of the
 * log's tail when it is short against the batch's keys, by key probes otherwise, and both ways
 * decide the same conflicts; the set-based capture logs runs of consecutive integer keys by range,
 * exactly the rows written (not a hub row in a gap between two runs), as the triggers would.
 */
import { describe, expect, it } from 'vitest';
import { canonicalRow } from '../src/engines/codec.js';
import { sameImage } from '../src/sync/convert.js';
import { integerRuns, MIN_KEY_RUN } from '../src/sync/hub-capture-bulk.js';
import type { SyncTable } from '../src/sync/plan.js';
import { UNSEEN_SCAN_PER_KEY } from '../src/sync/push-hub-read.js';
import { divergence, hubLog, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL)',
  'CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE items (id BIGINT PRIMARY KEY, v VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE filler (id BIGINT PRIMARY KEY, v VARCHAR(40) NULL) ENGINE=InnoDB',
];

describe('integer key runs (hub-capture-bulk.ts)', () => {
  it('consecutive keys of at least MIN_KEY_RUN become ranges; short runs, gaps and non-canonical texts stay keys', () => {
    const run = (lo: number, n: number) => Array.from({ length: n }, (_, i) => String(lo + i));
    const keys = [...run(100, 40), ...run(1, MIN_KEY_RUN), '500', '502', ...run(-20, MIN_KEY_RUN - 1), '007', 'x', '5.0', '-0'];
    const { runs, rest } = integerRuns([...keys, '101']);
    expect(runs).toEqual([
      { lo: '1', hi: String(MIN_KEY_RUN) },
      { lo: '100', hi: '139' },
    ]);
    expect(rest.sort()).toEqual([...run(-20, MIN_KEY_RUN - 1), '500', '502', '007', 'x', '5.0', '-0'].sort());
    // Past a BIGINT's range too, exactly.
    const big = 2n ** 64n - 20n;
    const bigRun = Array.from({ length: 20 }, (_, i) => (big + BigInt(i)).toString());
    expect(integerRuns(bigRun)).toEqual({ runs: [{ lo: big.toString(), hi: (big + 19n).toString() }], rest: [] });
  });
});

describe('sameImage column by column (convert.ts)', () => {
  it('answers as the canonical row texts do: the same values in other forms are the same, any column that differs is not', () => {
    const columns = [
      { name: 'id', type: 'integer' },
      { name: 'v', type: 'double' },
      { name: 'at', type: 'datetime' },
      { name: 'b', type: 'blob' },
      { name: 't', type: 'text' },
    ] as SyncTable['columns'];
    const table = { columns } as SyncTable;
    const base = { id: 5n, v: 0.5, at: '2024-05-01 10:00:00.000001', b: Buffer.from('ab'), t: 'x' };
    const variants: Record<string, unknown>[] = [
      { ...base },
      { ...base, id: '5', v: '0.50', b: Buffer.from('ab'), t: 'x' },
      { ...base, t: undefined },
      { ...base, id: 6n },
      { ...base, at: '2024-05-01 10:00:00.000002' },
      { ...base, b: Buffer.from('ac') },
      { ...base, t: 'y' },
      { ...base, t: null },
      { ...base, v: -0 },
      { ...base, v: 0 },
    ];
    for (const a of variants)
      for (const b of variants) {
        const expected = canonicalRow(a, columns) === canonicalRow(b, columns);
        expect(sameImage(table, a as never, b as never), `variant ${variants.indexOf(a)} vs ${variants.indexOf(b)}`).toBe(
          expected,
        );
      }
    expect(sameImage(table, base as never, { ...base, id: '5' } as never)).toBe(true);
    expect(sameImage(table, base as never, null)).toBe(false);
  });
});

describe.skipIf(!HUB_AVAILABLE)('bulk push: unseen hub changes and the log by range', () => {
  const fixture = syncWorlds({ prefix: 'bulkreads', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });

  const N = 1200; // more keys than one probe statement (500)

  /** N rows everywhere; then B changes three of them and pushes, and A changes all N and pushes (not pulling first). */
  async function provoke(w: SyncWorld, extraTail: number): Promise<{ A: TestNode; B: TestNode }> {
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute('INSERT INTO items (id, v) VALUES ?', [Array.from({ length: N }, (_, i) => [i + 1, 'orig'])]);
    await syncUntilQuiet([A, B]);
    B.db.prepare("UPDATE items SET v = 'by-B' WHERE id IN (7, 600, 1199)").run();
    B.db.prepare('DELETE FROM items WHERE id = 900').run();
    await B.syncer.syncOnce();
    // Hub changes of another table past A's pull cursor: a long tail makes the read probe by key.
    for (let i = 0; i < extraTail; i += 2000)
      await w.hub.execute('INSERT INTO filler (id, v) VALUES ?', [
        Array.from({ length: Math.min(2000, extraTail - i) }, (_, j) => [i + j + 1, 'f']),
      ]);
    A.db.prepare("UPDATE items SET v = 'by-A'").run();
    const r = await A.syncer.syncOnce({ pull: false });
    expect(r.push.perTable.get('items')?.conflicts).toBe(4);
    return { A, B };
  }

  for (const [name, tail] of [
    ['a short tail: one range read', 0],
    ['a long tail: key probes', Number(UNSEEN_SCAN_PER_KEY) * N + 100],
  ] as const) {
    it(`${name}: exactly the keys another node changed are conflicts, settled by the policy everywhere`, async () => {
      const w = await fixture.world({ env: { CONFLICT_POLICY: 'hub-wins' } });
      const { A, B } = await provoke(w, tail);
      const conflicts = A.syncer.state.conflicts().filter((c) => c.tbl === 'items');
      expect(conflicts.map((c) => c.pk).sort()).toEqual(['1199', '600', '7', '900']);
      await syncUntilQuiet([A, B]);
      expect(await divergence(w, ['items'])).toEqual([]);
      const hub = await w.hub.query<{ id: string; v: string }>('SELECT id, v FROM items ORDER BY id');
      expect(hub.length).toBe(N - 1);
      for (const r of hub) expect(r.v, `row ${r.id}`).toBe(['7', '600', '1199'].includes(String(r.id)) ? 'by-B' : 'by-A');
    });
  }

  it('runs of new and updated integer keys are logged by range: each written row once, I or U, none for a hub row in a gap', async () => {
    const w = await fixture.world();
    const A = w.node('A');
    await A.syncer.syncOnce();
    // The hub's own rows: 41 sits in the gap between two runs A writes, 2000 beside a run's end.
    await w.hub.execute("INSERT INTO items (id, v) VALUES (41, 'hub'), (2000, 'hub')");
    const ins = A.db.prepare('INSERT INTO items (id, v) VALUES (?, ?)');
    const written = [
      ...Array.from({ length: 40 }, (_, i) => i + 1),
      ...Array.from({ length: 39 }, (_, i) => i + 42),
      ...[100, 102, 104, 1990],
      ...Array.from({ length: 9 }, (_, i) => i + 1991),
    ];
    A.db.transaction(() => {
      for (const id of written) ins.run(id, `new ${id}`);
    })();
    await A.syncer.syncOnce({ pull: false });
    const first = await hubLog(w.hub, 'items');
    const mine = first.filter((e) => e.origin === A.syncer.nodeId);
    expect(mine.map((e) => [e.pk, e.op]).sort()).toEqual(written.map((id) => [String(id), 'I']).sort());

    A.db.prepare("UPDATE items SET v = 'again' WHERE id <= 80 OR id >= 1990").run();
    await A.syncer.syncOnce({ pull: false });
    const second = (await hubLog(w.hub, 'items')).slice(first.length);
    const updated = written.filter((id) => id <= 80 || id >= 1990);
    expect(second.map((e) => [e.pk, e.op, e.origin]).sort()).toEqual(
      updated.map((id) => [String(id), 'U', A.syncer.nodeId]).sort(),
    );
  });
});
