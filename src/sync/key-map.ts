/**
 * A batch of key moves of one table (old → new, generated integer keys) as a temporary table,
 * so that moving thousands of rows is a few set-based statements, not several per row: the
 * rows, their children and their log entries each take one UPDATE joined to the map. Runs in
 * the caller's SQLite transaction (the map's rows are transactional too); the map is emptied
 * before the next table's moves are loaded.
 */
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';

const MAP = 'temp._dualdb_key_map';

/** Loads old → new pairs (integer key texts) into the map, replacing what it held. */
export function loadKeyMap(db: SqliteDb, pairs: Iterable<[string, string]>): void {
  // Temporary: in the connection's temp schema (temp_store=MEMORY), invisible to other
  // connections and to the main schema's version that the plan stamps.
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS _dualdb_key_map (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)`);
  db.prepare(`DELETE FROM ${MAP}`).run();
  // One statement for the whole batch: the pairs as one JSON array (integers stay exact in SQLite's JSON).
  const json = `[${[...pairs].map(([o, n]) => `[${BigInt(o).toString()},${BigInt(n).toString()}]`).join(',')}]`;
  db.prepare(`INSERT INTO ${MAP} (old, new) SELECT value ->> 0, value ->> 1 FROM json_each(?)`).run(json);
}

export function clearKeyMap(db: SqliteDb): void {
  db.prepare(`DELETE FROM ${MAP}`).run();
}

/** Re-points `column` of `table` from every old key in the map to its new key (one statement). */
export function remapColumn(db: SqliteDb, table: string, column: string): void {
  const t = quoteSqliteId(table);
  const c = quoteSqliteId(column);
  db.prepare(
    `UPDATE ${t} SET ${c} = (SELECT new FROM ${MAP} WHERE old = ${t}.${c}) WHERE ${c} IN (SELECT old FROM ${MAP})`,
  ).run();
}

/** The first of `keys` (integer texts) that a row of `table` holds under `column`, if any: one statement. */
export function firstKeyHeld(db: SqliteDb, table: string, column: string, keys: string[]): string | undefined {
  if (keys.length === 0) return undefined;
  const json = `[${keys.map((k) => BigInt(k).toString()).join(',')}]`;
  const r = db
    .prepare(
      `SELECT j.value AS k FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM ${quoteSqliteId(table)} x WHERE x.${quoteSqliteId(column)} = j.value) LIMIT 1`,
    )
    .safeIntegers()
    .get(json) as { k: bigint } | undefined;
  return r === undefined ? undefined : r.k.toString();
}

/**
 * Renames keys of `tbl` in the unpushed log and in the parked pushes, old → new as in the map:
 * one pass over the unpushed tail (the log has no key index, by design), one over the parked.
 */
export function renameLoggedKeysByMap(db: SqliteDb, tbl: string, pushedUpto: bigint): void {
  db.prepare(
    `UPDATE _dualdb_changes SET pk = (SELECT CAST(new AS TEXT) FROM ${MAP} WHERE old = CAST(_dualdb_changes.pk AS INTEGER))
      WHERE seq > ? AND tbl = ? AND pk IN (SELECT CAST(old AS TEXT) FROM ${MAP})`,
  ).run(pushedUpto, tbl);
  // A parked retry already under the new key stays; the old key's is then dropped.
  db.prepare(
    `UPDATE OR IGNORE _dualdb_parked SET pk = (SELECT CAST(new AS TEXT) FROM ${MAP} WHERE old = CAST(_dualdb_parked.pk AS INTEGER))
      WHERE direction = 'push' AND tbl = ? AND pk IN (SELECT CAST(old AS TEXT) FROM ${MAP})`,
  ).run(tbl);
  db.prepare(
    `DELETE FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk IN (SELECT CAST(old AS TEXT) FROM ${MAP})`,
  ).run(tbl);
}

/** Renames logged and parked keys of one table (old → new) in the caller's transaction. */
export function renameLoggedKeys(db: SqliteDb, tbl: string, map: Map<string, string>, pushedUpto: bigint): void {
  if (map.size === 0) return;
  loadKeyMap(db, map);
  renameLoggedKeysByMap(db, tbl, pushedUpto);
  clearKeyMap(db);
}
