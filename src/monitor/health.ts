/**
 * Health probes for both sides: reachable or not (with the diagnosis), version,
 * round-trip latency, sizes, SQLite integrity. Pure domain: the CLI and the
 * monitor render the result.
 */
import { existsSync, statSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { diagnoseMysqlError } from '../engines/mysql/diagnose.js';
import { mysqlDatabaseBytes } from '../engines/mysql/introspect.js';
import { capturePrivilegeProblem } from '../engines/mysql/privileges.js';
import { corruptHint, openSqlite, type SqliteDb, sqliteFailure } from '../engines/sqlite/open.js';
import { type Problem, problemOf } from '../log/problem.js';
import { MysqlError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';

export interface SqliteHealth {
  ok: boolean;
  path: string;
  bytes: number | null;
  walBytes: number | null;
  version: string | null;
  latencyMs: number | null;
  integrity: string | null;
  journalMode: string | null;
  error?: Problem;
}

export interface MysqlHealth {
  ok: boolean;
  enabled: boolean;
  endpoint: string;
  version: string | null;
  latencyMs: number | null;
  bytes: number | null;
  clustered: boolean | null;
  error?: Problem;
  /** Up, but the account lacks privileges the sync needs (with the GRANT that fixes it). */
  warning?: Problem;
}

/** Changes the sync set aside (docs/SYNC-CONTRACT.md invariant 11): both sides can be up while rows wait. */
export interface ParkedHealth {
  push: number;
  pull: number;
  /** The oldest parked change, with its cause. */
  first: { direction: string; tbl: string; pk: string | null; error: string } | null;
}

export interface HealthReport {
  ok: boolean;
  sqlite: SqliteHealth;
  mysql: MysqlHealth;
  /** null: no sync state in this file (capture not installed) or it could not be read. */
  parked: ParkedHealth | null;
  exitCode: number;
}

/** Parked changes in the node's file, if it has sync state. */
export function probeParked(path: string): ParkedHealth | null {
  if (!existsSync(path)) return null;
  let db: SqliteDb | undefined;
  try {
    db = openSqlite(path, { readonly: true });
    const counts = db.prepare('SELECT direction, COUNT(*) AS n FROM _dualdb_parked GROUP BY direction').all() as {
      direction: string;
      n: bigint | number;
    }[];
    const n = (d: string) => Number(counts.find((c) => c.direction === d)?.n ?? 0);
    const first =
      (db.prepare('SELECT direction, tbl, pk, error FROM _dualdb_parked ORDER BY id LIMIT 1').get() as ParkedHealth['first']) ??
      null;
    return { push: n('push'), pull: n('pull'), first };
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

export function fileBytes(p: string): number | null {
  return existsSync(p) ? statSync(p).size : null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export function probeSqlite(path: string, options: { full?: boolean; db?: SqliteDb } = {}): SqliteHealth {
  const base: SqliteHealth = {
    ok: false,
    path,
    bytes: fileBytes(path),
    walBytes: fileBytes(`${path}-wal`),
    version: null,
    latencyMs: null,
    integrity: null,
    journalMode: null,
  };
  let db = options.db;
  const owned = !db;
  try {
    db ??= openSqlite(path, { readonly: true });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      db.prepare('SELECT 1').get();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    base.latencyMs = median(times);
    base.version = String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
    base.journalMode = String(db.pragma('journal_mode', { simple: true }));
    const check = db.prepare(options.full ? 'PRAGMA integrity_check' : 'PRAGMA quick_check').all() as Record<string, string>[];
    const messages = check.map((r) => String(Object.values(r)[0]));
    base.integrity = messages.length === 1 && messages[0] === 'ok' ? 'ok' : integrityProblems(messages);
    base.ok = base.integrity === 'ok';
    if (!base.ok) {
      base.error = {
        code: 'SQLITE_CORRUPT',
        message: `integrity check failed: ${base.integrity}`,
        hint: corruptHint(path),
      };
    }
  } catch (e) {
    base.error = problemOf(sqliteFailure(e, path));
  } finally {
    if (owned) db?.close();
  }
  return base;
}

/**
 * integrity_check's findings as one line: SQLite packs several findings into a
 * row with line breaks under a "*** in database main ***" banner.
 */
function integrityProblems(messages: string[]): string {
  const findings = messages
    .join('\n')
    .replace(/\*\*\* in database \S+ \*\*\*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const more = findings.length > 5 ? `; and ${findings.length - 5} more` : '';
  return findings.slice(0, 5).join('; ') + more;
}

export async function probeMysql(config: Config, options: { hub?: MysqlHub; grants?: boolean } = {}): Promise<MysqlHealth> {
  const m = config.mysql;
  const base: MysqlHealth = {
    ok: false,
    enabled: config.dualDatabase,
    endpoint: `${m.host}:${m.port}/${m.database}`,
    version: null,
    latencyMs: null,
    bytes: null,
    clustered: null,
  };
  if (!config.dualDatabase) {
    base.ok = true;
    return base;
  }
  let hub = options.hub;
  const owned = !hub;
  try {
    hub ??= await MysqlHub.connect(m);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      await hub.query('SELECT 1');
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    base.latencyMs = median(times);
    const info = await hub.serverInfo();
    base.version = info.version;
    base.clustered = info.clustered;
    base.bytes = await mysqlDatabaseBytes(hub);
    base.ok = true;
    const grants = options.grants ? await capturePrivilegeProblem(hub) : undefined;
    if (grants) base.warning = problemOf(grants);
  } catch (e) {
    base.error = problemOf(e instanceof MysqlError ? e : diagnoseMysqlError(e, m));
  } finally {
    if (owned) await hub?.close();
  }
  return base;
}

/**
 * Whether another process holds the file's write lock: a WAL reader is never blocked, so the
 * read-only probe looks fine while every sync and write would wait. Takes and releases the
 * write lock (BEGIN IMMEDIATE; ROLLBACK): nothing is written.
 */
export function probeWriteLock(path: string, waitMs = 1000): Problem | undefined {
  let db: SqliteDb | undefined;
  try {
    // A read-only handle gets BEGIN IMMEDIATE without the lock: this one may write, and writes nothing.
    db = openSqlite(path, { busyTimeoutMs: waitMs });
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return undefined;
  } catch (e) {
    // Only a lock counts here: a file this user may only read is the read probe's business.
    const failure = sqliteFailure(e, path, waitMs);
    return failure.kind === 'locked' ? problemOf(failure) : undefined;
  } finally {
    db?.close();
  }
}

export async function checkHealth(config: Config, options: { full?: boolean } = {}): Promise<HealthReport> {
  const [sqlite, mysql] = [probeSqlite(config.sqlitePath, options), await probeMysql(config, { grants: true })];
  // Only a WAL file (as dualdb keeps them): opening it for writing changes nothing, where a file in
  // rollback mode would be switched to WAL (there only a committing writer's lock is seen, by the read probe).
  if (sqlite.ok && sqlite.journalMode === 'wal') {
    const locked = probeWriteLock(config.sqlitePath);
    if (locked) {
      sqlite.ok = false;
      sqlite.error = locked;
    }
  }
  // An account without the sync's privileges is up but unusable: exit as the hub's failure (3).
  const hubOk = mysql.ok && !mysql.warning;
  const exitCode =
    !sqlite.ok && !hubOk
      ? EXIT.BOTH_UNAVAILABLE
      : !sqlite.ok
        ? EXIT.SQLITE_UNAVAILABLE
        : !hubOk
          ? EXIT.MYSQL_UNAVAILABLE
          : EXIT.OK;
  return { ok: exitCode === EXIT.OK, sqlite, mysql, parked: sqlite.ok ? probeParked(config.sqlitePath) : null, exitCode };
}
