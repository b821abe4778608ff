/**
 * `dualdb conflicts resolve <id> --keep node|hub`: makes the chosen version the
 * truth on both sides. For a held (manual) conflict that is the side's current
 * row; for one a policy already settled, the kept image of the losing version
 * is restored. The hub write carries this node's origin, so every other node
 * receives it; the local write is not captured again (no echo).
 */
import type { Row } from '../engines/codec.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { toMysqlRow, toSqliteRow } from './convert.js';
import { decodeImage } from './images.js';
import { MysqlTableIO } from './mysql-io.js';
import { SqliteTableIO } from './sqlite-io.js';
import type { Syncer } from './syncer.js';

export interface ResolveResult {
  id: number;
  table: string;
  pk: string;
  kept: 'node' | 'hub';
  /** The row now on both sides, or null when the kept version is a deletion. */
  row: Row | null;
}

export async function resolveConflict(syncer: Syncer, id: number, keep: 'node' | 'hub'): Promise<ResolveResult> {
  const c = syncer.state.conflict(id);
  if (!c)
    throw new DualdbError('NO_SUCH_CONFLICT', `there is no conflict #${id}`, {
      hint: 'list them with `dualdb conflicts`',
      exitCode: EXIT.CONFIG,
    });
  const plan = await syncer.currentPlan(true);
  const table = plan.byName.get(c.tbl);
  if (!table) {
    throw new DualdbError('TABLE_NOT_SYNCED', `table ${c.tbl} of conflict #${id} is not synced now`, {
      hint: 'fix the table (see `dualdb status`) and try again',
    });
  }
  const hub = await syncer.connectHub();
  const local = new SqliteTableIO(syncer.db, table);
  const remote = new MysqlTableIO(table);
  // The hub first: if the local step then fails, the conflict stays listed and resolving again is harmless.
  const image = await hub.withConnection(async (conn) => {
    await conn.query('SET @dualdb_origin = ?', [syncer.nodeId]);
    await conn.beginTransaction();
    try {
      let chosen: Row | null;
      if (keep === 'node') {
        chosen = c.status === 'open' || c.winner === 'node' ? (local.fetch([c.pk]).get(c.pk) ?? null) : decodeImage(c.nodeImage);
      } else if (c.status === 'open' || c.winner === 'hub') {
        const current = (await remote.fetch(conn, [c.pk], { forUpdate: true })).get(c.pk) ?? null;
        chosen = current ? toSqliteRow(table, current) : null;
      } else {
        const stored = decodeImage(c.hubImage);
        chosen = stored ? toSqliteRow(table, stored) : null;
      }
      if (chosen) {
        // Updated in place when the hub has the key, else a plain insert: ON DUPLICATE KEY UPDATE on a
        // new key would overwrite whichever other row clashes on another unique key.
        await remote.write(conn, [toMysqlRow(table, chosen)]);
      } else {
        await conn.query(remote.deleteStatement([c.pk]));
      }
      await conn.commit();
      return chosen;
    } catch (e) {
      await conn.rollback().catch(() => {});
      throw e;
    }
  });
  syncer.db
    .transaction(() => {
      syncer.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
      if (image) local.upsert(image);
      else local.delete(c.pk);
      syncer.state.dropPendingKey(table.name, c.pk);
      syncer.state.settleConflict(id, keep);
      syncer.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
    })
    .immediate();
  syncer.log.info(`conflict #${id} on ${c.tbl} ${c.pk} resolved: kept the ${keep} version`, {
    event: 'conflict.resolved',
    id,
    keep,
  });
  return { id, table: c.tbl, pk: c.pk, kept: keep, row: image };
}
