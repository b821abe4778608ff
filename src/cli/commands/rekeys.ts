import type { Command } from 'commander';
import type { Config } from '../../config/config.js';
import { NotRunningError, sendControl } from '../../sync/control.js';
import { decodeImage, displayImage } from '../../sync/images.js';
import {
  isResolveOutcome,
  type ResolveOutcome,
  type ResolveRequest,
  runResolveRequest,
} from '../../sync/rekey-resolve-request.js';
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
  // A rekey-hub move whose hub COMMIT was lost or is not known yet: the next sync says which.
  if (r.status === 'unconfirmed') return color.yellow('unconfirmed');
  // A held one whose node or hub row went (rekey-held-gone.ts): which.
  if (r.status === 'closed')
    return `closed (${r.reason === 'hub-row-gone' ? "hub's row gone" : r.reason === 'node-row-gone' ? "node's row gone" : 'both rows gone'})`;
  return 'done';
}

/** The listing's cap, said whenever it hides records (an operator must never take 50 for all). */
function capLine(shown: number, counts: { total: number; held: number; pending: number }): string | undefined {
  if (shown >= counts.total) return undefined;
  return `showing ${shown} of ${counts.total} (held first, then pending, newest first); --limit N or --all for more`;
}

/** Held need a decision; pending ones follow their parent's (or the next sync settles them). */
function openLine(counts: { held: number; pending: number }): string | undefined {
  if (counts.held === 0 && counts.pending === 0) return undefined;
  return `${counts.held} held for a decision (\`dualdb rekeys resolve <id> --rekey node|hub\`, or \`--all\`), ${counts.pending} pending (children that follow their parent's decision, settled by the next sync)`;
}

