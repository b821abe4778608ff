/**
 * `dualdb schema fit`: widens the hub's existing columns so that every value the
 * SQLite file holds fits exactly (DESIGN section 4: the hub may have been created
 * from the application's own, narrower MySQL schema).
 *
 *  - INT/SMALLINT/… → BIGINT where SQLite holds INTEGERs, and every column a foreign
 *    key links to it (both ends must keep the same type);
 *  - FLOAT → DOUBLE; DATETIME/TIME without microseconds → DATETIME(6)/TIME(6);
 *  - VARCHAR(n)/CHAR(n) → VARCHAR(the longest value or the declared length), or
 *    LONGTEXT beyond what a row holds; TINYTEXT/TEXT → LONGTEXT when values are longer;
 *  - NOT NULL → NULL where SQLite allows NULL;
 *  - key columns whose collation folds case or trailing spaces → the binary NO PAD
 *    collation (and the foreign keys linked to them, which must match).
 *
 * Never narrows, never drops: each change keeps every value the column holds, so
 * views and procedures that use the columns keep working. One ALTER per table,
 * tried with ALGORITHM=INSTANT, then INPLACE, then COPY (the plan says which tables
 * probably need a copy, with their size). MariaDB refuses to change a column a
 * foreign key uses, even with foreign_key_checks off: those keys are dropped first
 * and added back after (unchecked: the rows already satisfied them), on one connection.
 */
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql, mysqlTableStats } from '../engines/mysql/introspect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import { keyColumnsOf } from './diff.js';
import { SqlStatementError } from './errors.js';
import { keyCollationFor } from './translate.js';
import { classifySqliteType, collationFolds, MAX_KEY_CHARS, MAX_VARCHAR_CHARS } from './type-map.js';

export type FitAlgorithm = 'INSTANT' | 'INPLACE' | 'COPY';

export interface FitChange {
  column: string;
  /** The hub column's type now, and after (with NULL/collation where they change). */
  from: string;
  to: string;
  reason: string;
}

export interface FitTable {
  table: string;
  changes: FitChange[];
  /** The best the server can probably do: COPY rebuilds the table (time and disk ~ its size). */
  algorithm: FitAlgorithm;
  rows: number;
  bytes: number | null;
  /** Some changed column is in a foreign key: run with foreign_key_checks off. */
  foreignKeys: boolean;
  /** The ALTER TABLE, without its ALGORITHM clause. */
  sql: string;
}

/** A foreign key over a changed column: dropped before the ALTERs and added back after (MariaDB refuses otherwise). */
export interface FitForeignKey {
  table: string;
  name: string;
  drop: string;
  add: string;
}

export interface FitPlan {
  tables: FitTable[];
  foreignKeys: FitForeignKey[];
  /** Differences fit will not change (narrowing, TIMESTAMP, keys over the index limit), with the reason. */
  left: { table: string; column: string; reason: string }[];
}

export interface FitResult extends FitTable {
  status: 'applied' | 'failed' | 'not-run';
  /** The algorithm the server accepted. */
  used?: FitAlgorithm;
  error?: string;
}

const lower = (s: string) => s.toLowerCase();
const INT_BASES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer']);

interface Want {
  type?: string;
  nullable?: boolean;
  collation?: string;
  copy: boolean;
  reasons: string[];
}

/** Facts about the SQLite data the plan needs: the longest text of a column, in characters and bytes. */
export type LongestOf = (table: string, column: string) => { chars: number; bytes: number } | null;

/**
 * The plan, from both sides' introspection (pure). `longest` measures SQLite text;
 * `stats` gives the hub tables' sizes.
 */
