/**
 * What a setup that ends without writing the .env (cancelled, failed) leaves
 * behind, in a phrase each: the private server it started, tables it created,
 * columns it widened, capture it installed, rows it copied. Front ends say
 * "nothing was saved" only when that is true.
 */
import path from 'node:path';
import type { MysqlConfig } from '../config/config.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { localServerDir, localServerStatus, serverCommandFor } from './local-server.js';

/** What a session changed outside the .env. */
export interface Touched {
  localServer: boolean;
  schema: { hub: boolean; sqlite: boolean };
  fit: boolean;
  /**
   * true: the capture step succeeded (triggers and tables are there). A step that failed or was
   * refused says what it really left, counted on both sides (a join guard refuses after the
   * bookkeeping tables went in and before any trigger did).
   */
  capture: boolean | CaptureLeft;
  migration: boolean;
}

/** dualdb's objects on one side: capture triggers and `_dualdb_` tables. */
export interface CaptureObjects {
  triggers: number;
  tables: number;
}

/** What a failed capture step added on each side (after minus before: the hub's may be other nodes'). */
export interface CaptureLeft {
  sqlite: CaptureObjects;
  hub: CaptureObjects;
}

const NONE: CaptureObjects = { triggers: 0, tables: 0 };

/** The SQLite file's capture triggers and `_dualdb_` tables. */
export function sqliteCaptureObjects(db: SqliteDb): CaptureObjects {
  const rows = db
    .prepare(
      "SELECT type, COUNT(*) AS n FROM sqlite_schema WHERE name LIKE '\\_dualdb\\_%' ESCAPE '\\' AND type IN ('table', 'trigger') GROUP BY type",
    )
    .all() as { type: string; n: number | bigint }[];
  const n = (type: string) => Number(rows.find((r) => r.type === type)?.n ?? 0);
  return { triggers: n('trigger'), tables: n('table') };
}

/** The hub database's capture triggers and `_dualdb_` tables. */
export async function hubCaptureObjects(hub: MysqlHub): Promise<CaptureObjects> {
  const [t] = await hub.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE '\\_dualdb\\_%'",
  );
  const [b] = await hub.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dualdb\\_%'",
  );
  return { triggers: Number(t?.n ?? 0), tables: Number(b?.n ?? 0) };
}

/** Counts both sides (the hub's as none without one). */
export async function captureObjects(db: SqliteDb, hub: MysqlHub | undefined): Promise<CaptureLeft> {
  return { sqlite: sqliteCaptureObjects(db), hub: hub ? await hubCaptureObjects(hub) : NONE };
}

/** What appeared between two counts, added to what an earlier failed attempt left. */
export function captureAdded(before: CaptureLeft, after: CaptureLeft, earlier: CaptureLeft | false): CaptureLeft {
  const add = (side: 'sqlite' | 'hub'): CaptureObjects => {
    const prior = earlier ? earlier[side] : NONE;
    return {
      triggers: prior.triggers + Math.max(0, after[side].triggers - before[side].triggers),
      tables: prior.tables + Math.max(0, after[side].tables - before[side].tables),
    };
  };
  return { sqlite: add('sqlite'), hub: add('hub') };
}

export function endpointOf(m: Readonly<MysqlConfig>): string {
  return `${m.host}:${m.port}/${m.database}`;
}

/**
 * The line shown when a setup is left before it wrote the .env: "nothing was
 * saved" only when that is true, otherwise what remains (SetupSession.leftBehind).
 */
export function cancelledMessage(leftBehind: readonly string[]): string {
  if (leftBehind.length === 0) return 'setup cancelled; nothing was saved';
  return `setup cancelled; no .env was written. ${stillThere(leftBehind)}`;
}

/** "Still there: a; b" (empty when nothing is). */
export function stillThere(leftBehind: readonly string[]): string {
  return leftBehind.length === 0 ? '' : `Still there: ${leftBehind.join('; ')}`;
}

/** A folder as typed from here: relative when inside the current folder. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/**
 * One phrase per thing still there. `before` is the private server as the
 * session found it (it counts only when this session started or created it).
 */
export function leftBehindPhrases(
  touched: Readonly<Touched>,
  answers: { readonly envFile: string; readonly mysql: Readonly<MysqlConfig> },
  before: { readonly exists: boolean; readonly running: boolean },
): string[] {
  const out: string[] = [];
  const dir = localServerDir(answers.envFile);
  const now = localServerStatus(dir);
  // The private server: started (or created, or being created) by this session.
  if (now.exists && (touched.localServer || !before.exists || (now.running && !before.running))) {
    const flavor = now.marker?.flavor === 'mysql' ? 'MySQL' : 'MariaDB';
    const state = now.running
      ? `running; \`${serverCommandFor(answers.envFile, 'stop')}\` stops it, running setup again reuses it`
      : 'stopped; running setup again reuses it';
    out.push(`the private ${flavor} server in ${shownPath(dir)} (${state})`);
  }
  const { hub, sqlite } = touched.schema;
  if (hub || sqlite) {
    const where = [hub ? `the hub ${endpointOf(answers.mysql)}` : '', sqlite ? 'the SQLite file' : '']
      .filter(Boolean)
      .join(' and ');
    out.push(`the tables the schema step created on ${where}`);
  }
  if (touched.fit) out.push(`the hub's columns widened by schema fit (they hold every value they held)`);
  const capture = capturePhrase(touched.capture, answers.mysql);
  if (capture) out.push(capture);
  if (touched.migration) out.push('the rows copied so far (setup again offers to resume)');
  return out;
}

/** The capture step's phrase: what is there, from its counts when the step did not succeed. */
function capturePhrase(capture: Touched['capture'], mysql: Readonly<MysqlConfig>): string | undefined {
  if (capture === false) return undefined;
  if (capture === true) return 'change capture (triggers and _dualdb_ tables) installed';
  const where = (pick: (o: CaptureObjects) => number) =>
    [pick(capture.sqlite) > 0 ? 'the SQLite file' : '', pick(capture.hub) > 0 ? `the hub ${endpointOf(mysql)}` : '']
      .filter(Boolean)
      .join(' and ');
  const triggers = where((o) => o.triggers);
  if (triggers) return `change capture installed on ${triggers} for some tables (triggers and _dualdb_ tables)`;
  const tables = where((o) => o.tables);
  // Bookkeeping only: nothing is captured, and setup again (or `dualdb init`) reuses them.
  if (tables) return `dualdb's bookkeeping tables (_dualdb_*, no capture triggers) on ${tables}`;
  return undefined;
}
