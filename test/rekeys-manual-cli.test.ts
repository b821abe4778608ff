/**
 * SYNC_KEY_COLLISIONS=manual as an operator meets it (trial report finding 5): a listing that says
 * when it is capped and how many wait for a decision, exit 11 while one is held, a clear line for
 * a child that follows its parent (exit 11, naming the parent's record and its command), and `rekeys resolve --all` settling parents before children.
 */
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { divergence, makeWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)',
  `CREATE TABLE attendance (id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
     note TEXT)`,
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  `CREATE TABLE attendance (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker_id BIGINT NOT NULL, note VARCHAR(80) NULL,
     CONSTRAINT fk_att_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE CASCADE) ENGINE=InnoDB`,
];
const N = 4;

type Listing = { id: number; tbl: string; oldKey: string; status: string }[];

describe.skipIf(!HUB_AVAILABLE)('manual key collisions for operators: rekeys listing, exit code, bulk resolve', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  for (const side of ['node', 'hub'] as const)
    it(`lists held first with the total, exits 11, explains a pending child, resolves all --rekey ${side}`, async () => {
      const w = await makeWorld(fx.testHub, fx.dir, {
        prefix: `rkman${side}`,
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['a'],
        env: { SYNC_KEY_COLLISIONS: 'manual' },
      });
      try {
        const a = w.node('a');
        // Both sides create N workers (ids 1..N) and one attendance row each, before any sync.
        for (let i = 1; i <= N; i++) {
          a.db.prepare('INSERT INTO workers (badge) VALUES (?)').run(`node-${i}`);
          a.db.prepare('INSERT INTO attendance (worker_id, note) VALUES (?, ?)').run(i, `node-${i}`);
          await w.hub.execute('INSERT INTO workers (badge) VALUES (?)', [`hub-${i}`]);
          await w.hub.execute('INSERT INTO attendance (worker_id, note) VALUES (?, ?)', [i, `hub-${i}`]);
        }
        await syncUntilQuiet(w.nodes);
        const env = envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual' });

        // (a) a capped listing says so, held ones first, with the counts.
        const capped = runCli(['rekeys', '--limit', '2', '--json'], env);
        expect(capped.stderr).toContain(`showing 2 of ${2 * N} (${N} held, ${N} pending)`);
        // (b) exit 11 while held, whichever records the capped listing shows (README).
        expect(capped.code).toBe(EXIT.CONFLICTS);
        const listing = JSON.parse(capped.stdout) as Listing;
        expect(listing.map((r) => [r.tbl, r.status])).toEqual([
          ['workers', 'held'],
          ['workers', 'held'],
        ]);
        const text = runCli(['rekeys', '--limit', '2'], env);
        expect(text.stdout).toContain(`showing 2 of ${2 * N}`);
        expect(text.stdout).toContain(`${N} held for a decision`);
        expect(text.stdout).toContain(`${N} pending`);
        const all = JSON.parse(runCli(['rekeys', '--all', '--json'], env).stdout) as Listing;
        expect(all).toHaveLength(2 * N);
        expect(all.filter((r) => r.status === 'pending').every((r) => r.tbl === 'attendance')).toBe(true);

        expect(text.code).toBe(EXIT.CONFLICTS);

        // (c) resolving a pending child names the parent's record.
        const child = all.find((r) => r.tbl === 'attendance' && r.oldKey === '1');
        const parent = all.find((r) => r.tbl === 'workers' && r.oldKey === '1');
        expect(child?.status).toBe('pending');
        const refused = runCli(['rekeys', 'resolve', String(child?.id), '--rekey', side], env);
        // Not a bad flag (2): a collision waits for a decision, exit 11 as `dualdb rekeys` (README).
        expect(refused.code).toBe(EXIT.CONFLICTS);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
        expect(refused.stderr).toContain("follows its parent's decision");
        expect(refused.stderr).toContain(`key collision #${parent?.id} (workers 1, held)`);
        expect(refused.stderr).toContain(`\`dualdb rekeys resolve ${parent?.id} --rekey ${side}\``);
        expect(refused.stderr).not.toContain('not waiting for a decision');

        // (d) --table: only that table's; children whose parents are held elsewhere stay (exit 11).
        expect(runCli(['rekeys', 'resolve', '--all', '--rekey', side, '--table', 'nosuch'], env).code).toBe(EXIT.CONFIG);
        const children = runCli(['rekeys', 'resolve', '--all', '--rekey', side, '--table', 'attendance'], env);
        expect(children.code).toBe(EXIT.CONFLICTS);
        expect(children.stdout).toContain(`0 key collision(s) on attendance resolved`);
        expect(children.stdout).toContain(`0 still held, ${N} pending`);
        // One call resolves every held collision, parents first, children after them.
        const bulk = runCli(['rekeys', 'resolve', '--all', '--rekey', side], env);
        expect(bulk.stderr).toBe('');
        expect(bulk.code).toBe(EXIT.OK);
        expect(bulk.stdout.trim().split('\n')).toHaveLength(1);
        expect(bulk.stdout).toContain(`${2 * N} key collision(s) resolved: ${2 * N} ${side}'s row(s) moved`);
        expect(bulk.stdout).toContain('0 still held, 0 pending');
        const after = runCli(['rekeys', '--json'], env);
        expect(after.code).toBe(EXIT.OK);
        const settled = JSON.parse(after.stdout) as Listing;
        expect(settled.filter((r) => r.status === 'held' || r.status === 'pending')).toEqual([]);

        await syncUntilQuiet(w.nodes);
        expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
        // Every row kept once, every attendance row on the worker it was written for.
        const rows = (await w.hub.query(
          'SELECT w.badge, a.note FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.note',
        )) as { badge: string; note: string }[];
        expect(rows).toHaveLength(2 * N);
        for (const r of rows) expect(r.badge).toBe(r.note);
        const [count] = (await w.hub.query('SELECT count(*) AS n FROM workers')) as { n: number | string }[];
        expect(Number(count?.n)).toBe(2 * N);
      } finally {
        await w.close();
      }
    }, 180_000);
});
