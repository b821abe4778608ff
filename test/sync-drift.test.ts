/**
 * Invariant 9 of docs/SYNC-CONTRACT.md (schema drift is refused, not guessed). A column added on
 * one side of one table pauses that table with a message naming the column (in
 * `status` and in the sync log); the other tables keep syncing both ways; the
 * paused table's changes made meanwhile, on either side, are kept (parked, not
 * lost) and arrive once the drift is fixed.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { collectStatus } from '../src/sync/status.js';
import { envOf, runCli, spawnCli } from './helpers/cli.js';
import { sqlite3Shell } from './helpers/node.js';
import { divergence, makeWorld, type SyncWorld, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  'CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE shifts (id INTEGER PRIMARY KEY, label TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)',
  'CREATE TABLE shifts (id BIGINT PRIMARY KEY, label VARCHAR(50) NOT NULL)',
];

describe.skipIf(!HUB_AVAILABLE)('schema drift', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  const worlds: SyncWorld[] = [];
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  const twoNodes = async (prefix: string): Promise<SyncWorld> => {
    const w = await makeWorld(testHub, tmp.dir, { prefix, sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
    worlds.push(w);
    return w;
  };
  afterAll(async () => {
    for (const w of worlds) await w.close();
    await testHub?.close();
    tmp.cleanup();
  });

  for (const side of ['hub', 'node'] as const) {
    it(`a column added on the ${side} pauses only that table; its changes wait and arrive after the fix`, async () => {
      const w = await twoNodes('drift');
      const A = w.node('A');
      const B = w.node('B');
      A.db.prepare("INSERT INTO workers VALUES (1, 'Ana'), (2, 'Bia')").run();
      A.db.prepare("INSERT INTO shifts VALUES (1, 'early')").run();
      await A.syncer.syncOnce();
      await B.syncer.syncOnce();

      // The drift: a new column on one side only (on the node side, on node A only).
      if (side === 'hub') await w.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
      else A.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');

      // Writes on every side while the table is paused.
      A.db.prepare("INSERT INTO workers (id, name) VALUES (3, 'Caio')").run();
      A.db.prepare("UPDATE workers SET name = 'Ana Maria' WHERE id = 1").run();
      A.db.prepare("UPDATE workers SET name = 'Ana M.' WHERE id = 1").run();
      A.db.prepare("INSERT INTO shifts VALUES (2, 'late')").run();
      await w.hub.execute("INSERT INTO workers (id, name) VALUES (10, 'Hub')");
      await w.hub.execute("INSERT INTO shifts VALUES (10, 'night')");
      for (let i = 0; i < 3; i++) await A.syncer.syncOnce();
      await B.syncer.syncOnce();

      // The other table keeps flowing, both ways.
      expect(await divergence(w, ['shifts'])).toEqual([]);
      expect(A.db.prepare('SELECT count(*) AS n FROM shifts').get()).toEqual({ n: 3n });
      // The paused table: refused with the column named, in status and in the log.
      const status = await collectStatus(A.syncer);
      const row = status.tables.find((t) => t.table === 'workers');
      expect(row?.state).toBe('paused');
      expect(row?.reason).toMatch(/badge/);
      expect(row?.reason).toMatch(side === 'hub' ? /only in MySQL/ : /only in SQLite/);
      expect(status.tables.find((t) => t.table === 'shifts')?.state).toBe('syncing');
      const logged = A.syncer.log.recent(500).filter((e) => e.event === 'table.paused');
      expect(logged).toHaveLength(1);
      expect(logged[0]?.level).toBe('error');
      expect(logged[0]?.msg).toMatch(/workers.*badge/);
      const cli = runCli(['status'], envOf(A.config));
      expect(cli.stdout).toMatch(/workers\s+paused.*badge/);
      // Nothing of the paused table moved, nothing was dropped: its changes are parked on A.
      expect((await w.hub.query('SELECT id FROM workers ORDER BY id')).map((r) => Number((r as { id: string }).id))).toEqual([
        1, 2, 10,
      ]);
      expect(A.db.prepare('SELECT id FROM workers ORDER BY id').all()).toEqual([{ id: 1n }, { id: 2n }, { id: 3n }]);
      const parked = A.syncer.state.parked();
      expect(new Set(parked.map((p) => `${p.direction} ${p.pk}`))).toEqual(new Set(['push 1', 'push 3', 'pull 10']));
      for (const p of parked) expect(p.error).toMatch(/badge/);

      // The fix: the same column on the other side. Everything waiting arrives by itself.
      if (side === 'hub') A.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
      else await w.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
      B.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
      A.db.prepare("UPDATE workers SET badge = 'B-2' WHERE id = 2").run();
      await waitFor(
        async () => {
          await A.syncer.syncOnce();
          await B.syncer.syncOnce();
          return A.syncer.state.parked().length === 0 && (await divergence(w, ['workers', 'shifts'])).length === 0;
        },
        'the parked changes of the resumed table to arrive',
        20_000,
      );
      expect(A.syncer.log.recent(500).some((e) => e.event === 'table.resumed')).toBe(true);
      expect(B.db.prepare('SELECT id, name, badge FROM workers ORDER BY id').all()).toEqual([
        { id: 1n, name: 'Ana M.', badge: null },
        { id: 2n, name: 'Bia', badge: 'B-2' },
        { id: 3n, name: 'Caio', badge: null },
        { id: 10n, name: 'Hub', badge: null },
      ]);
    }, 40_000);
  }

  // Invariant 16: with the plan cached (as `sync --watch` keeps it, 5 s), a column added and used
  // at once must not let a row travel without it: the batch notices the schema change first.
  for (const side of ['node', 'hub'] as const) {
    it(`a column added on the ${side} and filled at once: no value moves without it, under a cached plan`, async () => {
      const w = await makeWorld(testHub, tmp.dir, {
        prefix: 'drift16',
        sqliteDdl: SQLITE_DDL,
        mysqlDdl: MYSQL_DDL,
        nodes: ['A'],
        planTtlMs: 600_000,
      });
      worlds.push(w);
      const A = w.node('A');
      A.db.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
      await A.syncer.syncOnce();
      if (side === 'node') {
        A.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
        A.db.prepare("INSERT INTO workers (id, name, badge) VALUES (2, 'Bia', 'B-2')").run();
      } else {
        await w.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
        await w.hub.execute("INSERT INTO workers (id, name, badge) VALUES (2, 'Bia', 'B-2')");
      }
      await A.syncer.syncOnce();
      // Not moved: the row is still only where it was written.
      const onHub = (await w.hub.query<{ id: string }>('SELECT id FROM workers ORDER BY id')).map((r) => Number(r.id));
      const onNode = (A.db.prepare('SELECT id FROM workers ORDER BY id').all() as { id: bigint }[]).map((r) => Number(r.id));
      expect(side === 'node' ? onHub : onNode).toEqual([1]);
      const status = await collectStatus(A.syncer);
      expect(status.tables.find((t) => t.table === 'workers')?.state).toBe('paused');
      // The fix on the other side: the row arrives whole.
      if (side === 'node') await w.hub.execute('ALTER TABLE workers ADD COLUMN badge VARCHAR(20) NULL');
      else A.db.exec('ALTER TABLE workers ADD COLUMN badge TEXT');
      await waitFor(
        async () => {
          await A.syncer.syncOnce();
          return (await divergence(w, ['workers'])).length === 0;
        },
        'the row to arrive with its new column',
        20_000,
      );
      const [hubRow] = await w.hub.query<{ badge: string | null }>('SELECT badge FROM workers WHERE id = 2');
      expect(hubRow?.badge).toBe('B-2');
      expect(A.db.prepare('SELECT badge FROM workers WHERE id = 2').get()).toEqual({ badge: 'B-2' });
    }, 40_000);
  }

  it('sync --watch says on its console that a table paused, and why, when it happens', async () => {
    const w = await makeWorld(testHub, tmp.dir, { prefix: 'driftw', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
    worlds.push(w);
    const A = w.node('A');
    await A.syncer.close();
    const watch = spawnCli(['sync', '--watch'], envOf(A.config));
    try {
      await waitFor(() => /watching/.test(watch.output()), 'the watcher to start', 30_000);
      const db = openSqlite(A.config.sqlitePath);
      db.exec('ALTER TABLE workers ADD COLUMN shoe_size INTEGER');
      db.prepare("INSERT INTO workers (id, name, shoe_size) VALUES (7, 'Drift', 44)").run();
      db.close();
      await waitFor(
        () => /table workers paused: schema drift — only in SQLite: shoe_size/.test(watch.output()),
        'the pause on the console',
        30_000,
      );
      // With the fix, as `sync --once` prints it (operator trial: the watcher's line had none).
      expect(watch.output()).toMatch(
        /table workers paused: schema drift — only in SQLite: shoe_size — fix: run `dualdb schema apply --yes`/,
      );
      expect((await w.hub.query('SELECT id FROM workers WHERE id = 7')).length).toBe(0);
    } finally {
      watch.child.kill('SIGTERM');
      await watch.exited;
    }
  }, 60_000);

  // The trial: a column added on the hub, a cron-run `sync --once` on each node. The run says which
  // table paused, the column and the one fix (exit 12: changes are parked), logs it to LOG_FILE,
  // and after `schema apply` on every node the next sync resumes by itself — no init, no parked retry.
  it('sync --once names the paused table, its column and the fix (exit 12); after `schema apply` on every node it resumes by itself', async () => {
    const w = await twoNodes('drifto');
    const [A, B] = [w.node('A'), w.node('B')];
    await A.syncer.close();
    await B.syncer.close();
    const cli = (node: typeof A, ...args: string[]) => runCli(args, envOf(node.config));
    expect(cli(A, 'sync', '--once').code).toBe(10);
    await w.hub.execute('ALTER TABLE workers ADD COLUMN reviewer VARCHAR(20) NULL');
    const db = openSqlite(A.config.sqlitePath);
    db.prepare("INSERT INTO workers (id, name) VALUES (1, 'Ana')").run();
    db.close();
    await w.hub.execute("INSERT INTO workers (id, name, reviewer) VALUES (10, 'Hub', 'R')");

    const first = cli(A, 'sync', '--once');
    expect(first.code, first.stderr).toBe(12);
    expect(first.stdout).toMatch(/2 parked/);
    expect(first.stdout).not.toMatch(/nothing to do/);
    const pausedLine =
      /table workers paused: schema drift — only in MySQL: reviewer; 2 change\(s\) wait — fix: run `dualdb schema apply --yes` on every node/;
    expect(first.stdout).toMatch(pausedLine);
    expect(first.stdout).toMatch(/the sync resumes by itself/);
    // Still parked on the next run: still 12, still the line.
    const again = cli(A, 'sync', '--once', '--json');
    expect(again.code).toBe(12);
    expect(JSON.parse(again.stdout).paused).toMatchObject([{ table: 'workers', waiting: 2 }]);
    // The one-shot runs wrote the log file a cron-run site relies on.
    const logged = readFileSync(A.config.log.file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string; msg: string });
    expect(logged.some((e) => e.event === 'table.paused' && /reviewer/.test(e.msg))).toBe(true);
    expect(logged.filter((e) => e.event === 'push.parked' || e.event === 'pull.parked')).toHaveLength(2);
    expect(logged.some((e) => e.event === 'cycle' && /parked 2/.test(e.msg))).toBe(true);
    // `parked` says what to do for a pause (not a retry, which would change nothing).
    const parked = cli(A, 'parked');
    expect(parked.stdout).toMatch(/Paused by schema drift: `dualdb status` names the fix/);
    expect(parked.stdout).not.toMatch(/parked retry/);
    // status names the fix too.
    expect(cli(A, 'status').stdout).toMatch(/workers\s+paused.*reviewer — fix: run `dualdb schema apply --yes` on every node/);
    // The key kind of a paused table, from the local schema (it showed `?`).
    expect(cli(A, 'status').stdout).toMatch(/workers\s+paused\s+generated\s/);
    const tables = JSON.parse(cli(A, 'status', '--json').stdout).tables as { table: string; keyKind: string | null }[];
    expect(tables.find((t) => t.table === 'workers')?.keyKind).toBe('generated');

    // The fix the line names, and nothing else.
    for (const node of [A, B]) {
      const applied = cli(node, 'schema', 'apply', '--yes');
      expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    }
    const resumed = cli(A, 'sync', '--once', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ pushed: 1, pulled: 1, parked: 0, paused: [] });
    expect(cli(B, 'sync', '--once').code).toBe(0);
    expect(
      (await w.hub.query<{ id: string; reviewer: string | null }>('SELECT id, reviewer FROM workers ORDER BY id')).map((r) => [
        Number(r.id),
        r.reviewer,
      ]),
    ).toEqual([
      [1, null],
      [10, 'R'],
    ]);
    const check = openSqlite(B.config.sqlitePath);
    expect(check.prepare('SELECT id, reviewer FROM workers ORDER BY id').all()).toEqual([
      { id: 1n, reviewer: null },
      { id: 10n, reviewer: 'R' },
    ]);
    expect(check.prepare('SELECT count(*) AS n FROM _dualdb_parked').get()).toEqual({ n: 0n });
    check.close();
  }, 90_000);

  // Operator: `status`, `init` and `sync --once` named a table left out; `sync --watch` never did.
  it('sync --watch and --daemon name each table they leave out once at start, and again when one appears', async () => {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'driftskipw',
      sqliteDdl: [...SQLITE_DDL, 'CREATE TABLE audit_log (at TEXT, line TEXT)'],
      mysqlDdl: MYSQL_DDL,
      nodes: ['A'],
    });
    worlds.push(w);
    const A = w.node('A');
    await A.syncer.close();
    const env = envOf(A.config);
    const auditLine =
      'table audit_log skipped: no primary key (and only in SQLite): rows cannot be matched; add one to sync this table';
    const scratchLine = 'table scratch skipped: only in SQLite: create it on the hub (`dualdb schema apply`)';
    const count = (text: string, line: string) => text.split('\n').filter((l) => l.endsWith(line)).length;
    const watch = spawnCli(['sync', '--watch'], env);
    try {
      await waitFor(() => count(watch.output(), auditLine) === 1, 'the skipped table on the console', 30_000);
      // A table created while the watcher runs: said when it appears, the first one not again.
      sqlite3Shell(A.config.sqlitePath, 'CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT);');
      const db = openSqlite(A.config.sqlitePath);
      db.prepare("INSERT INTO workers VALUES (1, 'Ana')").run();
      db.close();
      await waitFor(() => count(watch.output(), scratchLine) === 1, 'the new skipped table on the console', 30_000);
      await waitFor(
        async () => (await w.hub.query('SELECT id FROM workers WHERE id = 1')).length === 1,
        'a cycle after the new table',
        30_000,
      );
      expect(count(watch.output(), auditLine), watch.output()).toBe(1);
      expect(count(watch.output(), scratchLine), watch.output()).toBe(1);
    } finally {
      watch.child.kill('SIGTERM');
      await watch.exited;
    }
    const skippedLogged = () =>
      readFileSync(A.config.log.file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event?: string; msg: string })
        .filter((e) => e.event === 'table.skipped')
        .map((e) => e.msg);
    expect(skippedLogged()).toEqual([auditLine, scratchLine]);
    // A daemon has no console: its log says them, once, at start.
    const daemon = spawnCli(['sync', '--daemon'], env);
    try {
      await waitFor(() => skippedLogged().length === 4, 'the daemon to log the skipped tables', 30_000);
      expect(skippedLogged()).toEqual([auditLine, scratchLine, auditLine, scratchLine]);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  }, 90_000);

  it('sync --once names every table it left out and why, one line each, and in --json', async () => {
    const w = await makeWorld(testHub, tmp.dir, {
      prefix: 'driftskip',
      sqliteDdl: [
        ...SQLITE_DDL,
        'CREATE TABLE audit_log (at TEXT, line TEXT)',
        'CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT)',
      ],
      mysqlDdl: [...MYSQL_DDL, 'CREATE TABLE audit_log (at VARCHAR(30), line TEXT)'],
      nodes: ['A'],
    });
    worlds.push(w);
    const A = w.node('A');
    await A.syncer.close();
    // Paused by drift too: said as before, beside the skipped ones.
    await w.hub.execute('ALTER TABLE shifts ADD COLUMN room VARCHAR(20) NULL');
    const env = envOf(A.config);
    const plain = runCli(['sync', '--once'], env);
    const lines = plain.stdout.split('\n');
    expect(lines.filter((l) => /^\S+ table \S+ (skipped|paused):/.test(l)).map((l) => l.replace(/^\S+ /, ''))).toEqual([
      expect.stringMatching(/^table shifts paused: schema drift — only in MySQL: room/),
      'table audit_log skipped: no primary key on either side: rows cannot be matched; add one to sync this table',
      'table scratch skipped: only in SQLite: create it on the hub (`dualdb schema apply`)',
    ]);
    const json = JSON.parse(runCli(['sync', '--once', '--json'], env).stdout) as {
      skipped: { table: string; reason: string }[];
      paused: { table: string }[];
    };
    expect(json.skipped).toEqual([
      { table: 'audit_log', reason: 'no primary key on either side: rows cannot be matched; add one to sync this table' },
      { table: 'scratch', reason: 'only in SQLite: create it on the hub (`dualdb schema apply`)' },
    ]);
    expect(json.paused.map((p) => p.table)).toEqual(['shifts']);
  }, 60_000);
});