export function registerRekeys(program: Command, global: () => GlobalOptions): void {
  const cmd = program
    .command('rekeys')
    .description('list key collisions: rows created on both sides under one generated id, one of which moved to a new id')
    .option('--held', 'only collisions waiting for a decision (SYNC_KEY_COLLISIONS=manual)')
    .option('--limit <n>', 'at most this many: held first, then pending, newest first', '50')
    .option('--all', 'every record, no limit (with `resolve`: resolve every held collision)')
    .option('--json', 'machine-readable output, with both row images')
    .action(
      action(async (opts: { held?: boolean; limit: string; all?: boolean; json?: boolean }) => {
        const syncer = Syncer.open(configFrom(global()));
        try {
          const counts = syncer.rekeys.statusCounts();
          const list = syncer.rekeys.list({
            ...(opts.held ? { status: 'held' as const } : {}),
            limit: opts.all ? Number.MAX_SAFE_INTEGER : Number(opts.limit) || 50,
            heldFirst: true,
          });
          // README: exits 11 while any collision waits for a decision, shown or not.
          const code = counts.held > 0 ? EXIT.CONFLICTS : EXIT.OK;
          const matching = opts.held ? { ...counts, total: counts.held } : counts;
          if (opts.json) {
            // The same list as ever (scripts read it); a capped one says so on stderr, and the
            // counts are in `dualdb status --json` or in the whole list (--all).
            printJson(
              list.map((r) => ({
                ...r,
                hubSeq: r.hubSeq === null ? null : r.hubSeq.toString(),
                nodeImage: displayImage(decodeImage(r.nodeImage)),
                hubImage: displayImage(decodeImage(r.hubImage)),
              })),
            );
            if (list.length < matching.total)
              process.stderr.write(
                `showing ${list.length} of ${matching.total} (${counts.held} held, ${counts.pending} pending); --limit N or --all for more\n`,
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
          const cap = capLine(list.length, matching);
          if (cap) out(color.yellow(`\n${cap}`));
          const open = openLine(counts);
          if (open) out(`${cap ? '' : '\n'}${open}`);
          out(color.dim(`\n${UNDECLARED_REFERENCES_NOTE}`));
          return code;
        } finally {
          await syncer.close();
        }
      }),
    );
  cmd
    .command('resolve [id]')
    .description(
      "end a held key collision (or every one with --all, parents before children): the node's or the hub's row takes a new id, both are kept on every side",
    )
    .requiredOption('--rekey <side>', 'node or hub: whose row moves to a new id')
    .option('--all', 'every held collision (syncing between rounds, so that children held after their parents follow)')
    .option('--table <name>', 'with --all: only this table')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string | undefined, opts: { rekey: string; all?: boolean; table?: string; json?: boolean }) => {
        if (opts.rekey !== 'node' && opts.rekey !== 'hub')
          throw new ConfigError('--rekey', `--rekey ${opts.rekey} is not valid: accepted node or hub`);
        // `rekeys` has its own --json and --all, which commander hands to the parent wherever they appear.
        const parent = cmd.opts<{ json?: boolean; all?: boolean }>();
        const json = opts.json || parent.json;
        if (opts.all || parent.all) {
          if (id !== undefined) throw new ConfigError('<id>', 'give either a key collision id or --all, not both');
          return resolveAll(opts.rekey, opts.table, json);
        }
        if (opts.table) throw new ConfigError('--table', '--table goes with --all');
        if (id === undefined || !/^[1-9]\d*$/.test(id))
          throw new ConfigError(
            '<id>',
            `key collision id ${id ?? '(none)'} is not valid: a number from \`dualdb rekeys\`, or --all`,
          );
        const o = await resolveThroughNode(configFrom(global()), { id: Number(id), side: opts.rekey });
        if (o.kind !== 'one') throw new Error('the syncer answered a resolve of one collision with another outcome');
        const e = o.event;
        if (json) printJson({ id: Number(id), resolved: true, rekey: e, ...(o.closed ? { closed: o.closed } : {}) });
        else if (e)
          out(
            `${glyph.ok} key collision #${id} on ${e.table}: the ${e.moved}'s row moved from ${e.oldKey} to ${e.newKey}; both kept`,
          );
        else out(`${glyph.ok} ${o.closed ?? `key collision #${id}: nothing clashes any more`}`);
        return EXIT.OK;
      }),
    );

  async function resolveAll(side: 'node' | 'hub', tbl: string | undefined, json: boolean | undefined): Promise<number> {
    const o = await resolveThroughNode(configFrom(global()), { all: true, side, ...(tbl ? { table: tbl } : {}) });
    if (o.kind !== 'all') throw new Error('the syncer answered a resolve of every collision with another outcome');
    const r = o.report;
    // Pending ones left (children of a parent held in another table) still wait for a decision.
    const code = r.held + r.pending > 0 || r.failed.length > 0 ? EXIT.CONFLICTS : EXIT.OK;
    if (json) {
      printJson({ ...r, events: r.events.length, failed: r.failed });
      return code;
    }
    const where = tbl ? ` on ${tbl}` : '';
    const left = r.held + r.pending;
    const mark = left === 0 && r.failed.length === 0 ? glyph.ok : glyph.warn;
    out(
      `${mark} ${r.moved + r.gone} key collision(s)${where} resolved: ${r.moved} ${side}'s row(s) moved to a new id, ${r.gone} with one row gone; ${r.held} still held, ${r.pending} pending${r.failed.length ? `, ${r.failed.length} failed` : ''}`,
    );
    for (const f of r.failed.slice(0, 5)) out(color.dim(`  #${f.id}: ${f.message}`));
    return code;
  }
}

/** A resolve runs for longer than any other control request: `--all` syncs between its rounds. */
const RESOLVE_TIMEOUT_MS = 60 * 60_000;

/**
 * Through the node's running syncer when one holds the file (it resolves between its own cycles,
 * never racing its push and pull), else in this process as before; the outcome and any failure
 * (code, message, exit code) are the same either way. An answer that is not an outcome comes from
 * a `sync --once` holding the file, which serves nothing but its ping: then here, as before.
 */
async function resolveThroughNode(config: Config, req: ResolveRequest): Promise<ResolveOutcome> {
  try {
    const answer = await sendControl(config.sqlitePath, 'rekeys-resolve', RESOLVE_TIMEOUT_MS, { args: req, relayErrors: true });
    if (isResolveOutcome(answer)) return answer;
  } catch (e) {
    if (!(e instanceof NotRunningError)) throw e;
  }
  const syncer = Syncer.open(config);
  try {
    return await runResolveRequest(syncer, req);
  } finally {
    await syncer.close();
  }
}
