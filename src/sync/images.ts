/**
 * Row images as exact JSON, for the conflicts table (both versions of a row
 * are kept, docs/SYNC-CONTRACT.md, invariant 6) and for `--json` output. JSON alone would round
 * 64-bit integers and cannot hold bytes, so those are tagged:
 * bigint → {"$int": "123"}, bytes → {"$b64": "..."}.
 */
import type { Row, SqlValue } from '../engines/codec.js';

type Encoded = null | number | string | { $int: string } | { $b64: string };

export function encodeImage(row: Row | null | undefined): string | null {
  if (!row) return null;
  const out: Record<string, Encoded> = {};
  for (const [k, v] of Object.entries(row)) out[k] = encodeValue(v);
  return JSON.stringify(out);
}

function encodeValue(v: SqlValue): Encoded {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (Buffer.isBuffer(v)) return { $b64: v.toString('base64') };
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

export function decodeImage(text: string | null): Row | null {
  if (text === null) return null;
  const parsed = JSON.parse(text) as Record<string, Encoded>;
  const out: Row = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v !== null && typeof v === 'object') out[k] = '$int' in v ? BigInt(v.$int) : Buffer.from(v.$b64, 'base64');
    else out[k] = v;
  }
  return out;
}

/** A readable, JSON-safe view of an image (bigints as strings, bytes as base64). */
export function displayImage(row: Row | null): Record<string, unknown> | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? `base64:${v.toString('base64')}` : v;
  }
  return out;
}
