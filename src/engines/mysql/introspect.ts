/** Introspection of the hub database (information_schema) into the engine-neutral model. */
import { type ColumnInfo, type ForeignKeyInfo, type IndexInfo, isMetaTable, type TableInfo, type TableStats } from '../types.js';
import type { MysqlHub } from './connect.js';
import { quoteMysqlId } from './quote.js';

interface ColRow {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  DATA_TYPE: string;
  IS_NULLABLE: string;
  COLUMN_DEFAULT: string | null;
  EXTRA: string;
  CHARACTER_MAXIMUM_LENGTH: string | number | null;
  NUMERIC_PRECISION: string | number | null;
  NUMERIC_SCALE: string | number | null;
  COLLATION_NAME: string | null;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

export async function listMysqlTables(hub: MysqlHub, options: { includeMeta?: boolean } = {}): Promise<string[]> {
  const rows = await hub.query<{ TABLE_NAME: string }>(
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
  );
  // Sorted here, not by the server's collation: the same order as SQLite's (binary), so lists line up side by side.
  return rows
    .map((r) => r.TABLE_NAME)
    .filter((t) => options.includeMeta || !isMetaTable(t))
    .sort(binaryOrder);
}

function binaryOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function listMysqlViews(hub: MysqlHub): Promise<string[]> {
  const rows = await hub.query<{ TABLE_NAME: string }>(
    'SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
  );
  return rows.map((r) => r.TABLE_NAME);
}

/**
 * MariaDB reports defaults as SQL expressions (`NULL`, `'text'`, `current_timestamp()`),
 * MySQL as bare values; normalise to MariaDB's form: an SQL expression, or null.
 */
function normaliseDefault(value: string | null, dataType: string, extra: string, flavorHint: 'quoted' | 'bare'): string | null {
  if (value === null) return null;
  if (flavorHint === 'quoted') return value === 'NULL' ? null : value;
  if (/DEFAULT_GENERATED/i.test(extra) || /^current_timestamp/i.test(value)) return value;
  if (/int|decimal|float|double|bit|year/.test(dataType)) return value;
  return `'${value.replaceAll("'", "''")}'`;
}

export async function introspectMysql(hub: MysqlHub, tables?: string[]): Promise<TableInfo[]> {
  const all = tables ?? (await listMysqlTables(hub));
  if (all.length === 0) return [];
  const info = await hub.serverInfo();
  const flavorHint = info.flavor === 'mariadb' ? 'quoted' : 'bare';
  const cols = await hub.query<ColRow>(
    `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,
            CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, COLLATION_NAME
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)
      ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [all],
  );
  const stats = await hub.query<{
    TABLE_NAME: string;
    INDEX_NAME: string;
    NON_UNIQUE: string | number;
    COLUMN_NAME: string | null;
  }>(
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME
       FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)
      ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [all],
  );
  const fks = await hub.query<{
    TABLE_NAME: string;
    CONSTRAINT_NAME: string;
    COLUMN_NAME: string;
    REFERENCED_TABLE_NAME: string;
    REFERENCED_COLUMN_NAME: string;
    UPDATE_RULE: string;
    DELETE_RULE: string;
  }>(
    `SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
            r.UPDATE_RULE, r.DELETE_RULE
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME IN (?) AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [all],
  );

  const result: TableInfo[] = [];
  for (const table of all) {
    const pk: string[] = [];
    const indexes = new Map<string, IndexInfo>();
    for (const s of stats.filter((r) => r.TABLE_NAME === table)) {
      if (s.INDEX_NAME === 'PRIMARY') {
        if (s.COLUMN_NAME) pk.push(s.COLUMN_NAME);
        continue;
      }
      let ix = indexes.get(s.INDEX_NAME);
      if (!ix) {
        ix = {
          name: s.INDEX_NAME,
          columns: [],
          unique: Number(s.NON_UNIQUE) === 0,
        };
        indexes.set(s.INDEX_NAME, ix);
      }
      ix.columns.push(s.COLUMN_NAME ?? '<expr>');
    }
    const columns: ColumnInfo[] = cols
      .filter((c) => c.TABLE_NAME === table)
      .map((c) => ({
        name: c.COLUMN_NAME,
        type: c.COLUMN_TYPE,
        baseType: c.DATA_TYPE.toLowerCase(),
        nullable: c.IS_NULLABLE === 'YES',
        defaultValue: normaliseDefault(c.COLUMN_DEFAULT, c.DATA_TYPE.toLowerCase(), c.EXTRA, flavorHint),
        pkOrdinal: pk.indexOf(c.COLUMN_NAME) + 1,
        autoIncrement: /auto_increment/i.test(c.EXTRA),
        maxLength: num(c.CHARACTER_MAXIMUM_LENGTH),
        numericPrecision: num(c.NUMERIC_PRECISION),
        numericScale: num(c.NUMERIC_SCALE),
        collation: c.COLLATION_NAME,
      }));
    if (columns.length === 0) continue;
    const fkMap = new Map<string, ForeignKeyInfo>();
    for (const f of fks.filter((r) => r.TABLE_NAME === table)) {
      let fk = fkMap.get(f.CONSTRAINT_NAME);
      if (!fk) {
        fk = {
          name: f.CONSTRAINT_NAME,
          columns: [],
          refTable: f.REFERENCED_TABLE_NAME,
          refColumns: [],
          onDelete: f.DELETE_RULE,
          onUpdate: f.UPDATE_RULE,
        };
        fkMap.set(f.CONSTRAINT_NAME, fk);
      }
      fk.columns.push(f.COLUMN_NAME);
      fk.refColumns.push(f.REFERENCED_COLUMN_NAME);
    }
    result.push({
      name: table,
      columns,
      primaryKey: pk,
      indexes: [...indexes.values()],
      foreignKeys: [...fkMap.values()],
    });
  }
  return result;
}

/** Exact row counts (COUNT(*), not the InnoDB estimate) and on-disk bytes per table. */
export async function mysqlTableStats(hub: MysqlHub, tables?: string[]): Promise<TableStats[]> {
  const names = tables ?? (await listMysqlTables(hub));
  if (names.length === 0) return [];
  const sizes = await hub.query<{
    TABLE_NAME: string;
    bytes: string | number | null;
  }>(
    `SELECT TABLE_NAME, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [names],
  );
  const sizeOf = new Map(sizes.map((s) => [s.TABLE_NAME, s.bytes === null ? null : Number(s.bytes)]));
  const out: TableStats[] = [];
  for (const name of names) {
    const [row] = await hub.query<{ c: string | number }>(`SELECT COUNT(*) AS c FROM ${quoteMysqlId(name)}`);
    out.push({
      name,
      rows: Number(row?.c ?? 0),
      bytes: sizeOf.get(name) ?? null,
    });
  }
  return out;
}

export async function mysqlDatabaseBytes(hub: MysqlHub): Promise<number> {
  const [row] = await hub.query<{ b: string | number | null }>(
    'SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
  );
  return Number(row?.b ?? 0);
}
