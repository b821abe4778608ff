/**
 * `npm run bench [-- --quick] [-- --only name[,name]] [-- --list]`: runs every
 * `bench/*.bench.ts` (each exports `run(options: BenchOptions): Promise<Figure[]>`)
 * against one private MariaDB, prints one table (figure, ours, spread, the
 * baseline measured in the same run, ratio) and writes bench/results/latest.json
 * with machine info. `--only` takes bench names (the file name without
 * `.bench.ts`, or a prefix of it).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BENCH_DIR,
  type BenchOptions,
  type Figure,
  machineInfo,
  parseBenchArgs,
  printTable,
  RESULTS_DIR,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

const argv = process.argv.slice(2);
const { quick, only } = parseBenchArgs(argv);
const all = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
if (argv.includes('--list')) {
  process.stdout.write(`${all.join('\n')}\n`);
  process.exit(0);
}
const names = all.filter((n) => only.length === 0 || only.some((o) => n === o || n.startsWith(o)));
if (names.length === 0) {
  process.stderr.write(`no benchmark matches --only ${only.join(',')}; there are: ${all.join(', ')}\n`);
  process.exit(2);
}

const started = Date.now();
const server = await startBenchServer();
const scratch = scratchDir();
const results: { bench: string; figures: Figure[]; error?: string; seconds: number }[] = [];
try {
  for (const name of names) {
    process.stdout.write(`\n▶ ${name}${quick ? ' (quick)' : ''}…\n`);
    const t0 = Date.now();
    try {
      const mod = (await import(pathToFileURL(path.join(BENCH_DIR, `${name}.bench.ts`)).href)) as {
        run?: (o: BenchOptions) => Promise<Figure[]>;
      };
      if (typeof mod.run !== 'function') throw new Error(`bench/${name}.bench.ts exports no run(options)`);
      const figures = await mod.run({ quick, server, dir: scratch.dir });
      const seconds = (Date.now() - t0) / 1000;
      results.push({ bench: name, figures, seconds });
      printTable(`${name} (${seconds.toFixed(0)} s)`, figures);
    } catch (e) {
      results.push({ bench: name, figures: [], error: (e as Error).stack ?? String(e), seconds: (Date.now() - t0) / 1000 });
      process.stderr.write(`✖ ${name} failed: ${(e as Error).message}\n`);
    }
  }
} finally {
  await server.close();
  scratch.cleanup();
}
const seconds = (Date.now() - started) / 1000;
printTable(
  `all figures${quick ? ' (quick)' : ''}, ${seconds.toFixed(0)} s`,
  results.flatMap((r) => r.figures.map((f) => ({ ...f, name: `${r.bench}: ${f.name}` }))),
);
const failed = results.filter((r) => r.error).map((r) => r.bench);
if (failed.length) process.stderr.write(`\nfailed: ${failed.join(', ')}\n`);
const out = path.join(RESULTS_DIR, 'latest.json');
writeResults(out, {
  machine: machineInfo(server.version),
  quick,
  only,
  seconds,
  results,
});
process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
process.exitCode = failed.length ? 1 : 0;
