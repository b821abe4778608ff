/** What each side holds: tables, row counts, sizes (`dualdb info`). */
import type { Config } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { mysqlDatabaseBytes, mysqlTableStats } from '../engines/mysql/introspect.js';
import { sqliteTableStats } from '../engines/sqlite/introspect.js';
import { openSqlite, sqliteFailure } from '../engines/sqlite/open.js';
import type { TableStats } from '../engines/types.js';
import { type Problem, problemOf } from '../log/problem.js';
import { fileBytes } from './health.js';

export interface SideInfo {
  ok: boolean;
  tables: TableStats[];
  bytes: number | null;
  error?: Problem;
}

export interface InfoReport {
  sqlite: SideInfo & { path: string; walBytes: number | null };
  mysql: SideInfo & {
    enabled: boolean;
    host: string;
    port: number;
    database: string;
    user: string;
    version: string | null;
  };
}

export async function collectInfo(config: Config): Promise<InfoReport> {
  const sqlite: InfoReport['sqlite'] = {
    ok: false,
    path: config.sqlitePath,
    bytes: fileBytes(config.sqlitePath),
    walBytes: fileBytes(`${config.sqlitePath}-wal`),
    tables: [],
  };
  try {
    const db = openSqlite(config.sqlitePath, { readonly: true });
    try {
      sqlite.tables = sqliteTableStats(db);
      sqlite.ok = true;
    } finally {
      db.close();
    }
  } catch (e) {
    sqlite.error = problemOf(sqliteFailure(e, config.sqlitePath));
  }
  const m = config.mysql;
  const mysql: InfoReport['mysql'] = {
    ok: false,
    enabled: config.dualDatabase,
    host: m.host,
    port: m.port,
    database: m.database,
    user: m.user,
    version: null,
    tables: [],
    bytes: null,
  };
  if (config.dualDatabase) {
    let hub: MysqlHub | undefined;
    try {
      hub = await MysqlHub.connect(m);
      mysql.version = (await hub.serverInfo()).version;
      mysql.tables = await mysqlTableStats(hub);
      mysql.bytes = await mysqlDatabaseBytes(hub);
      mysql.ok = true;
    } catch (e) {
      mysql.error = problemOf(e);
    } finally {
      await hub?.close();
    }
  } else {
    mysql.ok = true;
  }
  return { sqlite, mysql };
}
