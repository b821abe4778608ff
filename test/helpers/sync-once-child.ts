/**
 * A separate process that runs one sync cycle (push, then pull) for the node
 * configured in its environment, the way `dualdb sync --once` does, with less
 * start-up: the crash tests SIGKILL it at arbitrary points.
 */
import { loadConfig } from '../../src/config/load.js';
import { Syncer } from '../../src/sync/syncer.js';

const syncer = Syncer.open(loadConfig());
try {
  const r = await syncer.syncOnce();
  process.stdout.write(
    `${JSON.stringify({ pushed: r.push.applied, pulled: r.pull.applied, more: r.push.more || r.pull.more })}\n`,
  );
} finally {
  await syncer.close();
}
