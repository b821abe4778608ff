/**
 * Settings that would pass silently: a variable close to one dualdb knows (`SYNC_MODDE=both`)
 * is ignored, and the node runs another mode. Names with dualdb's prefixes that are one or two
 * keystrokes away from a known name get a warning naming the one they resemble.
 */
import { SETTINGS } from './schema.js';

/** Variables dualdb reads besides the settings table. */
const OTHER_NAMES = ['DUALDB_ENV_FILE', 'DUALDB_ADMIN_PASSWORD', 'DUALDB_DEBUG'];
const PREFIXES = ['DB_', 'SYNC_', 'SQLITE_', 'LOG_', 'DUALDB_'];

export function knownNames(): string[] {
  return [...Object.values(SETTINGS).map((s) => s.env), ...OTHER_NAMES];
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known name `name` most resembles, when it is not itself known and is close enough. */
export function resembles(name: string, known: readonly string[] = knownNames()): string | undefined {
  const upper = name.toUpperCase();
  if (!PREFIXES.some((p) => upper.startsWith(p)) || known.includes(name)) return undefined;
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(upper, k);
    if (d <= (k.length > 8 ? 2 : 1) && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

export interface NameSource {
  /** Where the names were found, for the message ("the environment", "site.env"). */
  where: string;
  names: Iterable<string>;
}

/** One warning line per near-miss name. */
export function nearMissWarnings(sources: NameSource[], known: readonly string[] = knownNames()): string[] {
  const lines: string[] = [];
  for (const source of sources) {
    for (const name of source.names) {
      const like = resembles(name, known);
      if (like)
        lines.push(
          `warning: ${name} (in ${source.where}) is not a setting dualdb knows, so it is ignored: did you mean ${like}?`,
        );
    }
  }
  return lines;
}
