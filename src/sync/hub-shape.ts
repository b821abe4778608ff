/**
 * A hub table's shape, as the one-row push (push-one.ts) checks it on the server in the statement
 * before its COMMIT: the digest of that table's column definitions in information_schema (name,
 * type with its length, ENUM/SET members and sign, nullability, key, position; the stamp's digest
 * restricted to one table, schema-guard.ts tableFingerprintSql). The push compares the whole
 * schema's fingerprint with the plan's stamp (as much server time as the insert itself) only until
 * it has seen the table's digest under that stamp; after that, the table's own digest (a read of
 * that one table's definition) is compared with the one remembered, on the server, under the
 * insert's metadata lock, which holds off any DDL on the table until the COMMIT.
 *
 * A digest is remembered only from a push that committed with the whole fingerprint equal to the
 * stamp; it belongs to one plan's table (a new plan starts over).
 */
import type { SyncTable } from './plan.js';

const verified = new WeakMap<SyncTable, { stamp: string; shape: string }>();

/** The digest seen for `table` under `stamp` by a push that checked the whole fingerprint, if any. */
export function verifiedShape(table: SyncTable, stamp: string | undefined): string | undefined {
  const v = verified.get(table);
  return stamp !== undefined && v?.stamp === stamp ? v.shape : undefined;
}

export function rememberShape(table: SyncTable, stamp: string, shape: string): void {
  verified.set(table, { stamp, shape });
}
