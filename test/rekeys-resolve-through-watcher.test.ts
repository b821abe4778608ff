/**
 * Issue 11: `dualdb rekeys resolve` beside the node's running `sync --watch` ran its own Syncer
 * and raced the watcher (PullRaceError, `--all` timing out under load). It now asks the running
 * syncer over the control socket, which resolves inside its own loop, between two of its cycles;
 * the command's output, JSON and exit codes stay what they were (README "Exit codes").
 */
import { describe, expect, it } from 'vitest';
import { startSyncProcess } from '../src/sync/process.js';
import type { RekeyEvent } from '../src/sync/rekey.js';
import { EXIT } from '../src/util/exit-codes.js';
import { cliArgs, cliEnv, envOf } from './helpers/cli.js';
import { runProcess } from './helpers/run-process.js';
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
const N = 3;

type Listing = { id: number; tbl: string; oldKey: string; status: string }[];

/** The real CLI in another process, awaited (the watcher answers from this one meanwhile). */
async function cli(args: string[], env: NodeJS.ProcessEnv) {
  const r = await runProcess(process.execPath, cliArgs(args), { env: cliEnv(env), timeoutMs: 120_000 });
  return { code: r.code, stdout: r.out, stderr: r.err };
}

describe.skipIf(!HUB_AVAILABLE)('rekeys resolve through the running watcher (issue 11)', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  for (const side of ['node', 'hub'] as const)
    it(`--rekey ${side}: one, then --all, resolved by the watcher in its loop; same output and exit codes`, async () => {
      const w = await makeWorld(fx.testHub, fx.dir, {
        prefix: `rkwatch${side}`,
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['a'],
        env: { SYNC_KEY_COLLISIONS: 'manual' },
      });
      const a = w.node('a');
      const env = envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual' });
      for (let i = 1; i <= N; i++) {
        a.db.prepare('INSERT INTO workers (badge) VALUES (?)').run(`node-${i}`);
        a.db.prepare('INSERT INTO attendance (worker_id, note) VALUES (?, ?)').run(i, `node-${i}`);
        await w.hub.execute('INSERT INTO workers (badge) VALUES (?)', [`hub-${i}`]);
        await w.hub.execute('INSERT INTO attendance (worker_id, note) VALUES (?, ?)', [i, `hub-${i}`]);
      }
      await syncUntilQuiet(w.nodes);
      const listing = JSON.parse((await cli(['rekeys', '--all', '--json'], env)).stdout) as Listing;
      const parent = listing.find((r) => r.tbl === 'workers' && r.oldKey === '1');
      const child = listing.find((r) => r.tbl === 'attendance' && r.oldKey === '1');
      expect(parent?.status).toBe('held');
      expect(child?.status).toBe('pending');

      const watcher = await startSyncProcess(
        { ...a.config, sync: { ...a.config.sync, keyCollisions: 'manual' } },
        {
          kind: 'watch',
          signals: false,
        },
      );
      // What the watcher's own syncer resolved, and whether one of its cycles was running then.
      const resolvedHere: RekeyEvent[] = [];
      let inCycle = false;
      let besideCycle = 0;
      const syncer = watcher.service.syncer;
      const syncOnce = syncer.syncOnce.bind(syncer);
      syncer.syncOnce = async (o) => {
        inCycle = true;
        try {
          return await syncOnce(o);
        } finally {
          inCycle = false;
        }
      };
      // Resolutions of held records (children that follow their parent move in cycles, as pushes).
      const held = new Set(listing.filter((r) => r.status === 'held').map((r) => r.id));
      syncer.on('rekey', (e) => {
        resolvedHere.push(e);
        if (inCycle && held.has(e.id)) besideCycle++;
      });
      try {
        // Refusals come back with their own line and exit code, as when run alone.
        const none = await cli(['rekeys', 'resolve', '999', '--rekey', side], env);
        expect(none.code).toBe(EXIT.CONFIG);
        expect(none.stderr).toContain('there is no key collision #999');
        const follows = await cli(['rekeys', 'resolve', String(child?.id), '--rekey', side], env);
        expect(follows.code).toBe(EXIT.CONFLICTS);
        expect(follows.stderr.trim().split('\n')).toHaveLength(1);
        expect(follows.stderr).toContain(`\`dualdb rekeys resolve ${parent?.id} --rekey ${side}\``);
        expect((await cli(['rekeys', 'resolve', '--all', '--rekey', side, '--table', 'nosuch'], env)).code).toBe(EXIT.CONFIG);

        const one = await cli(['rekeys', 'resolve', String(parent?.id), '--rekey', side, '--json'], env);
        expect(one.stderr).toBe('');
        expect(one.code).toBe(EXIT.OK);
        const answer = JSON.parse(one.stdout) as { id: number; resolved: boolean; rekey: RekeyEvent };
        expect(answer).toMatchObject({ id: parent?.id, resolved: true, rekey: { table: 'workers', oldKey: '1', moved: side } });
        // Resolved by the watcher's own syncer (before: by the command's, beside it).
        expect(resolvedHere.map((e) => e.id).filter((x) => held.has(x))).toEqual([parent?.id]);

        const bulk = await cli(['rekeys', 'resolve', '--all', '--rekey', side], env);
        expect(bulk.stderr).toBe('');
        expect(bulk.code).toBe(EXIT.OK);
        expect(bulk.stdout.trim().split('\n')).toHaveLength(1);
        expect(bulk.stdout).toContain('0 still held, 0 pending');
        expect(new Set(resolvedHere.map((e) => e.id)).size).toBe(2 * N);
        expect(besideCycle).toBe(0);
        const after = await cli(['rekeys', '--json'], env);
        expect(after.code).toBe(EXIT.OK);
      } finally {
        await watcher.stop();
      }
      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers', 'attendance'])).toEqual([]);
      const rows = (await w.hub.query(
        'SELECT w.badge, a.note FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.note',
      )) as { badge: string; note: string }[];
      expect(rows).toHaveLength(2 * N);
      for (const r of rows) expect(r.badge).toBe(r.note);
      await w.close();
    }, 240_000);
});
