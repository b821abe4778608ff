/**
 * Change capture on the SQLite side: the `_dualdb_*` tables and, per synced
 * table, AFTER INSERT/UPDATE/DELETE triggers that log (table, key, op, time) in
 * the writer's own transaction — whoever the writer is (this process, the
 * Python app, the sqlite3 shell).
 *
 * Echo suppression (docs/SYNC-CONTRACT.md, invariant 2): the triggers fire only while
 * `_dualdb_flags.applying = 0`. The syncer sets it to 1 inside its apply
 * transaction and back to 0 before commit, so no other writer ever sees 1.
 *
 * Trigger bodies use only SQL that old SQLite versions understand (no JSON, no
 * UPSERT, no unixepoch()): they run inside whatever SQLite library the other
 * writers link.
 */
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId, sqliteLiteral } from '../engines/sqlite/quote.js';
import { type KeyColumn, sqliteKeyExpr } from './keys.js';
import { type ImpliedUpdateSpec, sqliteUpdateOpExpr } from './sqlite-fk-actions.js';

export const SQLITE_CAPTURE_VERSION = 1;

/** Milliseconds since the epoch, in SQL every SQLite version knows. */
export const SQLITE_NOW_MS = "((julianday('now') - 2440587.5) * 86400000.0)";

/**
 * Rows moved to a new generated key because another row was created under the same key on
 * the other side (docs/SYNC-CONTRACT.md invariant 13). status: done | held (manual, waiting for
 * `dualdb rekeys resolve`) | pending (seen by a pull; the next push resolves it) | unconfirmed |
 * closed (a held one whose node or hub row went; `reason` says which: RekeyStore.closeHeld).
 */
