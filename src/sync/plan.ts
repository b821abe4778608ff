/**
 * Which tables are synced, with what key and columns, in what order — decided
 * from both sides' introspection. A table that cannot be synced is never
 * skipped silently: it lands in `skipped` (not syncable, with the reason) or
 * `paused` (schema drift, docs/SYNC-CONTRACT.md, invariant 9: refused, not guessed).
 */
import { type KeyColumn, SUPPORTED_KEY_TYPES } from '../capture/keys.js';
import { type LogicalType, pairLogicalType } from '../engines/codec.js';
import { isMetaTable, type TableInfo } from '../engines/types.js';
import { tableKeyKind } from '../schema/key-kind.js';

export interface SyncColumn {
  name: string;
  type: LogicalType;
}

/**
 * generated: a single integer key the databases hand out (SQLite INTEGER PRIMARY KEY, MySQL
 * AUTO_INCREMENT) — two sides inserting independently may pick the same value for two different
 * rows (a collision, re-keyed). natural: anything else — the same key is the same entity.
 */
export type KeyKind = 'generated' | 'natural';

export interface SyncTable {
  name: string;
  key: KeyColumn[];
  keyKind: KeyKind;
  /** The hub assigns this table's key (AUTO_INCREMENT): new keys for re-keyed rows come from it. */
  hubAssignsKey: boolean;
  /** Columns present on both sides, in SQLite's order. */
  columns: SyncColumn[];
  /** Synced tables this one references (applied first). */
  parents: string[];
  /**
   * Its foreign keys to synced tables' primary keys, with the referencing columns in the
   * parent key's order: a row's image names the parent rows it needs.
   */
  foreignKeys: SyncForeignKey[];
  /**
   * Single-column references to tables that are not synced now (paused by drift, skipped): a row
   * naming a key there whose hub insert waits, parked, over the node's own row must wait too.
   */
  unsyncedRefs?: SyncForeignKey[];
  /**
   * A hub-side foreign key deletes or nulls this table's children on delete. MySQL runs such
   * cascades without firing triggers, so they never reach the change log.
   */
  hubCascades: boolean;
  /** Position in parent-before-child order. */
  rank: number;
  /**
   * Its unique keys besides the primary key, from either side, by the synced columns' names: two
   * rows holding the same values there are one entity (decide.ts `RowFacts.sameEntity`).
   */
  uniqueKeys?: string[][];
  /** dualdb's own table (heartbeats), hidden from user listings. */
  meta: boolean;
}

export interface SyncForeignKey {
  parent: string;
  /** This table's columns, one per column of the parent's primary key, in key order. */
  columns: string[];
}

export interface TableIssue {
  table: string;
  reason: string;
  /** What the operator must do (paused tables): the sync re-checks every cycle and resumes by itself. */
  fix?: string;
}

/**
 * Columns on one side only: `schema apply` adds them where missing (the hub's, then each node's
 * SQLite). Nothing else is needed: every cycle re-reads both schemas, the table resumes once they
 * match, and the changes that waited (parked as waiting) go out in that same cycle.
 */
export const DRIFT_FIX =
  'run `dualdb schema apply --yes` on every node (each adds what its side lacks); the sync resumes by itself and sends the changes that waited';
const KEY_DRIFT_FIX =
  'give the table the same primary key on both sides (`dualdb schema diff` shows both); the sync resumes by itself once they match';

export interface SyncPlan {
  tables: SyncTable[];
  byName: Map<string, SyncTable>;
  /** Cannot be synced as they are (no primary key, only on one side, unsupported key type, excluded). */
  skipped: TableIssue[];
  /** Exist on both sides but their shapes differ: paused until fixed. */
  paused: TableIssue[];
}

export interface PlanOptions {
  /** SYNC_TABLES: when not empty, only these. */
  include?: string[];
  /** SYNC_EXCLUDE */
  exclude?: string[];
}

export const HEARTBEAT_TABLE: SyncTable = {
  name: '_dualdb_heartbeats',
  key: [{ name: 'node_id', type: 'text' }],
  keyKind: 'natural',
  hubAssignsKey: false,
  columns: [
    { name: 'node_id', type: 'text' },
    { name: 'beat', type: 'integer' },
    { name: 'sent_ms', type: 'double' },
  ],
  parents: [],
  foreignKeys: [],
  hubCascades: false,
  rank: -1,
  meta: true,
};

