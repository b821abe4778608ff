import { type Command, Option } from 'commander';
import type { Config } from '../../config/config.js';
import { type LogEntry, SyncLog } from '../../log/sync-log.js';
import { ControlServer, sendControl } from '../../sync/control.js';
import { startSyncProcess } from '../../sync/process.js';
import { type CycleSummary, cycleLine, logCycle, pausedLine, skippedLine, summarizeCycle } from '../../sync/summary.js';
import { Syncer } from '../../sync/syncer.js';
import { ConfigError, DualdbError, messageOf } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, err, glyph, out, printJson, table } from '../output.js';

interface SyncFlags {
  once?: boolean;
  push?: boolean;
  pull?: boolean;
  syncSqlite?: boolean;
  syncMysql?: boolean;
  watch?: boolean;
  daemon?: boolean;
  now?: boolean;
  json?: boolean;
  metrics?: boolean;
}

export function exitCodeOf(s: CycleSummary): number {
  if (s.conflicts > 0) return EXIT.CONFLICTS;
  // Changes parked now, or still waiting for a table paused by schema drift (README: 12 changes parked).
  if (s.parked > 0 || s.paused?.some((p) => p.waiting > 0)) return EXIT.PARKED;
  if (s.pushed === 0 && s.pulled === 0) return EXIT.NOTHING_TO_DO;
  return EXIT.OK;
}

function printSummary(s: CycleSummary, json: boolean): void {
  if (json) {
    printJson(s);
    return;
  }
  if (s.tables.length) {
    for (const l of table(
      s.tables.map((t) => [t.table, String(t.pushed), String(t.pulled), String(t.conflicts), String(t.parked)]),
      ['table', 'pushed', 'pulled', 'conflicts', 'parked'],
    )) {
      out(l);
    }
  }
  out(color.dim(cycleLine(s)));
  for (const p of s.paused ?? []) out(`${glyph.warn} ${pausedLine(p)}`);
  // A table left out is said, not only missing from the counts (operator report: "why is audit_log not syncing?").
  for (const t of s.skipped ?? []) out(`${glyph.info} ${skippedLine(t)}`);
}

/** A setting naming nothing (`config.unknown`, e.g. a SYNC_VALUE_FORMS table that does not exist): one line on stderr. */
function warnOnStderr(entry: LogEntry): void {
  if (entry.event === 'config.unknown') err(`dualdb sync: warning: ${entry.msg}`);
}

async function runOnce(config: Config, direction: { push: boolean; pull: boolean }, json: boolean): Promise<number> {
  // Holding the control socket keeps a daemon from starting in the middle of this run.
  let lock: ControlServer;
  try {
    lock = await ControlServer.listen(config.sqlitePath, async () => ({ pid: process.pid, kind: 'once' }));
  } catch (e) {
    if (!(direction.push && direction.pull)) throw e;
    // A syncer runs already: ask it instead of racing it.
    const s = (await sendControl(config.sqlitePath, 'sync-now')) as CycleSummary;
    if (!json) out(color.dim('a syncer is running for this file; it synced on request'));
    printSummary(s, json);
    return exitCodeOf(s);
  }
  // The same log file as --watch and --daemon: a cron-run site keeps a record of parked
  // changes, re-keys, conflicts and paused tables.
  const log = new SyncLog(config.log);
  log.on('entry', warnOnStderr);
  try {
    // A corrupt file is refused before the hub is touched (as `dualdb health` would name it).
    const syncer = Syncer.open(config, { log, checkIntegrity: true });
    try {
      const report = await syncer.syncOnce(direction);
      const s = summarizeCycle(report);
      logCycle(log, s);
      printSummary(s, json);
      return exitCodeOf(s);
    } finally {
      await syncer.close();
    }
  } catch (e) {
    log.error(`sync failed: ${e instanceof DualdbError ? e.oneLine() : messageOf(e)}`, { event: 'sync.failed' });
    throw e;
  } finally {
    await log.close();
    await lock.close();
  }
}

/** Flags that cannot go together are refused (exit 2), never one silently ignored. */
const PUSH = ['push', 'syncSqlite'];
const PULL = ['pull', 'syncMysql'];
const CONTINUOUS = ['watch', 'daemon', 'now'];

