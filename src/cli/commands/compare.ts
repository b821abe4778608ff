import { type Command, InvalidArgumentError } from 'commander';
import { compareNode, DEFAULT_CHUNK_SIZE } from '../../compare/compare.js';
import type { CompareEvent, CompareReport, DifferenceKind, TableIssue } from '../../compare/types.js';
import { describeMysql } from '../../config/config.js';
import { pausedLine, skippedLine } from '../../sync/summary.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, err, formatCount, formatMs, glyph, out, printJson, table } from '../output.js';

interface CompareFlags {
  tables?: string;
  chunkSize: number;
  limit?: number;
  json?: boolean;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

export function tableList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `id=42`, or `ns="a", n=1` for composite keys; text parts quoted so spaces and empty strings show. */
export function formatKey(columns: string[], parts: string[]): string {
  return parts.map((p, i) => `${columns[i] ?? '?'}=${/^-?\d+$/.test(p) ? p : JSON.stringify(p)}`).join(', ');
}

const KIND_TEXT: Record<DifferenceKind, string> = {
  'missing-in-mysql': 'missing in MySQL',
  'missing-in-sqlite': 'missing in SQLite',
  different: 'different',
};

/**
 * One line per table left out of the row compare, in the words `sync --once` uses for it: a
 * skipped table (never synced, so never compared or repaired) or one paused by schema drift
 * (with its fix: a repair of rows cannot make the schemas equal).
 */
export function issueLine(i: TableIssue): string {
  const counts = `SQLite ${i.rows.sqlite === null ? '—' : formatCount(i.rows.sqlite)} / MySQL ${i.rows.mysql === null ? '—' : formatCount(i.rows.mysql)} rows`;
  const line =
    i.kind === 'schema-drift'
      ? `${glyph.fail} ${pausedLine({ table: i.table, reason: i.reason, fix: i.fix, waiting: 0 })}`
      : `${glyph.info} ${skippedLine(i)}`;
  return `${line} ${color.dim(`(${counts})`)}`;
}

/** The closing lines for tables left out of a compare or repair: why none of them is a repair's job. */
export function notComparedLines(issues: readonly TableIssue[], command: 'compare' | 'repair'): string[] {
  const lines: string[] = [];
  const paused = issues.filter((i) => i.kind === 'schema-drift').length;
  const skipped = issues.length - paused;
  const left = command === 'compare' ? 'not compared' : 'not repaired';
  if (paused)
    lines.push(
      `${glyph.fail} ${formatCount(paused)} table(s) paused by schema drift (see above): ${left}; repairing rows cannot fix that — make the schemas match (the fix above) and the sync resumes by itself`,
    );
  if (skipped)
    lines.push(
      `${glyph.info} ${formatCount(skipped)} table(s) not synced (see above): ${command === 'compare' ? 'not compared, and never repaired' : 'not repaired'} — the sync leaves them out`,
    );
  return lines;
}

/** A one-line progress display on stderr, only for terminals. */
export function progressPrinter(enabled: boolean): (e: CompareEvent) => void {
  if (!enabled) return () => {};
  let last = 0;
  return (e) => {
    if (e.type === 'chunk') {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const rows = Math.max(e.rowsScanned.sqlite, e.rowsScanned.mysql);
      process.stderr.write(
        `\r\x1b[2K  ${e.table}: chunk ${formatCount(e.chunk)}, ${formatCount(rows)} rows${e.differences ? `, ${formatCount(e.differences)} differences` : ''}`,
      );
    } else if (e.type === 'table-done' || e.type === 'done') {
      process.stderr.write('\r\x1b[2K');
    }
  };
}

export function compareExitCode(report: CompareReport): number {
  if (report.tables.some((t) => t.status === 'error')) return EXIT.FAILURE;
  return report.match ? EXIT.OK : EXIT.DIFFERENCES;
}

function printReport(report: CompareReport, limit: number): void {
  if (report.tables.length) {
    for (const l of table(
      report.tables.map((t) => [
        t.table,
        formatCount(t.rows.sqlite),
        formatCount(t.rows.mysql),
        formatCount(t.chunks.total),
        t.status === 'match'
          ? `${glyph.ok} match`
          : t.status === 'error'
            ? `${glyph.fail} error`
            : `${glyph.fail} ${formatCount(t.differenceCount)} different key${t.differenceCount === 1 ? '' : 's'}`,
      ]),
      ['table', 'SQLite rows', 'MySQL rows', 'chunks', 'result'],
    )) {
      out(`  ${l}`);
    }
  }
  for (const t of report.tables) {
    if (t.status === 'error') {
      out(`\n  ${glyph.fail} ${t.table}: ${t.error}`);
      continue;
    }
    if (t.status !== 'differ') continue;
    const kinds = (Object.keys(t.byKind) as DifferenceKind[]).filter((k) => t.byKind[k] > 0);
    out(`\n  ${color.bold(t.table)}: ${kinds.map((k) => `${formatCount(t.byKind[k])} ${KIND_TEXT[k]}`).join(', ')}`);
    const shown = t.differences.slice(0, limit);
    for (const l of table(
      shown.map((d) => [
        KIND_TEXT[d.kind],
        formatKey(t.key, d.keyParts),
        [d.columns?.length ? `columns: ${d.columns.join(', ')}` : '', d.queued ? 'queued for sync' : '', d.folded ?? '']
          .filter(Boolean)
          .map((x) => color.dim(x))
          .join(color.dim('; ')),
      ]),
    )) {
      out(`    ${l}`);
    }
    if (t.differenceCount > shown.length)
      out(color.dim(`    … ${formatCount(t.differenceCount - shown.length)} more (--limit, or --json)`));
  }
  if (report.issues.length) {
    out();
    for (const i of report.issues) out(`  ${issueLine(i)}`);
  }
  out();
  const rows = report.tables.reduce((n, t) => n + Math.max(t.rows.sqlite, t.rows.mysql), 0);
  // Rows that differ in synced tables are a repair's job; paused and skipped tables are not.
  const differing = report.tables.filter((t) => t.status !== 'match').length;
  if (differing === 0 && report.tables.length > 0) {
    const of = report.paused.length ? ' compared' : '';
    out(
      `${glyph.ok} all ${report.tables.length}${of} synced table(s) match (${formatCount(rows)} rows) in ${formatMs(report.durationMs)}`,
    );
  } else if (differing > 0) {
    out(
      `${glyph.fail} ${formatCount(differing)} table(s) differ, ${formatCount(report.totals.differences)} key(s) — ` +
        `\`dualdb repair --from sqlite|mysql\` makes one side equal to the other`,
    );
    // A change on its way looks like a difference; repairing it would overwrite it.
    const queued = report.tables.reduce((n, t) => n + t.queued, 0);
    if (queued)
      out(
        `${glyph.warn} ${formatCount(queued)} of those key(s) are changes still queued for sync: let the sync run (\`dualdb sync --once\`) and compare again before repairing`,
      );
  }
  for (const l of notComparedLines(report.issues, 'compare')) out(l);
}

export function registerCompare(program: Command, global: () => GlobalOptions): void {
  program
    .command('compare')
    .description(
      'compare the synced tables row by row (counts and chunked checksums down to the exact keys); exit 20 when they differ or one is paused by schema drift; tables the sync skips are listed, not compared',
    )
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--chunk-size <n>', 'rows per checksum chunk', positiveInt, DEFAULT_CHUNK_SIZE)
    .option('--limit <n>', 'differing keys listed per table (default 20; 1000 with --json)', positiveInt)
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: CompareFlags) => {
        const config = configFrom(global());
        const limit = opts.limit ?? (opts.json ? 1000 : 20);
        if (!opts.json) out(color.dim(`SQLite ${config.sqlitePath}  ↔  MySQL ${describeMysql(config.mysql)}`));
        const report = await compareNode(config, {
          tables: tableList(opts.tables),
          chunkSize: opts.chunkSize,
          maxDifferences: limit,
          onEvent: progressPrinter(!opts.json && process.stderr.isTTY === true),
        });
        if (opts.json) printJson(report);
        else printReport(report, limit);
        if (!opts.json && report.tables.length === 0 && report.issues.length === 0) err('no synced tables to compare');
        return compareExitCode(report);
      }),
    );
}
