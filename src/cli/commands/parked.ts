import type { Command } from 'commander';
import { parkedCause } from '../../sync/local-state.js';
import { Syncer } from '../../sync/syncer.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, glyph, out, printJson, table } from '../output.js';

export function registerParked(program: Command, global: () => GlobalOptions): void {
  const cmd = program
    .command('parked')
    .description('list changes that could not be applied (kept, retried automatically, never dropped)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }) => {
        const syncer = Syncer.open(configFrom(global()));
        try {
          const list = syncer.state.parked();
          if (opts.json) printJson(list);
          else if (list.length === 0) out(`${glyph.ok} nothing parked`);
          else {
            for (const l of table(
              list.map((p) => [
                `#${p.id}`,
                p.direction === 'push' ? '↑ to hub' : '↓ to node',
                p.tbl,
                p.pk ?? '(null)',
                String(p.attempts),
                p.nextRetryMs === null ? 'manual' : new Date(p.nextRetryMs).toISOString(),
                p.error,
              ]),
              ['id', 'way', 'table', 'key', 'tries', 'next retry', 'error'],
            )) {
              out(l);
            }
            // What to do depends on why they wait: a retry does nothing for a paused table.
            const causes = new Set(list.map((p) => parkedCause(p)));
            out();
            if (causes.has('failed')) out(color.dim('Fix the cause, then `dualdb parked retry` (the next sync applies them).'));
            if (causes.has('paused'))
              out(
                color.dim(
                  'Paused by schema drift: `dualdb status` names the fix (`dualdb schema apply --yes` on every node for a column); the sync sends them by itself once the schemas match.',
                ),
              );
            if (causes.has('waiting'))
              out(
                color.dim('Waiting for their parent row (`dualdb rekeys`, or the parked parent): they follow it by themselves.'),
              );
          }
          return list.length ? EXIT.PARKED : EXIT.OK;
        } finally {
          await syncer.close();
        }
      }),
    );
  cmd
    .command('retry [ids...]')
    .description('make parked changes due now (all, or the given ids); the next sync retries them')
    .action(
      action(async (ids: string[]) => {
        const syncer = Syncer.open(configFrom(global()));
        try {
          const n = syncer.state.retryParked(ids.map(Number).filter(Number.isFinite));
          out(`${glyph.ok} ${n} parked change(s) will be retried by the next sync`);
          return EXIT.OK;
        } finally {
          await syncer.close();
        }
      }),
    );
}
