/**
 * `dualdb init`: installs (idempotently, versioned) the change capture on both
 * sides for every table of the sync plan, removes the node's own (SQLite)
 * capture from tables that left its plan, and registers the node on the hub.
 *
 * The hub's capture belongs to the hub: every node relies on it, so a node's
 * init, setup or uninstall only ever adds or upgrades it, never removes it (a
 * node whose SQLite file is new, or that syncs fewer tables, changes nothing on
 * the hub for the others). Removing it is the explicit `dualdb init --uninstall
 * --hub`, which names the nodes still registered and refuses while any was
 * active in the last HUB_ACTIVE_WINDOW_MINUTES unless forced.
 *
 * Nothing is installed on either side before the hub user is known to hold the
 * privileges capture needs (checked from its grants).
 */
import { installMysqlMeta, installMysqlTableCapture, uninstallMysqlCapture } from '../capture/mysql-capture.js';
import {
  capturedSqliteTables,
  installSqliteMeta,
  installSqliteTableCapture,
  REKEYS_DDL,
  removeSqliteTableCapture,
  uninstallSqliteCapture,
} from '../capture/sqlite-capture.js';
import { impliedUpdateSpec } from '../capture/sqlite-fk-actions.js';
import type { Config } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { capturePrivilegeProblem } from '../engines/mysql/privileges.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import { assertIntact, openSqlite, type SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError, MysqlError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { LocalState } from './local-state.js';
import { reconcileWithHub, refuseIfHeldElsewhere } from './node-fence.js';
import { assignNewNodeId, type TakeOverReport, takeOverNodeId } from './node-identity.js';
import { buildSyncPlan, type KeyKind, type SyncPlan, type TableIssue } from './plan.js';
import { ensureRekeyTable } from './rekey-store.js';

export type CaptureAction = 'installed' | 'unchanged' | 'upgraded' | 'removed';

export interface InitReport {
  nodeId: string;
  hub: 'installed' | 'disabled';
  /** keyKind: generated (collisions re-key, docs/SYNC-CONTRACT.md invariant 13) or natural; absent for removed tables. */
  tables: { table: string; sqlite: CaptureAction; mysql: CaptureAction | null; keyKind?: KeyKind }[];
  skipped: TableIssue[];
  paused: TableIssue[];
  /** Set by `--take-over`. */
  takeOver?: TakeOverReport;
  /**
   * Tables this node captures that the hub lacks: their capture stays (writes park as waiting),
   * they sync once the hub has them (`dualdb schema apply --yes`, then `dualdb init`).
   */
  missingOnHub: string[];
  /**
   * The hub log's moves index (mysql-capture.ts `ensureMovesIndex`) when init did not find it:
   * 'added' now, or 'skipped' (the log was busy, or the hub user lacks ALTER; sync works, slower).
   */
  hubLogIndex?: 'added' | 'skipped';
}

/**
 * The captured tables by key kind, for setup's plan lines: "generated keys: a, b; natural keys: c"
 * (generated-key tables written on both sides can collide, docs/SYNC-CONTRACT.md invariant 13).
 */
export function describeKeyKinds(tables: InitReport['tables']): string {
  const of = (kind: KeyKind) => tables.filter((t) => t.keyKind === kind).map((t) => t.table);
  return (['generated', 'natural'] as const)
    .filter((k) => of(k).length)
    .map((k) => `${k} keys: ${of(k).join(', ')}`)
    .join('; ');
}

export { CAPTURE_PRIVILEGES } from '../engines/mysql/privileges.js';

/** A node counts as active when the hub saw it (a push or a pull) within this many minutes. */
export const HUB_ACTIVE_WINDOW_MINUTES = 15;

/** Refuses, before anything is installed, when the hub user lacks a privilege capture needs. */
export async function assertCapturePrivileges(hub: MysqlHub): Promise<void> {
  const err = await capturePrivilegeProblem(hub);
  if (!err) return;
  throw new MysqlError('missing-privileges', `${err.message}: nothing was installed on either side`, {
    hint: err.hint,
    context: err.context,
  });
}

/** Installs capture on an open SQLite handle and (when enabled) an open hub, and registers the node (invariant 17). */
/** Refuses, before any capture is installed, a file that cannot join the hub as it is. */
export type JoinGuard = (db: SqliteDb, hub: MysqlHub, config: Config, plan: SyncPlan) => Promise<void>;

