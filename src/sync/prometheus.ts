/**
 * Prometheus metrics of a long-running sync (`sync --daemon`, `sync --watch --metrics`), served
 * over HTTP on loopback by default at METRICS_HOST:METRICS_PORT/metrics, off when METRICS_PORT
 * is unset. Gauges are read from the service's status at each scrape (one status per scrape);
 * counters count what the cycles of this process moved (Prometheus handles restarts' resets).
 */
import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { DualdbError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { SyncService } from './service.js';
import type { NodeState, TableStatus } from './status.js';
import { summarizeCycle } from './summary.js';

const NODE_STATES: NodeState[] = [
  'starting',
  'online',
  'degraded',
  'recovering',
  'resync-needed',
  'paused',
  'local-only',
  'stopped',
];
const TABLE_STATES: TableStatus['state'][] = ['syncing', 'paused', 'skipped', 'not-captured'];

export interface SyncMetrics {
  registry: Registry;
  /** Reads the service's status into the gauges (done before each scrape). */
  refresh(): Promise<void>;
}

/** The registry of one sync service's metrics. */
export function syncMetrics(service: SyncService): SyncMetrics {
  const registry = new Registry();
  const labels = { node: service.syncer.nodeId };
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'dualdb_process_' });
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });

  const queue = gauge('dualdb_queue_depth', 'changes queued, per direction (push: local, pull: on the hub)', ['direction']);
  const oldest = gauge('dualdb_queue_oldest_age_seconds', 'age of the oldest change queued locally for the hub', ['direction']);
  const lag = gauge('dualdb_lag_seconds', 'replication lag from heartbeats over the last minute', ['direction', 'quantile']);
  const rows = counter('dualdb_rows_moved_total', 'rows applied on the other side by this process', ['direction']);
  const conflicts = counter('dualdb_conflicts_total', 'conflicts recorded by this process');
  const openConflicts = gauge('dualdb_conflicts_open', 'conflicts waiting for a decision (manual policy)');
  // Counts primary-key re-keys of rows that collided on the hub; stays 0 until re-keying exists.
  counter('dualdb_rekeys_total', 'rows given a new key because theirs was taken on the other side');
  const parked = gauge('dualdb_parked', 'changes parked (kept, not applied) per direction', ['direction']);
  const tableState = gauge('dualdb_table_state', '1 for the state each table is in', ['table', 'state']);
  const nodeState = gauge('dualdb_node_state', '1 for the state the node is in', ['state']);
  const hubUp = gauge('dualdb_hub_up', '1 when the hub answered the last scrape, 0 when not');
  const resync = gauge('dualdb_resync_needed', '1 when the node fell behind the hub log and needs `dualdb repair`');
  const lastSync = gauge('dualdb_last_sync_timestamp_seconds', 'when a push or pull last completed (Unix time)');
  const lastScrapeError = gauge('dualdb_status_error', '1 when the status behind this scrape could not be read');

  service.on('cycle', (report) => {
    const s = summarizeCycle(report);
    rows.inc({ direction: 'push' }, s.pushed);
    rows.inc({ direction: 'pull' }, s.pulled);
    conflicts.inc(s.conflicts);
  });
  rows.inc({ direction: 'push' }, 0);
  rows.inc({ direction: 'pull' }, 0);
  conflicts.inc(0);

  const seconds = (ms: number | null) => (ms === null ? Number.NaN : ms / 1000);
  const refresh = async () => {
    let status: Awaited<ReturnType<SyncService['status']>>;
    try {
      status = await service.status();
      lastScrapeError.set(0);
    } catch {
      lastScrapeError.set(1);
      return;
    }
    queue.set({ direction: 'push' }, status.queue.push);
    queue.set({ direction: 'pull' }, status.queue.pull ?? Number.NaN);
    oldest.set({ direction: 'push' }, seconds(status.queue.oldestPushAgeMs));
    for (const direction of ['push', 'pull'] as const) {
      lag.set({ direction, quantile: '0.5' }, seconds(status.lag[direction].p50));
      lag.set({ direction, quantile: '0.99' }, seconds(status.lag[direction].p99));
      parked.set({ direction }, status.parked[direction]);
    }
    openConflicts.set(status.conflicts.open);
    tableState.reset();
    for (const t of status.tables)
      for (const st of TABLE_STATES) tableState.set({ table: t.table, state: st }, t.state === st ? 1 : 0);
    for (const st of NODE_STATES) nodeState.set({ state: st }, status.state === st ? 1 : 0);
    hubUp.set(status.hub.reachable === true ? 1 : 0);
    resync.set(status.resyncNeeded ? 1 : 0);
    const times = [status.lastPushAt, status.lastPullAt].filter((t): t is string => t !== null).map((t) => Date.parse(t));
    lastSync.set(times.length ? Math.max(...times) / 1000 : Number.NaN);
  };
  return { registry, refresh };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the metrics at http://host:port/metrics; a port in use is a configuration error. */
export async function serveMetrics(metrics: SyncMetrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('dualdb: metrics are at /metrics\n');
      return;
    }
    metrics
      .refresh()
      .then(() => metrics.registry.metrics())
      .then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`dualdb: ${messageOf(e)}\n`),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new DualdbError('METRICS_PORT_UNAVAILABLE', `cannot serve metrics on ${host}:${port}: ${e.code ?? e.message}`, {
          hint:
            e.code === 'EADDRINUSE'
              ? `another program listens on port ${port}: choose another METRICS_PORT`
              : 'fix METRICS_HOST/METRICS_PORT',
          exitCode: EXIT.CONFIG,
          cause: e,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
