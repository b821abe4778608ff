/**
 * A held key collision (SYNC_KEY_COLLISIONS=manual) one of whose two rows is gone closes by itself
 * at the next sync (docs/SYNC-CONTRACT.md invariant 13; issue 11): the node's row deleted by the
 * application, or the hub's row deleted (or moved away) on the hub. Left held, the node kept holding
 * back a row, or a key, that no longer existed: `dualdb rekeys` exited 11 for ever and the rows
 * that wait for it (children parked "held apart") never went.
 *
 * The close is `rekeys resolve`'s own branch for a gone row (rekey-resolve.ts), asked with
 * `onlyIfGone`: read again under the hub row's lock, and done only if a row is still gone — the
 * hub's row gone, the node's row goes up under its key (a plain insert, nothing lost); the node's
 * row gone, the hub's row is placed here (as a pull would), the node's log of its deleted row
 * dropped (the hub never had that row: nothing deleted comes back). Both rows there, nothing is
 * done: the operator decides, as before.
 */
import type { Row } from '../engines/codec.js';
import { sameImage, toSqliteRow } from './convert.js';
import { decodeImage } from './images.js';
import { MysqlTableIO } from './mysql-io.js';
import type { SyncTable } from './plan.js';
import { resolveRekey, sameRow } from './rekey-resolve.js';
import type { RekeyRecord } from './rekey-store.js';
import { SqliteTableIO } from './sqlite-io.js';
import type { Syncer } from './syncer.js';

/** Held records read per hub statement (an IN list). */
const CHUNK = 400;

/**
 * The pull cursor at this syncer's last read of the held keys' hub rows, when that read left no
 * collision to close: a hub row can go only by a hub change, which the pull passes (skipping the
 * held key), so while the cursor stays and every node row is here as it was held, the hub is not
 * read again.
 */
const checkedAt = new WeakMap<Syncer, bigint>();

/**
 * Closes each held collision with a row gone; returns how many closed. Nothing is read from the hub
 * while none is held (one SQLite read per cycle), nor while the pull cursor has not moved since the
 * last read found nothing. A hub out of reach is the cycle's failure to tell, not this step's: it
 * closes nothing then.
 */
export async function closeGoneHeld(syncer: Syncer): Promise<number> {
  if (!syncer.rekeys.anyHeld()) return 0;
  let gone: RekeyRecord[];
  const upto = syncer.state.pullState().upto;
  try {
    gone = await syncer.withContext(async (ctx) => {
      const held = syncer.rekeys.list({ status: 'held', limit: Number.MAX_SAFE_INTEGER });
      const byTable = new Map<SyncTable, RekeyRecord[]>();
      for (const r of held) {
        const table = ctx.plan.byName.get(r.tbl);
        if (!table) continue;
        const list = byTable.get(table) ?? [];
        list.push(r);
        byTable.set(table, list);
      }
      const here = new Map<SyncTable, Map<string, Row>>();
      for (const [table, records] of byTable)
        here.set(table, new SqliteTableIO(ctx.db, table).fetch(records.map((r) => r.oldKey)));
      // Every node row here and still the one held (not another row in its place, as a file of an
      // earlier version could hold: the hub's row itself), the hub unchanged since: nothing to read.
      const allHere = [...byTable].every(([table, records]) =>
        records.every((r) => {
          const row = here.get(table)?.get(r.oldKey);
          return row !== undefined && sameImage(table, decodeImage(r.nodeImage), row);
        }),
      );
      if (allHere && checkedAt.get(syncer) === upto) return [];
      const out: RekeyRecord[] = [];
      for (const [table, records] of byTable) {
        const keys = records.map((r) => r.oldKey);
        const hub = new Map<string, Row>();
        for (let i = 0; i < keys.length; i += CHUNK) {
          const chunk = keys.slice(i, i + CHUNK);
          for (const [k, v] of await ctx.hub.withConnection((conn) => new MysqlTableIO(table).fetch(conn, chunk))) hub.set(k, v);
        }
        for (const r of records) {
          const nodeRow = here.get(table)?.get(r.oldKey);
          const hubRow = hub.get(r.oldKey);
          // Gone on either side, or the node's row there is the hub's row itself (its own is gone).
          if (!nodeRow || !hubRow || sameRow(table, r, nodeRow, toSqliteRow(table, hubRow))) out.push(r);
        }
      }
      // Parents before children: a child's row may reference its parent's (plan rank).
      const rank = (t: string) => ctx.plan.byName.get(t)?.rank ?? Number.MAX_SAFE_INTEGER;
      return out.sort((a, b) => rank(a.tbl) - rank(b.tbl) || a.id - b.id);
    });
  } catch {
    return 0;
  }
  let closed = 0;
  let left = 0;
  for (const r of gone) {
    try {
      await resolveRekey(syncer, r.id, 'node', undefined, { onlyIfGone: true });
      if (syncer.rekeys.get(r.id)?.status === 'closed') closed++;
    } catch (e) {
      left++;
      // Its node row references a row the hub lacks yet (this cycle's push sends it), or a parent
      // itself held apart: tried again next cycle; the record stays held meanwhile.
      syncer.log.info(
        `key collision #${r.id} on ${r.tbl} ${r.oldKey}: one of its rows is gone, not closed yet: ${e instanceof Error ? e.message : String(e)}`,
        { event: 'rekey.close-waits', id: r.id, table: r.tbl, old_key: r.oldKey },
      );
    }
  }
  // One that could not close yet is read again next cycle, whether the cursor moves or not.
  if (left === 0) checkedAt.set(syncer, upto);
  else checkedAt.delete(syncer);
  return closed;
}
