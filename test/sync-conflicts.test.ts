/**
 * Invariant 6 of docs/SYNC-CONTRACT.md (nothing silently lost in conflicts). The same row changed
 * on the node and on the hub since the last sync, detected on the push path
 * (under the hub's row locks) and on the pull path (under SQLite's write lock),
 * for update/update, delete/update and update/delete, under each policy:
 * who wins on both sides (and on a second node), and both row images — the
 * loser's in particular — kept in `_dualdb_conflicts`. `manual` holds the key
 * on both sides until `resolveConflict`, after which everyone agrees;
 * `dualdb conflicts --json` lists them.
 */
import { describe, expect, it } from 'vitest';
import type { ConflictPolicy } from '../src/config/schema.js';
import type { Row } from '../src/engines/codec.js';
import { decodeImage } from '../src/sync/images.js';
import { resolveConflict } from '../src/sync/resolve.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, type SyncWorld, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, level INTEGER)'];
const MYSQL_DDL = ['CREATE TABLE alerts (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, level BIGINT NULL)'];

type Side = 'node' | 'hub';
interface Case {
  id: number;
  /** Where the conflict is found: the node pushes first (push) or pulls first (pull). */
  path: 'push' | 'pull';
  node: 'update' | 'delete';
  hub: 'update' | 'delete';
  /** Which side wrote last (decides newest-wins). */
  newer: Side;
}

const CASES: Case[] = [
  { id: 1, path: 'push', node: 'update', hub: 'update', newer: 'node' },
  { id: 2, path: 'push', node: 'update', hub: 'update', newer: 'hub' },
  { id: 3, path: 'push', node: 'delete', hub: 'update', newer: 'node' },
  { id: 4, path: 'push', node: 'update', hub: 'delete', newer: 'hub' },
  { id: 5, path: 'pull', node: 'update', hub: 'update', newer: 'node' },
  { id: 6, path: 'pull', node: 'update', hub: 'update', newer: 'hub' },
  { id: 7, path: 'pull', node: 'delete', hub: 'update', newer: 'hub' },
  { id: 8, path: 'pull', node: 'update', hub: 'delete', newer: 'node' },
];

/** The version of the row each side wrote: null for a deletion. */
function version(c: Case, side: Side): { name: string; level: bigint } | null {
  return c[side] === 'delete' ? null : { name: `${side}-${c.id}`, level: BigInt(c.id * 10 + (side === 'node' ? 1 : 2)) };
}

