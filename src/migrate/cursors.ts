/**
 * The cursors after a verified copy: local log entries of the copied tables up to the
 * start position are dropped (the copy holds them) and the push cursor moves there; the
 * pull cursor moves to the hub position read before the copy (only when every synced
 * table was copied). What was written during or after the copy is replayed by the sync.
 */
import { type HubPosition, reportPullPosition, resumePullAt } from '../compare/pull-cursor.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { LocalState } from '../sync/local-state.js';
import type { PreparedRun, RunContext } from './run-context.js';
import type { CursorReport } from './types.js';

/** The local change log's position: every change committed later gets a higher seq. */
export function localLogPosition(db: SqliteDb): bigint {
  const r = db
    .prepare(
      "SELECT max(COALESCE((SELECT max(seq) FROM _dualdb_changes), 0), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '_dualdb_changes'), 0)) AS s",
    )
    .get() as { s: bigint | number };
  return BigInt(r.s);
}

export async function moveCursors(
  ctx: RunContext,
  job: Pick<PreparedRun, 'nodeId' | 'scope' | 'complete'>,
  startSeq: bigint,
  position: HubPosition,
): Promise<Pick<CursorReport, 'push' | 'pull'>> {
  const { db, hub } = ctx;
  const { nodeId } = job;
  const state = new LocalState(db);
  let push: CursorReport['push'];
  if (ctx.toHub) {
    // The copy holds every change logged up to startSeq for these tables: drop them; what
    // was logged after (during and after the copy) stays and is pushed by the sync.
    const names = job.scope.map((t) => t.name);
    let dropped = 0;
    let remaining = 0;
    db.transaction(() => {
      const del = db.prepare('DELETE FROM _dualdb_changes WHERE seq <= ? AND tbl = ?');
      for (const n of names) dropped += del.run(startSeq, n).changes;
      const r = db
        .prepare('SELECT count(*) AS n FROM _dualdb_changes WHERE seq <= ? AND seq > ?')
        .get(startSeq, state.pushedUpto()) as { n: bigint | number };
      remaining = Number(r.n);
    }).immediate();
    const [row] = await hub.query<{ push_cursor: string | number }>('SELECT push_cursor FROM _dualdb_nodes WHERE node_id = ?', [
      nodeId,
    ]);
    const hubCursor = BigInt(row?.push_cursor ?? 0);
    // Nothing else waits below startSeq: the cursor moves there (also down, from a stale hub
    // row of a re-created file). Otherwise it may only move down, never over those entries.
    const target = remaining === 0 ? startSeq : hubCursor < startSeq ? hubCursor : startSeq;
    await hub.execute('UPDATE _dualdb_nodes SET push_cursor = ?, last_seen = NOW(6) WHERE node_id = ?', [target, nodeId]);
    db.transaction(() => state.setPushedUpto(target))();
    push = {
      moved: true,
      cursor: target.toString(),
      dropped,
      ...(remaining ? { reason: `${remaining} earlier change(s) of other tables still wait to be pushed` } : {}),
    };
  } else {
    push = { moved: false, dropped: 0, reason: 'seeding writes nothing to the local change log' };
  }
  if (!job.complete) {
    return {
      push,
      pull: {
        moved: false,
        reason: 'only some tables were copied: pulls go on from where they were (re-applying changes is harmless)',
      },
    };
  }
  const moved = resumePullAt(db, position);
  await reportPullPosition(hub, db, moved.next);
  return { push, pull: { moved: true, upto: moved.next.upto.toString() } };
}
