/**
 * Several nodes' sync loops in one process, for the scale bench past the point where a
 * 2-core machine can start one Node.js process per node (each costs ~2 CPU-seconds to start
 * and a timer-driven poller). Each node keeps what `dualdb sync --watch` gives it — its own
 * config, SQLite connection, control socket, log and single-instance lock — only the process
 * is shared. The nodes' settings (environments, with the hub password) come on stdin as
 * JSON, never in arguments. SIGTERM stops every node after its batch in flight.
 */
import { loadConfig } from '../../src/config/load.js';
import { type RunningSync, startSyncProcess } from '../../src/sync/process.js';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

const nodes = JSON.parse(await readStdin()) as { env: Record<string, string>; cwd: string }[];
const running: RunningSync[] = [];
let stopping = false;
const stopAll = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(running.map((r) => r.stop()));
  process.exit(code);
};
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGINT', () => void stopAll(0));
try {
  for (const n of nodes) {
    const config = loadConfig({ env: n.env, envFile: undefined, cwd: n.cwd });
    running.push(await startSyncProcess(config, { kind: 'watch', signals: false }));
  }
  process.stdout.write(`hosting ${running.length} nodes\n`);
} catch (e) {
  process.stderr.write(`fleet host: ${(e as Error).message}\n`);
  await stopAll(1);
}
