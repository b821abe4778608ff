/**
 * A long-running sync process (`dualdb sync --watch`, `--daemon`, and the
 * monitor, which runs the sync in its own process when none is running): the
 * SyncService plus what a service needs around it — the single-instance lock
 * and control socket, a pid file, the rotating JSON-lines log, and signals:
 * SIGTERM/SIGINT finish the batch in flight and exit (a second one exits at
 * once; open transactions roll back), SIGUSR1 syncs now.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { type LogEntry, SyncLog } from '../log/sync-log.js';
import { messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { ControlServer } from './control.js';
import { NodeIdInUseError } from './node-fence.js';
import type { MetricsServer } from './prometheus.js';
import { resolveRequestOf, runResolveRequest } from './rekey-resolve-request.js';
import { SyncService } from './service.js';
import { type CycleSummary, logCycle, summarizeCycle } from './summary.js';

/**
 * Who runs the sync: it names the process in the log and in `ping` answers (so a second
 * syncer, `sync --now` or another monitor can say who holds the lock). All kinds hold the
 * same single-instance lock (instance-lock.ts, taken by ControlServer.listen); only a daemon writes
 * the pid file, which belongs to the service manager.
 */
/** Log events the watching console prints as they happen (they change what syncs, or need a decision). */
const NOTICE_EVENTS = new Set([
  'node-id-in-use',
  'hub.stalled',
  'table.paused',
  'table.resumed',
  // A table the sync leaves out (no primary key, on one side only, SYNC_EXCLUDE), said at start
  // and when the set changes, as `sync --once` and `status` say it.
  'table.skipped',
  'table.unskipped',
  'rekey',
  'rekey.held',
  'rekey.sequence-bumped',
  // A failing cycle (not the hub away: that is the degraded state line) is said, not only logged:
  // a push failing on every retry was silent in the watcher (operator trial 3, finding A).
  'sync.failed',
  // A cycle rolled back by the hub's locks and retried: a warning, not a failure.
  'sync.retry',
  // The application held the file's write lock past busy_timeout: whose lock, and the retry.
  'sqlite.locked',
]);

export type SyncProcessKind = 'watch' | 'daemon' | 'monitor';

export interface SyncProcessOptions {
  kind: SyncProcessKind;
  /** Called for every cycle that moved something (the watcher prints a line). */
  onCycle?: (summary: CycleSummary) => void;
  /** `why`: the reason, when the change has one (the hub's failure in one line for `degraded`). */
  onState?: (state: string, previous: string, why?: string) => void;
  /** Called for log entries an operator watching the console must see (a table paused or resumed, a key collision). */
  onNotice?: (entry: LogEntry) => void;
  /** Called for a setting that names something that does not exist (`config.unknown`: the CLI says it on stderr). */
  onConfigWarning?: (entry: LogEntry) => void;
  /** Register process signal handlers (default true). */
  signals?: boolean;
  /** Serve Prometheus metrics at METRICS_HOST:METRICS_PORT (when METRICS_PORT is set). */
  metrics?: boolean;
}

export interface RunningSync {
  service: SyncService;
  control: ControlServer;
  log: SyncLog;
  /** Resolves with the exit code once stopped. */
  done: Promise<number>;
  stop: () => Promise<void>;
  /** Where the metrics are served, when they are. */
  metricsUrl: string | undefined;
}

/**
 * Written whole or not at all (a temporary file renamed over it): a reader that sees the file —
 * `sync --now`, a second daemon, a service manager — never reads it empty between its creation and
 * its write (seen once in CI: an empty pid read right after the file appeared).
 */
function writePidFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

