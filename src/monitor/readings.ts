/**
 * What the monitor reads for itself, beside what the sync reports: its own
 * read-only handle on the SQLite file and a small pool to the hub, the health
 * of each side, row counts on both sides, and the latest conflicts and parked
 * changes. Each read returns plain values; the model decides what is news.
 */
import { existsSync } from 'node:fs';
import { type Config, describeMysql } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { listSqliteTables, sqliteRowCount } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { problemOf } from '../log/problem.js';
import { LocalState } from '../sync/local-state.js';
import { RekeyStore } from '../sync/rekey-store.js';
import { redact } from '../util/redact.js';
import { fileBytes, probeMysql, probeSqlite } from './health.js';
import {
  type ConflictView,
  emptySide,
  type MysqlView,
  type ParkedView,
  type RekeyView,
  type SideView,
  type SqliteView,
} from './view.js';

/** The latest five key collisions (none in a file from before re-keying existed). */
function latestRekeys(db: SqliteDb): RekeyView[] {
  try {
    return new RekeyStore(db).list({ limit: 5 }).map((r) => ({
      id: r.id,
      table: r.tbl,
      oldKey: r.oldKey,
      newKey: r.newKey,
      moved: r.moved,
      status: r.status,
      at: r.resolvedAt ?? r.at,
    }));
  } catch {
    return [];
  }
}

/** A side as read, before the model stamps when it was checked and since when it is up or down. */
export type SideReading<T extends SideView> = Omit<T, 'since' | 'checkedAt'>;

export interface RowCounts {
  sqlite: number | null;
  mysql: number | null;
}

export class MonitorReader {
  private db: SqliteDb | undefined;
  private hub: MysqlHub | undefined;
  private hubConnecting: Promise<MysqlHub | undefined> | undefined;
  private closed = false;

  constructor(private readonly config: Config) {}

  /** The monitor's own SQLite handle, (re)opened on demand; undefined while the file cannot be opened. */
  sqlite(): SqliteDb | undefined {
    if (this.db?.open) return this.db;
    try {
      this.db = openSqlite(this.config.sqlitePath, { readonly: true });
    } catch {
      try {
        // A WAL file without its -shm cannot be opened read-only: open it normally.
        this.db = openSqlite(this.config.sqlitePath);
      } catch {
        this.db = undefined;
      }
    }
    return this.db;
  }

  /** A small pool to the hub, shared by concurrent callers; undefined when the hub is disabled or we closed. */
  async mysql(): Promise<MysqlHub | undefined> {
    if (!this.config.dualDatabase) return undefined;
    if (this.hub) return this.hub;
    this.hubConnecting ??= MysqlHub.connect(this.config.mysql, { connectionLimit: 2 })
      .then((h) => {
        if (this.closed) {
          void h.close();
          return undefined;
        }
        this.hub = h;
        return h;
      })
      .finally(() => {
        this.hubConnecting = undefined;
      });
    return this.hubConnecting;
  }

  private dropHub(): void {
    const h = this.hub;
    this.hub = undefined;
    void h?.close();
  }

  /**
   * SQLite's health: sizes and a round trip every time; with `full`, the integrity check too (it
   * reads every page). `integrityChecked` says whether that check ran.
   */
  readSqlite(prev: SqliteView, full: boolean): { side: SideReading<SqliteView>; integrityChecked: boolean } {
    const path = this.config.sqlitePath;
    const db = this.sqlite();
    if (!db || !existsSync(path)) {
      const error = { code: 'SQLITE_MISSING', message: `${path} cannot be opened`, hint: undefined };
      return { side: { ...prev, up: false, bytes: null, walBytes: null, error }, integrityChecked: false };
    }
    if (full) {
      const h = probeSqlite(path, { db });
      const side = {
        up: h.ok,
        path,
        version: h.version,
        latencyMs: h.latencyMs,
        bytes: h.bytes,
        walBytes: h.walBytes,
        integrity: h.integrity,
        error: h.error ?? null,
      };
      return { side, integrityChecked: true };
    }
    try {
      const t0 = process.hrtime.bigint();
      db.prepare('SELECT 1').get();
      const latencyMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const side = {
        ...prev,
        up: prev.integrity === 'ok',
        latencyMs,
        bytes: fileBytes(path),
        walBytes: fileBytes(`${path}-wal`),
      };
      return { side, integrityChecked: false };
    } catch (e) {
      return { side: { ...prev, up: false, error: problemOf(e) }, integrityChecked: false };
    }
  }

