/**
 * The command program: a thin shell that parses flags, calls domain functions
 * and renders their results. One file per command under ./commands.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT } from '../util/exit-codes.js';
import { takeExitCode } from './action.js';
import { registerAppEntry } from './commands/monitor.js';
import type { GlobalOptions } from './context.js';
import { reportError } from './errors.js';
import { rewriteLegacyArgs } from './legacy-args.js';

type Register = (program: Command, global: () => GlobalOptions) => void;

/**
 * Every command, in help order, with the module that defines it. Only the command being run is
 * loaded (all of them for help or an unknown command): `sync --watch`, resident for days, never
 * loads the terminal app, the prompts, migration or compare.
 */
const COMMANDS: [name: string, load: () => Promise<Register>][] = [
  ['info', async () => (await import('./commands/info.js')).registerInfo],
  ['health', async () => (await import('./commands/health.js')).registerHealth],
  ['init', async () => (await import('./commands/init.js')).registerInit],
  ['sync', async () => (await import('./commands/sync.js')).registerSync],
  ['status', async () => (await import('./commands/status.js')).registerStatus],
  ['conflicts', async () => (await import('./commands/conflicts.js')).registerConflicts],
  ['parked', async () => (await import('./commands/parked.js')).registerParked],
  ['rekeys', async () => (await import('./commands/rekeys.js')).registerRekeys],
  ['compare', async () => (await import('./commands/compare.js')).registerCompare],
  ['repair', async () => (await import('./commands/repair.js')).registerRepair],
  ['schema', async () => (await import('./commands/schema.js')).registerSchema],
  ['migrate', async () => (await import('./commands/migrate.js')).registerMigrate],
  ['setup', async () => (await import('./commands/setup.js')).registerSetup],
  ['server', async () => (await import('./commands/server.js')).registerServer],
  ['monitor', async () => (await import('./commands/monitor.js')).registerMonitor],
  ['demo', async () => (await import('./commands/demo.js')).registerDemo],
];

/** The global options that take a value (skipped when looking for the command name). */
const VALUE_OPTIONS = new Set(['--env-file', '--settings-file']);

/** The command `argv` (process.argv) runs, when it names one; undefined for help, none or an unknown one. */
export function commandOf(argv: string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return undefined;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return COMMANDS.some(([n]) => n === a) ? a : undefined;
  }
  return undefined;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The program for `argv` (process.argv): with only the command it runs, or every command. */
export async function buildProgram(argv: string[] = []): Promise<Command> {
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
  const only = commandOf(argv);
  for (const [name, load] of COMMANDS) if (only === undefined || name === only) (await load())(program, global);
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
  try {
    const args = rewriteLegacyArgs(argv);
    const program = await buildProgram(args);
    await program.parseAsync(args);
    return takeExitCode() ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.CONFIG;
    }
    return reportError(e);
  }
}
