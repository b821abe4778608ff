import type { Command } from 'commander';
import { initNode, uninstallNode } from '../../sync/init.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, glyph, out, printJson, table } from '../output.js';

export function registerInit(program: Command, global: () => GlobalOptions): void {
  program
    .command('init')
    .description('install change capture (triggers and _dualdb_* tables) on both sides; safe to run again')
    .option('--uninstall', 'remove everything dualdb installed (and nothing else)')
    .option('--hub', 'with --uninstall: also remove the hub’s capture (every node relies on it; refused while one is active)')
    .option('--force', 'with --uninstall --hub: remove the hub’s capture even while other nodes were active recently')
    .option('--create', 'create the SQLite file if it does not exist')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { uninstall?: boolean; hub?: boolean; force?: boolean; create?: boolean; json?: boolean }) => {
        const config = configFrom(global());
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
        const r = await initNode(config, { createSqlite: opts.create ?? false });
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
        for (const p of r.paused) out(`${glyph.warn} ${p.table}: paused — ${p.reason}`);
        for (const s of r.skipped) out(`${glyph.info} ${s.table}: not synced — ${s.reason}`);
        return EXIT.OK;
      }),
    );
}
