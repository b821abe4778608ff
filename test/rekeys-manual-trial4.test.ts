/**
 * SYNC_KEY_COLLISIONS=manual, operator trial 4 (docs/SYNC-CONTRACT.md invariant 13, M1 and M3).
 *
 * M1: `rekeys resolve` in another process beside the site's `sync --watch` (one SQLite file). The
 *     resolve moved a waiting copy (an unsettled copy of a row another node's `--rekey hub` moved)
 *     with its parked push entry; the watcher's push, which had read its batch before, parked the
 *     entry again under the old key (first op U). Retried with no row there it became a delete,
 *     which node-wins let through: another site's worker and its children deleted everywhere.
 * M3: held keys are skipped by the push; once the application deleted its row under a held key,
 *     the copy of the same site's own row (moved there on the hub by another node) settled into
 *     that key: both images of the record were the same row, and either resolution inserted it a
 *     second time (a raw duplicate-entry error).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PushRaceError, pushBatch } from '../src/sync/push.js';
import type { RekeyEvent } from '../src/sync/rekey.js';
import { resolveRekey } from '../src/sync/rekey-resolve.js';
import { resolveHooks } from '../src/sync/rekey-resolve-outcome.js';
import { Syncer } from '../src/sync/syncer.js';
import { envOf } from './helpers/cli.js';
import { observeHub } from './helpers/intercept-hub.js';
import { loseHubCommit } from './helpers/lost-commit.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOADER = `file://${path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')}`;
const CHILD = path.join(ROOT, 'test/helpers/resolve-kill-child.ts');

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];

type Pair = { note: string; badge: string | null };
const PAIRS = 'SELECT a.note, w.badge FROM attendance a LEFT JOIN workers w ON w.id = a.worker_id ORDER BY a.note';

/** Every side holds the same rows, and each attendance row sits on the worker its note names. */
async function childrenEverywhere(w: SyncWorld): Promise<string[]> {
  expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
  const hub = (await w.hub.query(PAIRS)) as Pair[];
  for (const n of w.nodes) expect(n.db.prepare(PAIRS).all()).toEqual(hub);
  return hub.map((p) => `${p.note} → ${p.badge}`);
}

async function hubBadges(w: SyncWorld): Promise<string[]> {
  return ((await w.hub.query('SELECT badge FROM workers ORDER BY badge')) as { badge: string }[]).map((r) => r.badge);
}

async function hubKeyOf(w: SyncWorld, badge: string): Promise<string> {
  const [r] = (await w.hub.query('SELECT id FROM workers WHERE badge = ?', [badge])) as { id: string | number }[];
  return String(r?.id);
}

