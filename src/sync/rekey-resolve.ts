/**
 * `dualdb rekeys resolve <id> --rekey node|hub`: ends a collision held apart by
 * SYNC_KEY_COLLISIONS=manual by moving one of the two rows to a new key (rekey.ts), exactly as
 * the automatic modes would have; the children that waited for it are retried at once.
 */
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { toMysqlRow as toMysql } from './convert.js';
import { learnHubMoves } from './hub-moves.js';
import { MysqlTableIO } from './mysql-io.js';
import { parentApart } from './parent-waits.js';
import { bumpHubSequence, type Collision, moveOnHub, type RekeyEvent, SequenceBehindError } from './rekey.js';
import { moveOnNode } from './rekey-node.js';
import { SqliteTableIO } from './sqlite-io.js';
import type { Syncer } from './syncer.js';

export async function resolveRekey(syncer: Syncer, id: number, side: 'node' | 'hub'): Promise<RekeyEvent | null> {
  const rec = syncer.rekeys.get(id);
  if (!rec)
    throw new DualdbError('NO_SUCH_REKEY', `there is no key collision #${id}`, {
      hint: 'list them with `dualdb rekeys`',
      exitCode: EXIT.CONFIG,
    });
  if (rec.status !== 'held')
    throw new DualdbError('REKEY_NOT_HELD', `key collision #${id} is not waiting for a decision (it is ${rec.status})`, {
      hint: 'only collisions held by SYNC_KEY_COLLISIONS=manual are resolved by hand; see `dualdb rekeys`',
      exitCode: EXIT.CONFIG,
    });
  for (let attempt = 0; ; attempt++) {
    try {
      const event = await syncer.withContext(async (ctx) => {
        const table = ctx.plan.byName.get(rec.tbl);
        if (!table)
          throw new DualdbError('TABLE_NOT_SYNCED', `table ${rec.tbl} of key collision #${id} is not synced now`, {
            hint: 'fix the table (see `dualdb status`) and try again',
          });
        // Moves of hub rows this node has not pulled yet apply first (hub-moves.ts): one of them,
        // learnt only after this resolution placed the hub's current row, would move that row instead.
        await learnHubMoves(ctx);
        return ctx.hub.withConnection(async (conn) => {
          await conn.query('SET @dualdb_origin = ?', [ctx.nodeId]);
          await conn.beginTransaction();
          try {
            const hubRow = (await new MysqlTableIO(table).fetch(conn, [rec.oldKey], { forUpdate: true })).get(rec.oldKey) ?? null;
            const nodeRow = new SqliteTableIO(ctx.db, table).fetch([rec.oldKey]).get(rec.oldKey) ?? null;
            const parent = nodeRow ? parentApart(table, nodeRow, syncer.rekeys.openKeys()) : undefined;
            if (parent) {
              throw new DualdbError(
                'REKEY_PARENT_HELD',
                `the node's row ${rec.tbl} ${rec.oldKey} references ${parent.table} ${parent.key}, itself one of two rows held apart`,
                {
                  hint: `resolve the collision of ${parent.table} ${parent.key} first (see \`dualdb rekeys\`)`,
                  exitCode: EXIT.CONFIG,
                },
              );
            }
            let events: RekeyEvent[] = [];
            if (hubRow && nodeRow) {
              const c: Collision = {
                table,
                oldKey: rec.oldKey,
                nodeRow,
                hubRow,
                hubSeq: rec.hubSeq,
                detectedIn: 'resolve',
                mode: 'manual',
              };
              const move = await moveOnHub(conn, ctx, c, side === 'node' ? 'rekey-node' : 'rekey-hub');
              events = moveOnNode(ctx, [move]);
            } else {
              // One of the two rows is gone since: nothing clashes any more.
              if (nodeRow) await new MysqlTableIO(table).write(conn, [toMysql(table, nodeRow)]);
              else moveOnNode(ctx, [], [{ table, key: rec.oldKey, hubRow }]);
              syncer.rekeys.close(rec.tbl, rec.oldKey);
            }
            await conn.commit();
            return events[0] ?? null;
          } catch (e) {
            await conn.rollback().catch(() => {});
            throw e;
          }
        });
      });
      // Rows that waited for this one go now.
      syncer.db
        .prepare("UPDATE _dualdb_parked SET next_retry_ms = 0 WHERE error LIKE '%held apart%' OR error LIKE '%one of two rows%'")
        .run();
      if (event) {
        syncer.log.info(
          `key collision #${id} on ${event.table} resolved: the ${event.moved}'s row moved from ${event.oldKey} to ${event.newKey}`,
          {
            event: 'rekey',
            table: event.table,
            old_key: event.oldKey,
            new_key: event.newKey,
            moved: event.moved,
          },
        );
        syncer.emit('rekey', event);
      }
      return event;
    } catch (e) {
      if (e instanceof SequenceBehindError && attempt < 2) {
        await syncer.withContext((ctx) => bumpHubSequence(ctx, e));
        continue;
      }
      throw e;
    }
  }
}
