/**
 * Building blocks for the sync-engine tests: a hub database plus N nodes with
 * the same tables, capture installed, one Syncer each; canonical snapshots of a
 * table on every side (compared row by row, never by counts); syncing until
 * nothing moves; waiting for conditions with a deadline instead of sleeping.
 * `syncWorlds()` is the setup most sync test files share: a private hub for the
 * file and worlds on it, each closed after the test that made it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import type { Config, MysqlConfig } from '../../src/config/config.js';
import { canonical, canonicalRow, type Row } from '../../src/engines/codec.js';
import { MysqlHub } from '../../src/engines/mysql/connect.js';
import { quoteMysqlId } from '../../src/engines/mysql/quote.js';
import type { SqliteDb } from '../../src/engines/sqlite/open.js';
import { quoteSqliteId } from '../../src/engines/sqlite/quote.js';
import { initNode } from '../../src/sync/init.js';
import type { SyncTable } from '../../src/sync/plan.js';
import { type CycleReport, Syncer } from '../../src/sync/syncer.js';
import type { TestHub } from './hub.js';
import { createSqlite, nodeConfig } from './node.js';
import { type PrivateHub, privateHub } from './private-hub.js';
import { startSyncTestHub } from './sync-hub.js';

export interface TestNode {
  name: string;
  config: Config;
  syncer: Syncer;
  db: SqliteDb;
}

export interface SyncWorld {
  mysql: MysqlConfig;
  /** A plain pool on the hub database (no origin: writes here are "central" writes). */
  hub: MysqlHub;
  nodes: TestNode[];
  node(name: string): TestNode;
  /** Adds another node later (same schema), initialised and opened. */
  addNode(name: string, env?: Record<string, string>): Promise<TestNode>;
  close(): Promise<void>;
}

export interface WorldOptions {
  prefix?: string;
  sqliteDdl: string[];
  mysqlDdl: string[];
  nodes: string[];
  /** Extra environment for every node (CONFLICT_POLICY, SYNC_BATCH_SIZE…). */
  env?: Record<string, string>;
  /** Per-node extra environment. */
  nodeEnv?: Record<string, Record<string, string>>;
  /** Install capture (`initNode`) on every node; default true. */
  init?: boolean;
  /** How long each syncer trusts its sync plan (default 0: every batch sees schema changes at once). */
  planTtlMs?: number;
}

/** A fresh hub database with the tables, and nodes (SQLite files in `dir`) with capture installed. */
export async function makeWorld(testHub: TestHub, dir: string, options: WorldOptions): Promise<SyncWorld> {
  const mysql = await testHub.freshDatabase(options.prefix ?? 'sync');
  const hub = await MysqlHub.connect(mysql);
  for (const ddl of options.mysqlDdl) await hub.execute(ddl);
  const tag = randomBytes(3).toString('hex');
  const nodes: TestNode[] = [];
  const addNode = async (name: string, env: Record<string, string> = {}): Promise<TestNode> => {
    const config = nodeConfig(dir, `${name}-${tag}`, mysql, {
      NODE_ID: name,
      ...options.env,
      ...options.nodeEnv?.[name],
      ...env,
    });
    createSqlite(config, options.sqliteDdl).close();
    if (options.init !== false) await initNode(config);
    const syncer = Syncer.open(config, { planTtlMs: options.planTtlMs ?? 0 });
    const n: TestNode = { name, config, syncer, db: syncer.db };
    nodes.push(n);
    return n;
  };
  for (const name of options.nodes) await addNode(name);
  return {
    mysql,
    hub,
    nodes,
    addNode,
    node(name: string) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    async close() {
      for (const n of nodes) await n.syncer.close().catch(() => {});
      await hub.close();
    },
  };
}

export interface SyncWorlds extends PrivateHub {
  /** A fresh hub database with nodes on it: the file's defaults, then `options` (env merged). */
  world(options?: Partial<WorldOptions>): Promise<SyncWorld>;
}

/**
 * Nodes and a private hub for the tests of one describe block (`privateHub()`
 * with the sync tests' hub). A world made inside a test is closed after that test: each node
 * keeps up to six hub connections, and fifteen worlds of two nodes left open until the block
 * ended outgrew the hub's max_connections (CI on aa409a5, sync-collisions-rekeyhub-repoint).
 * A world made in a `beforeAll` stays open until the block ends.
 */
export function syncWorlds(defaults: Omit<WorldOptions, 'nodes'> & { nodes?: string[] }): SyncWorlds {
  const fixture = privateHub(startSyncTestHub);
  let ofThisTest: SyncWorld[] | undefined;
  beforeEach(() => {
    ofThisTest = [];
  });
  afterEach(async () => {
    const made = ofThisTest ?? [];
    ofThisTest = undefined;
    for (const w of made) await w.close().catch(() => {});
  });
  return {
    get testHub() {
      return fixture.testHub;
    },
    dir: fixture.dir,
    keep: fixture.keep,
    async world(options: Partial<WorldOptions> = {}): Promise<SyncWorld> {
      const env = { ...defaults.env, ...options.env };
      const world = fixture.keep(await makeWorld(fixture.testHub, fixture.dir, { nodes: ['A'], ...defaults, ...options, env }));
      ofThisTest?.push(world);
      return world;
    },
  };
}

