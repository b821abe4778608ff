/**
 * Compare with progress, as the monitor's `c` key and the demo's final check
 * run it: the compare library on every synced table — counts and chunked
 * checksums of canonical rows on both sides, down to the differing keys —
 * reported per table and per chunk, each table summed up in one row to show.
 */
import type { Config } from '../config/config.js';
import { redact } from '../util/redact.js';
import { compareNode } from './compare.js';
import type { DifferenceKind, TableComparison } from './types.js';

export interface CompareRow {
  table: string;
  sqliteRows: number | null;
  mysqlRows: number | null;
  /** null: not compared (see error). */
  equal: boolean | null;
  /** Differing rows (missing either side or different), when compared. */
  differences: number | null;
  /** "2 missing in MySQL, 1 different (first: id=7)", or why the table could not be compared. */
  detail: string | null;
  error: string | null;
  /** Of the differences, those that are changes still queued for sync (on their way, not damage). */
  syncing?: number;
  /** Paused by schema drift: differs, but the fix is the schema's (detail), not a repair's. */
  paused?: boolean;
}

/** Shown with the result: what was compared. */
export const COMPARE_METHOD = 'row checksums';

export interface CompareProgress {
  table: string;
  done: number;
  total: number;
  /** Rows read so far in the current table (the larger side). */
  scanned: number;
  rows: CompareRow[];
}

const KIND_WORDS: Record<DifferenceKind, string> = {
  'missing-in-mysql': 'missing in MySQL',
  'missing-in-sqlite': 'missing in SQLite',
  different: 'different',
};

function rowOf(t: TableComparison): CompareRow {
  const kinds = (Object.entries(t.byKind) as [DifferenceKind, number][])
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${KIND_WORDS[k]}`);
  const first = t.differences[0];
  return {
    table: t.table,
    sqliteRows: t.rows.sqlite,
    mysqlRows: t.rows.mysql,
    equal: t.status === 'error' ? null : t.status === 'match',
    differences: t.status === 'error' ? null : t.differenceCount,
    detail: kinds.length
      ? `${kinds.join(', ')}${first ? ` (first: ${t.key.map((k, i) => `${k}=${first.keyParts[i] ?? '?'}`).join(', ')})` : ''}`
      : null,
    error: t.error ? redact(t.error) : null,
    ...(t.queued ? { syncing: t.queued } : {}),
  };
}

/** Differences listed (and looked up in the change logs) per table: "syncing" needs all of them known. */
const LISTED_DIFFERENCES = 200;

/** The one place the monitor's `c` key (and the demo's final check) calls. */
export async function runMonitorCompare(
  config: Config,
  onProgress: (p: CompareProgress) => void,
  signal?: AbortSignal,
): Promise<CompareRow[]> {
  const rows: CompareRow[] = [];
  let total = 0;
  let table = '';
  const report = await compareNode(config, {
    maxDifferences: LISTED_DIFFERENCES,
    ...(signal ? { signal } : {}),
    onEvent: (e) => {
      if (e.type === 'start') total = e.tables.length;
      else if (e.type === 'table-start') {
        table = e.table;
        onProgress({ table, done: e.index, total, scanned: 0, rows: [...rows] });
      } else if (e.type === 'chunk') {
        onProgress({
          table,
          done: rows.length,
          total,
          scanned: Math.max(e.rowsScanned.sqlite, e.rowsScanned.mysql),
          rows: [...rows],
        });
      } else if (e.type === 'table-done') rows.push(rowOf(e.result));
    },
  });
  // Tables that could not be compared row by row (only on one side, drifted, no key) say why.
  for (const i of report.issues) {
    if (i.kind === 'excluded') continue;
    rows.push({
      table: i.table,
      sqliteRows: i.rows.sqlite,
      mysqlRows: i.rows.mysql,
      equal: i.difference ? false : null,
      differences: null,
      detail: i.reason,
      error: i.difference ? null : i.reason,
      ...(i.kind === 'schema-drift' ? { paused: true } : {}),
    });
  }
  onProgress({ table: '', done: total, total, scanned: 0, rows: [...rows] });
  return rows;
}
