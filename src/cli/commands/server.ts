/**
 * `dualdb server start|stop|status`: the private MariaDB/MySQL server the setup
 * can create in `.dualdb/mysql/` beside the .env (for machines with no MySQL of
 * their own). Its credentials are the DB_* of that .env.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { localServerDir, localServerStatus, startLocalServer, stopLocalServer } from '../../setup/local-server.js';
import { DualdbError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { action } from '../action.js';
import type { GlobalOptions } from '../context.js';
import { color, glyph, out, printJson } from '../output.js';

function envFileOf(global: GlobalOptions): string {
  return path.resolve(global.envFile ?? process.env.DUALDB_ENV_FILE ?? '.env');
}

function noServer(dir: string): DualdbError {
  return new DualdbError('NO_LOCAL_SERVER', `there is no private server in ${dir}`, {
    hint: 'create one with `dualdb setup` ("start a private local server") or `dualdb setup --quick --local-server`',
    exitCode: EXIT.CONFIG,
  });
}

export function registerServer(program: Command, global: () => GlobalOptions): void {
  const server = program
    .command('server')
    .description('the private MariaDB/MySQL server created by setup in .dualdb/mysql/ (start after a reboot, stop, status)');

  server
    .command('start')
    .description('start the private server (it keeps running in the background)')
    .action(
      action(async () => {
        const envFile = envFileOf(global());
        const dir = localServerDir(envFile);
        const status = localServerStatus(dir);
        if (!status.exists) throw noServer(dir);
        if (status.running) {
          out(`${glyph.ok} the private server is running already (pid ${status.pid}, port ${status.marker?.port ?? '?'})`);
          return EXIT.OK;
        }
        const config = loadConfig({ envFile, env: {} });
        const r = await startLocalServer({
          envFile,
          database: config.mysql.database,
          user: config.mysql.user,
          password: config.mysql.password,
          // Only start it: a password from somewhere else than the .env (the environment) stays valid.
          keepPassword: true,
        });
        out(`${glyph.ok} private server started on 127.0.0.1:${r.mysql.port} ${color.dim(`(data in ${r.dir})`)}`);
        return EXIT.OK;
      }),
    );

  server
    .command('stop')
    .description('stop the private server cleanly')
    .action(
      action(async () => {
        const envFile = envFileOf(global());
        const dir = localServerDir(envFile);
        if (!localServerStatus(dir).exists) throw noServer(dir);
        const stopped = await stopLocalServer(envFile);
        out(stopped ? `${glyph.ok} private server stopped` : `${glyph.info} the private server was not running`);
        return EXIT.OK;
      }),
    );

  server
    .command('status')
    .description('is the private server running? (exit 0 running, 3 stopped, 2 none here)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }) => {
        const dir = localServerDir(envFileOf(global()));
        const s = localServerStatus(dir);
        const code = !s.exists ? EXIT.CONFIG : s.running ? EXIT.OK : EXIT.MYSQL_UNAVAILABLE;
        if (opts.json) {
          printJson({ dir: s.dir, exists: s.exists, running: s.running, pid: s.pid ?? null, port: s.marker?.port ?? null });
          return code;
        }
        if (!s.exists) out(`${glyph.info} no private server in ${dir}`);
        else if (s.running)
          out(`${glyph.ok} running: pid ${s.pid}, 127.0.0.1:${s.marker?.port ?? '?'} ${color.dim(`(data in ${dir})`)}`);
        else out(`${glyph.fail} stopped ${color.dim(`(data in ${dir}); start it with \`dualdb server start\``)}`);
        return code;
      }),
    );
}