function removePidFile(file: string): void {
  try {
    if (existsSync(file) && readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // best effort
  }
}

export async function startSyncProcess(config: Config, options: SyncProcessOptions): Promise<RunningSync> {
  const log = new SyncLog({
    file: config.log.file,
    level: config.log.level,
    maxSizeBytes: config.log.maxSizeBytes,
    maxFiles: config.log.maxFiles,
  });
  let service: SyncService | undefined;
  const control = await ControlServer.listen(config.sqlitePath, async (cmd, args) => {
    if (!service) throw new Error('starting');
    switch (cmd) {
      case 'ping':
        return { pid: process.pid, kind: options.kind, nodeId: service.syncer.nodeId, state: service.state };
      case 'status':
        return service.status();
      case 'sync-now':
        return summarizeCycle(await service.syncNow());
      case 'pause':
        service.pause();
        return { state: service.state };
      case 'resume':
        service.resume();
        return { state: service.state };
      case 'rekeys-resolve': {
        const req = resolveRequestOf(args);
        const svc = service;
        return svc.runInLoop(() => runResolveRequest(svc.syncer, req));
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }).catch(async (e) => {
    await log.close();
    throw e;
  });
  try {
    service = new SyncService(config, { log });
  } catch (e) {
    await control.close();
    await log.close();
    throw e;
  }
  const svc = service;
  let metrics: MetricsServer | undefined;
  const port = config.metrics?.port;
  if (options.metrics && port !== undefined) {
    try {
      // prom-client is loaded only when metrics are on (an idle node without them stays smaller).
      const { serveMetrics, syncMetrics } = await import('./prometheus.js');
      metrics = await serveMetrics(syncMetrics(svc), config.metrics?.host ?? '127.0.0.1', port);
    } catch (e) {
      await svc.close();
      await control.close();
      await log.close();
      throw e;
    }
    log.info(`metrics at ${metrics.url}`, { event: 'metrics', url: metrics.url });
  }
  log.on('entry', (entry) => {
    control.broadcast('log', entry);
    if (typeof entry.event === 'string' && NOTICE_EVENTS.has(entry.event)) options.onNotice?.(entry);
    if (entry.event === 'config.unknown') options.onConfigWarning?.(entry);
  });
  svc.on('state', (state, prev, why) => {
    control.broadcast('state', { state, prev });
    options.onState?.(state, prev, why);
  });
  svc.on('cycle', (report) => {
    const summary = summarizeCycle(report);
    control.broadcast('cycle', summary);
    logCycle(log, summary);
    if (summary.pushed || summary.pulled || summary.conflicts || summary.parked) options.onCycle?.(summary);
  });
  log.info(`dualdb ${options.kind} started for ${config.sqlitePath} (node ${svc.syncer.nodeId}, mode ${config.sync.mode})`, {
    event: 'start',
    pid: process.pid,
  });
  svc.start();

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  let stopping: Promise<void> | undefined;
  let exitCode: number = EXIT.OK;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping: finishing the batch in flight', { event: 'stopping' });
      await svc.close();
      await metrics?.close();
      await control.close();
      if (options.kind === 'daemon') removePidFile(config.pidFile);
      log.info('stopped', { event: 'stopped' });
      await log.close();
      resolveDone(exitCode);
    })();
    return stopping;
  };
  if (options.kind !== 'monitor') {
    svc.on('failure', (e) => {
      // Another file holds this node id (invariant 17): no retry can help, and the service unit
      // does not restart on exit 2. The monitor stays up and shows it instead.
      if (!(e instanceof NodeIdInUseError) || stopping) return;
      log.error(e.oneLine(), { event: 'node-id-in-use' });
      exitCode = e.exitCode;
      void stop();
    });
  }
  if (options.signals !== false) {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        // Open transactions roll back on their own when the process ends.
        process.exit(EXIT.INTERRUPTED);
      }
      log.info(`received ${sig}`, { event: 'signal' });
      void stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGUSR1', () => {
      svc.syncNow().catch((e) => log.warn(`sync on SIGUSR1 failed: ${messageOf(e)}`, { event: 'sync-now.failed' }));
    });
  }
  // Written once the signal handlers are in: a SIGTERM sent to the pid it names always stops the
  // daemon cleanly (before, it could land while the default action still applied).
  if (options.kind === 'daemon') writePidFile(config.pidFile);
  return { service: svc, control, log, done, stop, metricsUrl: metrics?.url };
}
