/** What a schema translation produces, and the helpers both directions share. */
import { createHash } from 'node:crypto';
import type { EngineName, TableInfo } from '../engines/types.js';

/** Something that could not be translated faithfully. Returned before anything is written. */
export interface TranslationWarning {
  table: string;
  column?: string;
  /** What is affected, e.g. `default (julianday('now'))`, `FLOAT`. */
  problem: string;
  /** Why it is not faithful and what was done instead. */
  reason: string;
}

export interface TranslatedTable {
  name: string;
  /** The table as the target engine will introspect it (types in its own words). */
  model: TableInfo;
  /** CREATE TABLE, then (SQLite) CREATE INDEX statements. */
  statements: string[];
}

export interface Translation {
  target: EngineName;
  /** Parents before children (foreign-key order). */
  tables: TranslatedTable[];
  /** Foreign keys added after every table exists (cycles between tables). */
  deferred: { table: string; sql: string }[];
  /** Every statement to run, in order. */
  statements: string[];
  warnings: TranslationWarning[];
  /** Choices worth knowing that lose nothing (the binary collation of text keys), shown with the preview. */
  notes?: TranslationWarning[];
}

export const MYSQL_MAX_IDENTIFIER = 64;

/** A name cut to the engine's limit, with a short hash so that two long names stay distinct. */
export function shortName(name: string, max = MYSQL_MAX_IDENTIFIER): string {
  if (name.length <= max) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9)}_${hash}`;
}

/** Makes names unique within a set by suffixing _2, _3… */
export function uniqueName(base: string, taken: Set<string>, max = MYSQL_MAX_IDENTIFIER): string {
  let name = shortName(base, max);
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = shortName(`${base}_${i}`, max);
  taken.add(name.toLowerCase());
  return name;
}

/**
 * Tables ordered parents first. Foreign keys that would point forward (cycles)
 * are returned so the caller can add them once every table exists.
 */
export function foreignKeyOrder(tables: TableInfo[]): { ordered: TableInfo[]; forward: Set<string> } {
  const byName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
  const done = new Set<string>();
  const ordered: TableInfo[] = [];
  const sorted = [...tables].sort((a, b) => a.name.localeCompare(b.name));
  while (ordered.length < tables.length) {
    let progress = false;
    for (const t of sorted) {
      const key = t.name.toLowerCase();
      if (done.has(key)) continue;
      const parents = t.foreignKeys.map((f) => f.refTable.toLowerCase()).filter((p) => p !== key && byName.has(p));
      if (parents.every((p) => done.has(p))) {
        done.add(key);
        ordered.push(t);
        progress = true;
      }
    }
    if (!progress) {
      // A cycle: take the first remaining table (by name) and go on; its forward references are deferred.
      const next = sorted.find((t) => !done.has(t.name.toLowerCase()));
      if (!next) break;
      done.add(next.name.toLowerCase());
      ordered.push(next);
    }
  }
  const position = new Map(ordered.map((t, i) => [t.name.toLowerCase(), i]));
  const forward = new Set<string>();
  ordered.forEach((t, i) => {
    t.foreignKeys.forEach((f, j) => {
      const p = position.get(f.refTable.toLowerCase());
      if (p !== undefined && p > i) forward.add(`${t.name}\u0000${j}`);
    });
  });
  return { ordered, forward };
}

export const forwardKey = (table: string, fkIndex: number) => `${table}\u0000${fkIndex}`;

/** SQLite reports NO ACTION when nothing was said; MySQL calls the same thing RESTRICT. */
export function normaliseRule(rule: string | null | undefined): string {
  const r = (rule ?? 'NO ACTION').toUpperCase().trim();
  return r === 'RESTRICT' ? 'NO ACTION' : r;
}