export const REKEYS_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_rekeys (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tbl TEXT NOT NULL,
     old_key TEXT NOT NULL,
     new_key TEXT,
     moved TEXT,
     status TEXT NOT NULL,
     detected_in TEXT NOT NULL,
     mode TEXT NOT NULL,
     node_image TEXT,
     hub_image TEXT,
     hub_seq INTEGER,
     at TEXT NOT NULL,
     resolved_at TEXT,
     reason TEXT
   )`;

/** Due parked changes are read through this index: a batch costs the same however many are parked. */
export const PARKED_DUE_INDEX = 'CREATE INDEX IF NOT EXISTS _dualdb_parked_due ON _dualdb_parked (direction, next_retry_ms)';

export const SQLITE_META_DDL = [
  `CREATE TABLE IF NOT EXISTS _dualdb_meta (
     key TEXT PRIMARY KEY,
     value TEXT
   )`,
  `CREATE TABLE IF NOT EXISTS _dualdb_flags (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     applying INTEGER NOT NULL DEFAULT 0
   )`,
  'INSERT OR IGNORE INTO _dualdb_flags (id, applying) VALUES (1, 0)',
  // AUTOINCREMENT: a seq is never reused after pushed entries are deleted, so a new
  // change can never hide below the hub's push cursor.
  `CREATE TABLE IF NOT EXISTS _dualdb_changes (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     tbl TEXT NOT NULL,
     pk TEXT,
     op TEXT NOT NULL,
     at REAL NOT NULL
   )`,
  // No (tbl, pk) index: maintaining it made every captured insert ~6x slower (bench/capture),
  // while key lookups only ever look at the unpushed tail (seq > cursor), a rowid range.
  'DROP INDEX IF EXISTS _dualdb_changes_key',
  `CREATE TABLE IF NOT EXISTS _dualdb_tables (
     tbl TEXT PRIMARY KEY,
     pk_columns TEXT NOT NULL,
     capture_version INTEGER NOT NULL,
     installed_at TEXT NOT NULL
   )`,
  // Pull cursor: every hub seq <= upto is applied or provably dead, except the holes.
  `CREATE TABLE IF NOT EXISTS _dualdb_pull_state (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     upto INTEGER NOT NULL DEFAULT 0,
     updated_at TEXT
   )`,
  'INSERT OR IGNORE INTO _dualdb_pull_state (id, upto) VALUES (1, 0)',
  `CREATE TABLE IF NOT EXISTS _dualdb_pull_holes (
     seq INTEGER PRIMARY KEY,
     first_seen_ms REAL NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS _dualdb_conflicts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tbl TEXT NOT NULL,
     pk TEXT NOT NULL,
     detected_at TEXT NOT NULL,
     detected_in TEXT NOT NULL,
     policy TEXT NOT NULL,
     winner TEXT,
     status TEXT NOT NULL,
     node_image TEXT,
     hub_image TEXT,
     node_at REAL,
     hub_at REAL,
     node_seq INTEGER NOT NULL,
     hub_seq INTEGER NOT NULL,
     resolved_at TEXT,
     UNIQUE (tbl, pk, node_seq, hub_seq)
   )`,
  'CREATE INDEX IF NOT EXISTS _dualdb_conflicts_open ON _dualdb_conflicts (status, tbl, pk)',
  `CREATE TABLE IF NOT EXISTS _dualdb_parked (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     direction TEXT NOT NULL,
     tbl TEXT NOT NULL,
     pk TEXT,
     error TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 1,
     first_at TEXT NOT NULL,
     last_at TEXT NOT NULL,
     next_retry_ms REAL,
     first_op TEXT,
     changed_ms REAL,
     UNIQUE (direction, tbl, pk)
   )`,
  REKEYS_DDL,
  'CREATE INDEX IF NOT EXISTS _dualdb_rekeys_key ON _dualdb_rekeys (tbl, old_key)',
  PARKED_DUE_INDEX,
  // Heartbeats travel the same path as data (docs/SYNC-CONTRACT.md, invariant 12): each node bumps its row.
  `CREATE TABLE IF NOT EXISTS _dualdb_heartbeats (
     node_id TEXT PRIMARY KEY,
     beat INTEGER NOT NULL,
     sent_ms REAL NOT NULL
   )`,
];

export const SQLITE_META_TABLES = [
  '_dualdb_rekeys',
  '_dualdb_meta',
  '_dualdb_flags',
  '_dualdb_changes',
  '_dualdb_tables',
  '_dualdb_pull_state',
  '_dualdb_pull_holes',
  '_dualdb_conflicts',
  '_dualdb_parked',
  '_dualdb_heartbeats',
  '_dualdb_migration',
  // Created by the sync on first use (src/sync/hub-moves.ts, src/sync/rekey-store.ts), dropped with the rest.
  '_dualdb_hub_moves',
  '_dualdb_taken',
];

export function sqliteTriggerNames(table: string): string[] {
  return ['ai', 'au', 'ad'].map((s) => `_dualdb_${table}_${s}`);
}

/**
 * The three capture triggers of one table. `implied`: its foreign keys whose ON DELETE updates
 * it; such an update is logged as `N` (sqlite-fk-actions.ts).
 */
export function sqliteTriggerDdl(table: string, key: KeyColumn[], implied?: ImpliedUpdateSpec): string[] {
  const t = quoteSqliteId(table);
  const lit = sqliteLiteral(table);
  const [ai, au, ad] = sqliteTriggerNames(table).map(quoteSqliteId);
  const when = 'WHEN (SELECT applying FROM _dualdb_flags WHERE id = 1) = 0';
  const newKey = sqliteKeyExpr(key, 'NEW');
  const oldKey = sqliteKeyExpr(key, 'OLD');
  return [
    `CREATE TRIGGER IF NOT EXISTS ${ai} AFTER INSERT ON ${t} ${when}
     BEGIN
       INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (${lit}, ${newKey}, 'I', ${SQLITE_NOW_MS});
     END`,
    // A key change is a delete of the old key plus a write of the new one.
    `CREATE TRIGGER IF NOT EXISTS ${au} AFTER UPDATE ON ${t} ${when}
     BEGIN
       INSERT INTO _dualdb_changes (tbl, pk, op, at)
         SELECT ${lit}, ${oldKey}, 'D', ${SQLITE_NOW_MS} WHERE ${oldKey} IS NOT ${newKey};
       INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (${lit}, ${newKey}, ${sqliteUpdateOpExpr(implied)}, ${SQLITE_NOW_MS});
     END`,
    `CREATE TRIGGER IF NOT EXISTS ${ad} AFTER DELETE ON ${t} ${when}
     BEGIN
       INSERT INTO _dualdb_changes (tbl, pk, op, at) VALUES (${lit}, ${oldKey}, 'D', ${SQLITE_NOW_MS});
     END`,
  ];
}

export function installSqliteMeta(db: SqliteDb): void {
  db.transaction(() => {
    for (const ddl of SQLITE_META_DDL) db.exec(ddl);
    db.prepare(
      "INSERT INTO _dualdb_meta (key, value) VALUES ('capture_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(String(SQLITE_CAPTURE_VERSION));
    // IMMEDIATE: a deferred transaction that read the schema fails at once (SQLITE_BUSY, no busy wait)
    // when another process commits before it writes — capture is installed while applications write.
  }).immediate();
}

/** The trigger's text as SQLite keeps it in sqlite_schema (without IF NOT EXISTS), spaces folded. */
function triggerText(sql: string): string {
  return sql
    .replace(/^CREATE TRIGGER IF NOT EXISTS /, 'CREATE TRIGGER ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** How `_dualdb_tables.pk_columns` names a table's key. */
export function keyText(key: KeyColumn[]): string {
  return key.map((k) => `${k.name}:${k.type}`).join(',');
}

/**
 * Installs (or re-installs when the key, the version or a trigger's text changed: a foreign key
 * or a column since the last `init`) the triggers of one table.
 */
export function installSqliteTableCapture(
  db: SqliteDb,
  table: string,
  key: KeyColumn[],
  implied?: ImpliedUpdateSpec,
): 'installed' | 'unchanged' | 'upgraded' {
  const pkText = keyText(key);
  const existing = db.prepare('SELECT pk_columns, capture_version FROM _dualdb_tables WHERE tbl = ?').get(table) as
    | { pk_columns: string; capture_version: bigint | number }
    | undefined;
  const ddl = sqliteTriggerDdl(table, key, implied);
  const triggersPresent = sqliteTriggerNames(table).every((n, i) => {
    const row = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?").get(n) as
      | { sql: string }
      | undefined;
    return row !== undefined && triggerText(row.sql) === triggerText(ddl[i] as string);
  });
  if (
    existing &&
    existing.pk_columns === pkText &&
    Number(existing.capture_version) === SQLITE_CAPTURE_VERSION &&
    triggersPresent
  ) {
    return 'unchanged';
  }
  db.transaction(() => {
    for (const n of sqliteTriggerNames(table)) db.exec(`DROP TRIGGER IF EXISTS ${quoteSqliteId(n)}`);
    for (const d of ddl) db.exec(d);
    db.prepare(
      `INSERT INTO _dualdb_tables (tbl, pk_columns, capture_version, installed_at) VALUES (?, ?, ?, datetime('now'))
       ON CONFLICT (tbl) DO UPDATE SET pk_columns = excluded.pk_columns, capture_version = excluded.capture_version, installed_at = excluded.installed_at`,
    ).run(table, pkText, SQLITE_CAPTURE_VERSION);
  }).immediate();
  return existing ? 'upgraded' : 'installed';
}

export function removeSqliteTableCapture(db: SqliteDb, table: string): void {
  db.transaction(() => {
    for (const n of sqliteTriggerNames(table)) db.exec(`DROP TRIGGER IF EXISTS ${quoteSqliteId(n)}`);
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_tables'").get()) {
      db.prepare('DELETE FROM _dualdb_tables WHERE tbl = ?').run(table);
    }
  })();
}

export function capturedSqliteTables(db: SqliteDb): Map<string, string> {
  if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_tables'").get()) return new Map();
  const rows = db.prepare('SELECT tbl, pk_columns FROM _dualdb_tables').all() as { tbl: string; pk_columns: string }[];
  return new Map(rows.map((r) => [r.tbl, r.pk_columns]));
}

/** Removes every trigger and table dualdb installed, and nothing else. */
export function uninstallSqliteCapture(db: SqliteDb): string[] {
  const removed: string[] = [];
  db.transaction(() => {
    const triggers = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_dualdb\\_%' ESCAPE '\\'")
      .all() as { name: string }[];
    const known = new Set([...capturedSqliteTables(db).keys()].flatMap(sqliteTriggerNames));
    for (const { name } of triggers) {
      if (known.has(name) || /_(ai|au|ad)$/.test(name)) {
        db.exec(`DROP TRIGGER IF EXISTS ${quoteSqliteId(name)}`);
        removed.push(`trigger ${name}`);
      }
    }
    for (const t of [...SQLITE_META_TABLES].reverse()) {
      if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(t)) {
        db.exec(`DROP TABLE ${quoteSqliteId(t)}`);
        removed.push(`table ${t}`);
      }
    }
    // sqlite_sequence keeps a row for every AUTOINCREMENT table; drop ours.
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").get()) {
      db.prepare("DELETE FROM sqlite_sequence WHERE name LIKE '\\_dualdb\\_%' ESCAPE '\\'").run();
    }
  })();
  return removed;
}
