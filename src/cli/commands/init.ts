import type { Command } from 'commander';
import { initNode } from '../../api/init-node.js';
import { uninstallNode } from '../../sync/init.js';
import { ConfigError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, glyph, out, printJson, table } from '../output.js';

interface InitFlags {
  uninstall?: boolean;
  hub?: boolean;
  force?: boolean;
  create?: boolean;
  json?: boolean;
  newNodeId?: boolean;
  takeOver?: boolean;
}

export function registerInit(program: Command, global: () => GlobalOptions): void {
  program
    .command('init')
    .description('install change capture (triggers and _dualdb_* tables) on both sides; safe to run again')
    .option('--uninstall', 'remove everything dualdb installed (and nothing else)')
    .option('--hub', 'with --uninstall: also remove the hub’s capture (every node relies on it; refused while one is active)')
    .option('--force', 'with --uninstall --hub: remove the hub’s capture even while other nodes were active recently')
    .option('--create', 'create the SQLite file if it does not exist')
    .option(
      '--new-node-id',
      'this file is a copy of another node’s (NODE_ID_IN_USE): give it a fresh node id; its rows not yet on the hub sync once, as the new node’s',
    )
    .option(
      '--take-over',
      'this file becomes the one that syncs as its node id (a restored machine, NODE_ID_IN_USE); the file that held it is refused from then on, and this file pulls what that one pushed',
    )
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: InitFlags) => {
        const config = configFrom(global());
        if (opts.newNodeId && opts.takeOver)
          throw new ConfigError('--take-over', '--new-node-id and --take-over exclude each other: choose one');
        if (opts.uninstall && (opts.newNodeId || opts.takeOver))
          throw new ConfigError(
            opts.takeOver ? '--take-over' : '--new-node-id',
            `${opts.takeOver ? '--take-over' : '--new-node-id'} installs and registers this node; --uninstall removes it: choose one`,
          );
        if (opts.uninstall) {
          const r = await uninstallNode(config, { hub: opts.hub ?? false, force: opts.force ?? false });
          if (opts.json) printJson(r);
          else {
            out(`${glyph.ok} SQLite: removed ${r.sqlite.length ? r.sqlite.join(', ') : 'nothing (not installed)'}`);
            const others = r.registered.map((n) => `${n.nodeId} (last seen ${n.lastSeen})`).join(', ');
            if (!config.dualDatabase) return EXIT.OK;
            if (opts.hub) {
              out(`${glyph.ok} MySQL: removed ${r.mysql.length ? r.mysql.join(', ') : 'nothing (not installed)'}`);
              if (others) out(`${glyph.warn} nodes still registered, which no longer sync: ${others}`);
            } else {
              out(
                `${glyph.info} hub capture kept (it belongs to the hub${others ? `; nodes registered: ${others}` : ''}); \`dualdb init --uninstall --hub\` removes it`,
              );
            }
          }
          return EXIT.OK;
        }
        const r = await initNode(config, {
          createSqlite: opts.create ?? false,
          newNodeId: opts.newNodeId,
          takeOver: opts.takeOver,
        });
        if (opts.json) {
          printJson(r);
          return EXIT.OK;
        }
        out(
          `${glyph.ok} node ${color.bold(r.nodeId)} — capture ${r.hub === 'disabled' ? 'installed in SQLite only (DUAL_DATABASE=false: changes queue until a hub is configured)' : 'installed on both sides'}`,
        );
        if (r.tables.length) {
          for (const l of table(
            r.tables.map((t) => [t.table, t.sqlite, t.mysql ?? '-', t.keyKind ?? '-']),
            ['table', 'sqlite', 'mysql', 'key'],
          ))
            out(`  ${l}`);
        }
        if (opts.newNodeId) out(`${glyph.ok} new node id ${color.bold(r.nodeId)}: rows not yet on the hub sync as this node's`);
        if (r.takeOver)
          out(
            `${glyph.ok} this file now holds node id ${color.bold(r.nodeId)}: hub push cursor ${r.takeOver.cursorBefore ?? '-'} → ${r.takeOver.cursorAfter}; ${r.takeOver.relabelled} change(s) of the previous holder will be pulled`,
          );
        if (r.missingOnHub.length)
          out(
            `${glyph.warn} the hub has no table ${r.missingOnHub.join(', ')}: its capture stays here (writes wait, parked) but it does not sync until the hub has it — run \`dualdb schema apply --yes\`, then \`dualdb init\``,
          );
        if (r.hubLogIndex === 'added') out(`${glyph.ok} added the moves index to the hub's change log (faster pulls)`);
        if (r.hubLogIndex === 'skipped')
          out(
            `${glyph.warn} the hub's change log has no moves index yet (the log was busy, or this hub user lacks ALTER): sync works, but every pull scans the log — run \`dualdb init\` again later, or as an admin: ALTER TABLE _dualdb_changes ADD INDEX _dualdb_changes_moves (op, seq)`,
          );
        for (const p of r.paused) out(`${glyph.warn} ${p.table}: paused — ${p.reason}`);
        for (const s of r.skipped) out(`${glyph.info} ${s.table}: not synced — ${s.reason}`);
        return EXIT.OK;
      }),
    );
}