export function planFit(
  sqlite: TableInfo[],
  hub: TableInfo[],
  options: {
    tables?: string[];
    keyCollation: string;
    longest?: LongestOf;
    stats?: Map<string, { rows: number; bytes: number | null }>;
  },
): FitPlan {
  const filter = options.tables?.length ? new Set(options.tables.map(lower)) : undefined;
  const sBy = new Map(sqlite.filter((t) => !isMetaTable(t.name)).map((t) => [lower(t.name), t]));
  const hubTables = hub.filter((t) => !isMetaTable(t.name));
  const hBy = new Map(hubTables.map((t) => [lower(t.name), t]));
  const wants = new Map<string, Want>(); // "table.column" (lower)
  const left: FitPlan['left'] = [];
  const id = (t: string, c: string) => `${lower(t)}.${lower(c)}`;
  const want = (t: string, c: string): Want => {
    let w = wants.get(id(t, c));
    if (!w) {
      w = { copy: false, reasons: [] };
      wants.set(id(t, c), w);
    }
    return w;
  };
  const hubCol = (t: string, c: string): ColumnInfo | undefined =>
    hBy.get(lower(t))?.columns.find((x) => lower(x.name) === lower(c));
  const binary = options.keyCollation.toLowerCase() !== 'server';

  for (const h of hubTables) {
    if (filter && !filter.has(lower(h.name))) continue;
    const s = sBy.get(lower(h.name));
    if (!s) continue;
    const keyCols = keyColumnsOf(h);
    for (const hc of h.columns) {
      const sc = s.columns.find((x) => lower(x.name) === lower(hc.name));
      if (!sc) continue;
      const cls = classifySqliteType(sc.type).cls;
      const base = hc.baseType.toLowerCase();
      const type = hc.type.toLowerCase();
      const fsp = Number(/\((\d)\)/.exec(type)?.[1] ?? 0);
      if (cls === 'integer' && INT_BASES.has(base) && !/^tinyint\(1\)/.test(type)) {
        const w = want(h.name, hc.name);
        w.type = 'BIGINT';
        w.copy = true;
        w.reasons.push('SQLite integers are 64-bit');
      } else if (cls === 'double' && base === 'float') {
        const w = want(h.name, hc.name);
        w.type = 'DOUBLE';
        w.copy = true;
        w.reasons.push('FLOAT is 32-bit; SQLite REALs are 64-bit');
      } else if (cls === 'datetime' && base === 'datetime' && fsp < 6) {
        const w = want(h.name, hc.name);
        w.type = 'DATETIME(6)';
        w.copy = true;
        w.reasons.push('SQLite keeps microseconds');
      } else if (cls === 'time' && base === 'time' && fsp < 6) {
        const w = want(h.name, hc.name);
        w.type = 'TIME(6)';
        w.copy = true;
        w.reasons.push('SQLite keeps microseconds');
      } else if (cls === 'datetime' && base === 'timestamp') {
        left.push({
          table: h.name,
          column: hc.name,
          reason:
            'TIMESTAMP moves with the session time zone; changing it to DATETIME(6) changes what the application reads: do it by hand',
        });
      } else if (cls === 'text' || cls === 'untyped') {
        const m = options.longest?.(s.name, sc.name) ?? null;
        const declared = classifySqliteType(sc.type).length ?? 0;
        const needed = Math.max(declared, m?.chars ?? 0);
        const keyed = keyCols.has(lower(hc.name)) || isFkColumn(hubTables, h.name, hc.name);
        if ((base === 'varchar' || base === 'char') && (hc.maxLength ?? 0) < needed) {
          if (keyed && needed > MAX_KEY_CHARS)
            left.push({
              table: h.name,
              column: hc.name,
              reason: `values of ${needed} characters do not fit a utf8mb4 key (${MAX_KEY_CHARS} at most)`,
            });
          else {
            const w = want(h.name, hc.name);
            w.type = needed <= MAX_VARCHAR_CHARS ? `VARCHAR(${needed})` : 'LONGTEXT';
            // VARCHAR keeps its length prefix of 1 byte up to 255 bytes (63 utf8mb4 characters): instant within it.
            w.copy ||= base === 'char' || (hc.maxLength ?? 0) * 4 <= 255 !== needed * 4 <= 255 || !w.type.startsWith('VARCHAR');
            w.reasons.push(`SQLite holds ${needed} characters`);
          }
        } else if (base === 'char' && cls === 'text') {
          const w = want(h.name, hc.name);
          w.type = `VARCHAR(${Math.max(hc.maxLength ?? 1, needed, 1)})`;
          w.copy = true;
          w.reasons.push('CHAR drops trailing spaces');
        } else if ((base === 'tinytext' || base === 'text') && (m?.bytes ?? 0) > (base === 'text' ? 65_535 : 255)) {
          const w = want(h.name, hc.name);
          w.type = 'LONGTEXT';
          w.copy = true;
          w.reasons.push(`SQLite holds ${m?.bytes} bytes`);
        }
      }
      if (!hc.nullable && hc.pkOrdinal === 0 && sc.nullable && sc.pkOrdinal === 0 && !hc.autoIncrement) {
        const w = want(h.name, hc.name);
        w.nullable = true;
        w.reasons.push('SQLite allows NULL');
      }
      if (binary && keyCols.has(lower(hc.name)) && collationFolds(hc.collation)) {
        const w = want(h.name, hc.name);
        w.collation = options.keyCollation;
        w.copy = true;
        w.reasons.push(`the key's collation folds ${collationFolds(hc.collation)}`);
      }
    }
  }

  // Both ends of a foreign key keep the same type and collation: spread BIGINT and the collation along them.
  for (let round = 0; round < 8; round++) {
    let changed = false;
    for (const t of hubTables)
      for (const fk of t.foreignKeys)
        fk.columns.forEach((c, i) => {
          const p = fk.refColumns[i];
          if (p === undefined) return;
          for (const [a, b] of [
            [
              [t.name, c],
              [fk.refTable, p],
            ],
            [
              [fk.refTable, p],
              [t.name, c],
            ],
          ] as const) {
            const wa = wants.get(id(a[0], a[1]));
            const hb = hubCol(b[0], b[1]);
            if (!wa || !hb) continue;
            if (wa.type === 'BIGINT' && INT_BASES.has(hb.baseType.toLowerCase()) && want(b[0], b[1]).type !== 'BIGINT') {
              const wb = want(b[0], b[1]);
              wb.type = 'BIGINT';
              wb.copy = true;
              wb.reasons.push(`foreign key with ${a[0]}.${a[1]}`);
              changed = true;
            }
            if (wa.collation && hb.collation && lower(hb.collation) !== lower(wa.collation) && !want(b[0], b[1]).collation) {
              const wb = want(b[0], b[1]);
              wb.collation = wa.collation;
              wb.copy = true;
              wb.reasons.push(`foreign key with ${a[0]}.${a[1]}`);
              changed = true;
            }
          }
        });
    if (!changed) break;
  }

  const tables: FitTable[] = [];
  for (const h of hubTables) {
    const changes: FitChange[] = [];
    const clauses: string[] = [];
    let copy = false;
    let fks = false;
    for (const hc of h.columns) {
      const w = wants.get(id(h.name, hc.name));
      if (!w) continue;
      const nullable = w.nullable ?? hc.nullable;
      const type = w.type ?? hc.type;
      const collation = w.collation ?? null;
      const show = (t: string, n: boolean, col: string | null | undefined) =>
        `${t}${col && (w.collation || collation) ? ` COLLATE ${col}` : ''}${n ? ' NULL' : ' NOT NULL'}`;
      changes.push({
        column: hc.name,
        from: show(hc.type, hc.nullable, hc.collation),
        to: show(type, nullable, collation ?? hc.collation),
        reason: [...new Set(w.reasons)].join('; '),
      });
      clauses.push(`MODIFY COLUMN ${columnDefinition(hc, { type, nullable, collation })}`);
      copy ||= w.copy;
      fks ||= isFkColumn(hubTables, h.name, hc.name);
    }
    if (clauses.length === 0) continue;
    const st = options.stats?.get(lower(h.name));
    tables.push({
      table: h.name,
      changes,
      algorithm: copy ? 'COPY' : 'INSTANT',
      rows: st?.rows ?? 0,
      bytes: st?.bytes ?? null,
      foreignKeys: fks,
      sql: `ALTER TABLE ${quoteMysqlId(h.name)} ${clauses.join(', ')}`,
    });
  }
  const foreignKeys: FitForeignKey[] = [];
  const changesType = (t: string, c: string) => {
    const w = wants.get(id(t, c));
    return w !== undefined && (w.type !== undefined || w.collation !== undefined);
  };
  for (const t of hubTables)
    for (const fk of t.foreignKeys) {
      if (!fk.name) continue;
      if (!fk.columns.some((c) => changesType(t.name, c)) && !fk.refColumns.some((c) => changesType(fk.refTable, c))) continue;
      const q = quoteMysqlId;
      const rules = `${fk.onDelete && fk.onDelete !== 'NO ACTION' ? ` ON DELETE ${fk.onDelete}` : ''}${fk.onUpdate && fk.onUpdate !== 'NO ACTION' ? ` ON UPDATE ${fk.onUpdate}` : ''}`;
      foreignKeys.push({
        table: t.name,
        name: fk.name,
        drop: `ALTER TABLE ${q(t.name)} DROP FOREIGN KEY ${q(fk.name)}`,
        add: `ALTER TABLE ${q(t.name)} ADD CONSTRAINT ${q(fk.name)} FOREIGN KEY (${fk.columns.map(q).join(', ')}) REFERENCES ${q(fk.refTable)} (${fk.refColumns.map(q).join(', ')})${rules}`,
      });
    }
  return { tables, foreignKeys, left };
}

