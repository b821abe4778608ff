import path from 'node:path';
import type { Command } from 'commander';
import type { Demo } from '../../demo/site.js';
import { ConfigError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import type { GlobalOptions } from '../context.js';
import { color, err, formatCount, glyph, out, table } from '../output.js';
import { exitSoonAfterApp, sessionLine } from './monitor.js';

interface DemoFlags {
  ui: boolean;
  seconds: string;
  dir: string;
}

export const DEMO_NEEDS_TTY = "the demo's monitor needs a terminal; use `dualdb demo --no-ui --seconds 30` for a run without it";

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new ConfigError(
      '--seconds',
      `--seconds=${JSON.stringify(v)} is not valid: accepted: a number of seconds from 1 to 86400`,
    );
  }
  return n;
}

export function registerDemo(program: Command, _global: () => GlobalOptions): void {
  program
    .command('demo')
    .description(
      'a whole EPI site on this machine: private MariaDB hub, SQLite node, simulated cameras and sensors, live monitor',
    )
    .option('--no-ui', 'run without the monitor for --seconds, then print what moved and compare both sides')
    .option('--seconds <n>', 'with --no-ui: how long the simulated site writes', '10')
    .option('--dir <path>', 'folder for the private server and the demo files (wiped at start)', path.join('.dualdb', 'demo'))
    .addHelpText(
      'after',
      '\nNeeds a MariaDB or MySQL server binary (e.g. `apt-get install mariadb-server`); it starts its own private\nserver in --dir and stops it, and everything else it started, when it ends (q, Ctrl+C or SIGTERM).',
    )
    .action(
      action(async (opts: DemoFlags) => {
        const seconds = parseSeconds(opts.seconds);
        if (opts.ui && (!process.stdin.isTTY || !process.stdout.isTTY)) {
          err(DEMO_NEEDS_TTY);
          return EXIT.FAILURE;
        }
        const { prepareDemo } = await import('../../demo/site.js');
        out(color.bold('dualdb demo') + color.dim(' — an EPI site with its central hub, on this machine'));
        // Signals before the monitor takes over: stop what was started, then leave.
        const abort = new AbortController();
        let demo: Demo | undefined;
        let signals = 0;
        const onSignal = () => {
          signals++;
          if (signals > 1) process.exit(EXIT.INTERRUPTED);
          abort.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const dropSignals = () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        };
        try {
          demo = await prepareDemo({
            dir: opts.dir,
            onStep: (s) =>
              out(`  ${glyph.ok} ${s.step}${s.detail ? color.dim(` — ${s.detail}`) : ''} ${color.dim(`(${s.ms} ms)`)}`),
          });
          if (abort.signal.aborted) {
            await demo.stop();
            return EXIT.INTERRUPTED;
          }
          if (!opts.ui) {
            const { runHeadlessDemo } = await import('../../demo/headless.js');
            const r = await runHeadlessDemo(demo, seconds, { onLine: (l) => out(color.dim(`  ${l}`)), signal: abort.signal });
            out();
            out(
              `${color.bold('moved')}  ↑ ${formatCount(r.pushed)} rows SQLite → MySQL  ↓ ${formatCount(r.pulled)} rows MySQL → SQLite  in ${r.cycles} cycles`,
            );
            out(
              color.dim(
                `       site writer process: ${formatCount(r.localWrites)} rows written locally; control room: ${r.centralWrites} changes on the hub`,
              ),
            );
            out();
            for (const l of table(
              r.tables.map((t) => [
                t.table,
                formatCount(t.sqliteRows),
                formatCount(t.mysqlRows),
                t.equal === null
                  ? `? ${t.error ?? ''}`
                  : t.equal
                    ? `${glyph.ok} identical`
                    : `${glyph.fail} ${t.differences ?? ''} differ${t.detail ? `: ${t.detail}` : ''}`,
              ]),
              ['table', 'sqlite', 'mysql', 'rows (checksums)'],
            )) {
              out(`  ${l}`);
            }
            out();
            out(
              r.converged
                ? `${glyph.ok} both sides hold the same rows in every table, compared row by row (${r.conflicts} conflicts, ${r.parked} parked)`
                : `${glyph.fail} the sides differ after the final sync (${r.conflicts} conflicts, ${r.parked} parked)`,
            );
            return abort.signal.aborted ? EXIT.INTERRUPTED : r.converged ? EXIT.OK : EXIT.DIFFERENCES;
          }
          dropSignals();
          demo.startWriters();
          out(`  ${glyph.ok} simulated cameras and sensors write locally; the control room writes on the hub`);
          out(color.dim('  opening the monitor (q quits and stops everything)…'));
          const { launchApp } = await import('../../ui/app/launch.js');
          const running = demo;
          const result = await launchApp({
            screen: 'monitor',
            config: demo.config,
            title: 'dualdb demo',
            onStopped: () => running.stop(),
          });
          out(color.dim(sessionLine(result.session)));
          out(color.dim(`demo stopped (server and writers); its files stay in ${opts.dir} until the next run`));
          exitSoonAfterApp(result.exitCode);
          return result.exitCode;
        } finally {
          dropSignals();
          await demo?.stop();
        }
      }),
    );
}
