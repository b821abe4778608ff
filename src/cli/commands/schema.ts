/**
 * `dualdb schema …`: run SQL files, translate, diff and apply schemas, and the
 * pre-flight check of the data, and `schema fit` (widen the hub's columns). Also the old spelling `dualdb --import-schema <file>`.
 */
import { confirm } from '@inquirer/prompts';
import type { Command } from 'commander';
import type { Config } from '../../config/config.js';
import { describeMysql } from '../../config/config.js';
import { MysqlHub } from '../../engines/mysql/connect.js';
import { introspectMysql } from '../../engines/mysql/introspect.js';
import { introspectSqlite } from '../../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../../engines/sqlite/open.js';
import { applySchemaPlan, type DdlStep, diffDatabases, type PlanDirection, type SchemaDiff } from '../../schema/diff.js';
import { applyFit, type FitPlan, fitPlanFor } from '../../schema/fit.js';
import { type PreflightReport, preflightToHub } from '../../schema/preflight.js';
import { runSqlFile } from '../../schema/runner.js';
import { translateToMysql, translateToSqlite } from '../../schema/translate.js';
import type { TranslationWarning } from '../../schema/translation.js';
import { ConfigError, DualdbError, MysqlError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, formatBytes, formatCount, glyph, out, printJson } from '../output.js';

export { rewriteLegacyArgs } from '../legacy-args.js';

const parseList = (v: string | undefined): string[] | undefined =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function parseDirection(v: string | undefined): PlanDirection {
  if (v === undefined || v === 'both' || v === 'mysql' || v === 'sqlite') return v ?? 'both';
  throw new ConfigError('--only', `--only must be mysql, sqlite or both (got "${v}")`);
}

function requireHub(config: Config, what: string): void {
  if (!config.dualDatabase)
    throw new ConfigError('DUAL_DATABASE', `${what} needs the MySQL hub, but DUAL_DATABASE=false`, {
      hint: 'set DUAL_DATABASE=true and the DB_* settings, then run it again',
    });
}

async function withSides<T>(config: Config, fn: (db: SqliteDb, hub: MysqlHub) => Promise<T>): Promise<T> {
  const db = openSqlite(config.sqlitePath);
  try {
    const hub = await MysqlHub.connect(config.mysql);
    try {
      return await fn(db, hub);
    } finally {
      await hub.close();
    }
  } finally {
    db.close();
  }
}

function printWarnings(warnings: TranslationWarning[]): void {
  if (warnings.length === 0) return;
  out(color.bold(`\nNot translated faithfully (${warnings.length}):`));
  for (const w of warnings)
    out(`  ${glyph.warn} ${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${color.dim(w.reason)}`);
}

function printNotes(notes: TranslationWarning[] | undefined): void {
  if (!notes?.length) return;
  out(color.bold('\nChosen so that nothing is lost:'));
  for (const n of notes)
    out(`  ${glyph.info} ${n.table}${n.column ? `.${n.column}` : ''}: ${n.problem} — ${color.dim(n.reason)}`);
}

function printPlan(plan: DdlStep[]): void {
  if (plan.length === 0) return;
  out(color.bold(`\nDDL that would run (${plan.length} statement${plan.length === 1 ? '' : 's'}):`));
  for (const target of ['mysql', 'sqlite'] as const) {
    const steps = plan.filter((s) => s.target === target);
    if (steps.length === 0) continue;
    out(color.dim(`-- ${target === 'mysql' ? 'on the hub (MySQL)' : 'in SQLite'}`));
    for (const s of steps) out(`${s.sql};`);
  }
}

/** generated keys: a, b; natural keys: c (generated keys written on both sides can collide). */
function printKeyKinds(diff: SchemaDiff): void {
  const kinds = Object.entries(diff.keyKinds).sort(([a], [b]) => a.localeCompare(b));
  for (const kind of ['generated', 'natural'] as const) {
    const names = kinds.filter(([, k]) => k === kind).map(([t]) => t);
    if (names.length) out(`${glyph.info} ${kind} keys: ${names.join(', ')}`);
  }
  if (diff.noPrimaryKey.length) out(`${glyph.warn} no primary key: not synced: ${diff.noPrimaryKey.join(', ')}`);
}

