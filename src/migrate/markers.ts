/**
 * Resume state. Each table's progress (the last key copied, in the source's key
 * order, and the rows done) lives on the *target* side and is written in the
 * same transaction as the batch it describes: a batch and its marker commit
 * together or not at all, so a process killed at any instant resumes exactly
 * after the last committed batch — no row is copied twice or skipped.
 *
 *  - SQLite → MySQL: `_dualdb_migration` on the hub, one row per (node, table).
 *  - MySQL → SQLite: `_dualdb_migration` in the SQLite file.
 *
 * The run itself (direction, the change-log positions taken before the first
 * copy, status) is kept in the SQLite file's `_dualdb_meta` under `migration`,
 * so a resumed run keeps the positions of the run it continues.
 */
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { MigrationDirection } from './types.js';

export interface TableMarker {
  /** Key values of the last copied row, as text (JSON array), in key order. */
  lastKey: string | null;
  rowsDone: number;
  done: boolean;
}

export interface RunState {
  direction: MigrationDirection;
  status: 'running' | 'done';
  /** Local change-log MAX(seq) when the copy started. */
  startSeq: string;
  hub: { maxSeq: string; holes: string[]; hubNowMs: number };
  /** Tables of the run, parents first. */
  tables: string[];
  /** Whether the run covers every synced table (cursors move only then). */
  complete: boolean;
  startedAt: string;
}

const META_KEY = 'migration';

const HUB_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_migration (
  node_id VARCHAR(64) NOT NULL,
  tbl VARCHAR(64) NOT NULL,
  last_key TEXT NULL,
  rows_done BIGINT NOT NULL DEFAULT 0,
  done TINYINT NOT NULL DEFAULT 0,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (node_id, tbl)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

const SQLITE_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_migration (
  tbl TEXT PRIMARY KEY,
  last_key TEXT,
  rows_done INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
)`;

function hasSqliteTable(db: SqliteDb, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

export function readRunState(db: SqliteDb): RunState | undefined {
  if (!hasSqliteTable(db, '_dualdb_meta')) return undefined;
  const row = db.prepare('SELECT value FROM _dualdb_meta WHERE key = ?').get(META_KEY) as { value: string | null } | undefined;
  if (!row?.value) return undefined;
  try {
    return JSON.parse(row.value) as RunState;
  } catch {
    return undefined;
  }
}

export function writeRunState(db: SqliteDb, state: RunState): void {
  db.prepare('INSERT INTO _dualdb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
    META_KEY,
    JSON.stringify(state),
  );
}

/** Markers on the hub (SQLite → MySQL). */
export class HubMarkers {
  constructor(
    private readonly hub: MysqlHub,
    private readonly nodeId: string,
  ) {}

  async install(): Promise<void> {
    await this.hub.execute(HUB_DDL);
  }

  async exists(): Promise<boolean> {
    const rows = await this.hub.query(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_migration'",
    );
    return rows.length > 0;
  }

  async load(): Promise<Map<string, TableMarker>> {
    if (!(await this.exists())) return new Map();
    const rows = await this.hub.query<{ tbl: string; last_key: string | null; rows_done: string | number; done: number }>(
      'SELECT tbl, last_key, rows_done, done FROM _dualdb_migration WHERE node_id = ?',
      [this.nodeId],
    );
    return new Map(rows.map((r) => [r.tbl, { lastKey: r.last_key, rowsDone: Number(r.rows_done), done: Number(r.done) === 1 }]));
  }

  async clear(tables: string[]): Promise<void> {
    if (tables.length === 0 || !(await this.exists())) return;
    await this.hub.execute('DELETE FROM _dualdb_migration WHERE node_id = ? AND tbl IN (?)', [this.nodeId, tables]);
  }

  /** Inside the batch's transaction, on the copy connection. */
  async save(conn: PoolConnection, table: string, marker: TableMarker): Promise<void> {
    await conn.query(
      `INSERT INTO _dualdb_migration (node_id, tbl, last_key, rows_done, done, updated_at) VALUES (?, ?, ?, ?, ?, NOW(6))
       ON DUPLICATE KEY UPDATE last_key = VALUES(last_key), rows_done = VALUES(rows_done), done = VALUES(done), updated_at = VALUES(updated_at)`,
      [this.nodeId, table, marker.lastKey, marker.rowsDone, marker.done ? 1 : 0],
    );
  }
}

/** Markers in the SQLite file (MySQL → SQLite). */
export class SqliteMarkers {
  constructor(private readonly db: SqliteDb) {}

  install(): void {
    this.db.exec(SQLITE_DDL);
  }

  load(): Map<string, TableMarker> {
    if (!hasSqliteTable(this.db, '_dualdb_migration')) return new Map();
    const rows = this.db.prepare('SELECT tbl, last_key, rows_done, done FROM _dualdb_migration').all() as {
      tbl: string;
      last_key: string | null;
      rows_done: bigint | number;
      done: bigint | number;
    }[];
    return new Map(rows.map((r) => [r.tbl, { lastKey: r.last_key, rowsDone: Number(r.rows_done), done: Number(r.done) === 1 }]));
  }

  clear(tables: string[]): void {
    if (!hasSqliteTable(this.db, '_dualdb_migration')) return;
    const del = this.db.prepare('DELETE FROM _dualdb_migration WHERE tbl = ?');
    for (const t of tables) del.run(t);
  }

  /** Inside the batch's SQLite transaction. */
  save(table: string, marker: TableMarker): void {
    this.db
      .prepare(
        `INSERT INTO _dualdb_migration (tbl, last_key, rows_done, done, updated_at) VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         ON CONFLICT (tbl) DO UPDATE SET last_key = excluded.last_key, rows_done = excluded.rows_done, done = excluded.done, updated_at = excluded.updated_at`,
      )
      .run(table, marker.lastKey, marker.rowsDone, marker.done ? 1 : 0);
  }
}
