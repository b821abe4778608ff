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

run(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`dualdb: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
