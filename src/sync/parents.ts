/**
 * Parents that travel with a batch (docs/SYNC-CONTRACT.md, invariant 7). A batch carries each changed
 * row's *current* image, and that image may reference a parent row whose own change
 * comes later in the log — a child re-parented to a row created after the child's
 * first change. Applying the batch alone would then put a child before its parent and
 * fail on the foreign key. Such parents ride along: their current images are applied
 * in the same batch, parents first. Their log entries stay where they are and apply
 * again later, which is harmless (the apply is state-based and idempotent).
 */
import { encodeKey } from '../capture/keys.js';
import type { Row, SqlValue } from '../engines/codec.js';
import type { ChangeSet, LoggedOp } from './changeset.js';
import type { SyncTable } from './plan.js';

/** parent table → keys of the parent rows these images of `table` reference. */
export function referencedParents(table: SyncTable, images: Iterable<Row>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  if (table.foreignKeys.length === 0) return out;
  for (const row of images) {
    for (const fk of table.foreignKeys) {
      const values = fk.columns.map((c) => (row[c] ?? null) as SqlValue);
      if (values.some((v) => v === null)) continue;
      let keys = out.get(fk.parent);
      if (!keys) {
        keys = new Set();
        out.set(fk.parent, keys);
      }
      keys.add(encodeKey(values));
    }
  }
  return out;
}

/** parent table → keys these images reference that the change set does not hold yet. */
export function missingParents(table: SyncTable, images: Iterable<Row>, changes: ChangeSet): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, keys] of referencedParents(table, images)) {
    const missing = [...keys].filter((k) => !changes.has(name, k));
    if (missing.length) out.set(name, missing);
  }
  return out;
}

/** Adds a parent that rides along to the change set and the images; returns its image. */
export function admitParent(
  changes: ChangeSet,
  images: Map<string, Map<string, Row>>,
  table: string,
  pk: string,
  change: { seq: bigint; at: number; firstOp: LoggedOp },
  image: Row,
): Row {
  changes.add(table, pk, change.seq, change.at, change.firstOp);
  let m = images.get(table);
  if (!m) {
    m = new Map();
    images.set(table, m);
  }
  m.set(pk, image);
  return image;
}
