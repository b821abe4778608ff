import type { Command } from 'commander';
import { decodeImage, displayImage } from '../../sync/images.js';
import { resolveConflict } from '../../sync/resolve.js';
import { Syncer } from '../../sync/syncer.js';
import { ConfigError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, glyph, out, printJson, table } from '../output.js';

export function registerConflicts(program: Command, global: () => GlobalOptions): void {
  const cmd = program
    .command('conflicts')
    .description('list conflicts (the same row changed on both sides); the losing version is always kept')
    .option('--open', 'only conflicts waiting for a decision (manual policy)')
    .option('--limit <n>', 'at most this many, newest first', '50')
    .option('--json', 'machine-readable output, with both row images')
    .action(
      action(async (opts: { open?: boolean; limit: string; json?: boolean }) => {
        const config = configFrom(global());
        const syncer = Syncer.open(config);
        try {
          const list = syncer.state.conflicts({
            ...(opts.open ? { status: 'open' as const } : {}),
            limit: Number(opts.limit) || 50,
          });
          if (opts.json) {
            printJson(
              list.map((c) => ({
                ...c,
                nodeImage: displayImage(decodeImage(c.nodeImage)),
                hubImage: displayImage(decodeImage(c.hubImage)),
              })),
            );
            return list.some((c) => c.status === 'open') ? EXIT.CONFLICTS : EXIT.OK;
          }
          if (list.length === 0) {
            out(`${glyph.ok} no conflicts`);
            return EXIT.OK;
          }
          for (const l of table(
            list.map((c) => [
              `#${c.id}`,
              c.status === 'open' ? color.yellow('open') : 'resolved',
              c.tbl,
              c.pk,
              c.winner ?? '-',
              c.policy,
              c.detectedAt,
            ]),
            ['id', 'status', 'table', 'key', 'kept', 'policy', 'detected'],
          )) {
            out(l);
          }
          out(color.dim('\nShow both versions with --json; settle one with `dualdb conflicts resolve <id> --keep node|hub`.'));
          return list.some((c) => c.status === 'open') ? EXIT.CONFLICTS : EXIT.OK;
        } finally {
          await syncer.close();
        }
      }),
    );
  cmd
    .command('resolve <id>')
    .description('make one version the truth on both sides (restores the losing version if it was overwritten)')
    .requiredOption('--keep <side>', 'node or hub')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { keep: string; json?: boolean }) => {
        if (opts.keep !== 'node' && opts.keep !== 'hub')
          throw new ConfigError('--keep', `--keep ${opts.keep} is not valid: accepted node or hub`);
        if (!/^\d+$/.test(id))
          throw new ConfigError('<id>', `"${id}" is not a conflict id: an id is a number, like 7`, {
            hint: 'see the ids with `dualdb conflicts`',
          });
        const config = configFrom(global());
        const syncer = Syncer.open(config);
        try {
          const r = await resolveConflict(syncer, Number(id), opts.keep);
          if (opts.json) printJson({ ...r, row: displayImage(r.row) });
          else
            out(
              `${glyph.ok} conflict #${r.id} on ${r.table} ${r.pk}: kept the ${r.kept} version ${r.row ? '' : '(a deletion)'} on both sides`,
            );
          return EXIT.OK;
        } finally {
          await syncer.close();
        }
      }),
    );
}