function printDiff(diff: SchemaDiff, config: Config): void {
  out(`${color.bold('SQLite')} ${config.sqlitePath}: ${diff.sqliteTables.length} table(s)`);
  out(`${color.bold('MySQL')}  ${describeMysql(config.mysql)}: ${diff.mysqlTables.length} table(s)`);
  printKeyKinds(diff);
  const onlyS = diff.tables.filter((t) => t.presence === 'sqlite-only').map((t) => t.table);
  const onlyM = diff.tables.filter((t) => t.presence === 'mysql-only').map((t) => t.table);
  if (onlyS.length) out(`${glyph.warn} only in SQLite: ${onlyS.join(', ')}`);
  if (onlyM.length) out(`${glyph.warn} only on the hub: ${onlyM.join(', ')}`);
  for (const t of diff.tables.filter((x) => x.presence === 'both')) {
    out(`${glyph.warn} ${color.bold(t.table)}`);
    if (t.missingOnMysql.length) out(`    columns only in SQLite: ${t.missingOnMysql.join(', ')}`);
    if (t.missingOnSqlite.length) out(`    columns only on the hub: ${t.missingOnSqlite.join(', ')}`);
    if (t.primaryKey)
      out(`    primary key (${t.primaryKey.sqlite.join(', ')}) in SQLite vs (${t.primaryKey.mysql.join(', ')}) on the hub`);
    for (const d of t.different) out(`    ${d.column}: ${d.problem} — ${color.dim(d.reason)}`);
  }
  printWarnings(diff.warnings);
  printNotes(diff.notes);
  printPlan(diff.plan);
  if (diff.untouched.length) {
    out(color.bold('\nLeft as they are (fix by hand):'));
    for (const u of diff.untouched)
      out(`  ${glyph.info} ${u.table}${u.column ? `.${u.column}` : ''}: ${u.problem} — ${color.dim(u.reason)}`);
  }
}

function printPreflight(r: PreflightReport): void {
  out(
    color.dim(
      r.target === 'hub'
        ? 'checked against the hub’s tables (and the translation for tables it does not have)'
        : 'checked against the translated schema (no hub)',
    ),
  );
  for (const t of r.tables)
    out(
      `${t.findings === 0 ? glyph.ok : glyph.fail} ${t.table}  ${formatCount(t.rows)} rows${t.findings ? `, ${formatCount(t.findings)} problem(s)` : ''}`,
    );
  for (const s of r.skipped) out(`${glyph.info} ${s.table}: not checked — ${s.reason}`);
  if (r.ok) return;
  out(color.bold('\nValues MySQL would refuse or change:'));
  for (const f of r.findings) {
    const key = Object.entries(f.key)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    out(`  ${glyph.fail} ${f.table} [${key}] ${f.column} = ${f.value} — ${color.dim(`${f.kind}: ${f.reason}`)}`);
  }
  const listed = new Map<string, number>();
  for (const f of r.findings)
    listed.set(`${f.table}\u0000${f.column}\u0000${f.kind}`, (listed.get(`${f.table}\u0000${f.column}\u0000${f.kind}`) ?? 0) + 1);
  for (const c of r.counts) {
    const more = c.count - (listed.get(`${c.table}\u0000${c.column}\u0000${c.kind}`) ?? 0);
    if (more > 0) out(`  ${color.dim(`… and ${formatCount(more)} more ${c.kind} in ${c.table}.${c.column}`)}`);
  }
}

