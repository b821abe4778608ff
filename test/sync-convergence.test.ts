/**
 * Invariant 5 of docs/SYNC-CONTRACT.md (convergence), property-based: random interleavings of
 * inserts, updates, key changes and deletes on two nodes and directly on the
 * hub, with random sync steps (push only, pull only, both) in between, on
 * tables with awkward values and keys that collide across writers (so conflicts
 * happen). After the writers stop, a few sync rounds make every node and the hub
 * hold identical rows, compared canonically row by row, whatever the policy.
 * fast-check shrinks a failure to a minimal sequence of operations.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlValue } from '../src/engines/codec.js';
import { divergence, makeWorld, type SyncWorld, syncUntilQuiet } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE things (id INTEGER PRIMARY KEY, label TEXT, big INTEGER, ratio REAL, data BLOB, at DATETIME)',
  // Composite text + integer key: ':' and digits inside the text stress the key encoding.
  'CREATE TABLE tags (owner TEXT NOT NULL, n INTEGER NOT NULL, note TEXT, PRIMARY KEY (owner, n))',
];
const MYSQL_DDL = [
  'CREATE TABLE things (id BIGINT PRIMARY KEY, label VARCHAR(200) NULL, big BIGINT NULL, ratio DOUBLE NULL, data BLOB NULL, at DATETIME(6) NULL)',
  // Binary collation: SQLite compares keys byte-wise, so must the hub (see the report on case-insensitive keys).
  'CREATE TABLE tags (owner VARCHAR(50) COLLATE utf8mb4_bin NOT NULL, n BIGINT NOT NULL, note TEXT NULL, PRIMARY KEY (owner, n))',
];

const label = fc.constantFrom<SqlValue>(
  null,
  '',
  ' ',
  'plain',
  'émoji 🚧🦺 ok',
  'quote \' " \\ `',
  'colon:1:2',
  'x'.repeat(200),
  '\u0000nul',
);
const big = fc.constantFrom<SqlValue>(null, 0n, -1n, 9007199254740993n, 9223372036854775807n, -9223372036854775808n);
const ratio = fc.constantFrom<SqlValue>(null, 0.1, -0, 1e-300, 1.7976931348623157e308, -2.5);
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const data = fc.constantFrom<SqlValue>(null, Buffer.alloc(0), allBytes, Buffer.from('abc'));
const at = fc.constantFrom<SqlValue>(null, '2024-02-29 23:59:59.999999', '1970-01-01 00:00:00', '2018-11-04 00:30:00.5');
const owner = fc.constantFrom('a', 'a:1', '1:a', '🚧', '10', '');

type Writer = 'A' | 'B' | 'H';
type Op =
  | {
      kind: 'upsert';
      who: Writer;
      id: number;
      row: { label: SqlValue; big: SqlValue; ratio: SqlValue; data: SqlValue; at: SqlValue };
    }
  | { kind: 'update'; who: Writer; id: number; label: SqlValue }
  | { kind: 'rekey'; who: Writer; id: number; to: number }
  | { kind: 'delete'; who: Writer; id: number }
  | { kind: 'tag'; who: Writer; owner: string; n: number; note: SqlValue }
  | { kind: 'untag'; who: Writer; owner: string; n: number }
  | { kind: 'sync'; who: 'A' | 'B'; push: boolean; pull: boolean };

const who = fc.constantFrom<Writer>('A', 'B', 'H');
const id = fc.integer({ min: 1, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('upsert' as const), who, id, row: fc.record({ label, big, ratio, data, at }) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), who, id, label }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rekey' as const), who, id, to: id }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), who, id }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tag' as const), who, owner, n: fc.integer({ min: 1, max: 2 }), note: label }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('untag' as const), who, owner, n: fc.integer({ min: 1, max: 2 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      who: fc.constantFrom<'A' | 'B'>('A', 'B'),
      push: fc.boolean(),
      pull: fc.boolean(),
    }),
  },
);

async function apply(world: SyncWorld, o: Op): Promise<void> {
  if (o.kind === 'sync') {
    await world.node(o.who).syncer.syncOnce({ push: o.push, pull: o.pull });
    return;
  }
  if (o.who === 'H') {
    const h = world.hub;
    switch (o.kind) {
      case 'upsert':
        await h.execute(
          `INSERT INTO things (id, label, big, ratio, data, at) VALUES (?, ?, ?, ?, ?, ?)
           ON DUPLICATE KEY UPDATE label = VALUES(label), big = VALUES(big), ratio = VALUES(ratio), data = VALUES(data), at = VALUES(at)`,
          [o.id, o.row.label, o.row.big, o.row.ratio, o.row.data, o.row.at],
        );
        return;
      case 'update':
        await h.execute('UPDATE things SET label = ? WHERE id = ?', [o.label, o.id]);
        return;
      case 'rekey':
        await h.execute('UPDATE IGNORE things SET id = ? WHERE id = ?', [o.to, o.id]);
        return;
      case 'delete':
        await h.execute('DELETE FROM things WHERE id = ?', [o.id]);
        return;
      case 'tag':
        await h.execute('INSERT INTO tags (owner, n, note) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE note = VALUES(note)', [
          o.owner,
          o.n,
          o.note,
        ]);
        return;
      case 'untag':
        await h.execute('DELETE FROM tags WHERE owner = ? AND n = ?', [o.owner, o.n]);
        return;
    }
  }
  const db = world.node(o.who).db;
  switch (o.kind) {
    case 'upsert':
      db.prepare(
        `INSERT INTO things (id, label, big, ratio, data, at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET label = excluded.label, big = excluded.big, ratio = excluded.ratio, data = excluded.data, at = excluded.at`,
      ).run(o.id, o.row.label, o.row.big, o.row.ratio, o.row.data, o.row.at);
      return;
    case 'update':
      db.prepare('UPDATE things SET label = ? WHERE id = ?').run(o.label, o.id);
      return;
    case 'rekey':
      db.prepare('UPDATE OR IGNORE things SET id = ? WHERE id = ?').run(o.to, o.id);
      return;
    case 'delete':
      db.prepare('DELETE FROM things WHERE id = ?').run(o.id);
      return;
    case 'tag':
      db.prepare(
        'INSERT INTO tags (owner, n, note) VALUES (?, ?, ?) ON CONFLICT (owner, n) DO UPDATE SET note = excluded.note',
      ).run(o.owner, o.n, o.note);
      return;
    case 'untag':
      db.prepare('DELETE FROM tags WHERE owner = ? AND n = ?').run(o.owner, o.n);
      return;
  }
}

describe.skipIf(!HUB_AVAILABLE)('convergence (property-based)', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  for (const policy of ['node-wins', 'hub-wins', 'newest-wins'] as const) {
    it(
      `two nodes and central writes converge under ${policy}`,
      async () => {
        await fc.assert(
          // Small batches make one key's changes span several batches (coalescing, cursors).
          fc.asyncProperty(
            fc.constantFrom('2000', '3', '1'),
            fc.array(op, { minLength: 4, maxLength: 30, size: 'medium' }),
            async (batch, ops) => {
              const world = await makeWorld(testHub, tmp.dir, {
                prefix: 'conv',
                sqliteDdl: SQLITE_DDL,
                mysqlDdl: MYSQL_DDL,
                nodes: ['A', 'B'],
                env: { CONFLICT_POLICY: policy, SYNC_BATCH_SIZE: batch },
                planTtlMs: 600_000, // the schema does not change here
              });
              try {
                for (const o of ops) await apply(world, o);
                await syncUntilQuiet(world.nodes, 8);
                const diff = await divergence(world, ['things', 'tags']);
                expect(diff).toEqual([]);
                for (const n of world.nodes) expect(n.syncer.state.parked()).toEqual([]);
              } finally {
                await world.close();
              }
            },
          ),
          {
            numRuns: Number(process.env.FC_RUNS ?? 20),
            // Bounds the whole run, shrinking included: a failure found is still reported, shrunk as far as time allowed.
            plugins: [fc.interruptAfterTimeLimit(Number(process.env.FC_TIME_LIMIT ?? 90_000))],
          },
        );
      },
      Number(process.env.FC_TIMEOUT ?? 150_000),
    );
  }
});