const lower = (s: string) => s.toLowerCase();

export function buildSyncPlan(sqlite: TableInfo[], mysql: TableInfo[], options: PlanOptions = {}): SyncPlan {
  const include = new Set((options.include ?? []).map(lower));
  const exclude = new Set((options.exclude ?? []).map(lower));
  const mysqlByName = new Map(mysql.filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t]));
  const sqliteByName = new Map(sqlite.filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t]));
  const skipped: TableIssue[] = [];
  const paused: TableIssue[] = [];
  const candidates: { s: TableInfo; m: TableInfo }[] = [];

  const names = new Set([...sqliteByName.keys(), ...mysqlByName.keys()]);
  for (const name of [...names].sort()) {
    const s = sqliteByName.get(name);
    const m = mysqlByName.get(name);
    const display = s?.name ?? m?.name ?? name;
    if (include.size > 0 && !include.has(name)) continue;
    if (exclude.has(name)) {
      skipped.push({ table: display, reason: 'excluded by SYNC_EXCLUDE' });
      continue;
    }
    if (!s || !m) {
      // A table without a primary key cannot be synced even once it exists on both sides: say so
      // first, rather than send the operator to create an unsyncable copy on the other side.
      if ((s ?? m)?.primaryKey.length === 0) {
        skipped.push({
          table: display,
          reason: `no primary key (and only in ${s ? 'SQLite' : 'MySQL'}): rows cannot be matched; add one to sync this table`,
        });
        continue;
      }
      skipped.push({
        table: display,
        reason: s
          ? 'only in SQLite: create it on the hub (`dualdb schema apply`)'
          : 'only in MySQL: create it locally (`dualdb migrate --from mysql`)',
      });
      continue;
    }
    if (s.primaryKey.length === 0 || m.primaryKey.length === 0) {
      const where =
        s.primaryKey.length === 0 && m.primaryKey.length === 0
          ? 'on either side'
          : s.primaryKey.length === 0
            ? 'in SQLite'
            : 'in MySQL';
      skipped.push({ table: display, reason: `no primary key ${where}: rows cannot be matched; add one to sync this table` });
      continue;
    }
    candidates.push({ s, m });
  }
  for (const wanted of include) {
    if (!names.has(wanted)) skipped.push({ table: wanted, reason: 'listed in SYNC_TABLES but exists on neither side' });
  }

  const tables: SyncTable[] = [];
  for (const { s, m } of candidates) {
    const mCols = new Map(m.columns.map((c) => [lower(c.name), c]));
    const sCols = new Map(s.columns.map((c) => [lower(c.name), c]));
    const onlySqlite = s.columns.filter((c) => !mCols.has(lower(c.name))).map((c) => c.name);
    const onlyMysql = m.columns.filter((c) => !sCols.has(lower(c.name))).map((c) => c.name);
    const sPk = s.primaryKey.map(lower).join(',');
    const mPk = m.primaryKey.map(lower).join(',');
    if (onlySqlite.length > 0 || onlyMysql.length > 0 || sPk !== mPk) {
      const parts: string[] = [];
      if (onlySqlite.length) parts.push(`only in SQLite: ${onlySqlite.join(', ')}`);
      if (onlyMysql.length) parts.push(`only in MySQL: ${onlyMysql.join(', ')}`);
      if (sPk !== mPk) parts.push(`primary key (${s.primaryKey.join(', ')}) in SQLite vs (${m.primaryKey.join(', ')}) in MySQL`);
      paused.push({ table: s.name, reason: `schema drift — ${parts.join('; ')}`, fix: sPk === mPk ? DRIFT_FIX : KEY_DRIFT_FIX });
      continue;
    }
    const key: KeyColumn[] = s.primaryKey.map((k) => ({
      name: k,
      type: pairLogicalType(mCols.get(lower(k)), sCols.get(lower(k))),
    }));
    const badKey = key.find((k) => !SUPPORTED_KEY_TYPES.has(k.type));
    if (badKey) {
      skipped.push({
        table: s.name,
        reason: `primary key column ${badKey.name} is ${badKey.type}; only integer and text keys can be synced`,
      });
      continue;
    }
    const mKey = m.columns.filter((c) => c.pkOrdinal > 0);
    const hubAssignsKey = mKey.length === 1 && mKey[0]?.autoIncrement === true;
    // One rule for every place that shows or uses the key kind (schema diff, status, the sync).
    const generated = key[0]?.type === 'integer' && tableKeyKind(s, m) === 'generated';
    tables.push({
      name: s.name,
      key,
      keyKind: generated ? 'generated' : 'natural',
      hubAssignsKey,
      columns: s.columns.map((c) => ({ name: c.name, type: pairLogicalType(mCols.get(lower(c.name)), c) })),
      parents: [],
      foreignKeys: [],
      hubCascades: false,
      rank: 0,
      meta: false,
      uniqueKeys: uniqueKeysOf([s, m], sCols, sPk),
    });
  }

  // Parents before children: foreign keys from either side between synced tables.
  const synced = new Map(tables.map((t) => [lower(t.name), t]));
  for (const t of tables) {
    const fks = [...(sqliteByName.get(lower(t.name))?.foreignKeys ?? []), ...(mysqlByName.get(lower(t.name))?.foreignKeys ?? [])];
    const parents = new Set<string>();
    const seen = new Set<string>();
    for (const fk of fks) {
      const p = synced.get(lower(fk.refTable));
      if (!p) {
        const mine = fk.columns.length === 1 ? t.columns.find((c) => lower(c.name) === lower(fk.columns[0] ?? '')) : undefined;
        if (mine) t.unsyncedRefs = [...(t.unsyncedRefs ?? []), { parent: fk.refTable, columns: [mine.name] }];
        continue;
      }
      if (p !== t) parents.add(p.name);
      // Map the parent's key columns to ours (foreign keys to other unique keys are left out).
      // SQLite's `REFERENCES parent` without columns means the parent's primary key.
      const ref = fk.refColumns.length ? fk.refColumns : p.key.map((k) => k.name);
      const columns = p.key.map((k) => {
        const i = ref.findIndex((c) => lower(c) === lower(k.name));
        const mine = i < 0 ? undefined : fk.columns[i];
        return mine === undefined ? undefined : t.columns.find((c) => lower(c.name) === lower(mine))?.name;
      });
      if (ref.length !== p.key.length || fk.columns.length !== ref.length || columns.some((c) => c === undefined)) continue;
      const id = `${p.name}\u0000${columns.join(',')}`;
      if (seen.has(id)) continue;
      seen.add(id);
      t.foreignKeys.push({ parent: p.name, columns: columns as string[] });
    }
    t.parents = [...parents].sort();
  }
  for (const m of mysqlByName.values()) {
    for (const fk of m.foreignKeys) {
      const p = synced.get(lower(fk.refTable));
      if (p && /^(cascade|set null|set default)$/i.test(fk.onDelete)) p.hubCascades = true;
    }
  }
  const ordered = topoOrder(tables);
  ordered.forEach((t, i) => {
    t.rank = i;
  });
  const all = [HEARTBEAT_TABLE, ...ordered];
  return { tables: all, byName: new Map(all.map((t) => [t.name, t])), skipped, paused };
}