describe.skipIf(!HUB_AVAILABLE)('manual key collisions, operator trial 4', () => {
  const fx = syncWorlds({
    prefix: 'trial4',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b', 'c'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });
  // Each test's world closed after it: kept to the file's end, 16 worlds of three nodes outgrew
  // the hub's max_connections.
  const open: SyncWorld[] = [];
  const world = async () => {
    const w = await fx.world();
    open.push(w);
    return w;
  };
  afterEach(async () => {
    for (const w of open.splice(0)) await w.close();
  });

  /**
   * The trial's state on A: B's `--rekey hub` moved C's worker 1 on the hub (B's own worker took 1,
   * with its child); A, not knowing, wrote its own worker under the new key (held apart), so A's
   * copy of C's worker waits under 1 (unsettled) and A's edit of it is parked, waiting.
   */
  async function trialState(w: SyncWorld): Promise<{ moved: string; heldId: number }> {
    const [a, b, c] = (['a', 'b', 'c'] as const).map((n) => w.node(n));
    if (!a || !b || !c) throw new Error('nodes');
    c.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'c-w')").run();
    c.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'c-w')").run();
    await c.syncer.syncOnce();
    await a.syncer.syncOnce();
    b.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'b-w')").run();
    b.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (11, 1, 'b-w')").run();
    await b.syncer.syncOnce();
    const [heldB] = b.syncer.rekeys.list({ status: 'held' });
    await resolveRekey(b.syncer, heldB?.id as number, 'hub');
    await b.syncer.syncOnce();
    const moved = await hubKeyOf(w, 'c-w');
    expect(await hubKeyOf(w, 'b-w')).toBe('1');
    expect(moved).not.toBe('1');
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (?, 'a-w')").run(BigInt(moved));
    await a.syncer.syncOnce();
    const [heldA] = a.syncer.rekeys.list({ status: 'held' });
    expect([heldA?.tbl, heldA?.oldKey]).toEqual(['workers', moved]);
    a.db.prepare("UPDATE workers SET badge = 'c-w2' WHERE id = 1").run();
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (50, 'a-x')").run();
    await a.syncer.syncOnce({ pull: false });
    expect(parkedPush(w)).toEqual([['workers', '1', 'U']]);
    return { moved, heldId: heldA?.id as number };
  }

  const parkedPush = (w: SyncWorld) =>
    w
      .node('a')
      .syncer.state.parked('push')
      .map((p) => [p.tbl, p.pk, p.firstOp]);

  /** B's worker and its child, C's (edited) worker and its children, A's workers: on every side, no conflict. */
  async function nothingLost(w: SyncWorld, children = ['b-w → b-w', 'c-w → c-w2']): Promise<void> {
    await syncUntilQuiet(w.nodes, 10);
    expect(await hubBadges(w)).toEqual(['a-w', 'a-x', 'a-y', 'b-w', 'c-w2']);
    expect(await childrenEverywhere(w)).toEqual(children);
    for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
  }

  // Where the resolve comes: before the push decides (the fence, its first hub statement: the
  // decision then reads the moved keys with the images read before), or after (before it records).
  const moments = {
    'before it decides': /^\s*UPDATE _dualdb_nodes SET push_token/,
    'after it decided': /^INSERT INTO `workers`/,
  };
  for (const [moment, match] of Object.entries(moments))
    it(`M1: resolve --rekey node in another process, ${moment}: the watcher's push reads its batch again, records and sends nothing stale`, async () => {
      const w = await world();
      const a = w.node('a');
      // The operator's `dualdb rekeys resolve` process, beside A's watcher (a.syncer), same file.
      const resolver = Syncer.open(a.config, { planTtlMs: 0 });
      try {
        const { heldId } = await trialState(w);
        // A's watcher pushes the parked copy (retried), A's new child of it and a new worker 60;
        // meanwhile the resolve moves A's row and settles the copy, parked entry along, into C's key.
        a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (22, 1, 'c-w/a')").run();
        a.db.prepare("INSERT INTO workers (id, badge) VALUES (60, 'a-y')").run();
        let resolved = false;
        const raced = await a.syncer.withContext((ctx) => {
          const hub = observeHub(ctx.hub, async (sql) => {
            if (!resolved && match.test(sql)) {
              resolved = true;
              await resolveRekey(resolver, heldId, 'node');
            }
          });
          return pushBatch({ ...ctx, hub }).then(
            () => undefined,
            (e: unknown) => e,
          );
        });
        expect(resolved).toBe(true);
        // Nothing recorded from the stale read (the entry not parked again under the old key), nothing
        // sent (A's child of the copy not attached to B's worker, now under the copy's old key).
        expect(parkedPush(w).filter((p) => p[1] === '1')).toEqual([]);
        expect(await w.hub.query('SELECT note FROM attendance WHERE worker_id = 1 ORDER BY note')).toEqual([{ note: 'b-w' }]);
        expect(raced).toBeInstanceOf(PushRaceError);
        expect((raced as PushRaceError).again).toBe(true);
        expect(await hubBadges(w)).not.toContain('a-y');
        await nothingLost(w, ['b-w → b-w', 'c-w → c-w2', 'c-w/a → c-w2']);
      } finally {
        await resolver.close();
      }
    }, 120_000);

  it('M1: a parked update retried with no row under its key never deletes a hub row this node has not seen inserted', async () => {
    const w = await world();
    const a = w.node('a');
    const { heldId } = await trialState(w);
    await resolveRekey(a.syncer, heldId, 'node');
    // What the stale push recorded in the trial (its file, or an earlier version): the entry parked
    // again under 1, where A has no row and the hub has B's worker, which A has not taken yet.
    a.syncer.state.park('push', 'workers', '1', 'waits for its parent row, held apart by a key collision (`dualdb rekeys`)', {
      waiting: true,
      firstOp: 'U',
    });
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (60, 'a-y')").run();
    await nothingLost(w);
  }, 120_000);
  /**
   * M3's state: A's worker R went up under 1; B's own worker 1 collided and B resolved --rekey hub,
   * so R moved on the hub to a new key. A, not knowing, wrote its own worker S under that key:
   * held apart, A's copy of R waiting under 1 (unsettled). Then A's application deletes S.
   */
  async function m3State(w: SyncWorld): Promise<{ moved: string; heldId: number }> {
    const [a, b] = (['a', 'b'] as const).map((n) => w.node(n));
    if (!a || !b) throw new Error('nodes');
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'a-r')").run();
    a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'a-r')").run();
    await a.syncer.syncOnce();
    b.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'b-w')").run();
    await b.syncer.syncOnce();
    const [heldB] = b.syncer.rekeys.list({ status: 'held' });
    await resolveRekey(b.syncer, heldB?.id as number, 'hub');
    const moved = await hubKeyOf(w, 'a-r');
    expect(moved).not.toBe('1');
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (?, 'a-s')").run(BigInt(moved));
    await a.syncer.syncOnce();
    const [heldA] = a.syncer.rekeys.list({ status: 'held' });
    expect([heldA?.tbl, heldA?.oldKey]).toEqual(['workers', moved]);
    a.db.prepare('DELETE FROM workers WHERE id = ?').run(BigInt(moved));
    return { moved, heldId: heldA?.id as number };
  }

  /** R once, under the key the hub gave it, with its child; B's worker; nothing held or parked anywhere. */
  async function m3Settled(w: SyncWorld, moved: string): Promise<void> {
    await syncUntilQuiet(w.nodes, 10);
    expect(await hubBadges(w)).toEqual(['a-r', 'b-w']);
    expect(await hubKeyOf(w, 'a-r')).toBe(moved);
    expect(await childrenEverywhere(w)).toEqual(['a-r → a-r']);
    for (const n of w.nodes) {
      expect(n.syncer.rekeys.list({ status: 'held' })).toEqual([]);
      expect(n.syncer.state.parked()).toEqual([]);
    }
  }

  for (const side of ['node', 'hub'] as const)
    it(`M3: the copy of a site's own moved row never settles into its held key; resolve --rekey ${side} places it once`, async () => {
      const w = await world();
      const a = w.node('a');
      const { moved, heldId } = await m3State(w);
      // A push and a pull, not a sync: the sync closes such a collision by itself (the next test).
      for (let i = 0; i < 2; i++) {
        await a.syncer.push();
        await a.syncer.pull();
      }
      // The held key is still the collision's: the copy waits where it was.
      expect(a.db.prepare('SELECT id FROM workers WHERE badge = ?').get('a-r')).toEqual({ id: 1n });
      expect(a.db.prepare('SELECT id FROM workers WHERE id = ?').get(BigInt(moved))).toBeUndefined();
      // A's own row under the key is gone: nothing clashes, the hub's row (A's R) takes the key here.
      expect(await resolveRekey(a.syncer, heldId, side)).toBeNull();
      await m3Settled(w, moved);
    }, 120_000);
  it("M3: the next sync closes it by itself (the node's row gone, issue 11) and places the copy once", async () => {
    const w = await world();
    const a = w.node('a');
    const { moved, heldId } = await m3State(w);
    await a.syncer.syncOnce();
    const rec = a.syncer.rekeys.get(heldId);
    expect([rec?.status, rec?.reason]).toEqual(['closed', 'node-row-gone']);
    expect(a.db.prepare('SELECT id FROM workers WHERE badge = ?').get('a-r')).toEqual({ id: BigInt(moved) });
    await m3Settled(w, moved);
  }, 120_000);
  for (const side of ['node', 'hub', 'sync'] as const)
    it(`M3: a held record whose two images are one row (left by an earlier version) closes on ${side === 'sync' ? 'the next sync by itself' : `resolve --rekey ${side}`}, nothing moved`, async () => {
      const w = await world();
      const a = w.node('a');
      const { moved, heldId } = await m3State(w);
      // A push and a pull, not a sync (which closes the record by itself now, the node's row gone).
      await a.syncer.push();
      await a.syncer.pull();
      // The state the trial's file was in: the copy of R settled into the held key (before taken()
      // counted held keys), its child along; node and hub images of the record are the same row.
      a.db.transaction(() => {
        a.db.pragma('defer_foreign_keys = ON');
        a.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
        a.db.prepare('UPDATE attendance SET worker_id = ? WHERE worker_id = 1').run(BigInt(moved));
        a.db.prepare('UPDATE workers SET id = ? WHERE id = 1').run(BigInt(moved));
        a.db.prepare("UPDATE _dualdb_hub_moves SET local_key = NULL WHERE local_key = '1'").run();
        a.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
      })();
      if (side === 'sync') {
        await a.syncer.syncOnce();
        const rec = a.syncer.rekeys.get(heldId);
        expect([rec?.status, rec?.reason]).toEqual(['closed', 'node-row-gone']);
        await m3Settled(w, moved);
        return;
      }
      const lines: string[] = [];
      expect(await resolveRekey(a.syncer, heldId, side, (line) => lines.push(line))).toBeNull();
      expect(lines).toEqual([
        `key collision #${heldId} on workers ${moved} closed, nothing moved: the node's row there is the hub's row itself (the node's own row that collided is gone)`,
      ]);
      await m3Settled(w, moved);
    }, 120_000);
  /**
   * Found while looking for M2 (a site missing its own child): the hub (killed, stopped) loses the
   * resolve's COMMIT. `--rekey node` commits the node's half first and heals (the moved row is
   * logged under its new key and sent again). `--rekey hub` committed its node's half first too:
   * the node's own row never reached the hub and the children sat on the wrong workers. Now its
   * node's half waits for the hub's COMMIT, and a lost answer is settled by the commit token.
   */
  async function lostCommitState(w: SyncWorld): Promise<number> {
    const a = w.node('a');
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (7, 'a-w7')").run();
    a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (21, 7, 'a-w7')").run();
    await w.hub.execute("INSERT INTO workers (id, badge) VALUES (7, 'h-w7')");
    await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (41, 7, 'h-w7')");
    await a.syncer.syncOnce();
    await a.syncer.syncOnce();
    const [held] = a.syncer.rekeys.list({ status: 'held' });
    expect([held?.tbl, held?.oldKey]).toEqual(['workers', '7']);
    return held?.id as number;
  }

  for (const side of ['node', 'hub'] as const)
    it(`resolve --rekey ${side} whose hub COMMIT is lost: every row kept, each child on its worker`, async () => {
      const w = await world();
      const a = w.node('a');
      const heldId = await lostCommitState(w);
      // The resolve's hub COMMIT never happens: the server rolls back, the client sees the connection lost.
      const lost = await loseHubCommit(a.syncer, { server: 'rollback', once: false });
      try {
        await expect(resolveRekey(a.syncer, heldId, side)).rejects.toThrow(/lost the connection/);
      } finally {
        lost.restore();
      }
      // Nothing moved on either side: the collision is still held (a hub move is never half done).
      if (side === 'hub') expect(a.syncer.rekeys.get(heldId)?.status).toBe('held');
      await syncUntilQuiet(w.nodes, 10);
      for (const h of a.syncer.rekeys.list({ status: 'held' })) await resolveRekey(a.syncer, h.id, side);
      await syncUntilQuiet(w.nodes, 10);
      expect(await childrenEverywhere(w)).toEqual(['a-w7 → a-w7', 'h-w7 → h-w7']);
    }, 120_000);

  for (const side of ['node', 'hub'] as const)
    it(`resolve --rekey ${side} after the hub's row is gone, whose hub COMMIT is lost: the node's row still reaches the hub`, async () => {
      const w = await world();
      const a = w.node('a');
      const heldId = await lostCommitState(w);
      await w.hub.execute('DELETE FROM workers WHERE id = 7');
      const lost = await loseHubCommit(a.syncer, { server: 'rollback', once: false });
      try {
        await expect(resolveRekey(a.syncer, heldId, side)).rejects.toThrow(/lost the connection/);
      } finally {
        lost.restore();
      }
      await syncUntilQuiet(w.nodes, 10);
      for (const h of a.syncer.rekeys.list({ status: 'held' })) await resolveRekey(a.syncer, h.id, side);
      await syncUntilQuiet(w.nodes, 10);
      expect(await hubBadges(w)).toEqual(['a-w7']);
      expect(await childrenEverywhere(w)).toEqual(['a-w7 → a-w7']);
    }, 120_000);

  it('resolve --rekey hub whose COMMIT answer is lost after the hub committed: the token says so, the node’s half is written, the resolve succeeds', async () => {
    const w = await world();
    const a = w.node('a');
    const heldId = await lostCommitState(w);
    const lost = await loseHubCommit(a.syncer, { server: 'commit', once: false });
    let event: Awaited<ReturnType<typeof resolveRekey>>;
    try {
      event = await resolveRekey(a.syncer, heldId, 'hub');
    } finally {
      lost.restore();
    }
    expect([event?.id, event?.moved, event?.oldKey, event?.newKey]).toEqual([heldId, 'hub', '7', await hubKeyOf(w, 'h-w7')]);
    expect(a.syncer.rekeys.get(heldId)?.status).toBe('done');
    await syncUntilQuiet(w.nodes, 10);
    expect(await hubBadges(w)).toEqual(['a-w7', 'h-w7']);
    expect(await childrenEverywhere(w)).toEqual(['a-w7 → a-w7', 'h-w7 → h-w7']);
  }, 120_000);

  it('resolve --rekey hub beside the watcher: the watcher’s sync between the hub COMMIT and the node’s half finishes the move, the resolve does not move it twice', async () => {
    const w = await world();
    const a = w.node('a');
    const heldId = await lostCommitState(w);
    // The operator's `dualdb rekeys resolve` process, beside A's watcher (a.syncer), same file.
    const resolver = Syncer.open(a.config, { planTtlMs: 0 });
    resolveHooks.afterHubCommit = () => a.syncer.syncOnce();
    try {
      const event = await resolveRekey(resolver, heldId, 'hub');
      expect([event?.id, event?.moved, event?.newKey]).toEqual([heldId, 'hub', await hubKeyOf(w, 'h-w7')]);
    } finally {
      resolveHooks.afterHubCommit = undefined;
      await resolver.close();
    }
    expect(a.syncer.rekeys.list().map((r) => [r.id, r.status])).toEqual([[heldId, 'done']]);
    // The watcher's line (operator trial 2026-12-07: 22 of them, for one `--all`) says who moved
    // the row, not that a COMMIT was lost: none was, the resolve was alive beside it.
    const lines = a.syncer.log.recent(200).map((e) => e.msg);
    expect(lines.filter((m) => /COMMIT had been lost/.test(m))).toEqual([]);
    expect(lines.filter((m) => /resolved by `dualdb rekeys resolve`/.test(m))).toHaveLength(1);
    await syncUntilQuiet(w.nodes, 10);
    expect(await hubBadges(w)).toEqual(['a-w7', 'h-w7']);
    expect(await childrenEverywhere(w)).toEqual(['a-w7 → a-w7', 'h-w7 → h-w7']);
  }, 120_000);

  // `rekeys resolve --rekey hub` killed (kill -9) just before the hub's COMMIT, or between it and
  // the node's half: the next sync forgets it (still held) or finishes it (the hub had it). In the
  // third case the application writes its own new row, before that sync, under the very key the
  // hub gave the hub's row (SQLite hands out max + 1): that key is then held apart in its turn.
  const kills = {
    'before the hub COMMIT: the next sync forgets it': { at: 'before-commit', takeKey: false },
    'between the hub COMMIT and the node’s half: the next sync finishes it': { at: 'after-commit', takeKey: false },
    'between the hub COMMIT and the node’s half, the application then writing under the new key: held apart in its turn': {
      at: 'after-commit',
      takeKey: true,
    },
  } as const;
  for (const [name, { at, takeKey }] of Object.entries(kills))
    it(`resolve --rekey hub killed ${name}; every row kept, each child on its worker`, async () => {
      const w = await world();
      const a = w.node('a');
      const heldId = await lostCommitState(w);
      const env = envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual', REKEY_ID: String(heldId), KILL_AT: at });
      const child = spawn(process.execPath, ['--import', LOADER, CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
      expect([signal, out]).toEqual(['SIGKILL', '']);
      expect(await w.hub.query('SELECT badge FROM workers WHERE id = 7')).toEqual([
        { badge: at === 'before-commit' ? 'h-w7' : 'a-w7' },
      ]);
      const badges = ['a-w7', 'h-w7'];
      if (takeKey) {
        const newKey = await hubKeyOf(w, 'h-w7');
        a.db.prepare("INSERT INTO workers (id, badge) VALUES (?, 'a-w8')").run(BigInt(newKey));
        badges.push('a-w8');
      }
      const events: RekeyEvent[] = [];
      a.syncer.on('rekey', (e: RekeyEvent) => events.push(e));
      await a.syncer.syncOnce();
      expect(a.syncer.rekeys.get(heldId)?.status).toBe(at === 'before-commit' ? 'held' : 'done');
      // Finished by the sync, the move is told once (db.on('rekey')), as the resolve would have.
      expect(events.map((e) => [e.moved, e.oldKey])).toEqual(at === 'before-commit' ? [] : [['hub', '7']]);
      expect(a.syncer.rekeys.list({ status: 'held' }).map((h) => h.oldKey)).toEqual(
        at === 'before-commit' ? ['7'] : takeKey ? [await hubKeyOf(w, 'h-w7')] : [],
      );
      for (const h of a.syncer.rekeys.list({ status: 'held' })) await resolveRekey(a.syncer, h.id, 'hub');
      await syncUntilQuiet(w.nodes, 10);
      expect(await hubBadges(w)).toEqual(badges.sort());
      expect(await childrenEverywhere(w)).toEqual(['a-w7 → a-w7', 'h-w7 → h-w7']);
      for (const n of w.nodes) expect(n.syncer.state.conflicts()).toEqual([]);
    }, 120_000);
});
