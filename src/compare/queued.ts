/**
 * Which differing keys are only changes on their way: a compare taken while the sync runs
 * sees a row written a moment ago on one side and not yet on the other. Such a key has an
 * entry in the node's unpushed change log, or in the hub's change log beyond what this node
 * has pulled. Showing it as a difference (and suggesting `repair`) would invite an operator
 * to overwrite a legitimate change; the monitor shows it as "syncing" instead.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { safePruneBound } from '../sync/holes.js';
import { LocalState } from '../sync/local-state.js';
import { nodeHasPullState } from './pull-cursor.js';

/** The subset of `keys` (key text, as in the change logs) with a change still to push or to pull. */
export async function queuedKeys(db: SqliteDb, hub: MysqlHub, table: string, keys: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (keys.length === 0 || !nodeHasPullState(db)) return out;
  const state = new LocalState(db);
  for (const k of state.pendingKeys(table, keys).keys()) out.add(k);
  // Below the lowest hole everything has been pulled; above it, a hub entry may be unpulled.
  const pulled = safePruneBound(state.pullState());
  const rest = keys.filter((k) => !out.has(k));
  for (let i = 0; i < rest.length; i += 400) {
    const chunk = rest.slice(i, i + 400);
    const rows = await hub.query<{ pk: string }>(
      'SELECT DISTINCT pk FROM _dualdb_changes WHERE tbl = ? AND seq > ? AND pk IN (?)',
      [table, pulled.toString(), chunk],
    );
    for (const r of rows) out.add(String(r.pk));
  }
  return out;
}
