/**
 * Change capture on the hub: `_dualdb_*` tables and AFTER INSERT/UPDATE/DELETE
 * triggers per synced table, which log (table, key, op, origin, time) in the
 * writer's transaction. Triggers need only ordinary privileges (TRIGGER on the
 * database), so this works on MySQL 8, MariaDB 10.6+ and clustered hubs.
 *
 * Session variables, set only on pinned connections (see MysqlHub.withConnection):
 *  - `@dualdb_origin`: the node id applying a push; logged so that the node does
 *    not pull its own changes back, while every other node still receives them.
 *  - `@dualdb_capture_off`: repair and migration copy without logging at all.
 *  - `@dualdb_token_tbl` (`<database>.<table>`), `@dualdb_token` (capture version 2): a
 *    `mysql_primary` one-row insert's write token, logged with the insert's own log row of that
 *    table (the trigger then clears
 *    `@dualdb_token_tbl`, which the write checks before it commits: api/hub-insert.ts), so that a
 *    lost COMMIT reply is resolved from the log (sync/commit-outcome.ts) without a row of its own.
 *
 * Note: MySQL does not fire triggers for rows changed by ON DELETE/UPDATE CASCADE.
 * Nodes apply the parent's change with the same foreign keys, so the cascade
 * happens there too; keep FK definitions identical on both sides.
 */
import { createHash } from 'node:crypto';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { MysqlError } from '../util/errors.js';
import { type KeyColumn, mysqlKeyExpr } from './keys.js';

/**
 * 2: the insert trigger logs a one-row write's token (`_dualdb_changes.token`). Version 1 triggers
 * stay on a hub whose log lacks the column (it could not be added): they log what they always did.
 */
export const MYSQL_CAPTURE_VERSION = 2;

export const MYSQL_NOW_MS = 'UNIX_TIMESTAMP(NOW(6)) * 1000';

