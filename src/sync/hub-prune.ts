/**
 * Pruning of the hub's change log: entries every active node has pulled and older than the
 * retention window go; a node silent for longer no longer holds pruning back (it is told to
 * resync when it comes back, invariant 8).
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SyncLog } from '../log/sync-log.js';
import { pruneWriteTokens } from './commit-outcome.js';

export async function pruneHubLog(
  hub: MysqlHub,
  nodeId: string,
  retentionMs: number,
  log: SyncLog,
): Promise<{ deleted: number; prunedUpto: bigint }> {
  await pruneWriteTokens(hub);
  // Active: seen within the retention window — and this node, which is pruning right now
  // (with a window of 0 no node would count, and nothing would ever be pruned).
  const [bound] = await hub.query<{ low: string | number | null }>(
    `SELECT MIN(pull_upto) AS low FROM _dualdb_nodes WHERE last_seen >= NOW(6) - INTERVAL ? SECOND OR node_id = ?`,
    [Math.ceil(retentionMs / 1000), nodeId],
  );
  const [aged] = await hub.query<{ s: string | number | null }>(
    'SELECT MAX(seq) AS s FROM _dualdb_changes WHERE at < UNIX_TIMESTAMP(NOW(6)) * 1000 - ?',
    [retentionMs],
  );
  if (bound?.low === null || bound?.low === undefined || aged?.s === null || aged?.s === undefined)
    return { deleted: 0, prunedUpto: 0n };
  const upto = BigInt(bound.low) < BigInt(aged.s) ? BigInt(bound.low) : BigInt(aged.s);
  if (upto <= 0n) return { deleted: 0, prunedUpto: 0n };
  let deleted = 0;
  for (;;) {
    // By key, not by range: a range delete waits (up to innodb_lock_wait_timeout, holding up
    // this syncer) on an uncommitted entry just above the range, whatever the isolation level.
    const seqs = await hub.query<{ seq: string }>('SELECT seq FROM _dualdb_changes WHERE seq <= ? ORDER BY seq LIMIT 10000', [
      upto,
    ]);
    if (seqs.length === 0) break;
    const res = await hub.execute('DELETE FROM _dualdb_changes WHERE seq IN (?)', [seqs.map((r) => r.seq)]);
    deleted += res.affectedRows;
    if (seqs.length < 10000) break;
  }
  await hub.execute(
    "INSERT INTO _dualdb_hub_meta (k, v) VALUES ('pruned_upto', ?) ON DUPLICATE KEY UPDATE v = GREATEST(CAST(v AS UNSIGNED), CAST(VALUES(v) AS UNSIGNED))",
    [upto.toString()],
  );
  if (deleted) log.info(`pruned ${deleted} hub change-log entries up to ${upto}`, { event: 'hub.pruned', upto: upto.toString() });
  return { deleted, prunedUpto: upto };
}
