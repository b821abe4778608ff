/**
 * A separate process that runs `rekeys resolve <REKEY_ID> --rekey hub` for the node configured in
 * its environment and SIGKILLs itself at a hook (KILL_AT: `before-commit`, just before the hub's
 * COMMIT, or `after-commit`, between the hub's COMMIT and the node's half).
 */
import { loadConfig } from '../../src/config/load.js';
import { resolveRekey } from '../../src/sync/rekey-resolve.js';
import { resolveHooks } from '../../src/sync/rekey-resolve-outcome.js';
import { Syncer } from '../../src/sync/syncer.js';

const kill = () => process.kill(process.pid, 'SIGKILL');
if (process.env.KILL_AT === 'before-commit') resolveHooks.beforeHubCommit = kill;
else resolveHooks.afterHubCommit = kill;
const syncer = Syncer.open(loadConfig());
try {
  await resolveRekey(syncer, Number(process.env.REKEY_ID), 'hub');
  process.stdout.write('not killed\n');
} finally {
  await syncer.close();
}