export async function installCapture(
  db: SqliteDb,
  hub: MysqlHub | undefined,
  config: Config,
  options: {
    takeOver?: boolean;
    /**
     * Run before any table's capture goes in (src/compare/join-guard.ts, passed down by the layers
     * above: the CLI, the library, the wizard and `migrate`): refuses a file holding rows the hub
     * does not (invariant 15). Absent: not checked (tests of this layer, `migrate`'s copy, which
     * makes the two sides equal before the sync starts).
     */
    joinGuard?: JoinGuard;
  } = {},
): Promise<InitReport> {
  if (hub) await assertCapturePrivileges(hub);
  installSqliteMeta(db);
  // An older file's `_dualdb_*` tables brought up to date here, at init, once (each step checked
  // first: nothing changes in an up-to-date file's schema); a syncer opening the file does the same.
  ensureRekeyTable(db, [REKEYS_DDL]);
  const nodeId = new LocalState(db).nodeId(config.nodeId);
  const report: InitReport = {
    nodeId,
    hub: hub ? 'installed' : 'disabled',
    tables: [],
    skipped: [],
    paused: [],
    missingOnHub: [],
  };
  const sqliteTables = introspectSqlite(db);
  let plan: SyncPlan;
  let hubTables = new Set<string>();
  let logTokens = false;
  if (hub) {
    const meta = await installMysqlMeta(hub);
    const { movesIndex } = meta;
    logTokens = meta.logTokens;
    if (movesIndex !== 'present') report.hubLogIndex = movesIndex;
    const mysqlTables = await introspectMysql(hub);
    hubTables = new Set(mysqlTables.map((t) => t.name.toLowerCase()));
    plan = buildSyncPlan(sqliteTables, mysqlTables, { include: config.sync.tables, exclude: config.sync.exclude });
  } else {
    // SQLite only: capture every table with a primary key so changes queue until a hub exists.
    plan = buildSyncPlan(sqliteTables, sqliteTables, { include: config.sync.tables, exclude: config.sync.exclude });
  }
  // Before any table's capture: rows this file held before would never sync (invariant 15).
  if (hub && options.joinGuard) {
    // A second file under a held node id is that (NODE_ID_IN_USE), whatever rows it holds.
    if (!options.takeOver) await refuseIfHeldElsewhere({ db, state: new LocalState(db), hub, nodeId });
    await options.joinGuard(db, hub, config, plan);
  }
  report.skipped = plan.skipped;
  report.paused = plan.paused;
  const wanted = new Set(plan.tables.map((t) => t.name));
  for (const t of plan.tables) {
    const info = sqliteTables.find((s) => s.name === t.name);
    const sqlite = installSqliteTableCapture(db, t.name, t.key, info && impliedUpdateSpec(info));
    const mysql = hub ? await installMysqlTableCapture(hub, t.name, t.key, logTokens) : null;
    if (!t.meta) report.tables.push({ table: t.name, sqlite, mysql, keyKind: t.keyKind });
  }
  // Paused tables keep their capture (changes are parked, not lost); others leave this node.
  // A table the hub lacks keeps it too: the hub may just not have it yet (an empty hub database,
  // a table added locally), and writes made until it does would otherwise never be captured.
  // The hub's capture stays whatever this node's plan holds: other nodes rely on it.
  const keep = new Set([...wanted, ...plan.paused.map((p) => p.table)]);
  const excluded = new Set(config.sync.exclude.map((t) => t.toLowerCase()));
  const included = new Set(config.sync.tables.map((t) => t.toLowerCase()));
  const stillWanted = (t: string) => !excluded.has(t.toLowerCase()) && (!included.size || included.has(t.toLowerCase()));
  for (const t of capturedSqliteTables(db).keys()) {
    if (keep.has(t)) continue;
    if (hub && !hubTables.has(t.toLowerCase()) && stillWanted(t)) {
      report.missingOnHub.push(t);
      continue;
    }
    removeSqliteTableCapture(db, t);
    report.tables.push({ table: t, sqlite: 'removed', mysql: null });
  }
  if (hub) {
    const state = new LocalState(db);
    if (options.takeOver) report.takeOver = await takeOverNodeId(db, hub, nodeId);
    // Registers a new node; refuses (NODE_ID_IN_USE) when another file holds this id.
    else await reconcileWithHub({ db, state, hub, nodeId });
  }
  return report;
}

export interface InitOptions {
  createSqlite?: boolean;
  /** `--new-node-id`: this file is a copy; it syncs on as a new node (docs/SYNC-CONTRACT.md invariant 17). */
  newNodeId?: boolean;
  /** `--take-over`: this file becomes the holder of its node id on the hub. */
  takeOver?: boolean;
  /** See installCapture; the CLI and the library pass compare/join-guard.ts (api/init-node.ts). */
  joinGuard?: JoinGuard;
}

