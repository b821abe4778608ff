/**
 * The command program: a thin shell that parses flags, calls domain functions
 * and renders their results. One file per command under ./commands.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT } from '../util/exit-codes.js';
import { takeExitCode } from './action.js';
import { registerCompare } from './commands/compare.js';
import { registerConflicts } from './commands/conflicts.js';
import { registerDemo } from './commands/demo.js';
import { registerHealth } from './commands/health.js';
import { registerInfo } from './commands/info.js';
import { registerInit } from './commands/init.js';
import { registerMigrate } from './commands/migrate.js';
import { registerAppEntry, registerMonitor } from './commands/monitor.js';
import { registerParked } from './commands/parked.js';
import { registerRekeys } from './commands/rekeys.js';
import { registerRepair } from './commands/repair.js';
import { registerSchema, rewriteLegacyArgs } from './commands/schema.js';
import { registerServer } from './commands/server.js';
import { registerSetup } from './commands/setup.js';
import { registerStatus } from './commands/status.js';
import { registerSync } from './commands/sync.js';
import type { GlobalOptions } from './context.js';
import { reportError } from './errors.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('dualdb')
    .description('Local SQLite and central MySQL side by side: two-way sync, failover, migration, compare')
    .version(version(), '-V, --version')
    .option('--env-file <path>', 'read settings from this .env file (default ./.env)')
    .option('--settings-file <path>', 'the same as --env-file, under a name Node never claims for itself')
    .addHelpText(
      'after',
      '\nWithout a command, in a terminal: the setup wizard when there is no usable configuration, otherwise the monitor.\nExit codes and configuration: see the README.',
    )
    .showHelpAfterError('(run `dualdb --help` for usage)')
    .exitOverride();
  program.hook('preAction', () => {
    const o = program.opts<GlobalOptions & { settingsFile?: string }>();
    if (o.settingsFile === undefined) return;
    if (o.envFile !== undefined && o.envFile !== o.settingsFile)
      program.error(`error: --env-file ${o.envFile} and --settings-file ${o.settingsFile} name two files: give one`, {
        code: 'dualdb.conflictingOptions',
        exitCode: EXIT.CONFIG,
      });
    program.setOptionValue('envFile', o.settingsFile);
  });
  const global = (): GlobalOptions => program.opts<GlobalOptions>();
  registerInfo(program, global);
  registerHealth(program, global);
  registerInit(program, global);
  registerSync(program, global);
  registerStatus(program, global);
  registerConflicts(program, global);
  registerParked(program, global);
  registerRekeys(program, global);
  registerCompare(program, global);
  registerRepair(program, global);
  registerSchema(program, global);
  registerMigrate(program, global);
  registerSetup(program, global);
  registerServer(program, global);
  registerMonitor(program, global);
  registerDemo(program, global);
  registerAppEntry(program, global);
  unknownOptionsBeforeMissingOnes(program);
  return program;
}

/**
 * Commander checks required options before unknown ones, so `repair --frm` said only
 * "required option '--from' not specified". Checking the required ones just before the
 * action lets the unknown option be reported first, with the option it resembles.
 */
function unknownOptionsBeforeMissingOnes(cmd: Command): void {
  for (const sub of cmd.commands) unknownOptionsBeforeMissingOnes(sub);
  const required = cmd.options.filter((o) => o.mandatory);
  if (required.length === 0) return;
  for (const o of required) o.mandatory = false;
  cmd.hook('preAction', (_this, actionCommand) => {
    if (actionCommand !== cmd) return;
    for (const o of required) {
      if (cmd.getOptionValue(o.attributeName()) === undefined)
        cmd.error(`error: required option '${o.flags}' not specified`, {
          code: 'commander.missingMandatoryOptionValue',
          exitCode: EXIT.CONFIG,
        });
    }
  });
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(rewriteLegacyArgs(argv));
    return takeExitCode() ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.CONFIG;
    }
    return reportError(e);
  }
}
