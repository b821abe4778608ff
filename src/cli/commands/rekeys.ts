import type { Command } from 'commander';
import { decodeImage, displayImage } from '../../sync/images.js';
import { resolveRekey } from '../../sync/rekey-resolve.js';
import type { RekeyRecord } from '../../sync/rekey-store.js';
import { Syncer } from '../../sync/syncer.js';
import { ConfigError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, glyph, out, printJson, table } from '../output.js';

/** What `dualdb rekeys` cannot do, said on every listing (docs/SYNC-CONTRACT.md invariant 13). */
export const UNDECLARED_REFERENCES_NOTE =
  'Rows referencing a moved row through a declared foreign key between synced tables followed it; references that are not declared as foreign keys cannot be followed: check ids your application holds or stores in other columns (the library emits `rekey` events).';

function statusText(r: RekeyRecord): string {
  if (r.status === 'held') return color.yellow('held');
  if (r.status === 'pending') return color.yellow('pending');
  return 'done';
}

export function registerRekeys(program: Command, global: () => GlobalOptions): void {
  const cmd = program
    .command('rekeys')
    .description('list key collisions: rows created on both sides under one generated id, one of which moved to a new id')
    .option('--held', 'only collisions waiting for a decision (SYNC_KEY_COLLISIONS=manual)')
    .option('--limit <n>', 'at most this many, newest first', '50')
    .option('--json', 'machine-readable output, with both row images')
    .action(
      action(async (opts: { held?: boolean; limit: string; json?: boolean }) => {
        const syncer = Syncer.open(configFrom(global()));
        try {
          const list = syncer.rekeys.list({
            ...(opts.held ? { status: 'held' as const } : {}),
            limit: Number(opts.limit) || 50,
          });
          const code = list.some((r) => r.status === 'held') ? EXIT.CONFLICTS : EXIT.OK;
          if (opts.json) {
            printJson(
              list.map((r) => ({
                ...r,
                hubSeq: r.hubSeq === null ? null : r.hubSeq.toString(),
                nodeImage: displayImage(decodeImage(r.nodeImage)),
                hubImage: displayImage(decodeImage(r.hubImage)),
              })),
            );
            return code;
          }
          if (list.length === 0) {
            out(`${glyph.ok} no key collisions`);
            return code;
          }
          for (const l of table(
            list.map((r) => [
              `#${r.id}`,
              statusText(r),
              r.tbl,
              r.oldKey,
              r.newKey ?? '-',
              r.moved ? `${r.moved}'s row` : '-',
              r.mode,
              r.at,
            ]),
            ['id', 'status', 'table', 'old key', 'new key', 'moved', 'mode', 'when'],
          )) {
            out(l);
          }
          out(color.dim(`\n${UNDECLARED_REFERENCES_NOTE}`));
          if (code !== EXIT.OK)
            out(color.dim('Settle a held one with `dualdb rekeys resolve <id> --rekey node|hub` (which row takes a new id).'));
          return code;
        } finally {
          await syncer.close();
        }
      }),
    );
  cmd
    .command('resolve <id>')
    .description("end a held key collision: the node's or the hub's row takes a new id, both are kept on every side")
    .requiredOption('--rekey <side>', 'node or hub: whose row moves to a new id')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { rekey: string; json?: boolean }) => {
        if (opts.rekey !== 'node' && opts.rekey !== 'hub')
          throw new ConfigError('--rekey', `--rekey ${opts.rekey} is not valid: accepted node or hub`);
        if (!/^[1-9]\d*$/.test(id))
          throw new ConfigError('<id>', `key collision id ${id} is not valid: a number from \`dualdb rekeys\``);
        const syncer = Syncer.open(configFrom(global()));
        try {
          const e = await resolveRekey(syncer, Number(id), opts.rekey);
          // `rekeys` has its own --json, which commander hands to the parent wherever it appears.
          if (opts.json || cmd.opts<{ json?: boolean }>().json) printJson({ id: Number(id), resolved: true, rekey: e });
          else if (e)
            out(
              `${glyph.ok} key collision #${id} on ${e.table}: the ${e.moved}'s row moved from ${e.oldKey} to ${e.newKey}; both kept`,
            );
          else out(`${glyph.ok} key collision #${id}: one of the two rows is gone, nothing clashes any more`);
          return EXIT.OK;
        } finally {
          await syncer.close();
        }
      }),
    );
}
