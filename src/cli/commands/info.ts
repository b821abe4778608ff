import type { Command } from 'commander';
import { collectInfo } from '../../monitor/info.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, formatBytes, formatCount, glyph, out, printJson, table } from '../output.js';

export function registerInfo(program: Command, global: () => GlobalOptions): void {
  program
    .command('info')
    .description('show both databases: SQLite file, MySQL server, tables, row counts, sizes')
    .option('--json', 'machine-readable output')

    .action(
      action(async (opts: { json?: boolean }) => {
        const config = configFrom(global());
        const report = await collectInfo(config);
        const code =
          report.sqlite.ok && report.mysql.ok
            ? EXIT.OK
            : !report.sqlite.ok && !report.mysql.ok
              ? EXIT.BOTH_UNAVAILABLE
              : !report.sqlite.ok
                ? EXIT.SQLITE_UNAVAILABLE
                : EXIT.MYSQL_UNAVAILABLE;
        if (opts.json) {
          printJson(report);
          return code;
        }
        const s = report.sqlite;
        out(`${color.bold('SQLite')}  ${s.path}  ${color.dim(`${formatBytes(s.bytes)}, WAL ${formatBytes(s.walBytes)}`)}`);
        if (s.error) out(`  ${glyph.fail} ${s.error.message}${s.error.hint ? color.dim(` — ${s.error.hint}`) : ''}`);
        else
          for (const l of table(
            s.tables.map((t) => [t.name, formatCount(t.rows), formatBytes(t.bytes)]),
            ['table', 'rows', 'size'],
          ))
            out(`  ${l}`);
        out();
        const m = report.mysql;
        if (!m.enabled) {
          out(`${color.bold('MySQL')}   disabled (DUAL_DATABASE=false): SQLite only, changes are queued`);
          return code;
        }
        out(
          `${color.bold('MySQL')}   ${m.user}@${m.host}:${m.port}/${m.database}  ${color.dim(`${m.version ?? ''} ${m.ok ? formatBytes(m.bytes) : ''}`.trim())}`,
        );
        if (m.error) out(`  ${glyph.fail} ${m.error.message}${m.error.hint ? color.dim(` — ${m.error.hint}`) : ''}`);
        else
          for (const l of table(
            m.tables.map((t) => [t.name, formatCount(t.rows), formatBytes(t.bytes)]),
            ['table', 'rows', 'size'],
          ))
            out(`  ${l}`);
        return code;
      }),
    );
}