function winner(policy: ConflictPolicy, c: Case): Side | null {
  if (policy === 'node-wins') return 'node';
  if (policy === 'hub-wins') return 'hub';
  if (policy === 'newest-wins') return c.newer;
  return null;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HUB_AVAILABLE)('conflicts', () => {
  const worlds = syncWorlds({ prefix: 'conflict', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });

  async function write(w: SyncWorld, A: TestNode, c: Case, side: Side): Promise<void> {
    const v = version(c, side);
    if (side === 'node') {
      if (v) A.db.prepare('UPDATE alerts SET name = ?, level = ? WHERE id = ?').run(v.name, v.level, c.id);
      else A.db.prepare('DELETE FROM alerts WHERE id = ?').run(c.id);
    } else if (v) await w.hub.execute('UPDATE alerts SET name = ?, level = ? WHERE id = ?', [v.name, v.level, c.id]);
    else await w.hub.execute('DELETE FROM alerts WHERE id = ?', [c.id]);
  }

  /** Seeds the rows everywhere, then makes every case's two writes in order (older side first) and syncs A. */
  async function provoke(policy: ConflictPolicy): Promise<{ w: SyncWorld; A: TestNode; B: TestNode }> {
    const w = await worlds.world({ env: { CONFLICT_POLICY: policy } });
    const A = w.node('A');
    const B = w.node('B');
    await w.hub.execute('INSERT INTO alerts (id, name, level) VALUES ?', [CASES.map((c) => [c.id, `orig-${c.id}`, 0])]);
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    for (const path of ['pull', 'push'] as const) {
      const cases = CASES.filter((c) => c.path === path);
      for (const c of cases) await write(w, A, c, c.newer === 'node' ? 'hub' : 'node');
      await pause(60); // newest-wins compares change times: keep the order unambiguous
      for (const c of cases) await write(w, A, c, c.newer);
      // pull path: the node hears of the hub's change before sending its own.
      if (path === 'pull') await A.syncer.syncOnce({ push: false });
      else await A.syncer.syncOnce();
    }
    return { w, A, B };
  }

  function nodeRow(n: TestNode, id: number): { name: string; level: bigint } | null {
    return (
      (n.db.prepare('SELECT name, level FROM alerts WHERE id = ?').get(id) as { name: string; level: bigint } | undefined) ?? null
    );
  }

  async function hubRow(w: SyncWorld, id: number): Promise<{ name: string; level: bigint } | null> {
    const [r] = await w.hub.query<{ name: string; level: string }>('SELECT name, level FROM alerts WHERE id = ?', [id]);
    return r ? { name: r.name, level: BigInt(r.level) } : null;
  }

  function imageOf(v: { name: string; level: bigint } | null, id: number): Row | null {
    return v ? { id: BigInt(id), name: v.name, level: v.level } : null;
  }

  /** Both versions are kept in the conflict record, whoever won. */
  function expectImagesKept(A: TestNode, c: Case) {
    const records = A.syncer.state.conflicts().filter((r) => r.tbl === 'alerts' && r.pk === String(c.id));
    expect(records, `conflict records of row ${c.id}`).toHaveLength(1);
    const rec = records[0];
    if (!rec) throw new Error('unreachable');
    expect(rec.detectedIn, `row ${c.id} detected`).toBe(c.path);
    expect(decodeImage(rec.nodeImage), `node image of row ${c.id}`).toEqual(imageOf(version(c, 'node'), c.id));
    expect(decodeImage(rec.hubImage), `hub image of row ${c.id}`).toEqual(imageOf(version(c, 'hub'), c.id));
    return rec;
  }

  for (const policy of ['hub-wins', 'node-wins', 'newest-wins'] as const) {
    it(`${policy}: the winner is on every side and the loser is kept`, async () => {
      const { w, A, B } = await provoke(policy);
      await A.syncer.syncOnce();
      await B.syncer.syncOnce();
      await A.syncer.syncOnce();
      for (const c of CASES) {
        const win = winner(policy, c) as Side;
        const expected = version(c, win);
        expect(nodeRow(A, c.id), `A row ${c.id} (${c.node}/${c.hub}, ${win} wins)`).toEqual(expected);
        expect(await hubRow(w, c.id), `hub row ${c.id}`).toEqual(expected);
        expect(nodeRow(B, c.id), `B row ${c.id}`).toEqual(expected);
        const rec = expectImagesKept(A, c);
        expect(rec.status).toBe('resolved');
        expect(rec.winner, `winner of row ${c.id}`).toBe(win);
        expect(rec.policy).toBe(policy);
      }
      expect(A.syncer.state.conflictCounts()).toEqual({ open: 0, total: CASES.length });
      expect(await divergence(w, ['alerts'])).toEqual([]);
      // The CLI lists them with both images.
      const cli = runCli(['conflicts', '--json'], envOf(A.config));
      expect(cli.code).toBe(0);
      const listed = JSON.parse(cli.stdout) as { pk: string; winner: string; nodeImage: unknown; hubImage: unknown }[];
      expect(listed.map((l) => l.pk).sort()).toEqual(CASES.map((c) => String(c.id)).sort());
      const one = listed.find((l) => l.pk === '1');
      expect(one?.nodeImage).toEqual({ id: '1', name: 'node-1', level: '11' });
      expect(one?.hubImage).toEqual({ id: '1', name: 'hub-1', level: '12' });
    });
  }

  it('manual: the key is held on both sides until resolved; then both sides and a second node agree', async () => {
    const { w, A, B } = await provoke('manual');
    // More cycles change nothing about the held rows.
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    const open = A.syncer.state.conflicts({ status: 'open' });
    expect(open).toHaveLength(CASES.length);
    for (const c of CASES) {
      expect(nodeRow(A, c.id), `A keeps its version of ${c.id}`).toEqual(version(c, 'node'));
      expect(await hubRow(w, c.id), `hub keeps its version of ${c.id}`).toEqual(version(c, 'hub'));
      expect(nodeRow(B, c.id), `B has the hub's version of ${c.id}`).toEqual(version(c, 'hub'));
      const rec = expectImagesKept(A, c);
      expect(rec.status).toBe('open');
      expect(rec.winner).toBeNull();
    }
    const listed = runCli(['conflicts', '--json', '--open'], envOf(A.config));
    expect(listed.code).toBe(11);
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(CASES.length);
    const status = runCli(['status', '--json'], envOf(A.config));
    expect(status.code).toBe(11);

    // Resolve half for the node's version and half for the hub's (row 8: the node's update of a row the hub deleted).
    const keep = (c: Case): Side => ([1, 3, 5, 8].includes(c.id) ? 'node' : 'hub');
    for (const c of CASES) {
      const rec = open.find((r) => r.pk === String(c.id));
      if (!rec) throw new Error(`no open conflict for ${c.id}`);
      const res = await resolveConflict(A.syncer, rec.id, keep(c));
      expect(res.kept).toBe(keep(c));
    }
    expect(A.syncer.state.conflictCounts().open).toBe(0);
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    for (const c of CASES) {
      const expected = version(c, keep(c));
      expect(nodeRow(A, c.id), `A row ${c.id} after keeping ${keep(c)}`).toEqual(expected);
      expect(await hubRow(w, c.id), `hub row ${c.id}`).toEqual(expected);
      expect(nodeRow(B, c.id), `B row ${c.id}`).toEqual(expected);
      const rec = A.syncer.state.conflicts().find((r) => r.pk === String(c.id));
      expect(rec?.status).toBe('resolved');
      expect(rec?.winner).toBe(keep(c));
    }
    expect(await divergence(w, ['alerts'])).toEqual([]);
    expect(runCli(['conflicts', '--json', '--open'], envOf(A.config)).code).toBe(0);
  });
});
