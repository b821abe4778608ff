/** The last pass of the translation: each table's plan as CREATE TABLE (and ALTERs for foreign keys in cycles). */
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { ColumnInfo, ForeignKeyInfo, TableInfo } from '../engines/types.js';
import type { ToMysqlOptions } from './translate.js';
import { type ColumnPlan, DEFAULT_TEXT_COLLATION, lower, MYSQL_TABLE_OPTIONS, type TablePlan } from './translate-context.js';
import { uniqueName } from './translation.js';

export function renderTable(
  plan: TablePlan,
  isForward: (fkIndex: number) => boolean,
  options: ToMysqlOptions,
  collationOf: (c: ColumnPlan) => string | null,
): { create: string; alters: string[]; model: TableInfo } {
  const t = plan.src;
  const q = quoteMysqlId;
  const lines: string[] = [];
  const columns: ColumnInfo[] = [];
  for (const c of plan.columns.values()) {
    const collation = collationOf(c);
    let def = `${q(c.src.name)} ${c.type.sql}${collation ? ` COLLATE ${collation}` : ''}${c.nullable ? ' NULL' : ' NOT NULL'}`;
    if (c.autoIncrement) def += ' AUTO_INCREMENT';
    if (c.defaultSql !== null) def += ` DEFAULT ${c.defaultSql}`;
    lines.push(def);
    columns.push({
      name: c.src.name,
      type: c.type.sql.toLowerCase(),
      baseType: c.type.base,
      nullable: c.nullable,
      defaultValue: c.defaultSql,
      pkOrdinal: t.primaryKey.findIndex((k) => lower(k) === lower(c.src.name)) + 1,
      autoIncrement: c.autoIncrement,
      maxLength: /char|binary/.test(c.type.base) ? c.type.length : null,
      numericPrecision: c.type.precision,
      numericScale: c.type.scale,
      ...(/char|text/.test(c.type.base) ? { collation: collation ?? DEFAULT_TEXT_COLLATION } : {}),
    });
  }
  if (t.primaryKey.length > 0) lines.push(`PRIMARY KEY (${t.primaryKey.map(q).join(', ')})`);
  for (const ix of plan.indexes) {
    const parts = ix.info.columns.map((c, i) => {
      const p = ix.prefixes[i];
      return p ? `${q(c)}(${p})` : q(c);
    });
    lines.push(`${ix.info.unique ? 'UNIQUE KEY' : 'KEY'} ${q(ix.name)} (${parts.join(', ')})`);
  }
  const alters: string[] = [];
  const fkModels: ForeignKeyInfo[] = [];
  const takenFk = new Set<string>();
  plan.foreignKeys.forEach((fk) => {
    const fkIndex = t.foreignKeys.indexOf(fk.info);
    fk.name = uniqueName(fk.info.name ?? `fk_${t.name}_${fk.info.columns.join('_')}`, takenFk);
    let clause = `CONSTRAINT ${q(fk.name)} FOREIGN KEY (${fk.info.columns.map(q).join(', ')}) REFERENCES ${q(fk.info.refTable)} (${fk.info.refColumns.map(q).join(', ')})`;
    if (fk.onDelete !== 'NO ACTION') clause += ` ON DELETE ${fk.onDelete}`;
    if (fk.onUpdate !== 'NO ACTION') clause += ` ON UPDATE ${fk.onUpdate}`;
    if (isForward(fkIndex)) alters.push(`ALTER TABLE ${q(t.name)} ADD ${clause}`);
    else lines.push(clause);
    fkModels.push({ ...fk.info, name: fk.name, onDelete: fk.onDelete, onUpdate: fk.onUpdate });
  });
  const create = `CREATE TABLE ${options.ifNotExists ? 'IF NOT EXISTS ' : ''}${q(t.name)} (\n  ${lines.join(',\n  ')}\n) ${MYSQL_TABLE_OPTIONS}`;
  return {
    create,
    alters,
    model: {
      name: t.name,
      columns,
      primaryKey: [...t.primaryKey],
      indexes: plan.indexes.map((ix) => ({ name: ix.name, columns: [...ix.info.columns], unique: ix.info.unique })),
      foreignKeys: fkModels,
    },
  };
}
