/**
 * Imports point down only (docs/ARCHITECTURE.md, "Layout"). Each folder under
 * src/ has a rank; a file may import its own folder or a folder of lower rank,
 * never one of equal or higher rank. This keeps the two rules that matter most
 * checked on every run: domain code never imports ui/ or cli/, and sync never
 * imports monitor (the log writer and problem model live in log/, below both).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Higher imports lower. Keep in step with the layout in docs/ARCHITECTURE.md. */
const RANK: Record<string, number> = {
  cli: 9,
  ui: 8,
  setup: 7,
  demo: 7,
  api: 6,
  monitor: 6,
  migrate: 6,
  compare: 5,
  sync: 4,
  capture: 3,
  schema: 3,
  engines: 2,
  config: 1,
  log: 1,
  util: 0,
};

const UI_OR_CLI = new Set(['ui', 'cli']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) found.push(m[1] as string);
  return found;
}

/** The top-level folder under src/ of a path, or undefined for src/index.ts. */
function layerOf(file: string): string | undefined {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length > 1 ? rel[0] : undefined;
}

interface Edge {
  file: string;
  from: string;
  to: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (from === undefined) continue; // src/index.ts is the package's public face: it may re-export anything
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const to = layerOf(path.resolve(path.dirname(file), spec));
      if (to !== undefined && to !== from) out.push({ file: path.relative(SRC, file), from, to });
    }
  }
  return out;
}

describe('import direction', () => {
  const all = edges();

  it('finds the imports it checks (the scanner works)', () => {
    expect(all.some((e) => e.from === 'cli' && e.to === 'ui')).toBe(true);
    expect(all.some((e) => e.from === 'sync' && e.to === 'log')).toBe(true);
  });

  it('every folder under src/ has a rank', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => RANK[f] === undefined)).toEqual([]);
  });

  it('domain code never imports ui/ or cli/', () => {
    const bad = all.filter((e) => UI_OR_CLI.has(e.to) && !UI_OR_CLI.has(e.from));
    expect(bad.map((e) => `${e.file} -> ${e.to}/`)).toEqual([]);
  });

  it('sync never imports monitor', () => {
    const bad = all.filter((e) => e.from === 'sync' && e.to === 'monitor');
    expect(bad.map((e) => `${e.file} -> ${e.to}/`)).toEqual([]);
  });

  it('every import points to a lower layer', () => {
    const bad = all.filter((e) => (RANK[e.to] ?? Infinity) >= (RANK[e.from] ?? -Infinity));
    expect(bad.map((e) => `${e.file} (${e.from}) -> ${e.to}/`)).toEqual([]);
  });
});
