/**
 * SYNC_KEY_COLLISIONS=manual (issue 11): a held collision one of whose two rows disappears — the
 * node's row deleted by the application, or the hub's row deleted on the hub by a MySQL client —
 * closes by itself at the next sync (status `closed`, `reason` saying whose row went, a
 * `rekey.closed` log line), instead of staying held for ever (`dualdb rekeys` exiting 11, the
 * children waiting on it never going). The hub's row gone, the node's row goes up under its key;
 * the node's row gone, the hub's row comes here. Nothing deleted comes back, nothing kept is lost.
 * Both rows still there, it stays held. docs/SYNC-CONTRACT.md invariant 13.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../src/log/sync-log.js';
import { Syncer } from '../src/sync/syncer.js';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { mariadbClient } from './helpers/mariadb-client.js';
import { divergence, type SyncWorld, syncUntilQuiet, syncWorlds, type TestNode } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

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
const TABLES = ['workers', 'attendance'];
const CHAIN = 'SELECT a.id, a.note, w.badge FROM attendance a JOIN workers w ON w.id = a.worker_id ORDER BY a.id';

describe.skipIf(!HUB_AVAILABLE)('manual: a held collision whose node or hub row is gone closes by itself', () => {
  const fx = syncWorlds({
    prefix: 'heldgone',
    sqliteDdl: SQLITE_DDL,
    mysqlDdl: MYSQL_DDL,
    nodes: ['a', 'b'],
    env: { SYNC_KEY_COLLISIONS: 'manual' },
  });

  /**
   * Worker 1 on the hub (a central write) and node a's own worker 1: held on a. With `child`, each
   * side's attendance 1 on its own worker 1 (a's is pending, following the held parent) and a's
   * attendance 7 on its worker (no collision of its own: it waits for its parent).
   */
  async function held(child: boolean): Promise<{ w: SyncWorld; a: TestNode; b: TestNode; id: number; log: LogEntry[] }> {
    const w = await fx.world();
    const [a, b] = [w.node('a'), w.node('b')];
    const log: LogEntry[] = [];
    a.syncer.log.on('entry', (e: LogEntry) => log.push(e));
    await w.hub.execute("INSERT INTO workers (id, badge) VALUES (1, 'hub-w')");
    if (child) await w.hub.execute("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'hub-at')");
    a.db.prepare("INSERT INTO workers (id, badge) VALUES (1, 'node-w')").run();
    if (child) {
      a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (1, 1, 'node-at')").run();
      a.db.prepare("INSERT INTO attendance (id, worker_id, note) VALUES (7, 1, 'node-at7')").run();
    }
    await syncUntilQuiet(w.nodes, 4);
    const open = a.syncer.rekeys.list({ heldFirst: true });
    expect(open.map((r) => [r.tbl, r.oldKey, r.status])).toEqual([
      ['workers', '1', 'held'],
      ...(child ? [['attendance', '1', 'pending']] : []),
    ]);
    return { w, a, b, id: open[0]?.id as number, log };
  }

  /** Nothing held or pending, nothing parked, no conflict, every side equal. */
  async function settled(w: SyncWorld): Promise<void> {
    for (const n of w.nodes) {
      const c = n.syncer.rekeys.statusCounts();
      expect([c.held, c.pending], n.name).toEqual([0, 0]);
      expect(n.syncer.state.parked(), n.name).toEqual([]);
      expect(n.syncer.state.conflicts(), n.name).toEqual([]);
    }
    expect(await divergence(w, TABLES)).toEqual([]);
  }

  for (const child of [false, true]) {
    it(`the node's row deleted by the application${child ? ' (a child pending on it)' : ''}: closed, the hub's row wins everywhere`, async () => {
      const { w, a, b, id, log } = await held(child);
      a.db.prepare('DELETE FROM workers WHERE id = 1').run();
      await syncUntilQuiet(w.nodes, 8);
      const rec = a.syncer.rekeys.get(id);
      expect([rec?.status, rec?.reason, rec?.newKey, rec?.moved]).toEqual(['closed', 'node-row-gone', null, null]);
      expect(log.filter((e) => e.event === 'rekey.closed').map((e) => [e.table, e.old_key, e.reason])).toEqual([
        ['workers', '1', 'node-row-gone'],
      ]);
      // The node's deleted rows never reach the hub; the hub's come here.
      expect(await w.hub.query('SELECT id, badge FROM workers')).toEqual([{ id: '1', badge: 'hub-w' }]);
      for (const n of [a, b]) {
        expect(n.db.prepare('SELECT id, badge FROM workers').raw().all(), n.name).toEqual([[1n, 'hub-w']]);
        expect(n.db.prepare(CHAIN).raw().all(), n.name).toEqual(child ? [[1n, 'hub-at', 'hub-w']] : []);
      }
      await settled(w);
    }, 120_000);

    it(`the hub's row deleted by a mariadb client on the hub${child ? ' (a child pending on it)' : ''}: closed, the node's row reaches the hub under its key`, async () => {
      const { w, a, b, id, log } = await held(child);
      const del = await mariadbClient(w.mysql, 'DELETE FROM workers WHERE id = 1');
      expect(del.err).toBe('');
      await syncUntilQuiet(w.nodes, 8);
      const rec = a.syncer.rekeys.get(id);
      expect([rec?.status, rec?.reason, rec?.newKey, rec?.moved]).toEqual(['closed', 'hub-row-gone', null, null]);
      expect(log.filter((e) => e.event === 'rekey.closed').map((e) => [e.table, e.old_key, e.reason])).toEqual([
        ['workers', '1', 'hub-row-gone'],
      ]);
      // The hub's deleted row (and its cascaded child) comes back nowhere; the node's rows go everywhere.
      expect(await w.hub.query('SELECT id, badge FROM workers')).toEqual([{ id: '1', badge: 'node-w' }]);
      const chain = child
        ? [
            [1n, 'node-at', 'node-w'],
            [7n, 'node-at7', 'node-w'],
          ]
        : [];
      for (const n of [a, b]) {
        expect(n.db.prepare('SELECT id, badge FROM workers').raw().all(), n.name).toEqual([[1n, 'node-w']]);
        expect(n.db.prepare(CHAIN).raw().all(), n.name).toEqual(chain);
      }
      await settled(w);
    }, 120_000);
  }

  it('both rows still there: it stays held, nothing moves, `dualdb rekeys` exits 11', async () => {
    const { w, a, id, log } = await held(true);
    for (let i = 0; i < 3; i++) await syncUntilQuiet(w.nodes, 2);
    expect(a.syncer.rekeys.get(id)?.status).toBe('held');
    expect(log.filter((e) => e.event === 'rekey.closed')).toEqual([]);
    expect(a.db.prepare('SELECT badge FROM workers').pluck().all()).toEqual(['node-w']);
    expect(await w.hub.query('SELECT id, badge FROM workers')).toEqual([{ id: '1', badge: 'hub-w' }]);
    const r = runCli(['rekeys', '--json'], envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual' }));
    expect(r.code).toBe(EXIT.CONFLICTS);
  }, 120_000);

  it('`dualdb rekeys --json` and `dualdb status --json` show the closed collision with its reason; exit 0', async () => {
    const { w, a } = await held(false);
    await mariadbClient(w.mysql, 'DELETE FROM workers WHERE id = 1');
    await a.syncer.syncOnce();
    const env = envOf(a.config, { SYNC_KEY_COLLISIONS: 'manual' });
    const r = runCli(['rekeys', '--json'], env);
    expect(r.code).toBe(EXIT.OK);
    const listing = JSON.parse(r.stdout) as { tbl: string; oldKey: string; status: string; reason: string | null }[];
    expect(listing.map((x) => [x.tbl, x.oldKey, x.status, x.reason])).toEqual([['workers', '1', 'closed', 'hub-row-gone']]);
    const text = runCli(['rekeys'], env);
    expect(text.stdout).toContain("closed (hub's row gone)");
    const status = runCli(['status', '--json'], env);
    expect((JSON.parse(status.stdout) as { rekeys: unknown }).rekeys).toEqual({ total: 0, open: 0, closed: 1 });
  }, 120_000);

  it('opening a syncer or a CLI command on an up-to-date file changes nothing in its schema; an older file gets `reason` once', async () => {
    const w = await fx.world({ nodes: ['a'] });
    const a = w.node('a');
    const version = () => a.db.pragma('schema_version', { simple: true });
    const columns = () =>
      (a.db.prepare("SELECT name FROM pragma_table_info('_dualdb_rekeys')").all() as { name: string }[]).map((c) => c.name);
    expect(columns()).toContain('reason');
    const before = version();
    await Syncer.open(a.config).close();
    runCli(['rekeys', '--json'], envOf(a.config));
    await a.syncer.syncOnce();
    expect(version()).toBe(before);

    // A file of an earlier version (no `reason`): the first syncer adds it, the next changes nothing.
    const raw = new Database(a.config.sqlitePath);
    raw.exec('ALTER TABLE _dualdb_rekeys DROP COLUMN reason');
    raw.close();
    expect(columns()).not.toContain('reason');
    await Syncer.open(a.config).close();
    expect(columns()).toContain('reason');
    const migrated = version();
    await Syncer.open(a.config).close();
    runCli(['rekeys', '--json'], envOf(a.config));
    expect(version()).toBe(migrated);
  }, 120_000);
});