function isFkColumn(tables: TableInfo[], table: string, column: string): boolean {
  return tables.some((t) =>
    t.foreignKeys.some(
      (fk) =>
        (lower(t.name) === lower(table) && fk.columns.some((c) => lower(c) === lower(column))) ||
        (lower(fk.refTable) === lower(table) && fk.refColumns.some((c) => lower(c) === lower(column))),
    ),
  );
}

/**
 * The column restated for MODIFY COLUMN: the new type, NULL and collation, and
 * what it had (default, AUTO_INCREMENT, ON UPDATE) kept. A clock default follows
 * the new precision (MySQL wants DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)).
 */
function columnDefinition(c: ColumnInfo, to: { type: string; nullable: boolean; collation: string | null }): string {
  const fsp = /\((\d)\)/.exec(to.type)?.[1];
  const clock = (d: string) =>
    /^(current_timestamp|now)\s*(\(\s*\d?\s*\))?$/i.test(d) ? `CURRENT_TIMESTAMP${fsp ? `(${fsp})` : ''}` : d;
  const collation = to.collation ?? (c.collation && /char|text|enum|set/.test(to.type.toLowerCase()) ? c.collation : null);
  let def = `${quoteMysqlId(c.name)} ${to.type}`;
  if (collation) def += ` COLLATE ${collation}`;
  def += to.nullable ? ' NULL' : ' NOT NULL';
  if (c.autoIncrement) def += ' AUTO_INCREMENT';
  if (c.defaultValue !== null) def += ` DEFAULT ${/datetime|timestamp/i.test(to.type) ? clock(c.defaultValue) : c.defaultValue}`;
  return def;
}

