/**
 * The hub of the sync-engine tests: like `startTestHub()`, but the private
 * MariaDB keeps its temporary files in its own folder (`--tmpdir`), so that
 * nothing else cleaning the shared /tmp can pull a temporary table from under
 * a running query (seen as EE_DELETE "Error on delete of '/tmp/#sql-temptable…'").
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LocalMysqlServer } from '../../src/engines/mysql/local-server.js';
import { HUB_CRASHABLE, startPrivateServer, startTestHub, type TestHub } from './hub.js';

export { HUB_AVAILABLE, HUB_CRASHABLE, type TestHub } from './hub.js';

export async function startSyncTestHub(): Promise<TestHub> {
  if (!HUB_CRASHABLE) return startTestHub();
  const dir = path.join(os.tmpdir(), `dualdb-sync-${process.pid}-${randomBytes(4).toString('hex')}`);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  // mariadb-install-db (without a template) takes no --tmpdir here: it follows TMPDIR, set only while starting.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  let server: LocalMysqlServer;
  try {
    server = await startPrivateServer({ dir, extraArgs: [`--tmpdir=${tmp}`] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  return {
    server,
    admin: (database?: string) => server.rootConnection(database),
    freshDatabase: (prefix = 't') => server.createDatabase(`${prefix}_${randomBytes(4).toString('hex')}`),
    close: () => server.destroy(),
  };
}
