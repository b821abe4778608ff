/** Temporary profiling aid: accumulated ms per phase name, printed at exit when DUALDB_PHASES=1. */
const acc = new Map<string, number>();
let last = 0;
export function mark(name?: string): void {
  const now = performance.now();
  if (name) acc.set(name, (acc.get(name) ?? 0) + (now - last));
  last = now;
}
if (process.env.DUALDB_PHASES) {
  process.on('exit', () => {
    for (const [k, v] of acc) process.stderr.write(`${k.padEnd(30)} ${v.toFixed(1)} ms\n`);
  });
}
