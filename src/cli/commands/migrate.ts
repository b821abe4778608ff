import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { describeMysql } from '../../config/config.js';
import { createMigration, DEFAULT_BATCH_SIZE, PreflightFailedError, VerificationFailedError } from '../../migrate/index.js';
import type { MigrationReport, TableProgress, TableReport } from '../../migrate/types.js';
import { AlreadyRunningError, ControlServer } from '../../sync/control.js';
import { DualdbError, isDualdbError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, err, formatCount, formatMs, glyph, out, printJson, table } from '../output.js';
import { positiveInt, tableList } from './compare.js';

interface MigrateFlags {
  from: 'sqlite' | 'mysql';
  tables?: string;
  batchSize: number;
  truncate?: boolean;
  dryRun?: boolean;
  resume?: boolean;
  json?: boolean;
}

const METHOD_TEXT = {
  'load-data': 'LOAD DATA LOCAL INFILE (streamed)',
  insert: 'multi-row INSERT',
  'sqlite-upsert': 'SQLite upsert',
};

/** Progress on stderr: bars on a terminal, a line per table every few seconds otherwise. */
function progressView(enabled: boolean, tty: boolean): { update: (p: TableProgress) => void; stop: () => void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (tty) {
    const multi = new cliProgress.MultiBar(
      {
        format: ' {table} |{bar}| {value}/{total} rows | {rate} rows/s | ETA {eta_text} | {state}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 50,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    const pad = (s: string) => s.padEnd(18).slice(0, 18);
    return {
      update(p) {
        let bar = bars.get(p.table);
        const payload = {
          table: pad(p.table),
          rate: formatCount(p.rowsPerSec),
          eta_text: p.etaSec === null ? '-' : `${p.etaSec}s`,
          state: p.state + (p.error ? `: ${p.error}` : ''),
        };
        if (!bar) {
          bar = multi.create(Math.max(1, p.rowsTotal), p.rowsDone, payload);
          bars.set(p.table, bar);
        }
        bar.setTotal(Math.max(1, p.rowsTotal, p.rowsDone));
        bar.update(p.rowsDone, payload);
      },
      stop: () => multi.stop(),
    };
  }
  const last = new Map<string, number>();
  return {
    update(p) {
      const now = Date.now();
      const prev = last.get(p.table);
      if (p.state === 'copying' && prev !== undefined && now - prev < 2000) return;
      if (p.state === 'waiting') return;
      last.set(p.table, now);
      err(
        `  ${p.table}: ${p.state} ${formatCount(p.rowsDone)}/${formatCount(p.rowsTotal)} rows` +
          (p.state === 'copying'
            ? `, ${formatCount(p.rowsPerSec)} rows/s, ETA ${p.etaSec === null ? '-' : `${p.etaSec}s`}`
            : '') +
          (p.error ? ` — ${p.error}` : ''),
      );
    },
    stop: () => {},
  };
}

function verificationText(t: TableReport): string {
  const v = t.verification;
  if (t.state === 'skipped') return `${glyph.warn} skipped: ${t.error ?? ''}`;
  if (t.state === 'failed' && !v) return `${glyph.fail} ${t.error ?? 'failed'}`;
  if (!v) return color.dim('not verified');
  switch (v.status) {
    case 'match':
      return `${glyph.ok} match`;
    case 'explained':
      return `${glyph.ok} ${v.explained} key(s) changed during the copy: the sync replays them`;
    case 'skipped':
      return color.dim('not verified');
    case 'error':
      return `${glyph.fail} ${v.error ?? 'compare failed'}`;
    default:
      return `${glyph.fail} ${formatCount(v.differences - v.explained)} differing key(s)${v.unexplainedKeys.length ? `: ${v.unexplainedKeys.slice(0, 5).join(', ')}` : ''}`;
  }
}

function printPlan(r: MigrationReport): void {
  out(`Plan (${r.direction}, dry run: nothing was written)`);
  out(
    `  method: ${METHOD_TEXT[r.method]}${r.methodReason ? color.dim(` — ${r.methodReason}`) : ''}; batch size ${formatCount(r.batchSize)} rows`,
  );
  for (const c of r.created) out(`  create on ${c.side === 'mysql' ? 'the hub' : 'SQLite'}: ${c.table}`);
  const rows = r.tables.map((t) => [
    t.table,
    t.state === 'skipped' ? '-' : formatCount(t.rowsTotal),
    t.state === 'skipped' ? '-' : formatCount(t.targetRows),
    t.state === 'skipped'
      ? `skipped: ${t.error ?? ''}`
      : t.created
        ? 'create, then copy'
        : t.state === 'done'
          ? 'done (resume)'
          : 'copy',
  ]);
  if (rows.length) for (const l of table(rows, ['table', 'source rows', 'target rows', 'action'])) out(`  ${l}`);
  for (const w of r.warnings) out(`  ${glyph.warn} ${w}`);
  printFindings(r);
  out();
  if (r.problems.length) {
    for (const p of r.problems) out(`${glyph.fail} ${p}`);
  } else
    out(
      `${glyph.ok} ready: ${formatCount(r.tables.reduce((n, t) => n + t.rowsTotal, 0))} rows in ${r.tables.filter((t) => t.state !== 'skipped').length} table(s)`,
    );
}

function printFindings(r: MigrationReport): void {
  if (!r.preflight || r.preflight.ok) return;
  out(`  pre-flight findings:`);
  for (const f of r.preflight.findings.slice(0, 30)) {
    const key = Object.entries(f.key)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    out(`    ${glyph.fail} ${f.table} (${key}) ${f.column} = ${f.value}: ${f.reason}`);
  }
  const total = r.preflight.counts.reduce((n, c) => n + c.count, 0);
  if (total > Math.min(30, r.preflight.findings.length))
    out(color.dim(`    … ${formatCount(total - Math.min(30, r.preflight.findings.length))} more`));
}

function printReport(r: MigrationReport): void {
  const rows = r.tables.map((t) => [
    t.table,
    formatCount(t.rowsCopied),
    t.rowsResumed ? formatCount(t.rowsResumed) : '-',
    t.seconds > 0 ? formatCount(Math.round(t.rowsCopied / t.seconds)) : '-',
    t.state === 'skipped' ? '-' : (METHOD_TEXT[t.method].split(' (')[0] ?? ''),
    verificationText(t),
  ]);
  if (rows.length) for (const l of table(rows, ['table', 'copied', 'resumed', 'rows/s', 'method', 'verification'])) out(`  ${l}`);
  if (r.methodReason) out(color.dim(`  ${r.methodReason}`));
  for (const w of r.warnings) out(`  ${glyph.warn} ${w}`);
  if (r.cursors) {
    out(
      color.dim(
        `  sync starts where the copy began: push after local change ${r.cursors.push.cursor ?? r.cursors.startSeq}` +
          `${r.cursors.push.dropped ? ` (${formatCount(r.cursors.push.dropped)} change(s) already in the copy dropped)` : ''}, ` +
          `pull after hub change ${r.cursors.pull.upto ?? r.cursors.hubSeq}${r.cursors.pull.moved ? '' : ` (not moved: ${r.cursors.pull.reason})`}`,
      ),
    );
  }
  out();
  if (r.ok)
    out(
      `${glyph.ok} migrated ${formatCount(r.rowsCopied)} row(s) in ${formatMs(r.durationMs)}; run \`dualdb sync\` to replay what was written meanwhile`,
    );
  else out(`${glyph.fail} the migration did not verify; see above`);
}

export function registerMigrate(program: Command, global: () => GlobalOptions): void {
  program
    .command('migrate')
    .description('copy existing data into the other side (initial load) while the application keeps running')
    .addOption(new Option('--from <side>', 'the side holding the data').choices(['sqlite', 'mysql']).default('sqlite'))
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--batch-size <n>', 'rows per batch (one transaction each)', positiveInt, DEFAULT_BATCH_SIZE)
    .option('--truncate', 'empty the target tables first (never the default)')
    .option('--dry-run', 'show the plan (tables, rows, method), write nothing')
    .option('--resume', 'continue an interrupted migration after its last committed batch')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: MigrateFlags) => {
        const config = configFrom(global());
        const direction = opts.from === 'mysql' ? 'mysql-to-sqlite' : 'sqlite-to-mysql';
        // Hold the node's single-instance lock: no syncer may move cursors under the copy.
        let lock: ControlServer;
        try {
          lock = await ControlServer.listen(config.sqlitePath, async (cmd) => {
            if (cmd === 'ping') return { pid: process.pid, kind: 'migrate' };
            throw new DualdbError('BUSY', 'a migration is running on this node; it is not a syncer');
          });
        } catch (e) {
          if (!(e instanceof AlreadyRunningError)) throw e;
          throw new DualdbError('ALREADY_RUNNING', `a dualdb syncer is running for ${config.sqlitePath}`, {
            hint: 'stop it (or pause the service) during the migration; the application itself may keep writing',
            exitCode: EXIT.FAILURE,
          });
        }
        const abort = new AbortController();
        let signals = 0;
        const onSignal = () => {
          signals++;
          if (signals === 1) {
            err(color.dim('\nstopping after rolling back the batch in flight… (again to quit at once)'));
            abort.abort();
          } else process.exit(EXIT.INTERRUPTED);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const view = progressView(!opts.json && !opts.dryRun, process.stderr.isTTY === true);
        try {
          if (!opts.json) {
            out(
              color.dim(
                `${opts.dryRun ? 'Dry run: ' : ''}${direction === 'sqlite-to-mysql' ? 'SQLite → MySQL' : 'MySQL → SQLite'}  (SQLite ${config.sqlitePath}, MySQL ${describeMysql(config.mysql)})`,
              ),
            );
          }
          const migration = createMigration(config, {
            direction,
            tables: tableList(opts.tables),
            batchSize: opts.batchSize,
            truncate: opts.truncate ?? false,
            dryRun: opts.dryRun ?? false,
            resume: opts.resume ?? false,
            signal: abort.signal,
          });
          migration.on('progress', view.update);
          let report: MigrationReport;
          try {
            report = await migration.run();
          } catch (e) {
            view.stop();
            if (e instanceof VerificationFailedError) {
              if (opts.json) printJson(e.report);
              else printReport(e.report);
              return e.exitCode;
            }
            if (e instanceof PreflightFailedError) {
              if (opts.json)
                printJson({ ok: false, error: { code: e.code, message: e.message, hint: e.hint }, preflight: e.report });
              else {
                err(`${color.red('dualdb:')} ${e.message}${color.dim(` — ${e.hint ?? ''}`)}`);
                for (const f of e.report.findings.slice(0, 50)) {
                  const key = Object.entries(f.key)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ');
                  err(`  ${glyph.fail} ${f.table} (${key}) ${f.column} = ${f.value}: ${f.reason}`);
                }
              }
              return e.exitCode;
            }
            if (opts.json && isDualdbError(e)) {
              printJson({ ok: false, error: { code: e.code, message: e.message, hint: e.hint } });
              return e.exitCode;
            }
            throw e;
          }
          view.stop();
          if (opts.json) printJson(report);
          else if (report.dryRun) printPlan(report);
          else printReport(report);
          // A dry run that finds a refusal exits as the real run would (2 for a non-empty target, README).
          return report.ok ? EXIT.OK : (report.refusal?.exitCode ?? EXIT.FAILURE);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await lock.close();
        }
      }),
    );
}
