/**
 * The CLI as the run's CLI tests start it: src/ compiled once per run to plain JavaScript
 * (esbuild, the compiler tsx uses, file by file as tsc lays out dist/), beside a copy of
 * package.json and links to sql/ and node_modules/, so that paths relative to the modules
 * resolve as in the repository. test/global-setup.ts builds it and names it in CLI_TREE_ENV;
 * helpers/cli.ts runs `node <tree>/src/cli/main.js` then, instead of loading every module
 * through tsx's loader again in each CLI process (about a second of CPU per start).
 * Without the variable (a soak script, another config) the CLI runs from source through tsx.
 */
import { copyFileSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_TREE_ENV = 'DUALDB_TEST_CLI_TREE';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Compiles src/ into `dir` (global setup). */
export async function buildCliTree(dir: string): Promise<void> {
  const { build } = await import('esbuild');
  const src = path.join(ROOT, 'src');
  const entryPoints = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => path.join(src, f));
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints,
    outdir: path.join(dir, 'src'),
    outbase: src,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(ROOT, 'sql'), path.join(dir, 'sql'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
}

/** The compiled CLI's entry point when the run built one. */
export function compiledCliMain(): string | undefined {
  const dir = process.env[CLI_TREE_ENV];
  return dir ? path.join(dir, 'src', 'cli', 'main.js') : undefined;
}
