/**
 * Hub tables (MySQL TableInfo) → SQLite DDL, for seeding a new site from the hub.
 * Declared types are chosen for their SQLite affinity and so that they translate
 * back to the same MySQL types (see mysqlToSqliteType). Writes nothing.
 */
import { baseTypeOf } from '../engines/sqlite/introspect.js';
import { quoteSqliteId, sqliteLiteral } from '../engines/sqlite/quote.js';
import { type ColumnInfo, type ForeignKeyInfo, type IndexInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import { mysqlDefaultToSqlite } from './defaults.js';
import {
  foreignKeyOrder,
  normaliseRule,
  type TranslatedTable,
  type Translation,
  type TranslationWarning,
  uniqueName,
} from './translation.js';
import { enumMembers, mysqlToSqliteType } from './type-map.js';

export interface ToSqliteOptions {
  /** Tables (and indexes) that already exist in the SQLite file: foreign keys may point at them, names must not collide. */
  existing?: TableInfo[];
  /** CREATE … IF NOT EXISTS instead of CREATE. */
  ifNotExists?: boolean;
}

const lower = (s: string) => s.toLowerCase();
const INT_BASES = /^(tinyint|smallint|mediumint|int|integer|bigint)$/;

export function translateToSqlite(tables: TableInfo[], options: ToSqliteOptions = {}): Translation {
  const warnings: TranslationWarning[] = [];
  const warn = (table: string, column: string | undefined, problem: string, reason: string) =>
    warnings.push({ table, ...(column === undefined ? {} : { column }), problem, reason });
  const userTables = tables.filter((t) => !isMetaTable(t.name));
  const known = new Map([...(options.existing ?? []), ...userTables].map((t) => [lower(t.name), t]));
  // SQLite has one namespace for tables and indexes, across the whole file.
  const taken = new Set<string>([...known.keys()]);
  for (const t of options.existing ?? []) for (const ix of t.indexes) taken.add(lower(ix.name));
  const ifne = options.ifNotExists ? 'IF NOT EXISTS ' : '';
  const q = quoteSqliteId;

  const out: TranslatedTable[] = [];
  for (const t of foreignKeyOrder(userTables).ordered) {
    const lines: string[] = [];
    const columns: ColumnInfo[] = [];
    const pk = t.primaryKey.map(lower);
    const single = t.primaryKey.length === 1 ? t.columns.find((c) => lower(c.name) === pk[0]) : undefined;
    // Only an INTEGER PRIMARY KEY auto-numbers in SQLite; it is also the fastest key (the rowid).
    const rowid = single && INT_BASES.test(single.baseType.toLowerCase()) && !/unsigned/i.test(single.type) ? single : undefined;
    if (t.primaryKey.length === 0)
      warn(
        t.name,
        undefined,
        'no primary key',
        'SQLite accepts the table, but rows cannot be matched between the sides: it will not be synced',
      );

    for (const c of t.columns) {
      const isRowid = c === rowid;
      const mapped = isRowid ? { sql: 'INTEGER' } : mysqlToSqliteType(c);
      if ('note' in mapped && mapped.note) warn(t.name, c.name, mapped.note.problem, mapped.note.reason);
      let def = `${q(c.name)} ${mapped.sql}`;
      if (isRowid) def += ` PRIMARY KEY${c.autoIncrement ? ' AUTOINCREMENT' : ''}`;
      else if (c.autoIncrement)
        warn(
          t.name,
          c.name,
          'AUTO_INCREMENT',
          'SQLite numbers rows automatically only for a single INTEGER PRIMARY KEY; give values explicitly',
        );
      if (!c.nullable && !isRowid) def += ' NOT NULL';
      let dflt: string | null = null;
      if (!c.autoIncrement && c.defaultValue !== null) {
        const d = mysqlDefaultToSqlite(c.defaultValue, c.baseType.toLowerCase());
        dflt = d.sql;
        if (d.warning) warn(t.name, c.name, d.warning.problem, d.warning.reason);
      }
      if (dflt !== null) def += ` DEFAULT ${dflt}`;
      if (c.baseType.toLowerCase() === 'enum') {
        const members = enumMembers(c.type);
        if (members.length > 0) def += ` CHECK (${q(c.name)} IN (${members.map(sqliteLiteral).join(', ')}))`;
      }
      lines.push(def);
      const [a, b] =
        /\(([^)]*)\)/
          .exec(mapped.sql)?.[1]
          ?.split(',')
          .map((x) => Number(x.trim())) ?? [];
      const text = /CHAR|TEXT|BINARY/.test(mapped.sql) && !mapped.sql.startsWith('DECIMAL');
      columns.push({
        name: c.name,
        type: mapped.sql,
        baseType: baseTypeOf(mapped.sql),
        nullable: c.nullable && !isRowid,
        defaultValue: dflt,
        pkOrdinal: pk.indexOf(lower(c.name)) + 1,
        autoIncrement: isRowid,
        maxLength: text && a !== undefined ? a : null,
        numericPrecision: !text && a !== undefined ? a : null,
        numericScale: !text && b !== undefined ? b : null,
      });
    }
    if (t.primaryKey.length > 0 && !rowid) lines.push(`PRIMARY KEY (${t.primaryKey.map(q).join(', ')})`);

    const fks: ForeignKeyInfo[] = [];
    for (const fk of t.foreignKeys) {
      const parent = known.get(lower(fk.refTable));
      if (!parent) {
        warn(
          t.name,
          fk.columns.join(', '),
          `foreign key → ${fk.refTable}`,
          `${fk.refTable} is neither translated nor present in SQLite (writes would fail with "no such table"); the key is left out`,
        );
        continue;
      }
      let clause = `${fk.name ? `CONSTRAINT ${q(fk.name)} ` : ''}FOREIGN KEY (${fk.columns.map(q).join(', ')}) REFERENCES ${q(fk.refTable)} (${fk.refColumns.map(q).join(', ')})`;
      // InnoDB's RESTRICT is its NO ACTION (both check at once), which is SQLite's default.
      const onDelete = normaliseRule(fk.onDelete);
      const onUpdate = normaliseRule(fk.onUpdate);
      if (onDelete !== 'NO ACTION') clause += ` ON DELETE ${onDelete}`;
      if (onUpdate !== 'NO ACTION') clause += ` ON UPDATE ${onUpdate}`;
      lines.push(clause);
      fks.push({ ...fk });
    }

    const statements = [`CREATE TABLE ${ifne}${q(t.name)} (\n  ${lines.join(',\n  ')}\n)`];
    const indexes: IndexInfo[] = [];
    for (const ix of t.indexes) {
      if (ix.columns.some((c) => c === '<expr>')) {
        warn(t.name, undefined, `index ${ix.name}`, 'an index on an expression is not translated; create it by hand if needed');
        continue;
      }
      const base =
        lower(ix.name).includes(lower(t.name)) && !lower(ix.name).startsWith('sqlite_') ? ix.name : `${t.name}_${ix.name}`;
      const name = uniqueName(base, taken, 1000);
      statements.push(
        `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ${ifne}${q(name)} ON ${q(t.name)} (${ix.columns.map(q).join(', ')})`,
      );
      indexes.push({ name, columns: [...ix.columns], unique: ix.unique });
    }
    out.push({
      name: t.name,
      statements,
      model: { name: t.name, columns, primaryKey: [...t.primaryKey], indexes, foreignKeys: fks },
    });
  }
  return { target: 'sqlite', tables: out, deferred: [], statements: out.flatMap((t) => t.statements), warnings };
}