export function registerSync(program: Command, global: () => GlobalOptions): void {
  program
    .command('sync')
    .description('sync the node with the hub: once (default), one direction, continuously, or as a service')
    .addOption(new Option('--once', 'push local changes, then pull the hub’s, then exit (default)').conflicts(CONTINUOUS))
    .addOption(new Option('--push', 'only send local changes to the hub').conflicts([...PULL, ...CONTINUOUS]))
    .addOption(new Option('--pull', 'only apply the hub’s changes locally').conflicts([...PUSH, ...CONTINUOUS]))
    .addOption(
      new Option('--sync-sqlite', 'old name of --push (SQLite’s changes go to MySQL)').conflicts([...PULL, ...CONTINUOUS]),
    )
    .addOption(
      new Option('--sync-mysql', 'old name of --pull (MySQL’s changes come to SQLite)').conflicts([...PUSH, ...CONTINUOUS]),
    )
    .addOption(
      new Option('--watch', 'run continuously in the foreground, one line per cycle that moved something').conflicts([
        'daemon',
        'now',
      ]),
    )
    .addOption(
      new Option('--daemon', 'run as a service: no TTY, JSON-lines log to LOG_FILE, pid file, SIGTERM stops cleanly').conflicts(
        'now',
      ),
    )
    .option('--now', 'ask the running watcher/daemon for this SQLite file to sync now')
    .addOption(
      new Option(
        '--metrics',
        'with --watch: serve Prometheus metrics at METRICS_HOST:METRICS_PORT/metrics (a daemon does whenever METRICS_PORT is set)',
      ).conflicts(['once', 'now', ...PUSH, ...PULL]),
    )
    .option('--json', 'machine-readable output (--once, --push, --pull, --now)')
    .addHelpText(
      'after',
      '\nExit codes: 0 changes moved, 10 nothing to do, 11 conflicts recorded, 12 changes parked (or waiting for a table paused by schema drift), 13 resync needed, 2 bad configuration or node id held by another file (NODE_ID_IN_USE; --watch and --daemon stop), 3 hub unavailable, 1 failure.',
    )
    .action(
      action(async (opts: SyncFlags) => {
        const config = configFrom(global());
        const json = opts.json ?? false;
        if (opts.now) {
          const s = (await sendControl(config.sqlitePath, 'sync-now')) as CycleSummary;
          printSummary(s, json);
          return exitCodeOf(s);
        }
        if (opts.metrics && !opts.watch && !opts.daemon)
          throw new ConfigError('--metrics', '--metrics goes with --watch: a single sync has nothing to serve');
        if (opts.metrics && config.metrics?.port === undefined)
          throw new ConfigError('METRICS_PORT', '--metrics needs a port: METRICS_PORT is not set', {
            hint: 'set METRICS_PORT (for example 9464) in the environment or the .env file',
          });
        if (opts.watch || opts.daemon) {
          const running = await startSyncProcess(config, {
            metrics: Boolean(opts.daemon || opts.metrics),
            kind: opts.daemon ? 'daemon' : 'watch',
            onConfigWarning: warnOnStderr,
            onCycle: opts.watch ? (s) => out(`${color.dim(new Date().toLocaleTimeString())} ${cycleLine(s)}`) : undefined,
            onState: opts.watch
              ? (state, prev, why) =>
                  out(
                    `${color.dim(new Date().toLocaleTimeString())} state ${prev} → ${color.bold(state)}${
                      state === 'degraded' && why ? `: ${why}` : ''
                    }`,
                  )
              : undefined,
            onNotice: opts.watch
              ? (e) =>
                  out(
                    `${color.dim(new Date().toLocaleTimeString())} ${e.level === 'error' ? glyph.fail : e.level === 'info' ? glyph.info : glyph.warn} ${e.msg}`,
                  )
              : undefined,
          });
          if (opts.watch) {
            out(
              `watching ${config.sqlitePath} ⇄ ${config.mysql.host}:${config.mysql.port}/${config.mysql.database} (node ${running.service.syncer.nodeId}, mode ${config.sync.mode}); Ctrl+C stops`,
            );
            if (running.metricsUrl) out(`metrics at ${running.metricsUrl}`);
          }
          return running.done;
        }
        const push = Boolean(opts.push || opts.syncSqlite);
        const pull = Boolean(opts.pull || opts.syncMysql);
        const both = !push && !pull;
        return runOnce(config, { push: both || push, pull: both || pull }, json);
      }),
    );
}