export async function initNode(config: Config, options: InitOptions = {}): Promise<InitReport> {
  const db = openSqlite(config.sqlitePath, { create: options.createSqlite ?? false });
  try {
    // Nothing is installed into a damaged file (a corrupt page shows only when read).
    assertIntact(db, config.sqlitePath);
  } catch (e) {
    db.close();
    throw e;
  }
  let hub: MysqlHub | undefined;
  try {
    if (options.newNodeId) {
      if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_meta'").get()) installSqliteMeta(db);
      assignNewNodeId(db, config);
    }
    if (config.dualDatabase) hub = await MysqlHub.connect(config.mysql);
    return await installCapture(db, hub, config, { takeOver: options.takeOver, joinGuard: options.joinGuard });
  } finally {
    await hub?.close();
    db.close();
  }
}

export interface RegisteredNode {
  nodeId: string;
  /** When the hub last saw it push or pull (hub time, `YYYY-MM-DD HH:MM:SS`). */
  lastSeen: string;
  /** Seen within HUB_ACTIVE_WINDOW_MINUTES. */
  active: boolean;
}

export interface UninstallReport {
  sqlite: string[];
  mysql: string[];
  /** The hub keeps its capture (it is removed only with `--hub`); the other nodes registered. */
  hubKeptFor: string[];
  /** The other nodes registered on the hub when this ran. */
  registered: RegisteredNode[];
}

export class HubInUseError extends DualdbError {
  constructor(active: RegisteredNode[]) {
    super(
      'HUB_IN_USE',
      `the hub's capture is in use: ${active.map((n) => `${n.nodeId} (last seen ${n.lastSeen})`).join(', ')} synced in the last ${HUB_ACTIVE_WINDOW_MINUTES} minutes; removing it would stop their sync. Nothing was changed`,
      {
        hint: 'stop those syncers and run `dualdb init --uninstall` on each node first, or add --force to remove it anyway',
        exitCode: EXIT.FAILURE,
        context: { nodes: active.map((n) => n.nodeId) },
      },
    );
  }
}

async function registeredNodes(hub: MysqlHub, self: string | undefined): Promise<RegisteredNode[]> {
  const rows = await hub
    .query<{ node_id: string; last_seen: string; active: number | string }>(
      `SELECT node_id, DATE_FORMAT(last_seen, '%Y-%m-%d %H:%i:%s') AS last_seen,
              last_seen >= NOW(6) - INTERVAL ? MINUTE AS active
         FROM _dualdb_nodes WHERE node_id <> ? ORDER BY node_id`,
      [HUB_ACTIVE_WINDOW_MINUTES, self ?? ''],
    )
    .catch((e: { code?: string }) => {
      if (e.code === 'ER_NO_SUCH_TABLE') return [];
      throw e;
    });
  return rows.map((r) => ({ nodeId: r.node_id, lastSeen: r.last_seen, active: Number(r.active) === 1 }));
}

/**
 * Removes this node's capture from its SQLite file and its registration on the hub. The hub's
 * capture stays unless `hub` is set; then it is removed too, unless another registered node was
 * active recently (see HubInUseError) and `force` is not set. Checks happen before any change.
 */
export async function uninstallNode(config: Config, options: { hub?: boolean; force?: boolean } = {}): Promise<UninstallReport> {
  const db = openSqlite(config.sqlitePath);
  const report: UninstallReport = { sqlite: [], mysql: [], hubKeptFor: [], registered: [] };
  let hub: MysqlHub | undefined;
  try {
    const nodeId = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_meta'").get()
      ? new LocalState(db).getMeta('node_id')
      : undefined;
    if (config.dualDatabase) {
      hub = await MysqlHub.connect(config.mysql);
      report.registered = await registeredNodes(hub, nodeId);
      const active = report.registered.filter((n) => n.active);
      if (options.hub && active.length > 0 && !options.force) throw new HubInUseError(active);
    }
    report.sqlite = uninstallSqliteCapture(db);
    if (hub) {
      if (options.hub) report.mysql = await uninstallMysqlCapture(hub);
      else {
        report.hubKeptFor = report.registered.map((n) => n.nodeId);
        if (nodeId)
          await hub.execute('DELETE FROM _dualdb_nodes WHERE node_id = ?', [nodeId]).catch((e: { code?: string }) => {
            if (e.code !== 'ER_NO_SUCH_TABLE') throw e;
          });
      }
    }
    return report;
  } finally {
    await hub?.close();
    db.close();
  }
}
