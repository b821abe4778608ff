import type { Command } from 'commander';
import { sendControl } from '../../sync/control.js';
import { collectStatus, errorTime, type SyncStatus } from '../../sync/status.js';
import { Syncer } from '../../sync/syncer.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, formatCount, formatMs, glyph, out, printJson, table } from '../output.js';

const STATE_GLYPH: Record<string, string> = {
  online: glyph.ok,
  recovering: glyph.warn,
  degraded: glyph.fail,
  'resync-needed': glyph.fail,
  paused: glyph.warn,
  'local-only': glyph.info,
  starting: glyph.info,
  stopped: glyph.info,
};

export function statusExitCode(s: SyncStatus): number {
  if (s.resyncNeeded) return EXIT.RESYNC_NEEDED;
  if (s.hub.enabled && s.hub.reachable === false) return EXIT.MYSQL_UNAVAILABLE;
  if (s.conflicts.open > 0) return EXIT.CONFLICTS;
  if (s.parked.push + s.parked.pull > 0) return EXIT.PARKED;
  return EXIT.OK;
}

export function registerStatus(program: Command, global: () => GlobalOptions): void {
  program
    .command('status')
    .description('per table: pending changes each way, conflicts, parked changes, paused tables; node state and lag')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }) => {
        const config = configFrom(global());
        let status: SyncStatus;
        let running = false;
        try {
          status = (await sendControl(config.sqlitePath, 'status', 15_000)) as SyncStatus;
          running = true;
        } catch {
          const syncer = Syncer.open(config);
          try {
            status = await collectStatus(syncer, { state: 'stopped' });
            if (status.resyncNeeded) status.state = 'resync-needed';
          } finally {
            await syncer.close();
          }
        }
        if (opts.json) {
          printJson({ ...status, syncerRunning: running });
          return statusExitCode(status);
        }
        out(
          `${STATE_GLYPH[status.state] ?? ''} node ${color.bold(status.nodeId)}  ${color.bold(status.state)}${running ? '' : color.dim(' (no syncer running)')}  mode ${status.mode}  conflicts: ${status.conflictPolicy}`,
        );
        if (!status.hub.enabled) out(`  hub disabled (DUAL_DATABASE=false): changes are queued locally`);
        else if (status.hub.reachable === false)
          out(`  ${glyph.fail} hub ${status.hub.endpoint}: ${status.hub.error?.message ?? 'unreachable'}`);
        else out(`  hub ${status.hub.endpoint}`);
        out(
          `  queue ↑ ${formatCount(status.queue.push)}${status.queue.oldestPushAgeMs !== null ? ` (oldest ${formatMs(status.queue.oldestPushAgeMs)})` : ''}  ↓ ${status.queue.pull === null ? '?' : formatCount(status.queue.pull)}` +
            `  last push ${status.lastPushAt ?? 'never'}  last pull ${status.lastPullAt ?? 'never'}`,
        );
        if (status.lag.push.samples || status.lag.pull.samples) {
          out(
            `  lag ↑ p50 ${formatMs(status.lag.push.p50)} p99 ${formatMs(status.lag.push.p99)}  ↓ p50 ${formatMs(status.lag.pull.p50)} p99 ${formatMs(status.lag.pull.p99)}`,
          );
        }
        if (status.resyncNeeded) out(`  ${glyph.fail} ${status.resyncNeeded}`);
        if (status.lastError && !status.resyncNeeded) out(`  last error (${errorTime(status.lastErrorAt)}): ${status.lastError}`);
        if (status.pruneReportError)
          out(`${glyph.warn} the hub cannot prune its change log past this node: ${status.pruneReportError}`);
        out();
        for (const l of table(
          status.tables.map((t) => [
            t.table,
            t.state,
            t.keyKind ?? '?',
            formatCount(t.pendingPush),
            t.pendingPull === null ? '?' : formatCount(t.pendingPull),
            String(t.conflictsOpen),
            String(t.parked),
            String(t.rekeys),
            String(t.collisions.held),
            t.reason ?? '',
          ]),
          ['table', 'state', 'key', '↑ pending', '↓ pending', 'conflicts', 'parked', 're-keys', 'held', 'note'],
        )) {
          out(`  ${l}`);
        }
        if (status.conflicts.open)
          out(`\n${glyph.warn} ${status.conflicts.open} conflict(s) wait for a decision: \`dualdb conflicts\``);
        if (status.rekeys.open) out(`${glyph.warn} ${status.rekeys.open} key collision(s) not settled yet: \`dualdb rekeys\``);
        if (status.rekeys.closed)
          out(`${status.rekeys.closed} held key collision(s) closed by themselves, one of their rows gone: \`dualdb rekeys\``);
        if (status.parked.push + status.parked.pull)
          out(`${glyph.warn} ${status.parked.push + status.parked.pull} change(s) parked: \`dualdb parked\``);
        return statusExitCode(status);
      }),
    );
}
