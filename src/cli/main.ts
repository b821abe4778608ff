#!/usr/bin/env -S node --
// The `--` above is the launcher's whole job: Node 20 claims `--env-file` anywhere on its
// command line, even after the script name, and dies on a file that does not exist yet
// ("node: site.env: not found", exit 9) before dualdb runs. After `--` every argument is ours.
// The terminal app renders with React: without this, React runs its development build,
// several times slower per frame (a monitor left open would keep a CPU core busy for nothing).
process.env.NODE_ENV ??= 'production';
const { endQuietlyOnClosedPipe } = await import('./pipe.js');
endQuietlyOnClosedPipe();
const { run } = await import('./program.js');

/**
 * A finished command ends within a few seconds, whatever handle a library left open: a watcher
 * stopped with SIGTERM while recovering from a hub kill logged "stopped" and stayed alive 15 min
 * (no hub or socket connection left; an operator trial's harness waited on it). The timer is
 * unref'd: a process that exits by itself is not held by it, and the grace lets output drain.
 */
function endSoon(): void {
  setTimeout(() => process.exit(), 5_000).unref();
}

run(process.argv).then(
  (code) => {
    process.exitCode = code;
    endSoon();
  },
  (e) => {
    process.stderr.write(`dualdb: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
    endSoon();
  },
);
