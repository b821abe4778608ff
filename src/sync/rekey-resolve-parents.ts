/**
 * A `rekeys resolve` writes the node's row of the collision to the hub (under a new key, or under
 * the old one while the hub's row moves). When that row names a parent row the hub does not have
 * yet — this node's own new row, its insert not pushed yet or parked — the hub refuses it with a
 * foreign-key error, or, without one, the row would attach to another writer's row under that key
 * (docs/SYNC-CONTRACT.md invariant 13). Either way the resolve cannot happen yet: it stops before
 * anything is written, in one line naming the parent row and what to do first (operator trial of
 * 2026-12-07, issue 11: a raw MySQL foreign-key error, exit 1). A collision still waits for a
 * decision: exit 11 (README "Exit codes"), as for a child that follows its parent's collision.
 */
import type { Row } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { SyncContext } from './context.js';
import { unsentParentKeys } from './parent-waits.js';
import type { SyncTable } from './plan.js';
import type { RekeyRecord } from './rekey-store.js';

/** One line: the parent row the hub does not have yet, and what to do first. */
function notYet(ctx: SyncContext, rec: RekeyRecord, parent: string, key: string, why: string): DualdbError {
  const parked = ctx.state.parkedKeys('push', parent, [key]).has(key);
  return new DualdbError(
    'REKEY_PARENT_UNSENT',
    `key collision #${rec.id} (${rec.tbl} ${rec.oldKey}) cannot be resolved yet: the node's row references ${parent} ${key}, ${why}${parked ? ' (its change is parked)' : ''}; nothing changed`,
    {
      hint: parked
        ? `fix why ${parent} ${key} is parked (\`dualdb parked\`), run \`dualdb sync --once\`, then this command again`
        : `run \`dualdb sync --once\` first (it sends ${parent} ${key}), then this command again`,
      exitCode: EXIT.CONFLICTS,
    },
  );
}

/** Before the resolve writes `nodeRow` to the hub: a parent of it this node has and the hub does not yet. */
export function unsentParentError(ctx: SyncContext, table: SyncTable, rec: RekeyRecord, nodeRow: Row): DualdbError | undefined {
  const [first] = unsentParentKeys(ctx, table, [nodeRow]);
  if (first === undefined) return undefined;
  const [parent = '', key = ''] = first.split('\u0000');
  return notYet(ctx, rec, parent, key, "a row of this node's own the hub does not have yet");
}

/** MySQL's "Cannot add or update a child row: a foreign key constraint fails". */
export function isMissingParent(e: unknown): boolean {
  const x = e as { errno?: number; code?: string } | null;
  return x?.errno === 1452 || x?.code === 'ER_NO_REFERENCED_ROW_2' || x?.code === 'ER_NO_REFERENCED_ROW';
}

/**
 * The hub refused the node's row for a parent it lacks (a case unsentParentError did not foresee):
 * which parent, read on the hub, in the same one line. Undefined when none is found missing.
 */
export async function missingParentError(
  conn: PoolConnection,
  table: SyncTable,
  rec: RekeyRecord,
  nodeRow: Row,
  ctx: SyncContext,
): Promise<DualdbError | undefined> {
  for (const fk of table.foreignKeys) {
    const parent = ctx.plan.byName.get(fk.parent);
    const col = fk.columns[0];
    const keyCol = parent?.key[0]?.name;
    if (!parent || fk.columns.length !== 1 || !col || !keyCol || parent.key.length !== 1) continue;
    const v = nodeRow[col];
    if (v === null || v === undefined) continue;
    const [rows] = await conn.query(`SELECT 1 FROM ${quoteMysqlId(parent.name)} WHERE ${quoteMysqlId(keyCol)} = ? LIMIT 1`, [
      typeof v === 'bigint' ? v.toString() : v,
    ]);
    if ((rows as unknown[]).length === 0) return notYet(ctx, rec, parent.name, String(v), 'a row the hub does not have');
  }
  return undefined;
}
