/**
 * A node's own triggers follow its schema and this version of dualdb without a new `init`.
 * The capture trigger's text depends on the table (its foreign keys with ON DELETE SET NULL, its
 * columns: see capture/sqlite-fk-actions.ts) and on the version that wrote it; a site that
 * upgraded dualdb, or added a column or a foreign key after `init`, would otherwise keep the old
 * trigger until someone remembered to run `init` again. Only the node's own SQLite file is
 * touched, and only tables it already captures under the same key: a changed key is drift, left
 * to the plan and to `init`. The hub's capture is shared and never changed here (invariant 15).
 */
import { capturedSqliteTables, installSqliteTableCapture, keyText } from '../capture/sqlite-capture.js';
import { impliedUpdateSpec } from '../capture/sqlite-fk-actions.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import type { TableInfo } from '../engines/types.js';
import type { SyncPlan } from './plan.js';

/** Re-installs the triggers of every captured plan table whose trigger text is out of date; returns those tables. */
export function refreshNodeCapture(db: SqliteDb, plan: SyncPlan, sqliteTables: TableInfo[]): string[] {
  const captured = capturedSqliteTables(db);
  const upgraded: string[] = [];
  for (const t of plan.tables) {
    if (captured.get(t.name) !== keyText(t.key)) continue;
    const info = sqliteTables.find((s) => s.name === t.name);
    if (installSqliteTableCapture(db, t.name, t.key, info && impliedUpdateSpec(info)) !== 'unchanged') upgraded.push(t.name);
  }
  return upgraded;
}
