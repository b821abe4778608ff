import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { SqliteError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { color, err, out } from '../output.js';

export const MONITOR_NEEDS_TTY = 'the monitor needs a terminal; use `dualdb status` or `dualdb sync --watch`';

/** One line after the full-screen app closed (printed on the normal screen). */
export function sessionLine(session: { pushed: number; pulled: number; cycles: number } | null): string {
  if (!session) return '';
  return `dualdb monitor: stopped; this session ↑ ${session.pushed} ↓ ${session.pulled} rows in ${session.cycles} cycle${session.cycles === 1 ? '' : 's'}`;
}

/**
 * After the full-screen app closed and its work stopped, the process must end
 * even if a library left a handle open: a quit key that does not quit is worse
 * than a cut connection. The timer is unref'd, so it never delays a clean exit.
 */
/** With DUALDB_DEBUG: how often the app drew its frame (the idle cost of a monitor is its redraws). */
export function renderStatsLine(r: { frames: number; renderMs: number; seconds: number }): string {
  return `dualdb: ${r.frames} frames in ${r.seconds.toFixed(0)} s (${(r.frames / Math.max(1, r.seconds)).toFixed(2)}/s, ${(r.renderMs / Math.max(1, r.frames)).toFixed(1)} ms each)`;
}

export function exitSoonAfterApp(code: number, graceMs = 3000): void {
  setTimeout(() => {
    if (process.env.DUALDB_DEBUG) {
      process.stderr.write(`dualdb: still open after the app closed: ${process.getActiveResourcesInfo().join(', ')}\n`);
    }
    process.exit(code);
  }, graceMs).unref();
}

export function registerMonitor(program: Command, global: () => GlobalOptions): void {
  program
    .command('monitor')
    .description('live full-screen monitor: both sides’ health, counts, queue, lag, log; s sync, p pause, c compare, q quit')
    .addHelpText(
      'after',
      '\nRuns the sync itself, or attaches to a running `dualdb sync --daemon`/`--watch` for the same SQLite file.\nNeeds a terminal; without one use `dualdb status` or `dualdb sync --watch`.',
    )
    .action(
      action(async () => {
        if (!process.stdin.isTTY || !process.stdout.isTTY) {
          err(MONITOR_NEEDS_TTY);
          return EXIT.FAILURE;
        }
        const config = configFrom(global());
        if (!existsSync(config.sqlitePath)) {
          throw new SqliteError('missing', `SQLite file ${config.sqlitePath} does not exist`, {
            hint: 'check SQLITE_DB_PATH, or run `dualdb` (or `dualdb setup`) to create it',
          });
        }
        const { launchApp } = await import('../../ui/app/launch.js');
        const result = await launchApp({ screen: 'monitor', config });
        out(color.dim(sessionLine(result.session)));
        if (process.env.DUALDB_DEBUG) err(renderStatsLine(result.render));
        exitSoonAfterApp(result.exitCode);
        return result.exitCode;
      }),
    );
}

/**
 * `dualdb` with no command: in a terminal, the full-screen app (the wizard when
 * nothing is configured here, otherwise the monitor); without one, the help on
 * stdout and exit 0 at once — nothing waits for input that cannot come.
 */
export function registerAppEntry(program: Command, global: () => GlobalOptions): void {
  program.allowExcessArguments(true).action(
    action(async () => {
      const command = program.args[0];
      if (command !== undefined) {
        program.error(`error: unknown command '${command}'`, { code: 'commander.unknownCommand', exitCode: EXIT.CONFIG });
      }
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        program.outputHelp();
        // On stderr, so that scripts reading the help on stdout get it unchanged.
        process.stderr.write(
          '\nno terminal here: plain `dualdb` opens the setup wizard or the monitor only in one; from scripts use `dualdb setup --quick`, `dualdb sync --daemon` or `dualdb status`\n',
        );
        return EXIT.OK;
      }
      const { decideStartScreen } = await import('../../ui/app/entry.js');
      const start = decideStartScreen({ envFile: global().envFile });
      const { launchApp } = await import('../../ui/app/launch.js');
      // The wizard writes the .env this run would have read (--env-file, DUALDB_ENV_FILE or ./.env),
      // which decideStartScreen puts in `initial.envFile`, existing or not.
      const result = await launchApp(
        start.screen === 'monitor'
          ? { screen: 'monitor', config: start.config }
          : { screen: 'wizard', wizardInitial: start.initial },
      );
      const line = sessionLine(result.session);
      if (line) out(color.dim(line));
      exitSoonAfterApp(result.exitCode);
      return result.exitCode;
    }),
  );
}