/** The unique indexes of either side over synced columns only (no expression), but the primary key, by SQLite's names, once each. */
function uniqueKeysOf(sides: TableInfo[], sCols: Map<string, { name: string }>, pk: string): string[][] {
  const out = new Map<string, string[]>();
  for (const ix of sides.flatMap((t) => t.indexes.filter((i) => i.unique))) {
    const cols = ix.columns.map((c) => sCols.get(lower(c))?.name);
    if (cols.length === 0 || cols.some((c) => c === undefined)) continue;
    const id = cols.map((c) => lower(c as string)).join(',');
    if (id !== pk) out.set(id, cols as string[]);
  }
  return [...out.values()];
}

/** Kahn's algorithm; tables in a cycle keep name order after the acyclic ones. */
function topoOrder(tables: SyncTable[]): SyncTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const out: SyncTable[] = [];
  let progress = true;
  while (out.length < tables.length && progress) {
    progress = false;
    for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) {
      if (done.has(t.name)) continue;
      if (t.parents.every((p) => done.has(p) || !byName.has(p))) {
        done.add(t.name);
        out.push(t);
        progress = true;
      }
    }
  }
  for (const t of tables) if (!done.has(t.name)) out.push(t);
  return out;
}

/** User tables of a plan (without dualdb's own). */
export function userTables(plan: SyncPlan): SyncTable[] {
  return plan.tables.filter((t) => !t.meta);
}
