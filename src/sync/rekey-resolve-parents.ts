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
import type { SqliteDb } from '../engines/sqlite/open.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { SyncContext } from './context.js';
import { decodeImage } from './images.js';
import { heldKey } from './local-state.js';
import { parentApart, unsentParentKeys } from './parent-waits.js';
import type { SyncPlan, SyncTable } from './plan.js';
import type { RekeyEvent } from './rekey.js';
import { type RekeyRecord, RekeyStore } from './rekey-store.js';

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

/**
 * A parent's collision resolved by hand (or a child that followed one): the pending collisions of
 * its children under `manual` — a pull saw the hub's child and the node's under one key, each
 * naming its own parent under the parent's old key — follow the same decision. The next push moves
 * the same side's child to a new key (push.ts), as the parent's, instead of holding it for a
 * decision of its own (operator report, issue 11: "pending" said "settled by the next sync", and
 * the sync held it). Returns the records marked.
 */
export function markFollowers(db: SqliteDb, plan: SyncPlan, events: RekeyEvent[]): number {
  if (events.length === 0) return 0;
  const rekeys = new RekeyStore(db);
  const pending = rekeys.list({ status: 'pending', limit: Number.MAX_SAFE_INTEGER });
  if (pending.length === 0) return 0;
  let marked = 0;
  for (const e of events) {
    const parent = new Set([heldKey(e.table, e.oldKey)]);
    const ids = pending
      .filter((r) => {
        const table = plan.byName.get(r.tbl);
        if (!table || r.mode === 'rekey-node' || r.mode === 'rekey-hub') return false;
        return [r.nodeImage, r.hubImage].some((image) => {
          const row = decodeImage(image);
          return row !== null && parentApart(table, row, parent) !== undefined;
        });
      })
      .map((r) => r.id);
    rekeys.follow(ids, e.moved === 'node' ? 'rekey-node' : 'rekey-hub');
    marked += ids.length;
  }
  return marked;
}

/**
 * The side a collision follows: its pending record's own (markFollowers), or, in the batch that
 * moves a follower parent (`followed`: heldKey → mode), the parent's, before markFollowers runs.
 */
export function followedMode(
  rekeys: RekeyStore,
  table: SyncTable,
  key: string,
  followed: Map<string, 'rekey-node' | 'rekey-hub'>,
): 'rekey-node' | 'rekey-hub' | undefined {
  const rec = rekeys.open(table.name, [key]).get(key);
  if (rec?.status !== 'pending') return undefined;
  if (rec.mode === 'rekey-node' || rec.mode === 'rekey-hub') return rec.mode;
  if (followed.size === 0) return undefined;
  const parents = new Set(followed.keys());
  for (const image of [rec.nodeImage, rec.hubImage]) {
    const row = decodeImage(image);
    const parent = row ? parentApart(table, row, parents) : undefined;
    if (parent) return followed.get(heldKey(parent.table, parent.key));
  }
  return undefined;
}
