#!/usr/bin/env node
// The terminal app renders with React: without this, React runs its development build,
// several times slower per frame (a monitor left open would keep a CPU core busy for nothing).
process.env.NODE_ENV ??= 'production';
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
