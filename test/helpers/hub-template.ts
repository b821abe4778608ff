/**
 * One initialised MariaDB data folder per test run, copied by every file's private hub instead
 * of running `mariadb-install-db` again (a few seconds a file, over a hundred files).
 *
 * test/global-setup.ts builds it once (a server started with the test user and database, then
 * cleanly stopped) and names its folder in HUB_TEMPLATE_ENV; `templateDataDir()` waits until
 * it is ready. Each file's server gets a copy, its own port and socket, and a new random
 * password for the test user: the same server as a fresh one. Without the variable (a soak
 * script, another config) or when the build failed, hubs start from scratch as before.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalMysqlServer } from '../../src/engines/mysql/local-server.js';

export const HUB_TEMPLATE_ENV = 'DUALDB_TEST_HUB_TEMPLATE';
/** The test user and database of every private hub (hub.ts, sync-hub.ts). */
export const TEST_USER = 'dualdb_test';
export const TEST_DATABASE = 'dualdb_test';

const READY = 'ready';
const FAILED = 'failed';

/** Builds the template in `dir` (global setup); writes `ready`, or `failed` with the reason. */
export async function buildHubTemplate(dir: string): Promise<void> {
  let server: LocalMysqlServer | undefined;
  try {
    server = await LocalMysqlServer.start({
      dir: path.join(dir, 'server'),
      durable: false,
      user: TEST_USER,
      database: TEST_DATABASE,
      password: 'replaced-in-every-copy',
    });
    await server.stop(); // a clean shutdown: the folder is consistent to copy
    writeFileSync(path.join(dir, READY), '');
  } catch (e) {
    await server?.kill().catch(() => {});
    writeFileSync(path.join(dir, FAILED), String((e as Error)?.stack ?? e));
  }
}

/** The template's data folder once built; undefined when there is none (hubs start from scratch). */
export async function templateDataDir(timeoutMs = 180_000): Promise<string | undefined> {
  const dir = process.env[HUB_TEMPLATE_ENV];
  if (!dir) return undefined;
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    if (existsSync(path.join(dir, READY))) return path.join(dir, 'server', 'data');
    if (existsSync(path.join(dir, FAILED))) {
      process.stderr.write(
        `\n*** the hub template failed (${readFileSync(path.join(dir, FAILED), 'utf8').split('\n')[0]}): this hub starts from scratch ***\n`,
      );
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stderr.write('\n*** the hub template was not ready in time: this hub starts from scratch ***\n');
  return undefined;
}