/** The synced table as the plan sees it (columns with their logical types). */
export async function planTable(syncer: Syncer, table: string): Promise<SyncTable> {
  const plan = await syncer.currentPlan(true);
  const t = plan.byName.get(table);
  if (!t) throw new Error(`table ${table} is not in the sync plan: ${JSON.stringify([...plan.paused, ...plan.skipped])}`);
  return t;
}

function keyText(row: Record<string, unknown>, table: SyncTable): string {
  return table.key.map((k) => canonical(row[k.name] as Row[string], k.type)).join('|');
}

/** key → canonical row, for every row of the table in SQLite. */
export function sqliteRows(db: SqliteDb, table: SyncTable): Map<string, string> {
  const cols = table.columns.map((c) => quoteSqliteId(c.name)).join(', ');
  const rows = db.prepare(`SELECT ${cols} FROM ${quoteSqliteId(table.name)}`).all() as Row[];
  return new Map(rows.map((r) => [keyText(r, table), canonicalRow(r, table.columns)]));
}

/** key → canonical row, for every row of the table on the hub. */
export async function hubRows(hub: MysqlHub, table: SyncTable): Promise<Map<string, string>> {
  const cols = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
  const rows = await hub.query<Row>(`SELECT ${cols} FROM ${quoteMysqlId(table.name)}`);
  return new Map(rows.map((r) => [keyText(r, table), canonicalRow(r, table.columns)]));
}

/** Sorted [key, canonical row] pairs: equal arrays mean identical tables. */
export function sorted(m: Map<string, string>): [string, string][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Differences between two canonical snapshots, for readable failures. */
export function diffRows(a: Map<string, string>, b: Map<string, string>, names: [string, string]): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined) out.push(`${k}: only in ${names[0]} ${v}`);
    else if (w !== v) out.push(`${k}: ${names[0]} ${v} ≠ ${names[1]} ${w}`);
  }
  for (const [k, v] of b) if (!a.has(k)) out.push(`${k}: only in ${names[1]} ${v}`);
  return out;
}

/** Every node and the hub hold exactly the same rows of these tables; returns the differences (empty when converged). */
export async function divergence(world: SyncWorld, tables: string[]): Promise<string[]> {
  const first = world.nodes[0];
  if (!first) throw new Error('no nodes');
  const out: string[] = [];
  for (const name of tables) {
    const t = await planTable(first.syncer, name);
    const hub = await hubRows(world.hub, t);
    for (const n of world.nodes) {
      for (const d of diffRows(hub, sqliteRows(n.db, t), ['hub', n.name])) out.push(`${name} ${d}`);
    }
  }
  return out;
}

function moved(r: CycleReport): number {
  return r.push.applied + r.pull.applied + r.push.changes + r.pull.changes + r.push.conflicts + r.pull.conflicts;
}

/** Sync cycles on every node, round-robin, until a full round moves nothing (at most `maxRounds`). */
export async function syncUntilQuiet(nodes: TestNode[], maxRounds = 6): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    let total = 0;
    for (const n of nodes) total += moved(await n.syncer.syncOnce());
    if (total === 0) return round;
  }
  throw new Error(`still moving changes after ${maxRounds} sync rounds`);
}

/** Polls a condition until true or the deadline passes (the CLI helpers' `until`). */
export { until as waitFor } from './cli.js';

/** Hub change-log entries (for echo and origin checks). */
export async function hubLog(
  hub: MysqlHub,
  table?: string,
): Promise<{ seq: bigint; tbl: string; pk: string; op: string; origin: string | null }[]> {
  const rows = await hub.query<{ seq: string; tbl: string; pk: string; op: string; origin: string | null }>(
    `SELECT seq, tbl, pk, op, origin FROM _dualdb_changes${table ? ' WHERE tbl = ?' : " WHERE tbl NOT LIKE '\\_dualdb\\_%'"} ORDER BY seq`,
    table ? [table] : [],
  );
  return rows.map((r) => ({ ...r, seq: BigInt(r.seq) }));
}

/** Local change-log entries of user tables. */
export function localLog(db: SqliteDb, table?: string): { seq: bigint; tbl: string; pk: string; op: string }[] {
  return (
    table
      ? db.prepare('SELECT seq, tbl, pk, op FROM _dualdb_changes WHERE tbl = ? ORDER BY seq').all(table)
      : db
          .prepare("SELECT seq, tbl, pk, op FROM _dualdb_changes WHERE tbl NOT LIKE '\\_dualdb\\_%' ESCAPE '\\' ORDER BY seq")
          .all()
  ) as { seq: bigint; tbl: string; pk: string; op: string }[];
}
