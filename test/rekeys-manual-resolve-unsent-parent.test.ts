/**
 * Operator trial of 2026-12-07 (issue 11, manual): `dualdb rekeys resolve` exited 1 with a raw
 * MySQL foreign-key error. The node's row of the held collision names a parent row the hub does not
 * have yet: this node's own new row, its insert not pushed yet (or parked). Either resolution writes
 * the node's row to the hub, which refuses it. The resolve now says so in one line, naming the
 * parent row and the fix, exits 11 (a collision still waits for a decision: README "Exit codes"),
 * and changes nothing on either side; after `dualdb sync --once` the same command resolves it.
 */
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     wname TEXT NOT NULL)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, wname VARCHAR(80) NOT NULL,
     CONSTRAINT fk_att_w FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const PAIRS = 'SELECT a.wname, w.name FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.wname';

describe.skipIf(!HUB_AVAILABLE)('rekeys resolve: the node’s row names a parent the hub does not have yet', () => {
  const fx = syncWorlds({
    prefix: 'rsunsent',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'manual', CONFLICT_POLICY: 'node-wins' },
  });

  for (const side of ['node', 'hub'] as const)
    it(`--rekey ${side}: one line naming the parent row and \`dualdb sync --once\`, exit 11, nothing changed; after the sync it resolves`, async () => {
      const w = await fx.world();
      const [a, b] = [w.node('a'), w.node('b')];
      // b's worker 1 and attendance 1 on the hub; a's own attendance 1 on the same worker: held apart.
      b.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'w1')").run();
      await b.syncer.syncOnce();
      await a.syncer.syncOnce();
      b.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 1, 'b-att')").run();
      await b.syncer.syncOnce();
      a.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 1, 'a-att')").run();
      await a.syncer.syncOnce();
      const [held] = a.syncer.rekeys.list({ status: 'held' });
      expect([held?.tbl, held?.oldKey]).toEqual(['attendance', '1']);
      // Then a's own new worker 5, not pushed, and a's attendance 1 moved onto it.
      a.db.prepare("INSERT INTO workers (id, name) VALUES (5, 'a5')").run();
      a.db.prepare('UPDATE attendance SET worker_id = 5 WHERE id = 1').run();
      const hubBefore = await w.hub.query('SELECT * FROM attendance ORDER BY id');
      const nodeBefore = a.db.prepare('SELECT * FROM attendance ORDER BY id').all();
      const env = envOf(a.config);

      const r = runCli(['rekeys', 'resolve', String(held?.id), '--rekey', side], env);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(r.stderr).toContain(`key collision #${held?.id} (attendance 1) cannot be resolved yet`);
      expect(r.stderr).toContain('workers 5');
      expect(r.stderr).toContain('dualdb sync --once');
      expect(r.stderr).not.toMatch(/foreign key constraint|ER_NO_REFERENCED_ROW/i);
      expect(r.code).toBe(EXIT.CONFLICTS);
      // Nothing half-applied: the record still held, both sides as before, no marker left.
      expect(a.syncer.rekeys.get(held?.id as number)?.status).toBe('held');
      expect(await w.hub.query('SELECT * FROM attendance ORDER BY id')).toEqual(hubBefore);
      expect(await w.hub.query("SELECT count(*) AS n FROM _dualdb_changes WHERE tbl = 'attendance'")).toEqual([{ n: '1' }]);
      expect(a.db.prepare('SELECT * FROM attendance ORDER BY id').all()).toEqual(nodeBefore);
      expect(a.syncer.state.getMeta('rekey_resolving')).toBeUndefined();

      // The sync sends worker 5 (the held key waits); then the same command resolves it.
      await a.syncer.syncOnce();
      const ok = runCli(['rekeys', 'resolve', String(held?.id), '--rekey', side], env);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(EXIT.OK);
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      const hub = (await w.hub.query<{ wname: string; name: string }>(PAIRS)).map((p) => [p.wname, p.name]);
      expect(hub).toEqual([
        ['a-att', 'a5'],
        ['b-att', 'w1'],
      ]);
      for (const n of w.nodes) expect(n.db.prepare(PAIRS).raw().all()).toEqual(hub);
      for (const n of w.nodes) expect(n.syncer.state.parked()).toEqual([]);
    }, 120_000);

  it('--all: the sync between its rounds sends the parent row, then the collision is resolved', async () => {
    const w = await fx.world();
    const [a, b] = [w.node('a'), w.node('b')];
    b.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'w1')").run();
    await b.syncer.syncOnce();
    await a.syncer.syncOnce();
    b.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 1, 'b-att')").run();
    await b.syncer.syncOnce();
    a.db.prepare("INSERT INTO attendance (id, worker_id, wname) VALUES (1, 1, 'a-att')").run();
    await a.syncer.syncOnce();
    a.db.prepare("INSERT INTO workers (id, name) VALUES (5, 'a5')").run();
    a.db.prepare('UPDATE attendance SET worker_id = 5 WHERE id = 1').run();
    const r = runCli(['rekeys', 'resolve', '--all', '--rekey', 'node'], envOf(a.config));
    expect(r.stdout).toContain('1 key collision(s) resolved');
    expect(r.code).toBe(EXIT.OK);
    await syncUntilQuiet(w.nodes);
    expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
    expect(a.db.prepare(PAIRS).raw().all()).toEqual([
      ['a-att', 'a5'],
      ['b-att', 'w1'],
    ]);
  }, 120_000);
});
