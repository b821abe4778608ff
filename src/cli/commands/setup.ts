/**
 * `dualdb setup`: the full-screen wizard in a terminal; `--plain` for line-by-line
 * prompts; `--quick` for scripts (flags and environment, no questions). Without
 * a terminal, the wizard and the prompts refuse at once instead of waiting.
 */
import path from 'node:path';
import { type Command, Option } from 'commander';
import { stillThere } from '../../setup/session.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import type { GlobalOptions } from '../context.js';
import { color, err, out } from '../output.js';
import { runQuickSetup, type SetupFlags } from './setup-quick.js';

export const SETUP_NEEDS_TTY = 'setup needs a terminal; use `dualdb setup --quick` with flags (see --help)';

const HELP_AFTER = `
Without options, a full-screen wizard (one screen per step, Esc back, Enter next).
--plain asks the same questions line by line; --quick asks nothing (for scripts).

Secrets never go in arguments. With --quick:
  DB_PASSWORD             the hub user's password (not needed with --admin-user or --local-server)
  DUALDB_ADMIN_PASSWORD   the admin password for --admin-user (used once, never stored)
Other settings may also come from the environment (DB_HOST, DB_PORT, SYNC_MODE…); flags win.

Examples:
  dualdb setup --quick --host db.example --user epi_sync --database epi_detection_db --schema epi --migrate
  DUALDB_ADMIN_PASSWORD=… dualdb setup --quick --host db.example --admin-user root --user epi_sync --create-database
  dualdb setup --quick --local-server --schema epi
  dualdb setup --quick --sqlite-only --sqlite instance/epi_detection.db`;

export function registerSetup(program: Command, global: () => GlobalOptions): void {
  program
    .command('setup')
    .description('set up this node: SQLite file, MySQL hub (test, create), schema, initial copy, sync mode, .env')
    .option('--plain', 'line-by-line prompts instead of the full-screen wizard')
    .option('--quick', 'no questions: everything from flags and the environment (for scripts)')
    .option('--sqlite <path>', 'SQLite file of this node (default SQLITE_DB_PATH or instance/epi_detection.db)')
    .option('--host <host>', 'hub host (DB_HOST)')
    .option('--port <port>', 'hub port (DB_PORT)')
    .option('--user <name>', 'hub user (DB_USER); with --admin-user, the dedicated user to create')
    .option('--database <name>', 'hub database (DB_NAME)')
    .option('--tls', 'connect to the hub with TLS (DB_SSL=true)')
    .option('--mode <mode>', 'sqlite_primary | mysql_primary | both (SYNC_MODE)')
    .option('--interval <seconds>', 'pull interval (SYNC_INTERVAL)')
    .option('--conflict-policy <policy>', 'hub-wins | node-wins | newest-wins | manual (CONFLICT_POLICY)')
    .option(
      '--key-collisions <mode>',
      'rekey-node | rekey-hub | manual: which row moves when both sides create one under the same new id (SYNC_KEY_COLLISIONS)',
    )
    .option('--node-id <id>', 'stable id of this node (NODE_ID; default: generated)')
    .option('--create-database', 'create the hub database when it does not exist (with the hub user’s own rights)')
    .option(
      '--admin-user <name>',
      'create the database and the dedicated --user with this admin account (password: DUALDB_ADMIN_PASSWORD)',
    )
    .option('--user-host <pattern>', "with --admin-user: where the dedicated user may connect from (default '%')")
    .option('--no-process-grant', 'with --admin-user: do not grant PROCESS (exact late-commit detection)')
    .option('--existing-user <policy>', 'with --admin-user, when --user exists: keep (only grant) | reset (new password)')
    .option('--local-server', 'start a private MariaDB/MySQL server in .dualdb/mysql/ beside the .env and use it as the hub')
    .option('--sqlite-only', 'no hub for now (DUAL_DATABASE=false): changes are captured and queued')
    .option('--schema <choice>', 'auto (translate what exists) | epi (the EPI schema from sql/) | none', 'auto')
    .option('--migrate', 'copy the existing data (resumes an interrupted copy)')
    .addOption(new Option('--password <secret>').hideHelp())
    .addOption(new Option('--admin-password <secret>').hideHelp())
    .addHelpText('after', HELP_AFTER)
    .action(
      action(async (flags: SetupFlags) => {
        const envFile = global().envFile;
        if (flags.quick) return runQuickSetup(flags, envFile);
        if (flags.password !== undefined || flags.adminPassword !== undefined) {
          err('dualdb setup: passwords are never taken as arguments; the setup asks for them (or use --quick with DB_PASSWORD)');
          return EXIT.CONFIG;
        }
        if (!process.stdin.isTTY || !process.stdout.isTTY) {
          err(SETUP_NEEDS_TTY);
          return EXIT.CONFIG;
        }
        const sqlitePath = flags.sqlite !== undefined ? path.resolve(flags.sqlite) : undefined;
        const resolvedEnv = path.resolve(envFile ?? process.env.DUALDB_ENV_FILE ?? '.env');
        if (flags.plain) {
          const { runPlainSetup } = await import('../prompts/setup-plain.js');
          return runPlainSetup({ envFile: resolvedEnv, sqlitePath });
        }
        const { runWizardApp } = await import('../../ui/wizard/run.js');
        const r = await runWizardApp({ envFile: resolvedEnv, ...(sqlitePath ? { sqlitePath } : {}) });
        if (!r.finished) {
          out(color.dim(`dualdb setup: left before the end; ${resolvedEnv} was not written (run \`dualdb setup\` again)`));
          if (r.leftBehind.length > 0) out(color.dim(`  ${stillThere(r.leftBehind)}`));
          return r.signal ? r.exitCode : EXIT.INTERRUPTED;
        }
        const m = r.session;
        out(color.dim(`dualdb setup: done (${resolvedEnv})${m ? `; monitor session ↑ ${m.pushed} ↓ ${m.pulled} rows` : ''}`));
        return r.exitCode;
      }),
    );
}
