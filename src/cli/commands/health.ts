import type { Command } from 'commander';
import { checkHealth } from '../../monitor/health.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, formatBytes, formatMs, glyph, out, printJson } from '../output.js';

export function registerHealth(program: Command, global: () => GlobalOptions): void {
  program
    .command('health')
    .description('check each side: up/down, version, latency, SQLite integrity (exit 0 only when both are healthy)')
    .option('--json', 'machine-readable output')
    .option('--full', 'run the full SQLite integrity_check instead of quick_check')

    .action(
      action(async (opts: { json?: boolean; full?: boolean }) => {
        const config = configFrom(global());
        const report = await checkHealth(config, { full: opts.full ?? false });
        if (opts.json) {
          printJson(report);
          return report.exitCode;
        }
        const s = report.sqlite;
        out(
          `${s.ok ? glyph.ok : glyph.fail} ${color.bold('SQLite')} ${s.path}` +
            (s.ok
              ? color.dim(
                  `  ${s.version}  ${formatMs(s.latencyMs)}  ${formatBytes(s.bytes)}, WAL ${formatBytes(s.walBytes)}  integrity ${s.integrity}`,
                )
              : ''),
        );
        if (s.error) out(`  ${s.error.message}${s.error.hint ? color.dim(` — ${s.error.hint}`) : ''}`);
        const m = report.mysql;
        if (!m.enabled) out(`${glyph.info} ${color.bold('MySQL')}  disabled (DUAL_DATABASE=false)`);
        else {
          out(
            `${m.ok ? glyph.ok : glyph.fail} ${color.bold('MySQL')}  ${m.endpoint}` +
              (m.ok ? color.dim(`  ${m.version}  ${formatMs(m.latencyMs)}  ${formatBytes(m.bytes)}`) : '  down'),
          );
          if (m.error) out(`  ${m.error.message}${m.error.hint ? color.dim(` — ${m.error.hint}`) : ''}`);
          if (m.warning)
            out(`${glyph.warn} ${color.bold('MySQL')}  ${m.warning.message}${m.warning.hint ? ` — ${m.warning.hint}` : ''}`);
        }
        const p = report.parked;
        if (p && p.push + p.pull > 0) {
          out(`${glyph.warn} ${color.bold('Sync')}  ${p.push + p.pull} change(s) parked: \`dualdb parked\``);
          if (p.first) out(`  ${p.first.tbl} ${p.first.pk ?? ''}: ${p.first.error}`);
        }
        return report.exitCode;
      }),
    );
}
