/**
 * The join guard (docs/SYNC-CONTRACT.md invariant 15, "the hub is shared"): capture logs only
 * what is written after it is installed, so rows a SQLite file held before `init` are never
 * sent. Where such a row's key is, on the hub, another site's row, a later update or delete of
 * it on this site is pushed as a change of that hub row: it overwrites or deletes (with its
 * ON DELETE CASCADE children) another site's row everywhere, with no conflict and no re-key.
 *
 * So capture is not installed on a table that is not captured yet when the file's table holds
 * rows, the hub's table holds rows, and any of the file's rows is not on the hub as it is (key
 * missing there, or the same key with other values, by compare's canonical row form so that
 * values the engines print differently are no false alarm). An empty hub table is the first
 * site's case (`migrate` copies it); an empty file, or one equal to the hub, joins safely. A
 * table this node already captures is not checked again (re-init, upgrades, capture refresh).
 */
import { capturedSqliteTables } from '../capture/sqlite-capture.js';
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncPlan } from '../sync/plan.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { compareOn } from './compare.js';

export interface UnsyncedTable {
  table: string;
  /** The file's rows whose key the hub lacks. */
  missing: number;
  /** The file's rows the hub holds under the same key with other values. */
  different: number;
  rows: { sqlite: number; mysql: number };
}

const FIX =
  "start this site from an empty SQLite file or from the hub's data (`dualdb repair --from mysql`, or the wizard's hub copy) after exporting the site's own rows, then re-enter them through the application; `dualdb compare` shows which rows differ";

export class UnsyncedRowsError extends DualdbError {
  constructor(readonly tables: UnsyncedTable[]) {
    super(
      'UNSYNCED_ROWS',
      tables
        .map(
          (t) =>
            `${t.table}: ${t.missing + t.different} of this file's ${t.rows.sqlite} row(s) are not on the hub as they are (${t.missing} missing there, ${t.different} with other values under the same key; the hub holds ${t.rows.mysql} row(s)) — capture not installed: they would never sync, and an update or delete of one would overwrite the hub's row under its key; ${FIX}`,
        )
        .join('\n'),
      { exitCode: EXIT.CONFIG, context: { tables: tables.map((t) => t.table) } },
    );
  }
}

async function hubHasRows(hub: MysqlHub, table: string): Promise<boolean> {
  const [r] = await hub.query<{ n: number | string }>(`SELECT EXISTS(SELECT 1 FROM ${quoteMysqlId(table)}) AS n`);
  return Number(r?.n ?? 0) === 1;
}

/** The plan tables this node does not capture yet whose rows the hub does not hold as they are. */
export async function unsyncedRows(db: SqliteDb, hub: MysqlHub, config: Config, plan: SyncPlan): Promise<UnsyncedTable[]> {
  const captured = capturedSqliteTables(db);
  const candidates: string[] = [];
  for (const t of plan.tables) {
    if (t.meta || captured.has(t.name)) continue;
    if (!db.prepare(`SELECT 1 FROM ${quoteSqliteId(t.name)} LIMIT 1`).get()) continue;
    if (!(await hubHasRows(hub, t.name))) continue;
    candidates.push(t.name);
  }
  if (candidates.length === 0) return [];
  const report = await compareOn(
    db,
    { sqlitePath: config.sqlitePath, hub, planOptions: { include: config.sync.tables, exclude: config.sync.exclude } },
    { tables: candidates, maxDifferences: 0 },
  );
  const out: UnsyncedTable[] = [];
  for (const r of report.tables) {
    if (r.status === 'error')
      throw new DualdbError(
        'UNSYNCED_ROWS',
        `${r.table}: could not compare this file's rows with the hub's (${r.error}); capture not installed`,
        { hint: 'run `dualdb compare` to see why', exitCode: EXIT.FAILURE },
      );
    const missing = r.byKind['missing-in-mysql'];
    const different = r.byKind.different;
    if (missing + different > 0) out.push({ table: r.table, missing, different, rows: r.rows });
  }
  return out;
}

/** Refuses (UnsyncedRowsError) before any capture is installed; see the module comment. */
export async function assertNoUnsyncedRows(db: SqliteDb, hub: MysqlHub, config: Config, plan: SyncPlan): Promise<void> {
  const tables = await unsyncedRows(db, hub, config, plan);
  if (tables.length) throw new UnsyncedRowsError(tables);
}