/** The longest text of a column in SQLite (characters and bytes), one aggregate query. */
export function sqliteLongest(db: SqliteDb): LongestOf {
  return (table, column) => {
    const q = quoteSqliteId(column);
    const row = db
      .prepare(
        `SELECT max(length(${q})) AS chars, max(length(CAST(${q} AS BLOB))) AS bytes FROM ${quoteSqliteId(table)} WHERE typeof(${q}) = 'text'`,
      )
      .get() as { chars: number | null; bytes: number | null } | undefined;
    return row?.chars === null || row?.chars === undefined ? null : { chars: Number(row.chars), bytes: Number(row.bytes) };
  };
}

/** Introspects both sides and plans (reads only). */
export async function fitPlanFor(db: SqliteDb, hub: MysqlHub, options: { tables?: string[] } = {}): Promise<FitPlan> {
  const hubTables = await introspectMysql(hub);
  const sqliteTables = introspectSqlite(db);
  const both = hubTables.filter((t) => sqliteTables.some((s) => lower(s.name) === lower(t.name)));
  const stats = new Map(
    (
      await mysqlTableStats(
        hub,
        both.map((t) => t.name),
      )
    ).map((s) => [lower(s.name), { rows: s.rows, bytes: s.bytes }]),
  );
  return planFit(sqliteTables, hubTables, {
    ...(options.tables ? { tables: options.tables } : {}),
    keyCollation: await keyCollationFor(hub),
    longest: sqliteLongest(db),
    stats,
  });
}