  /** The hub's health through the monitor's pool; a failed probe drops the pool so the next one reconnects. */
  async readMysql(prev: MysqlView): Promise<SideReading<MysqlView>> {
    const endpoint = describeMysql(this.config.mysql);
    if (!this.config.dualDatabase) return { ...emptySide(), up: null, enabled: false, endpoint };
    try {
      const hub = await this.mysql();
      if (!hub) throw new Error('hub closed');
      const h = await probeMysql(this.config, { hub });
      if (!h.ok) this.dropHub();
      return {
        up: h.ok,
        enabled: true,
        endpoint,
        version: h.version,
        latencyMs: h.latencyMs,
        bytes: h.bytes,
        error: h.error ?? null,
      };
    } catch (e) {
      this.dropHub();
      return { ...prev, up: false, latencyMs: null, error: problemOf(e) };
    }
  }

  /** The latest five conflicts, parked changes and key collisions; null when the file cannot be opened. */
  localLists(): { conflicts: ConflictView[]; parked: ParkedView[]; rekeys: RekeyView[] } | null {
    const db = this.sqlite();
    if (!db) return null;
    try {
      const state = new LocalState(db);
      const conflicts = state.conflicts({ limit: 5 }).map((c) => ({
        id: c.id,
        table: c.tbl,
        pk: c.pk,
        at: c.detectedAt,
        policy: c.policy,
        winner: c.winner,
        status: c.status,
      }));
      const parked = state
        .parked()
        .slice(-5)
        .map((p) => ({
          id: p.id,
          direction: p.direction,
          table: p.tbl,
          pk: p.pk,
          error: redact(p.error),
          attempts: p.attempts,
        }));
      return { conflicts, parked, rekeys: latestRekeys(db) };
    } catch {
      return { conflicts: [], parked: [], rekeys: [] };
    }
  }

  /** The tables of the SQLite file (before the sync has reported its plan). */
  sqliteTables(): string[] {
    const db = this.sqlite();
    try {
      return db ? listSqliteTables(db) : [];
    } catch {
      return [];
    }
  }

  /** Row counts on both sides; a side that cannot be counted reads null. */
  async countRows(tables: string[]): Promise<Map<string, RowCounts>> {
    const db = this.sqlite();
    const sqliteCounts = new Map<string, number | null>();
    for (const t of tables) {
      try {
        sqliteCounts.set(t, db ? sqliteRowCount(db, t) : null);
      } catch {
        sqliteCounts.set(t, null);
      }
    }
    const mysqlCounts = new Map<string, number | null>();
    let hub: MysqlHub | undefined;
    try {
      hub = await this.mysql();
    } catch {
      hub = undefined;
    }
    for (const t of tables) {
      if (!hub) {
        mysqlCounts.set(t, null);
        continue;
      }
      try {
        const [row] = await hub.query<{ c: string | number }>(`SELECT COUNT(*) AS c FROM ${quoteMysqlId(t)}`);
        mysqlCounts.set(t, Number(row?.c ?? 0));
      } catch {
        mysqlCounts.set(t, null);
      }
    }
    return new Map(tables.map((t) => [t, { sqlite: sqliteCounts.get(t) ?? null, mysql: mysqlCounts.get(t) ?? null }]));
  }

  /** Stop: a connect in flight is waited for and its pool closed; the SQLite handle is closed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.hubConnecting?.catch(() => undefined);
    this.dropHub();
    if (this.db?.open) this.db.close();
  }
}
