import { type Command, Option } from 'commander';
import { DEFAULT_CHUNK_SIZE } from '../../compare/compare.js';
import { repairNode } from '../../compare/repair.js';
import type { RepairEvent, RepairReport, Side } from '../../compare/types.js';
import { describeMysql } from '../../config/config.js';
import { AlreadyRunningError, ControlServer } from '../../sync/control.js';
import { DualdbError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, formatCount, formatMs, glyph, out, printJson } from '../output.js';
import { formatKey, issueLine, notComparedLines, positiveInt, progressPrinter, tableList } from './compare.js';

interface RepairFlags {
  from: Side;
  tables?: string;
  dryRun?: boolean;
  chunkSize: number;
  limit?: number;
  json?: boolean;
}

const NAME: Record<Side, string> = { sqlite: 'SQLite', mysql: 'MySQL' };
const MARK = { insert: '+', update: '~', delete: '-' } as const;

export function repairExitCode(r: RepairReport): number {
  if (!r.ok) return EXIT.FAILURE;
  const changes = r.totals.inserted + r.totals.updated + r.totals.deleted;
  // A dry run that would change something, or a table paused by schema drift (no repair of rows
  // fixes it), still differs; a table the sync skips does not count (it is listed, never repaired).
  if ((r.dryRun && changes > 0) || r.issues.some((i) => i.difference)) return EXIT.DIFFERENCES;
  return EXIT.OK;
}

function printReport(r: RepairReport, limit: number): void {
  const verb = r.dryRun ? 'would be ' : '';
  for (const t of r.tables) {
    const counts = (
      [
        [t.inserted, 'inserted'],
        [t.updated, 'updated'],
        [t.deleted, 'deleted'],
      ] as const
    )
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${formatCount(n)} ${verb}${what}`);
    const state =
      t.status === 'error'
        ? `${glyph.fail} ${t.error}`
        : counts.length
          ? `${t.status === 'partial' || t.status === 'planned' ? glyph.warn : glyph.ok} ${counts.join(', ')}`
          : t.failureCount > 0
            ? `${glyph.fail} ${formatCount(t.failureCount)} row(s) could not be written`
            : `${glyph.ok} ${color.dim('already equal')}`;
    out(`  ${color.bold(t.table)}: ${state}`);
    for (const c of t.changes.slice(0, limit)) {
      out(
        `    ${MARK[c.action]} ${formatKey(t.key, c.keyParts)}${c.columns?.length ? color.dim(`  (${c.columns.join(', ')})`) : ''}`,
      );
    }
    const changed = t.inserted + t.updated + t.deleted;
    if (changed > Math.min(limit, t.changes.length))
      out(color.dim(`    … ${formatCount(changed - Math.min(limit, t.changes.length))} more (--limit, or --json)`));
    for (const f of t.failures.slice(0, limit)) out(`    ${glyph.fail} ${f.key}: ${f.error}`);
    if (t.failureCount > Math.min(limit, t.failures.length))
      out(color.dim(`    … ${formatCount(t.failureCount - Math.min(limit, t.failures.length))} more failures`));
  }
  if (r.issues.length) {
    out();
    for (const i of r.issues) out(`  ${issueLine(i)}`);
  }
  if (r.pullCursor) {
    out();
    if (r.pullCursor.moved) {
      out(
        `  pull cursor: hub change ${r.pullCursor.upto} (was ${r.pullCursor.previous}${r.pullCursor.holes ? `; ${r.pullCursor.holes} uncommitted number(s) watched` : ''})` +
          `${r.resyncCleared ? '; resync-needed cleared' : ''}`,
      );
    } else out(color.dim(`  pull cursor unchanged: ${r.pullCursor.reason}`));
  }
  out();
  const total = r.totals.inserted + r.totals.updated + r.totals.deleted;
  if (!r.ok) out(`${glyph.fail} ${formatCount(r.totals.failures)} row(s) could not be repaired; see above`);
  else if (r.dryRun)
    out(
      `${total ? glyph.warn : glyph.ok} dry run: ${formatCount(total)} row(s) would change in ${NAME[r.to]}; nothing was written`,
    );
  else if (r.tables.length > 0) {
    out(
      `${glyph.ok} ${NAME[r.to]} now equals ${NAME[r.from]} in every ${r.paused.length ? 'other ' : ''}synced table: ${formatCount(total)} row(s) changed in ${formatMs(r.durationMs)}`,
    );
  } else if (r.issues.length > 0) out(`${glyph.info} nothing repaired: no synced table to repair`);
  // Skipped tables are never touched (no sync keeps them equal); paused ones wait for their schema.
  for (const l of notComparedLines(r.issues, 'repair')) out(l);
}

export function registerRepair(program: Command, global: () => GlobalOptions): void {
  program
    .command('repair')
    .description('make the other side equal to the chosen one for the differing rows only, without capturing the writes')
    .addOption(new Option('--from <side>', 'the side whose data is kept').choices(['sqlite', 'mysql']).makeOptionMandatory())
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--chunk-size <n>', 'rows per checksum chunk', positiveInt, DEFAULT_CHUNK_SIZE)
    .option('--limit <n>', 'changed keys listed per table (default 50; 1000 with --json)', positiveInt)
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: RepairFlags) => {
        const config = configFrom(global());
        const limit = opts.limit ?? (opts.json ? 1000 : 50);
        // Hold the node's single-instance lock: no syncer may apply changes under the repair.
        let lock: ControlServer;
        try {
          lock = await ControlServer.listen(config.sqlitePath, async (cmd) => {
            if (cmd === 'ping') return { pid: process.pid, kind: 'repair' };
            // `dualdb status` and friends then read the node's state themselves.
            throw new DualdbError('BUSY', 'a repair is running on this node; it is not a syncer');
          });
        } catch (e) {
          if (!(e instanceof AlreadyRunningError)) throw e;
          throw new DualdbError('ALREADY_RUNNING', `a dualdb syncer is running for ${config.sqlitePath}`, {
            hint: 'stop it (or pause the service) before a repair, then start it again',
            exitCode: EXIT.FAILURE,
          });
        }
        try {
          if (!opts.json) {
            out(
              color.dim(
                `${opts.dryRun ? 'Dry run: ' : ''}${NAME[opts.from]} → ${NAME[opts.from === 'sqlite' ? 'mysql' : 'sqlite']}  (SQLite ${config.sqlitePath}, MySQL ${describeMysql(config.mysql)})`,
              ),
            );
          }
          const progress = progressPrinter(!opts.json && process.stderr.isTTY === true);
          const report = await repairNode(config, {
            from: opts.from,
            tables: tableList(opts.tables),
            dryRun: opts.dryRun ?? false,
            chunkSize: opts.chunkSize,
            maxListed: limit,
            onEvent: (e: RepairEvent) => {
              if (e.type !== 'repair-batch' && e.type !== 'repair-table-done') progress(e);
            },
          });
          if (opts.json) printJson(report);
          else printReport(report, limit);
          return repairExitCode(report);
        } finally {
          await lock.close();
        }
      }),
    );
}