/** Tokens of hub-first (mysql_primary) writes, to learn whether an interrupted COMMIT happened (sync/commit-outcome.ts). */
export const MYSQL_WRITE_TOKENS_DDL = `CREATE TABLE IF NOT EXISTS _dualdb_write_tokens (
     token CHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
     node_id VARCHAR(64) NOT NULL,
     at DATETIME(6) NOT NULL,
     KEY _dualdb_write_tokens_at (at)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

export const MYSQL_META_DDL = [
  `CREATE TABLE IF NOT EXISTS _dualdb_changes (
     seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
     tbl VARCHAR(64) NOT NULL,
     pk VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
     op CHAR(1) NOT NULL,
     origin VARCHAR(64) NULL,
     at DOUBLE NOT NULL,
     token CHAR(32) CHARACTER SET ascii NULL,
     KEY _dualdb_changes_key (tbl, pk(255)),
     KEY _dualdb_changes_moves (op, seq)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS _dualdb_nodes (
     node_id VARCHAR(64) NOT NULL PRIMARY KEY,
     push_cursor BIGINT NOT NULL DEFAULT 0,
     pull_upto BIGINT UNSIGNED NOT NULL DEFAULT 0,
     first_seen DATETIME(6) NOT NULL,
     last_seen DATETIME(6) NOT NULL,
     state VARCHAR(32) NULL,
     info TEXT NULL,
     push_token VARCHAR(64) CHARACTER SET ascii NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS _dualdb_hub_meta (
     k VARCHAR(64) NOT NULL PRIMARY KEY,
     v TEXT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS _dualdb_tables (
     tbl VARCHAR(64) NOT NULL PRIMARY KEY,
     pk_columns TEXT NOT NULL,
     capture_version INT NOT NULL,
     installed_at DATETIME(6) NOT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS _dualdb_heartbeats (
     node_id VARCHAR(64) NOT NULL PRIMARY KEY,
     beat BIGINT NOT NULL,
     sent_ms DOUBLE NOT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  MYSQL_WRITE_TOKENS_DDL,
];

export const MYSQL_META_TABLES = [
  '_dualdb_changes',
  '_dualdb_nodes',
  '_dualdb_hub_meta',
  '_dualdb_tables',
  '_dualdb_heartbeats',
  '_dualdb_migration',
  '_dualdb_write_tokens',
];

/** Trigger names fit MySQL's 64-character limit whatever the table name. */
export function mysqlTriggerNames(table: string): string[] {
  const base = `_dualdb_${table}`;
  const stem = base.length <= 60 ? base : `${base.slice(0, 50)}_${createHash('sha1').update(table).digest('hex').slice(0, 8)}`;
  return ['ai', 'au', 'ad'].map((s) => `${stem}_${s}`);
}

function literal(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

export function mysqlTriggerDdl(table: string, key: KeyColumn[], version = MYSQL_CAPTURE_VERSION): string[] {
  const t = quoteMysqlId(table);
  const lit = literal(table);
  const [ai, au, ad] = mysqlTriggerNames(table).map(quoteMysqlId);
  const newKey = mysqlKeyExpr(key, 'NEW');
  const oldKey = mysqlKeyExpr(key, 'OLD');
  const log = (k: string, op: string) =>
    `INSERT INTO _dualdb_changes (tbl, pk, op, origin, at) VALUES (${lit}, ${k}, '${op}', @dualdb_origin, ${MYSQL_NOW_MS});`;
  // Version 2: the write token of a one-row insert that names this table (with its database: a
  // trigger of a same-named table elsewhere that the insert sets off never takes it), taken once.
  const insertLog =
    version >= 2
      ? `IF @dualdb_token_tbl = CONCAT(DATABASE(), '.', ${lit}) THEN
           INSERT INTO _dualdb_changes (tbl, pk, op, origin, at, token) VALUES (${lit}, ${newKey}, 'I', @dualdb_origin, ${MYSQL_NOW_MS}, @dualdb_token);
           SET @dualdb_token_tbl = NULL;
         ELSE ${log(newKey, 'I')} END IF;`
      : log(newKey, 'I');
  return [
    `CREATE TRIGGER ${ai} AFTER INSERT ON ${t} FOR EACH ROW
     BEGIN
       IF @dualdb_capture_off IS NULL THEN ${insertLog} END IF;
     END`,
    `CREATE TRIGGER ${au} AFTER UPDATE ON ${t} FOR EACH ROW
     BEGIN
       IF @dualdb_capture_off IS NULL THEN
         IF NOT (${oldKey} <=> ${newKey}) THEN ${log(oldKey, 'D')} END IF;
         ${log(newKey, 'U')}
       END IF;
     END`,
    `CREATE TRIGGER ${ad} AFTER DELETE ON ${t} FOR EACH ROW
     BEGIN
       IF @dualdb_capture_off IS NULL THEN ${log(oldKey, 'D')} END IF;
     END`,
  ];
}

/**
 * Creates or upgrades the hub's `_dualdb_*` tables; says what became of the log's moves index and
 * whether the hub's triggers log write tokens (the capture version they get: logTokensWanted).
 */
export async function installMysqlMeta(hub: MysqlHub): Promise<{ movesIndex: MovesIndexOutcome; logTokens: boolean }> {
  for (const ddl of MYSQL_META_DDL) await hub.execute(ddl);
  await ensurePushTokenColumn(hub);
  const movesIndex = await ensureMovesIndex(hub);
  const logTokens = (await logTokensWanted(hub)) && (await ensureLogTokenColumn(hub));
  await hub.execute("INSERT INTO _dualdb_hub_meta (k, v) VALUES ('capture_version', ?) ON DUPLICATE KEY UPDATE v = VALUES(v)", [
    String(logTokens ? MYSQL_CAPTURE_VERSION : 1),
  ]);
  return { movesIndex, logTokens };
}

/**
 * Whether this hub's triggers should log write tokens: only the one-query `mysql_primary` insert
 * reads them, and it needs `RETURNING` (MariaDB 10.5+); MariaDB also replaces a trigger in one
 * step (`CREATE OR REPLACE TRIGGER`), so bringing triggers to version 2 never leaves a table
 * without capture. Other hubs keep version 1.
 */
async function logTokensWanted(hub: MysqlHub): Promise<boolean> {
  return (await hub.serverInfo()).returning;
}

async function hasLogTokenColumn(hub: MysqlHub): Promise<boolean> {
  const rows = await hub.query(
    "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_changes' AND COLUMN_NAME = 'token'",
  );
  return rows.length > 0;
}

/**
 * Hubs installed before capture version 2 lack `_dualdb_changes.token`: added in place, as the
 * last column (INSTANT: no copy of the log, every row kept). Best effort, like the moves index:
 * the ALTER waits at most 2 s for the log's metadata lock, and a hub user without ALTER leaves it
 * as it is; then the triggers stay at version 1 and the `mysql_primary` write records its token
 * in a row of its own, as before (api/hub-insert.ts).
 */
export async function ensureLogTokenColumn(hub: MysqlHub): Promise<boolean> {
  if (await hasLogTokenColumn(hub)) return true;
  try {
    await hub.withConnection(async (conn) => {
      await conn.query('SET SESSION lock_wait_timeout = 2');
      try {
        await conn.query('ALTER TABLE _dualdb_changes ADD COLUMN token CHAR(32) CHARACTER SET ascii NULL, ALGORITHM=INSTANT');
      } finally {
        await conn.query('SET SESSION lock_wait_timeout = DEFAULT');
      }
    });
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'ER_DUP_FIELDNAME'; // another node added it meanwhile
  }
}

/**
 * Hubs installed before push fencing (docs/SYNC-CONTRACT.md invariant 17) lack `_dualdb_nodes.push_token`:
 * added in place, every node's row kept (NULL until that node next syncs and claims it).
 */
export async function ensurePushTokenColumn(hub: MysqlHub): Promise<void> {
  const rows = await hub.query(
    "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_nodes' AND COLUMN_NAME = 'push_token'",
  );
  if (rows.length > 0) return;
  await hub
    .execute('ALTER TABLE _dualdb_nodes ADD COLUMN push_token VARCHAR(64) CHARACTER SET ascii NULL')
    .catch((e: unknown) => {
      if ((e as { code?: string }).code === 'ER_DUP_FIELDNAME') return; // another node added it meanwhile
      // The pool has already turned the refusal into a generic missing-privileges error.
      if (e instanceof MysqlError && e.kind === 'missing-privileges') {
        throw new MysqlError(
          'missing-privileges',
          'the hub refused to add the push_token column to _dualdb_nodes (an upgrade step)',
          {
            hint: `run \`dualdb init\` once with an account that holds ALTER on the hub database, or as an admin: GRANT ALTER ON \`${hub.config.database}\`._dualdb_nodes TO this user`,
            cause: e,
          },
        );
      }
      throw e;
    });
}

/** The index that finds the log's R entries (re-key moves, sync/hub-moves.ts) without a scan. */
export const MOVES_INDEX = '_dualdb_changes_moves';

export type MovesIndexOutcome = 'present' | 'added' | 'skipped';

/**
 * Hubs installed before it lack the moves index: added in place, online (InnoDB builds it while
 * the capture triggers keep writing). Best effort: every query works without it, only slower.
 * The ALTER waits at most 2 s for the log's metadata lock (a long transaction on the log holds
 * it), and writers queue behind a waiting ALTER, so a busy hub is left as it is and the next
 * init tries again; so is a hub user without ALTER (the reads never need the index).
 */
export async function ensureMovesIndex(hub: MysqlHub): Promise<MovesIndexOutcome> {
  const rows = await hub.query(
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dualdb_changes' AND INDEX_NAME = ?",
    [MOVES_INDEX],
  );
  if (rows.length > 0) return 'present';
  try {
    await hub.withConnection(async (conn) => {
      await conn.query('SET SESSION lock_wait_timeout = 2');
      try {
        await conn.query(`ALTER TABLE _dualdb_changes ADD INDEX ${MOVES_INDEX} (op, seq), ALGORITHM=INPLACE, LOCK=NONE`);
      } finally {
        await conn.query('SET SESSION lock_wait_timeout = DEFAULT');
      }
    });
    return 'added';
  } catch (e) {
    if ((e as { code?: string }).code === 'ER_DUP_KEYNAME') return 'present'; // another node added it meanwhile
    return 'skipped';
  }
}

async function triggerExists(hub: MysqlHub, name: string): Promise<boolean> {
  const rows = await hub.query(
    'SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?',
    [name],
  );
  return rows.length > 0;
}

/**
 * Installs (or brings up to date) one table's capture triggers. `logTokens`: whether they log
 * write tokens (version 2; installMysqlMeta says, looked up when not given).
 */
export async function installMysqlTableCapture(
  hub: MysqlHub,
  table: string,
  key: KeyColumn[],
  logTokens?: boolean,
): Promise<'installed' | 'unchanged' | 'upgraded'> {
  const tokens = logTokens ?? ((await logTokensWanted(hub)) && (await hasLogTokenColumn(hub)));
  const version = tokens ? MYSQL_CAPTURE_VERSION : 1;
  const pkText = key.map((k) => `${k.name}:${k.type}`).join(',');
  const [existing] = await hub.query<{ pk_columns: string; capture_version: number }>(
    'SELECT pk_columns, capture_version FROM _dualdb_tables WHERE tbl = ?',
    [table],
  );
  const names = mysqlTriggerNames(table);
  let present = true;
  for (const n of names) present &&= await triggerExists(hub, n);
  if (existing && existing.pk_columns === pkText && Number(existing.capture_version) === version && present) {
    return 'unchanged';
  }
  const ddls = mysqlTriggerDdl(table, key, version);
  if ((await hub.serverInfo()).flavor === 'mariadb') {
    // Each trigger replaced in one step, under the table's exclusive metadata lock: writers wait
    // for it, none goes uncaptured (invariant 15: other nodes' capture never lapses).
    for (const ddl of ddls)
      await hub.execute(ddl.replace(/^CREATE TRIGGER/, 'CREATE OR REPLACE TRIGGER')).catch(explainTriggerRefusal);
  } else {
    // DDL is not transactional in MySQL; drop-then-create leaves a short window without capture
    // only when upgrading, which `dualdb init` does while sync is stopped.
    for (const n of names) await hub.execute(`DROP TRIGGER IF EXISTS ${quoteMysqlId(n)}`).catch(explainTriggerRefusal);
    for (const ddl of ddls) await hub.execute(ddl).catch(explainTriggerRefusal);
  }
  await hub.execute(
    `INSERT INTO _dualdb_tables (tbl, pk_columns, capture_version, installed_at) VALUES (?, ?, ?, NOW(6))
     ON DUPLICATE KEY UPDATE pk_columns = VALUES(pk_columns), capture_version = VALUES(capture_version), installed_at = VALUES(installed_at)`,
    [table, pkText, version],
  );
  return existing ? 'upgraded' : 'installed';
}

/**
 * MySQL 8 (binary log on by default) and Galera refuse CREATE TRIGGER from an
 * account without SUPER unless log_bin_trust_function_creators is on (errno 1419).
 */
function explainTriggerRefusal(e: unknown): never {
  const err = e as { errno?: number; code?: string };
  if (err.errno === 1419 || err.code === 'ER_BINLOG_CREATE_ROUTINE_NEED_SUPER') {
    throw new MysqlError(
      'missing-privileges',
      'the hub refused to create capture triggers: binary logging is on and this account lacks SUPER',
      {
        hint: 'as an admin run `SET GLOBAL log_bin_trust_function_creators = 1` (and set it in the server config), or run `dualdb init` once with an admin account',
        cause: e,
      },
    );
  }
  throw e;
}

export async function removeMysqlTableCapture(hub: MysqlHub, table: string): Promise<void> {
  for (const n of mysqlTriggerNames(table)) await hub.execute(`DROP TRIGGER IF EXISTS ${quoteMysqlId(n)}`);
  await hub.execute('DELETE FROM _dualdb_tables WHERE tbl = ?', [table]).catch(() => {});
}

export async function capturedMysqlTables(hub: MysqlHub): Promise<Map<string, string>> {
  const rows = await hub
    .query<{ tbl: string; pk_columns: string }>('SELECT tbl, pk_columns FROM _dualdb_tables')
    .catch((e: { code?: string }) => {
      if (e.code === 'ER_NO_SUCH_TABLE') return [];
      throw e;
    });
  return new Map(rows.map((r) => [r.tbl, r.pk_columns]));
}

/** Removes every trigger and table dualdb installed on the hub, and nothing else. */
export async function uninstallMysqlCapture(hub: MysqlHub): Promise<string[]> {
  const removed: string[] = [];
  const tables = await capturedMysqlTables(hub);
  const known = new Set([...tables.keys()].flatMap(mysqlTriggerNames));
  const triggers = await hub.query<{ TRIGGER_NAME: string }>(
    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE '\\_dualdb\\_%'",
  );
  for (const { TRIGGER_NAME: name } of triggers) {
    if (known.has(name) || /_(ai|au|ad)$/.test(name)) {
      await hub.execute(`DROP TRIGGER IF EXISTS ${quoteMysqlId(name)}`);
      removed.push(`trigger ${name}`);
    }
  }
  for (const t of MYSQL_META_TABLES) {
    const rows = await hub.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [
      t,
    ]);
    if (rows.length > 0) {
      await hub.execute(`DROP TABLE ${quoteMysqlId(t)}`);
      removed.push(`table ${t}`);
    }
  }
  return removed;
}
