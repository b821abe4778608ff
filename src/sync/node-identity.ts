/**
 * The two ways out of NODE_ID_IN_USE (docs/SYNC-CONTRACT.md invariant 17), run by `dualdb init`:
 *
 *  - `--new-node-id`: this file is a copy; it gets a fresh node id (and token) and registers
 *    at its own push position, so the rows it logged and never pushed go out once, as the new
 *    node's. What the other holder pushed under the old id it pulls like any other node's.
 *  - `--take-over`: this file becomes the holder (a restored machine). The hub's cursor moves
 *    to this file's push position (its later log entries would otherwise be skipped), and
 *    the hub log entries the previous holder wrote under this id after this file's pull
 *    position are re-labelled, so this file pulls them (and its own pushes check them for
 *    conflicts) instead of taking them for its own echo.
 */
import type { Config } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { ConfigError } from '../util/errors.js';
import { generateNodeId, LocalState } from './local-state.js';
import { epochOf, forgetToken, localToken, markPending, newToken, saveToken } from './node-fence.js';

/** Gives the file a fresh node id; it registers (with a new token) at the next hub contact. */
export function assignNewNodeId(db: SqliteDb, config: Config): string {
  if (config.nodeId) {
    throw new ConfigError(
      'NODE_ID',
      `NODE_ID=${config.nodeId} is set for this install: a new node id would be overwritten by it`,
      {
        hint: 'give this install its own NODE_ID (in its configuration) and run `dualdb init`',
      },
    );
  }
  const state = new LocalState(db);
  const id = generateNodeId();
  db.transaction(() => {
    state.setMeta('node_id', id);
    forgetToken(state);
  })();
  return id;
}

export interface TakeOverReport {
  /** The hub's push cursor for the id before, and after (this file's push position). */
  cursorBefore: string | null;
  cursorAfter: string;
  /** Hub log entries of the previous holder this file will now pull. */
  relabelled: number;
}

/** The origin the previous holder's entries get: never a node id (ids do not start with `~`). */
function formerOrigin(nodeId: string): string {
  return `~${nodeId}`.slice(0, 64);
}

/** Makes this file the holder of its node id on the hub (see the file comment). */
export async function takeOverNodeId(db: SqliteDb, hub: MysqlHub, nodeId: string): Promise<TakeOverReport> {
  const state = new LocalState(db);
  const pushed = state.pushedUpto();
  const pull = state.pullState();
  let token = '';
  const report = await hub.transaction(async (conn) => {
    const [rows] = await conn.query('SELECT push_cursor, push_token FROM _dualdb_nodes WHERE node_id = ? FOR UPDATE', [nodeId]);
    const row = (rows as { push_cursor: string | number; push_token: string | null }[])[0];
    token = newToken(Math.max(epochOf(row?.push_token), epochOf(localToken(state, nodeId))) + 1);
    // Known locally before the hub commits: a crash in between is adopted at the next sync.
    markPending(state, token);
    if (row) {
      await conn.query('UPDATE _dualdb_nodes SET push_token = ?, push_cursor = ?, last_seen = NOW(6) WHERE node_id = ?', [
        token,
        pushed,
        nodeId,
      ]);
    } else {
      await conn.query(
        `INSERT INTO _dualdb_nodes (node_id, push_cursor, pull_upto, first_seen, last_seen, push_token)
         VALUES (?, ?, 0, NOW(6), NOW(6), ?)`,
        [nodeId, pushed, token],
      );
    }
    const holes = [...pull.holes.keys()];
    const [res] = await conn.query(
      `UPDATE _dualdb_changes SET origin = ? WHERE origin = ? AND (seq > ?${holes.length ? ' OR seq IN (?)' : ''})`,
      holes.length ? [formerOrigin(nodeId), nodeId, pull.upto, holes] : [formerOrigin(nodeId), nodeId, pull.upto],
    );
    return {
      cursorBefore: row ? String(row.push_cursor) : null,
      cursorAfter: pushed.toString(),
      relabelled: (res as { affectedRows?: number }).affectedRows ?? 0,
    };
  });
  db.transaction(() => saveToken(state, nodeId, token))();
  return report;
}
