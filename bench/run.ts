/**
 * `npm run bench [-- --quick] [-- --only name]`: runs every `bench/*.bench.ts`
 * (each exports `run(options): Promise<Figure[]>`) against one private MariaDB,
 * prints one table and writes bench/results/latest.json with machine info.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BENCH_DIR,
  type Figure,
  machineInfo,
  printTable,
  RESULTS_DIR,
  scratchDir,
  startBenchServer,
  writeResults,
} from './lib.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? (args[onlyIdx + 1] ?? '').split(',') : [];

const files = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const server = await startBenchServer();
const scratch = scratchDir();
const results: { bench: string; figures: Figure[]; error?: string; seconds: number }[] = [];
try {
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    process.stdout.write(`\n▶ ${name}${quick ? ' (quick)' : ''}…\n`);
    const t0 = Date.now();
    try {
      const mod = (await import(pathToFileURL(path.join(BENCH_DIR, file)).href)) as {
        run: (o: { quick: boolean; server: typeof server; dir: string }) => Promise<Figure[]>;
      };
      const figures = await mod.run({ quick, server, dir: scratch.dir });
      results.push({ bench: name, figures, seconds: (Date.now() - t0) / 1000 });
      printTable(name, figures);
    } catch (e) {
      results.push({ bench: name, figures: [], error: (e as Error).stack ?? String(e), seconds: (Date.now() - t0) / 1000 });
      process.stderr.write(`✖ ${name} failed: ${(e as Error).message}\n`);
    }
  }
} finally {
  await server.close();
  scratch.cleanup();
}
printTable(
  `all figures${quick ? ' (quick)' : ''}`,
  results.flatMap((r) => r.figures.map((f) => ({ ...f, name: `${r.bench}: ${f.name}` }))),
);
const out = path.join(RESULTS_DIR, 'latest.json');
writeResults(out, { machine: machineInfo(server.version), quick, results });
process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
process.exitCode = results.some((r) => r.error) ? 1 : 0;