function printFitPlan(plan: FitPlan): void {
  out(color.bold(`Widen on the hub (${plan.tables.length} table(s)):`));
  for (const t of plan.tables) {
    const size = `${formatCount(t.rows)} rows${t.bytes === null ? '' : `, ${formatBytes(t.bytes)}`}`;
    out(
      `  ${color.bold(t.table)}  ${t.algorithm === 'COPY' ? `${glyph.warn} needs a copy of the table (${size})` : color.dim(`in place (${size})`)}${t.foreignKeys ? color.dim('; foreign keys on changed columns are dropped and added back') : ''}`,
    );
    for (const c of t.changes) out(`    ${c.column}: ${c.from} → ${c.to} ${color.dim(`— ${c.reason}`)}`);
  }
  printFitLeft(plan);
}

function printFitLeft(plan: FitPlan): void {
  if (plan.left.length === 0) return;
  out(color.bold('\nLeft as they are (fix by hand):'));
  for (const l of plan.left) out(`  ${glyph.info} ${l.table}.${l.column}: ${color.dim(l.reason)}`);
}

async function confirmOrRefuse(question: string, command = 'schema apply'): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stdout.isTTY)
    throw new DualdbError(
      'CONFIRMATION_REQUIRED',
      `${command} changes the databases and asks first, but there is no terminal to ask in`,
      {
        hint: 'run it again with --yes',
        exitCode: EXIT.CONFIG,
      },
    );
  try {
    return await confirm({ message: question, default: false });
  } catch (e) {
    // By name: inquirer's Ctrl+C error class lives in @inquirer/core, not a dependency of ours.
    if ((e as Error)?.name === 'ExitPromptError') return false;
    throw e;
  }
}

