/**
 * Key collisions seen by users and applications (docs/SYNC-CONTRACT.md invariant 13, issue 11
 * items 1 and 4): `dualdb rekeys [--json]`, `dualdb rekeys resolve <id> --rekey node|hub`,
 * the key kind and re-key counts in `dualdb status`, and the library's `rekey` event.
 */
import { describe, expect, it } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import { MonitorReader } from '../src/monitor/readings.js';
import type { RekeyEvent } from '../src/sync/rekey.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli, until } from './helpers/cli.js';
import { divergence, makeWorld, syncUntilQuiet, syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY AUTOINCREMENT, badge TEXT NOT NULL UNIQUE)',
  'CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, badge VARCHAR(40) NOT NULL UNIQUE) ENGINE=InnoDB',
  'CREATE TABLE tags (code VARCHAR(40) PRIMARY KEY, label VARCHAR(80) NULL) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('key collisions for users: rekeys command, status, library event', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('`dualdb rekeys` lists a held collision; `rekeys resolve` validates, then moves the chosen row; status counts it', async () => {
    const w = await makeWorld(fx.testHub, fx.dir, {
      prefix: 'rkcli',
      sqliteDdl: SQLITE_DDL,
      mysqlDdl: MYSQL_DDL,
      nodes: ['a'],
      env: { SYNC_KEY_COLLISIONS: 'manual' },
    });
    try {
      const a = w.node('a');
      a.db.prepare("INSERT INTO workers (badge) VALUES ('node-1')").run();
      await w.hub.execute("INSERT INTO workers (badge) VALUES ('hub-1')");
      await syncUntilQuiet(w.nodes);
      const env = envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual' });

      const listed = runCli(['rekeys', '--json'], env);
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(EXIT.CONFLICTS);
      const rows = JSON.parse(listed.stdout) as {
        id: number;
        tbl: string;
        oldKey: string;
        status: string;
        nodeImage: { badge: string };
      }[];
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ tbl: 'workers', status: 'held', nodeImage: { badge: 'node-1' } });
      const id = rows[0]?.id ?? 0;

      const text = runCli(['rekeys'], env);
      expect(text.stdout).toContain('held');
      expect(text.stdout).toContain('not declared as foreign keys cannot be followed');

      const heldStatus = runCli(['status', '--json'], env);
      const st = JSON.parse(heldStatus.stdout) as {
        rekeys: { total: number; open: number; closed: number };
        tables: { table: string; keyKind: string; rekeys: number; collisions: Record<string, number> }[];
      };
      expect(st.rekeys).toEqual({ total: 0, open: 1, closed: 0 });
      // Held collisions per table (operator report: the count alone did not say which table waits).
      expect(st.tables.find((t) => t.table === 'workers')?.collisions).toEqual({
        held: 1,
        pending: 0,
        done: 0,
        unconfirmed: 0,
        closed: 0,
      });
      expect(st.tables.find((t) => t.table === 'tags')?.collisions).toEqual({
        held: 0,
        pending: 0,
        done: 0,
        unconfirmed: 0,
        closed: 0,
      });
      const heldPlain = runCli(['status'], env).stdout.split('\n');
      const header = heldPlain.find((l) => /\btable\b.*\bre-keys\b/.test(l)) ?? '';
      const workersLine = heldPlain.find((l) => /^\s*workers\s/.test(l)) ?? '';
      expect(header).toMatch(/re-keys\s+held\s+note/);
      // The held column sits under its header: the value right after the re-keys count.
      expect(workersLine.slice(header.indexOf('held')).trim()).toMatch(/^1\b/);
      expect(st.tables.map((t) => [t.table, t.keyKind])).toEqual([
        ['tags', 'natural'],
        ['workers', 'generated'],
      ]);

      // Bad input: exit code 2 (as `conflicts resolve`), nothing touched.
      expect(runCli(['rekeys', 'resolve', 'abc', '--rekey', 'node'], env).code).toBe(EXIT.CONFIG);
      expect(runCli(['rekeys', 'resolve', String(id), '--rekey', 'sideways'], env).code).toBe(EXIT.CONFIG);
      const missing = runCli(['rekeys', 'resolve', '9999', '--rekey', 'node'], env);
      expect(missing.code).toBe(EXIT.CONFIG);
      expect(missing.stderr).toContain('no key collision #9999');

      const resolved = runCli(['rekeys', 'resolve', String(id), '--rekey', 'hub', '--json'], env);
      expect(resolved.stderr).toBe('');
      expect(resolved.code).toBe(EXIT.OK);
      const r = JSON.parse(resolved.stdout) as { rekey: RekeyEvent };
      expect(r.rekey).toMatchObject({ table: 'workers', moved: 'hub', oldKey: rows[0]?.oldKey });
      // Resolving again: no longer held.
      expect(runCli(['rekeys', 'resolve', String(id), '--rekey', 'hub'], env).code).toBe(EXIT.CONFIG);

      await syncUntilQuiet(w.nodes);
      expect(await divergence(w, ['workers'])).toEqual([]);
      expect((await w.hub.query('SELECT badge FROM workers ORDER BY badge')).map((x) => (x as { badge: string }).badge)).toEqual([
        'hub-1',
        'node-1',
      ]);
      const after = runCli(['rekeys'], env);
      expect(after.code).toBe(EXIT.OK);
      expect(after.stdout).toContain("hub's row");
      const done = JSON.parse(runCli(['status', '--json'], env).stdout) as typeof st;
      expect(done.rekeys).toEqual({ total: 1, open: 0, closed: 0 });
      expect(done.tables.find((t) => t.table === 'workers')?.rekeys).toBe(1);
      expect(done.tables.find((t) => t.table === 'workers')?.collisions).toEqual({
        held: 0,
        pending: 0,
        done: 1,
        unconfirmed: 0,
        closed: 0,
      });
      // The monitor reads the same record (its latest key collisions).
      const reader = new MonitorReader(a.config);
      try {
        expect(reader.localLists()?.rekeys).toEqual([
          expect.objectContaining({ id, table: 'workers', oldKey: rows[0]?.oldKey, moved: 'hub', status: 'done' }),
        ]);
      } finally {
        await reader.close();
      }
      const plain = runCli(['status'], env).stdout;
      expect(plain).toMatch(/workers\s+\S+\s+generated/);
      expect(plain).toMatch(/tags\s+\S+\s+natural/);
    } finally {
      await w.close();
    }
  }, 120_000);

  it("the library emits db.on('rekey') when its node's new row moves to a new id", async () => {
    const w = await fx.world({ prefix: 'rkapi', nodes: ['a'] });
    const n = w.node('a');
    await n.syncer.close();
    const db = await DualDatabase.open({ config: { ...n.config, sync: { ...n.config.sync, intervalMs: 200 } } });
    try {
      const events: RekeyEvent[] = [];
      db.on('rekey', (e) => events.push(e));
      await w.hub.execute("INSERT INTO workers (badge) VALUES ('hub-1')");
      const mine = await db.insert('workers', { badge: 'node-1' });
      expect(mine.lastInsertId).toBe(1n);
      await until(() => events.length === 1, 'the rekey event');
      expect(events[0]).toMatchObject({ table: 'workers', oldKey: '1', moved: 'node' });
      // The application learns the new id of its row and finds it there.
      const moved = events[0] as RekeyEvent;
      const row = db.get('SELECT badge FROM workers WHERE id = ?', BigInt(moved.newKey));
      expect(row).toEqual({ badge: 'node-1' });
    } finally {
      await db.close();
    }
  }, 60_000);
});