/**
 * Refusals that a heavier algorithm gets past: the operation needs a rebuild, or
 * (MariaDB) a foreign-key column's type changes, which only COPY does with
 * foreign_key_checks off.
 */
const NOT_SUPPORTED = new Set([
  'ER_ALTER_OPERATION_NOT_SUPPORTED',
  'ER_ALTER_OPERATION_NOT_SUPPORTED_REASON',
  'ER_FK_COLUMN_CANNOT_CHANGE',
  'ER_FK_COLUMN_CANNOT_CHANGE_CHILD',
]);

/**
 * Applies the plan table by table on one connection of its own, each ALTER with the
 * cheapest algorithm the server accepts. Stops at the first refusal and reports which tables ran.
 */
export async function applyFit(
  hub: MysqlHub,
  plan: FitPlan,
  onTable?: (t: FitResult, index: number) => void,
): Promise<{ ok: boolean; tables: FitResult[]; error?: SqlStatementError }> {
  const results: FitResult[] = plan.tables.map((t) => ({ ...t, status: 'not-run' }));
  let error: SqlStatementError | undefined;
  const refused = (e: unknown, label: string, sql: string, applied: number, hint: string): SqlStatementError => {
    const code = (e as { code?: string }).code;
    const message = (e as { sqlMessage?: string }).sqlMessage ?? (e as Error).message;
    return new SqlStatementError('mysql', { source: `schema fit (${label})`, line: 0, sql }, message, {
      ...(code ? { serverCode: code } : {}),
      applied,
      hint,
    });
  };
  await hub.withConnection(async (conn) => {
    const dropped: FitForeignKey[] = [];
    try {
      for (const fk of plan.foreignKeys) {
        await conn.query(fk.drop);
        dropped.push(fk);
      }
      for (const [i, t] of results.entries()) {
        const order: FitAlgorithm[] = t.algorithm === 'COPY' ? ['INPLACE', 'COPY'] : ['INSTANT', 'INPLACE', 'COPY'];
        for (const algorithm of order) {
          const sql = `${t.sql}, ALGORITHM=${algorithm}`;
          try {
            await conn.query(sql);
            t.status = 'applied';
            t.used = algorithm;
            break;
          } catch (e) {
            const code = (e as { code?: string }).code;
            if (code && NOT_SUPPORTED.has(code) && algorithm !== 'COPY') continue;
            t.status = 'failed';
            error = refused(
              e,
              t.table,
              sql,
              i,
              'the tables before it were widened; fix the cause and run `dualdb schema fit` again (it plans only what is still narrow)',
            );
            t.error = error.serverMessage;
            break;
          }
        }
        onTable?.(t, i);
        if (error) break;
      }
    } finally {
      // The foreign keys come back whatever happened; their rows were valid, so they are not checked again.
      await conn.query('SET SESSION foreign_key_checks = 0');
      try {
        for (const fk of dropped) {
          try {
            await conn.query(fk.add);
          } catch (e) {
            error ??= refused(
              e,
              fk.table,
              fk.add,
              0,
              `the foreign key ${fk.name} could not be added back: add it by hand (the statement is above)`,
            );
          }
        }
      } finally {
        await conn.query('SET SESSION foreign_key_checks = 1');
      }
    }
  });
  return { ok: !error, tables: results, ...(error ? { error } : {}) };
}
