/**
 * Row and chunk fingerprints, computed in this process the same way for rows
 * read from either engine: each value goes through the codec's `canonical`
 * with the plan's logical type, so a DATETIME(6) and its SQLite text, a BIGINT
 * string and a SQLite bigint, a DECIMAL and its text all serialise alike.
 */
import { createHash } from 'node:crypto';
import { canonical, type LogicalType } from '../engines/codec.js';

/**
 * Canonical form of a row array; the same text `canonicalRow` gives for the
 * row as an object (length-prefixed values, so no separator can collide).
 */
export function canonicalTuple(row: readonly unknown[], types: readonly LogicalType[]): string {
  // Joined from an array rather than built with +=: one flat string instead of a rope of
  // small pieces that would all stay alive as long as the chunk (garbage-collector work).
  const parts = new Array<string>(types.length);
  for (let i = 0; i < types.length; i++) {
    const s = canonical(row[i], types[i] as LogicalType);
    parts[i] = `${s.length}:${s}`;
  }
  return parts.join('');
}

/**
 * Digest of a chunk from its rows' canonical forms. The forms are self-delimiting (a fixed
 * number of length-prefixed values per row), so they are hashed joined, in one call.
 */
export function chunkDigest(canonical: readonly string[]): string {
  return createHash('sha1').update(canonical.join('')).digest('base64');
}

/** The per-column canonical values of a row's canonical form (the inverse of `canonicalTuple`). */
export function splitCanonical(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    const len = Number(text.slice(i, colon));
    out.push(text.slice(colon + 1, colon + 1 + len));
    i = colon + 1 + len;
  }
  return out;
}

/** Names of the columns whose canonical values differ, from two rows' canonical forms. */
export function differingColumns(a: string, b: string, columns: readonly { name: string }[]): string[] {
  const x = splitCanonical(a);
  const y = splitCanonical(b);
  return columns.filter((_, i) => x[i] !== y[i]).map((c) => c.name);
}