export function registerSchema(program: Command, global: () => GlobalOptions): void {
  // Declared for --help only: rewriteLegacyArgs turns it into `schema import` before parsing.
  program.option('--import-schema <file>', 'old spelling of `dualdb schema import <file>`');
  const schema = program
    .command('schema')
    .description('SQL files, SQLite ↔ MySQL schema translation, diff/apply, pre-flight data check');

  schema
    .command('import <file>')
    .description('run an SQL file statement by statement (strings, comments and DELIMITER blocks understood)')
    .option('--target <engine>', 'mysql (the hub) or sqlite (the local file, created if missing)', 'mysql')
    .option('--json', 'machine-readable output')
    .action(
      action(async (file: string, opts: { target: string; json?: boolean }) => {
        const config = configFrom(global());
        if (opts.target !== 'mysql' && opts.target !== 'sqlite')
          throw new ConfigError('--target', `--target must be mysql or sqlite (got "${opts.target}")`);
        let report: Awaited<ReturnType<typeof runSqlFile>>;
        let where: string;
        if (opts.target === 'sqlite') {
          const db = openSqlite(config.sqlitePath, { create: true });
          where = config.sqlitePath;
          try {
            report = await runSqlFile(file, { engine: 'sqlite', db });
          } finally {
            db.close();
          }
        } else {
          requireHub(config, 'schema import --target mysql');
          where = describeMysql(config.mysql);
          const hub = await MysqlHub.connect(config.mysql);
          try {
            report = await runSqlFile(file, { engine: 'mysql', hub });
          } finally {
            await hub.close();
          }
        }
        if (opts.json) printJson(report);
        else {
          out(
            `${glyph.ok} ${report.statements} statement(s) from ${file} ran on ${opts.target === 'mysql' ? 'MySQL' : 'SQLite'} ${where}`,
          );
          for (const w of report.warnings) out(`  ${glyph.warn} ${file}:${w.line}: ${w.level} ${w.code}: ${w.message}`);
        }
        return EXIT.OK;
      }),
    );

  schema
    .command('translate')
    .description('show the DDL that would create the tables on the other engine, and what cannot be translated faithfully')
    .option('--to <engine>', 'mysql (from the SQLite file) or sqlite (from the hub)', 'mysql')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { to: string; tables?: string; json?: boolean }) => {
        const config = configFrom(global());
        const only = parseList(opts.tables);
        let translation: ReturnType<typeof translateToMysql>;
        if (opts.to === 'mysql') {
          const db = openSqlite(config.sqlitePath, { readonly: true });
          try {
            translation = translateToMysql(introspectSqlite(db, only), { db });
          } finally {
            db.close();
          }
        } else if (opts.to === 'sqlite') {
          requireHub(config, 'schema translate --to sqlite');
          const hub = await MysqlHub.connect(config.mysql);
          try {
            translation = translateToSqlite(await introspectMysql(hub, only));
          } finally {
            await hub.close();
          }
        } else throw new ConfigError('--to', `--to must be mysql or sqlite (got "${opts.to}")`);
        if (opts.json) {
          printJson({
            target: translation.target,
            statements: translation.statements,
            warnings: translation.warnings,
            notes: translation.notes ?? [],
          });
          return EXIT.OK;
        }
        for (const s of translation.statements) out(`${s};\n`);
        printWarnings(translation.warnings);
        printNotes(translation.notes);
        return EXIT.OK;
      }),
    );

  schema
    .command('diff')
    .description(
      `compare the SQLite file with the hub and show the DDL that \`schema apply\` would run (exit ${EXIT.DIFFERENCES} when they differ)`,
    )
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--only <side>', 'plan changes for one side only: mysql or sqlite (default both)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { tables?: string; only?: string; json?: boolean }) => {
        const config = configFrom(global());
        requireHub(config, 'schema diff');
        const direction = parseDirection(opts.only);
        const diff = await withSides(config, (db, hub) => diffDatabases(db, hub, { tables: parseList(opts.tables), direction }));
        if (opts.json) printJson(diff);
        else if (diff.inSync) {
          out(`${glyph.ok} the schemas match (${diff.sqliteTables.length} table(s))`);
          printKeyKinds(diff);
        } else {
          printDiff(diff, config);
          if (diff.plan.length) out(color.dim('\nRun `dualdb schema apply` to run these statements.'));
        }
        return diff.inSync ? EXIT.OK : EXIT.DIFFERENCES;
      }),
    );

  schema
    .command('apply')
    .description('run the plan of `schema diff`: create missing tables, add missing columns where safe')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--only <side>', 'change one side only: mysql or sqlite (default both)')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { tables?: string; only?: string; yes?: boolean; json?: boolean }) => {
        const config = configFrom(global());
        requireHub(config, 'schema apply');
        const direction = parseDirection(opts.only);
        return withSides(config, async (db, hub) => {
          const diff = await diffDatabases(db, hub, { tables: parseList(opts.tables), direction });
          if (diff.plan.length === 0) {
            if (opts.json) printJson({ ok: true, steps: [], untouched: diff.untouched });
            else if (diff.inSync) out(`${glyph.ok} nothing to apply: the schemas match`);
            else {
              printDiff(diff, config);
              out(`\n${glyph.info} nothing that apply can do safely`);
            }
            return diff.inSync ? EXIT.OK : EXIT.DIFFERENCES;
          }
          if (!opts.json) printDiff(diff, config);
          if (!opts.yes && !(await confirmOrRefuse(`Run these ${diff.plan.length} statement(s)?`))) {
            out(`${glyph.info} nothing was changed`);
            return EXIT.FAILURE;
          }
          const report = await applySchemaPlan(diff.plan, { db, hub });
          if (opts.json)
            printJson({ ok: report.ok, steps: report.steps, error: report.error?.message, untouched: diff.untouched });
          else {
            out('');
            for (const s of report.steps) {
              const mark = s.status === 'applied' ? glyph.ok : s.status === 'failed' ? glyph.fail : color.dim('·');
              out(
                `${mark} ${s.target === 'mysql' ? 'MySQL ' : 'SQLite'} ${s.action} ${s.table}${s.column ? `.${s.column}` : ''}${s.status === 'not-run' ? color.dim(' (not run)') : ''}`,
              );
            }
          }
          if (report.error) throw report.error;
          // New tables need capture; new columns need nothing: the sync re-reads both schemas each
          // cycle, resumes a table paused by drift once they match and sends what waited.
          if (!opts.json && report.steps.some((s) => s.status === 'applied' && s.action === 'create-table'))
            out(color.dim('\nRun `dualdb init` so that the new tables are synced.'));
          else if (!opts.json)
            out(
              color.dim('\nOther nodes: run `dualdb schema apply` there too; the sync resumes by itself once the schemas match.'),
            );
          return EXIT.OK;
        });
      }),
    );

  schema
    .command('fit')
    .description(
      "widen the hub's columns so every SQLite value fits exactly (FLOAT → DOUBLE, DATETIME → DATETIME(6), INT → BIGINT, longer VARCHARs, NULL allowed, binary key collation); never narrows or drops",
    )
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--dry-run', 'show the plan and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { tables?: string; dryRun?: boolean; yes?: boolean; json?: boolean }) => {
        const config = configFrom(global());
        requireHub(config, 'schema fit');
        return withSides(config, async (db, hub) => {
          const plan = await fitPlanFor(db, hub, { ...(opts.tables ? { tables: parseList(opts.tables) } : {}) });
          if (plan.tables.length === 0 || opts.dryRun) {
            if (opts.json) printJson({ ok: true, dryRun: opts.dryRun ?? false, ...plan });
            else if (plan.tables.length === 0) {
              printFitLeft(plan);
              out(`${glyph.ok} nothing to widen: every hub column holds what SQLite holds`);
            } else {
              printFitPlan(plan);
              out(color.dim('\n--dry-run: nothing was changed. Run `dualdb schema fit` to apply.'));
            }
            return EXIT.OK;
          }
          if (!opts.json) printFitPlan(plan);
          if (!opts.yes && !(await confirmOrRefuse(`Widen ${plan.tables.length} table(s) on the hub?`, 'schema fit'))) {
            out(`${glyph.info} nothing was changed`);
            return EXIT.FAILURE;
          }
          const r = await applyFit(hub, plan, (t) => {
            if (opts.json) return;
            if (t.status === 'applied') out(`${glyph.ok} ${t.table}: widened (ALGORITHM=${t.used})`);
            else if (t.status === 'failed') out(`${glyph.fail} ${t.table}: ${t.error}`);
          });
          if (opts.json) printJson({ ok: r.ok, tables: r.tables, left: plan.left, error: r.error?.message });
          if (r.error) throw r.error;
          if (!opts.json) {
            // A node that already syncs: the changes parked because they did not fit wait for a retry.
            const syncing = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_dualdb_changes'").get() !== undefined;
            out(
              color.dim(
                syncing
                  ? '\nRun `dualdb parked retry` to send the changes parked because they did not fit (`dualdb schema check` confirms the fit).'
                  : '\nRun `dualdb schema check` to confirm, then `dualdb setup` or `dualdb migrate`.',
              ),
            );
          }
          return EXIT.OK;
        });
      }),
    );

  schema
    .command('check')
    .description(
      `pre-flight: find SQLite values that MySQL would refuse or change (exit ${EXIT.DIFFERENCES} when some are found)`,
    )
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--samples <n>', 'examples listed per table, column and problem', '20')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { tables?: string; samples: string; json?: boolean }) => {
        const config = configFrom(global());
        const db = openSqlite(config.sqlitePath, { readonly: true });
        try {
          let hub: MysqlHub | undefined;
          let note: string | undefined;
          if (config.dualDatabase) {
            try {
              hub = await MysqlHub.connect(config.mysql);
            } catch (e) {
              if (!(e instanceof MysqlError)) throw e;
              note = `hub not reachable (${e.message}): checked against the translated schema`;
            }
          }
          try {
            const report = await preflightToHub(db, hub, {
              tables: parseList(opts.tables),
              samplesPerCheck: Math.max(1, Number(opts.samples) || 20),
            });
            if (opts.json) printJson(note ? { ...report, note } : report);
            else {
              if (note) out(`${glyph.warn} ${note}`);
              printPreflight(report);
              if (report.ok) out(`${glyph.ok} no value would be refused or changed by MySQL`);
            }
            return report.ok ? EXIT.OK : EXIT.DIFFERENCES;
          } finally {
            await hub?.close();
          }
        } finally {
          db.close();
        }
      }),
    );
}
