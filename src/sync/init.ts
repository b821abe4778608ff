/**
 * `dualdb init`: installs (idempotently, versioned) the change capture on both
 * sides for every table of the sync plan, removes it from tables that left the
 * plan, and registers the node on the hub. `--uninstall` removes everything
 * dualdb installed and nothing else.
 */
import {
  capturedMysqlTables,
  installMysqlMeta,
  installMysqlTableCapture,
  removeMysqlTableCapture,
  uninstallMysqlCapture,
} from '../capture/mysql-capture.js';
import {
  capturedSqliteTables,
  installSqliteMeta,
  installSqliteTableCapture,
  removeSqliteTableCapture,
  uninstallSqliteCapture,
} from '../capture/sqlite-capture.js';
import type { Config } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { LocalState } from './local-state.js';
import { buildSyncPlan, type SyncPlan, type TableIssue } from './plan.js';

export type CaptureAction = 'installed' | 'unchanged' | 'upgraded' | 'removed';

export interface InitReport {
  nodeId: string;
  hub: 'installed' | 'disabled';
  tables: { table: string; sqlite: CaptureAction; mysql: CaptureAction | null }[];
  skipped: TableIssue[];
  paused: TableIssue[];
}

/** Installs capture on an open SQLite handle and (when enabled) an open hub. */
export async function installCapture(db: SqliteDb, hub: MysqlHub | undefined, config: Config): Promise<InitReport> {
  installSqliteMeta(db);
  const nodeId = new LocalState(db).nodeId(config.nodeId);
  const report: InitReport = { nodeId, hub: hub ? 'installed' : 'disabled', tables: [], skipped: [], paused: [] };
  const sqliteTables = introspectSqlite(db);
  let plan: SyncPlan;
  if (hub) {
    await installMysqlMeta(hub);
    plan = buildSyncPlan(sqliteTables, await introspectMysql(hub), { include: config.sync.tables, exclude: config.sync.exclude });
  } else {
    // SQLite only: capture every table with a primary key so changes queue until a hub exists.
    plan = buildSyncPlan(sqliteTables, sqliteTables, { include: config.sync.tables, exclude: config.sync.exclude });
  }
  report.skipped = plan.skipped;
  report.paused = plan.paused;
  const wanted = new Set(plan.tables.map((t) => t.name));
  for (const t of plan.tables) {
    const sqlite = installSqliteTableCapture(db, t.name, t.key);
    const mysql = hub ? await installMysqlTableCapture(hub, t.name, t.key) : null;
    if (!t.meta) report.tables.push({ table: t.name, sqlite, mysql });
  }
  // Paused tables keep their capture (changes are parked, not lost); others leave.
  const keep = new Set([...wanted, ...plan.paused.map((p) => p.table)]);
  for (const t of capturedSqliteTables(db).keys()) {
    if (!keep.has(t)) {
      removeSqliteTableCapture(db, t);
      report.tables.push({ table: t, sqlite: 'removed', mysql: null });
    }
  }
  if (hub) {
    for (const t of (await capturedMysqlTables(hub)).keys()) {
      if (!keep.has(t)) {
        await removeMysqlTableCapture(hub, t);
        const row = report.tables.find((r) => r.table === t);
        if (row) row.mysql = 'removed';
        else report.tables.push({ table: t, sqlite: 'unchanged', mysql: 'removed' });
      }
    }
    await hub.execute(
      'INSERT IGNORE INTO _dualdb_nodes (node_id, push_cursor, pull_upto, first_seen, last_seen) VALUES (?, 0, 0, NOW(6), NOW(6))',
      [nodeId],
    );
  }
  return report;
}

export async function initNode(config: Config, options: { createSqlite?: boolean } = {}): Promise<InitReport> {
  const db = openSqlite(config.sqlitePath, { create: options.createSqlite ?? false });
  let hub: MysqlHub | undefined;
  try {
    if (config.dualDatabase) hub = await MysqlHub.connect(config.mysql);
    return await installCapture(db, hub, config);
  } finally {
    await hub?.close();
    db.close();
  }
}

export interface UninstallReport {
  sqlite: string[];
  mysql: string[];
  /** The hub keeps its capture because other nodes still use it. */
  hubKeptFor: string[];
}

export async function uninstallNode(config: Config, options: { hub?: boolean } = {}): Promise<UninstallReport> {
  const db = openSqlite(config.sqlitePath);
  const report: UninstallReport = { sqlite: [], mysql: [], hubKeptFor: [] };
  let hub: MysqlHub | undefined;
  try {
    const nodeId = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_meta'").get()
      ? new LocalState(db).getMeta('node_id')
      : undefined;
    if (config.dualDatabase) {
      hub = await MysqlHub.connect(config.mysql);
      const others = await hub
        .query<{ node_id: string }>('SELECT node_id FROM _dualdb_nodes WHERE node_id <> ?', [nodeId ?? ''])
        .catch(() => [] as { node_id: string }[]);
      if (others.length > 0 && !options.hub) {
        report.hubKeptFor = others.map((o) => o.node_id);
        if (nodeId) await hub.execute('DELETE FROM _dualdb_nodes WHERE node_id = ?', [nodeId]);
      } else {
        report.mysql = await uninstallMysqlCapture(hub);
      }
    }
    report.sqlite = uninstallSqliteCapture(db);
    return report;
  } finally {
    await hub?.close();
    db.close();
  }
}
