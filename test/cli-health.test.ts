/**
 * `dualdb health` and `dualdb info` as a user or a monitoring script runs them:
 * a separate process, settings in the environment, against the private MariaDB
 * and a real SQLite file. Both sides reported with versions, latency, integrity
 * and exact row counts; a crashed hub reported down with its reason and exit 3,
 * healthy again after a restart; DUAL_DATABASE=false never touches MySQL.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import type { HealthReport } from '../src/monitor/health.js';
import type { InfoReport } from '../src/monitor/info.js';
import { EXIT } from '../src/util/exit-codes.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE, HUB_CRASHABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-cli-health-');

describe.skipIf(!HUB_AVAILABLE)('dualdb health and info', () => {
  let testHub: TestHub;
  let mysql: MysqlConfig;
  let mysqlVersion: string;
  let sqliteVersion: string;
  const sqlitePath = path.join(tmp.dir, 'site', 'epi.db');

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    DB_HOST: mysql.host,
    DB_PORT: String(mysql.port),
    DB_USER: mysql.user,
    DB_PASSWORD: mysql.password,
    DB_NAME: mysql.database,
    DB_CONNECT_TIMEOUT: '3',
    SQLITE_DB_PATH: sqlitePath,
    ...extra,
  });
  /** Runs the CLI in a folder without a .env, stdin closed, killed after 30 s (a hang, not a slow machine). */
  const dualdb = (args: string[], extra: Record<string, string> = {}): CliResult => {
    const r = runCli(args, env(extra), { cwd: tmp.dir, timeoutMs: 30_000 });
    expect(r.code, `dualdb ${args.join(' ')} did not finish`).not.toBeNull();
    expect(r.stdout + r.stderr).not.toContain(mysql.password);
    return r;
  };
  const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

  beforeAll(async () => {
    testHub = await startTestHub();
    mysql = await testHub.freshDatabase('health');
    const hub = await MysqlHub.connect(mysql);
    try {
      await hub.execute('CREATE TABLE detections (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL)');
      await hub.execute('CREATE TABLE alerts (id BIGINT PRIMARY KEY, level VARCHAR(10))');
      await hub.execute("INSERT INTO detections VALUES (1, 'helmet'), (2, 'vest'), (3, 'gloves')");
      await hub.execute("INSERT INTO alerts VALUES (1, 'high'), (2, 'low')");
      mysqlVersion = (await hub.query<{ v: string }>('SELECT VERSION() AS v'))[0]?.v ?? '';
    } finally {
      await hub.close();
    }
    const db = openSqlite(sqlitePath, { create: true });
    db.exec(`CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
             CREATE TABLE alerts (id INTEGER PRIMARY KEY, level TEXT);
             CREATE TABLE _dualdb_state (k TEXT PRIMARY KEY, v TEXT);
             INSERT INTO detections VALUES (1, 'helmet'), (2, 'vest'), (3, 'gloves'), (4, 'boots');
             INSERT INTO alerts VALUES (1, 'high');
             INSERT INTO _dualdb_state VALUES ('node_id', 'n1');`);
    sqliteVersion = String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
    db.close();
  });

  afterAll(async () => {
    await testHub?.close();
    tmp.cleanup();
  });

  it('health --json reports both sides up, with versions, latency and integrity (exit 0)', () => {
    const r = dualdb(['health', '--json']);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(r.stderr).toBe('');
    const h = json<HealthReport>(r);
    expect(h.ok).toBe(true);
    expect(h.exitCode).toBe(EXIT.OK);
    expect(h.sqlite).toMatchObject({ ok: true, path: sqlitePath, version: sqliteVersion, integrity: 'ok', journalMode: 'wal' });
    expect(h.sqlite.error).toBeUndefined();
    expect(h.sqlite.bytes).toBe(statSync(sqlitePath).size);
    expect(h.sqlite.latencyMs).toBeGreaterThan(0);
    expect(h.sqlite.latencyMs).toBeLessThan(2000);
    expect(h.mysql).toMatchObject({
      ok: true,
      enabled: true,
      endpoint: `${mysql.host}:${mysql.port}/${mysql.database}`,
      version: mysqlVersion,
      clustered: false,
    });
    expect(h.mysql.version).toMatch(/MariaDB|^\d+\.\d+/);
    expect(h.mysql.error).toBeUndefined();
    expect(h.mysql.latencyMs).toBeGreaterThan(0);
    expect(h.mysql.latencyMs).toBeLessThan(2000);
    expect(h.mysql.bytes).toBeGreaterThan(0);
  });

  it('health (text) shows one ✔ line per side, with the versions', () => {
    const r = dualdb(['health']);
    expect(r.code).toBe(EXIT.OK);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(`^✔ SQLite ${sqlitePath.replaceAll('.', '\\.')} .*${sqliteVersion.replaceAll('.', '\\.')}.*integrity ok`),
    );
    expect(lines[1]).toMatch(/^✔ MySQL/);
    expect(lines[1]).toContain(`${mysql.host}:${mysql.port}/${mysql.database}`);
    expect(lines[1]).toContain(mysqlVersion);
  });

  it('info --json lists the user tables of both sides with exact row counts (exit 0)', () => {
    const r = dualdb(['info', '--json']);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const info = json<InfoReport>(r);
    const counts = (ts: { name: string; rows: number }[]) => Object.fromEntries(ts.map((t) => [t.name, t.rows]));
    expect(info.sqlite.ok).toBe(true);
    expect(info.sqlite.path).toBe(sqlitePath);
    // dualdb's own tables are not user data.
    expect(counts(info.sqlite.tables)).toEqual({ alerts: 1, detections: 4 });
    expect(info.mysql).toMatchObject({
      ok: true,
      enabled: true,
      host: mysql.host,
      port: mysql.port,
      database: mysql.database,
      user: mysql.user,
      version: mysqlVersion,
    });
    expect(counts(info.mysql.tables)).toEqual({ alerts: 2, detections: 3 });
    for (const t of [...info.sqlite.tables, ...info.mysql.tables]) expect(t.bytes).toBeGreaterThan(0);
    expect(JSON.stringify(info)).not.toMatch(/password/i);
  });

  it('info (text) shows both tables side by side with their counts', () => {
    const r = dualdb(['info']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^\s+detections\s+4\b/m);
    expect(r.stdout).toMatch(/^\s+detections\s+3\b/m);
    expect(r.stdout).not.toContain('_dualdb_state');
  });

  it.skipIf(!HUB_CRASHABLE)(
    'a crashed hub is reported down with its reason (exit 3), and healthy again after a restart',
    async () => {
      await testHub.server?.kill();
      try {
        const r = dualdb(['health', '--json']);
        expect(r.code).toBe(EXIT.MYSQL_UNAVAILABLE);
        const h = json<HealthReport>(r);
        expect(h.ok).toBe(false);
        expect(h.exitCode).toBe(EXIT.MYSQL_UNAVAILABLE);
        expect(h.sqlite.ok).toBe(true);
        expect(h.mysql.ok).toBe(false);
        expect(h.mysql.version).toBeNull();
        expect(h.mysql.latencyMs).toBeNull();
        expect(h.mysql.error?.code).toBe('MYSQL_CONNECTION_REFUSED');
        expect(h.mysql.error?.message).toBe(
          `connection to MySQL at ${mysql.host}:${mysql.port} was refused: no server is listening there`,
        );
        expect(h.mysql.error?.hint).toMatch(/start the MySQL\/MariaDB server/);

        const text = dualdb(['health']);
        expect(text.code).toBe(EXIT.MYSQL_UNAVAILABLE);
        const lines = text.stdout.trim().split('\n');
        expect(lines.filter((l) => l.startsWith('✖'))).toEqual([`✖ MySQL  ${mysql.host}:${mysql.port}/${mysql.database}  down`]);
        expect(lines.filter((l) => /was refused/.test(l))).toHaveLength(1);
        expect(lines[0]).toMatch(/^✔ SQLite/);

        // The local side is still fully visible while the hub is away.
        const info = dualdb(['info', '--json']);
        expect(info.code).toBe(EXIT.MYSQL_UNAVAILABLE);
        const ir = json<InfoReport>(info);
        expect(ir.sqlite.tables.map((t) => t.name)).toEqual(['alerts', 'detections']);
        expect(ir.mysql.ok).toBe(false);
        expect(ir.mysql.error?.code).toBe('MYSQL_CONNECTION_REFUSED');

        // DUAL_DATABASE=false never tries MySQL: healthy while the hub is down.
        const off = dualdb(['health', '--json'], { DUAL_DATABASE: 'false' });
        expect(off.code).toBe(EXIT.OK);
        expect(json<HealthReport>(off).mysql).toMatchObject({ ok: true, enabled: false, version: null });
      } finally {
        await testHub.server?.restart();
      }
      const again = dualdb(['health', '--json']);
      expect(again.code, again.stdout).toBe(EXIT.OK);
      const h = json<HealthReport>(again);
      expect(h.ok).toBe(true);
      expect(h.mysql.version).toBe(mysqlVersion);
      // The hub's data survived the crash.
      const info = json<InfoReport>(dualdb(['info', '--json']));
      expect(Object.fromEntries(info.mysql.tables.map((t) => [t.name, t.rows]))).toEqual({ alerts: 2, detections: 3 });
    },
    120_000,
  );

  it('an unknown hub host is a hub that is down: it is named and health exits 3 (as for any hub down)', () => {
    const bad = { DB_HOST: 'nosuchhost.invalid' };
    const text = dualdb(['health'], bad);
    expect(text.stdout).toMatch(/✖ MySQL\s+nosuchhost\.invalid:\d+\/\S+\s+down/);
    expect(text.stdout).toMatch(/host "nosuchhost\.invalid" was not found/);
    expect(text.code).toBe(EXIT.MYSQL_UNAVAILABLE);
    const r = dualdb(['health', '--json'], bad);
    expect(r.code).toBe(EXIT.MYSQL_UNAVAILABLE);
    expect(json<HealthReport>(r).mysql.ok).toBe(false);
  });

  it('DUAL_DATABASE=false reports MySQL disabled and exits 0', () => {
    const r = dualdb(['health', '--json'], { DUAL_DATABASE: 'false' });
    expect(r.code).toBe(EXIT.OK);
    const h = json<HealthReport>(r);
    expect(h.ok).toBe(true);
    expect(h.sqlite.ok).toBe(true);
    expect(h.mysql).toMatchObject({ ok: true, enabled: false, version: null, latencyMs: null });
    expect(h.mysql.error).toBeUndefined();
    const text = dualdb(['health'], { DUAL_DATABASE: 'false' });
    expect(text.code).toBe(EXIT.OK);
    expect(text.stdout).toMatch(/^● MySQL\s+disabled \(DUAL_DATABASE=false\)$/m);
    expect(text.stdout).not.toMatch(/✖/);
    const info = dualdb(['info', '--json'], { DUAL_DATABASE: 'false' });
    expect(info.code).toBe(EXIT.OK);
    const ir = json<InfoReport>(info);
    expect(ir.mysql).toMatchObject({ ok: true, enabled: false, tables: [] });
    expect(ir.sqlite.tables).toHaveLength(2);
  });

  it('a SELECT-only account: health warns with every missing grant for its real user@host (exit 3)', async () => {
    const user = `ro_health_${process.pid}`;
    const admin = await testHub.admin();
    try {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', 'ro-secret-1']);
      await admin.query(`GRANT SELECT ON \`${mysql.database}\`.* TO ?@?`, [user, '%']);
    } finally {
      await admin.end();
    }
    const r = dualdb(['health', '--json'], { DB_USER: user, DB_PASSWORD: 'ro-secret-1' });
    expect(r.code).toBe(EXIT.MYSQL_UNAVAILABLE);
    const h = json<HealthReport>(r);
    expect(h.ok).toBe(false);
    expect(h.mysql.warning?.message).toMatch(/lacks INSERT, UPDATE, DELETE, CREATE, TRIGGER on database/);
    expect(h.mysql.warning?.hint).toContain(
      `GRANT INSERT, UPDATE, DELETE, CREATE, TRIGGER ON \`${mysql.database}\`.* TO '${user}'@'%'`,
    );
    const text = dualdb(['health'], { DB_USER: user, DB_PASSWORD: 'ro-secret-1' });
    expect(text.code).toBe(EXIT.MYSQL_UNAVAILABLE);
    expect(text.stdout).toMatch(/^\S+ MySQL\s+user "ro_health_\d+" lacks INSERT, UPDATE, DELETE, CREATE, TRIGGER .*GRANT /m);
  });

  it('a SQLite file whose write lock another process holds: health names the holder (exit 4)', async () => {
    const locked = path.join(tmp.dir, 'locked.db');
    const db = openSqlite(locked, { create: true });
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    db.close();
    const holder = spawn(
      'python3',
      [
        '-c',
        [
          'import sqlite3, sys',
          `c = sqlite3.connect(${JSON.stringify(locked)}, isolation_level=None)`,
          "c.execute('BEGIN EXCLUSIVE')",
          "c.execute('INSERT INTO t VALUES (1)')",
          "print('locked', flush=True)",
          'sys.stdin.read()',
        ].join('\n'),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout?.on('data', (d) => String(d).includes('locked') && resolve()));
      const r = dualdb(['health', '--json'], { SQLITE_DB_PATH: locked });
      expect(r.code).toBe(EXIT.SQLITE_UNAVAILABLE);
      const h = json<HealthReport>(r);
      expect(h.sqlite.ok).toBe(false);
      expect(h.sqlite.error?.message).toMatch(new RegExp(`is locked by another process: process ${holder.pid} \\(\\S*python3`));
      expect(h.sqlite.error?.hint).toContain(`kill ${holder.pid}`);
      expect(h.mysql.ok).toBe(true);
    } finally {
      holder.stdin?.end();
      holder.kill();
    }
  });

  it('a damaged SQLite file fails its integrity check in one line (exit 4)', () => {
    const damaged = path.join(tmp.dir, 'damaged.db');
    const db = openSqlite(damaged, { create: true });
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)');
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) ins.run(`value ${i} ${'x'.repeat(40)}`);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
    db.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0x41, 4096 * 3, 4096 * 5); // overwrite two b-tree pages
    writeFileSync(damaged, bytes);

    const r = dualdb(['health', '--json'], { SQLITE_DB_PATH: damaged });
    expect(r.code).toBe(EXIT.SQLITE_UNAVAILABLE);
    const h = json<HealthReport>(r);
    expect(h.sqlite.ok).toBe(false);
    expect(h.sqlite.integrity).not.toBe('ok');
    expect(h.sqlite.error?.code).toBe('SQLITE_CORRUPT');
    expect(h.sqlite.error?.message).not.toMatch(/\n/);
    expect(h.mysql.ok).toBe(true);
    const text = dualdb(['health'], { SQLITE_DB_PATH: damaged });
    const lines = text.stdout.trim().split('\n');
    // ✖ SQLite …, the finding with its fix, ✔ MySQL …: nothing spills onto extra lines.
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/integrity check failed: .+ — restore it from your last backup .+\.recover/);
  });
});
