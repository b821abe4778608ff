/** What push and pull need from the running syncer. */
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { SyncLog } from '../log/sync-log.js';
import type { LocalState } from './local-state.js';
import type { SyncPlan } from './plan.js';
import type { RekeyEvent } from './rekey.js';
import type { SchemaStamp } from './schema-guard.js';

export interface SyncContext {
  db: SqliteDb;
  state: LocalState;
  hub: MysqlHub;
  plan: SyncPlan;
  nodeId: string;
  config: Config;
  log: SyncLog;
  /** hub clock minus local clock, ms (estimated at each pull). */
  hubClockOffsetMs: number;
  /** Whether the hub user may read information_schema.INNODB_TRX (PROCESS) to prove sequence holes dead. */
  canSeeTransactions: boolean;
  /** Both sides' schema as of the plan: a batch that moves rows checks it first (schema-guard.ts). */
  schemaStamp: SchemaStamp | undefined;
  /** The hub's max_allowed_packet (bytes): no statement may be larger. */
  hubMaxPacket: number;
  /** Galera/Group Replication: transactions of other members are invisible, holes only expire by time. */
  clusteredHub: boolean;
  /** MariaDB 10.5+: `INSERT … RETURNING` gives the stored images of inserted rows in the same statement. */
  hubReturning?: boolean;
  /** False: other nodes' heartbeat rows this pull applies add no lag sample (they waited for this node's own heartbeat). */
  beatLag?: boolean;
}

export interface TableMoved {
  upserts: number;
  deletes: number;
  conflicts: number;
  parked: number;
}

export interface BatchResult {
  direction: 'push' | 'pull';
  /** Change-log entries consumed (before coalescing). */
  changes: number;
  /** Rows written on the receiving side. */
  applied: number;
  perTable: Map<string, TableMoved>;
  conflicts: number;
  parked: number;
  /** End-to-end lag of each applied change, ms. */
  lagsMs: number[];
  /** True when the batch was full: more may be waiting. */
  more: boolean;
  /** Rows moved to a new key in this batch (key collisions). */
  rekeys: RekeyEvent[];
  /** Push: bytes of the rows sent (their statement text), which sizes the next batch (push-size.ts). */
  bytes?: number;
  /** Pull: how long the batch's SQLite transaction held the write lock, ms (sizes the next batch, push-size.ts). */
  lockMs?: number;
  /**
   * One-row push: the hub table's column definitions, returned by the committed insert, differ from
   * the shape seen under the plan's stamp (a hub ALTER that changed no value sent): the plan is made
   * again before the next batch (push-one.ts).
   */
  hubShapeChanged?: boolean;
}

export function emptyBatch(direction: 'push' | 'pull'): BatchResult {
  return { direction, changes: 0, applied: 0, perTable: new Map(), conflicts: 0, parked: 0, lagsMs: [], more: false, rekeys: [] };
}

export function moved(result: BatchResult, table: string): TableMoved {
  let m = result.perTable.get(table);
  if (!m) {
    m = { upserts: 0, deletes: 0, conflicts: 0, parked: 0 };
    result.perTable.set(table, m);
  }
  return m;
}
