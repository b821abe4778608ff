/**
 * Passes 2–5 of the translation (translate.ts): both ends of a foreign key get one
 * type, foreign keys MySQL would refuse are left out (with the reason), keys and
 * rows are fitted to InnoDB's limits, and text keys get their collation.
 */
import {
  type ColumnPlan,
  KEY_COLLATION_ENV,
  LONGTEXT,
  lower,
  MAX_ROW_BYTES,
  PREFIX_CHARS,
  sameFamily,
  type TablePlan,
  type TranslateContext,
  typeOfHubColumn,
  varbinary,
  varchar,
} from './translate-context.js';
import { keyBytes, MAX_KEY_BYTES, rowBytes, UTF8MB4_BYTES } from './type-map.js';

/** Foreign keys: child columns take the parent's type; text lengths are unified across both ends. */
export function unifyForeignKeyTypes(ctx: TranslateContext): void {
  const { plans, existing } = ctx;
  for (let round = 0; round < 4; round++) {
    let changed = false;
    for (const plan of plans.values()) {
      for (const fk of plan.foreignKeys) {
        fk.info.columns.forEach((childName, i) => {
          const child = plan.columns.get(lower(childName));
          const parentName = fk.info.refColumns[i];
          if (!child || parentName === undefined) return;
          const parentPlan = plans.get(lower(fk.info.refTable));
          const parentCol = parentPlan?.columns.get(lower(parentName));
          const hubParent = existing.get(lower(fk.info.refTable))?.columns.find((c) => lower(c.name) === lower(parentName));
          const parentType = parentCol?.type ?? (hubParent ? typeOfHubColumn(hubParent) : undefined);
          if (!parentType) return;
          const cText = child.type.base === 'varchar';
          const pText = parentType.base === 'varchar';
          if (cText && pText && parentCol) {
            const n = Math.max(child.type.length ?? 0, parentType.length ?? 0);
            if (child.type.length !== n) {
              child.type = varchar(n);
              changed = true;
            }
            if (parentCol.type.length !== n) {
              parentCol.type = varchar(n);
              changed = true;
            }
          } else if (child.type.sql !== parentType.sql && sameFamily(child.type, parentType)) {
            child.type = { ...parentType };
            changed = true;
          }
          if (!parentCol && hubParent && /char|text/.test(child.type.base)) child.collationOf = hubParent.collation ?? null;
        });
      }
    }
    if (!changed) break;
  }
}

/** Foreign keys MySQL would refuse are left out, with the reason. */
export function dropRefusedForeignKeys(ctx: TranslateContext): void {
  const { plans, existing, warn } = ctx;
  for (const plan of plans.values()) {
    const table = plan.src.name;
    plan.foreignKeys = plan.foreignKeys.filter((fk) => {
      const parentKey = lower(fk.info.refTable);
      const parentPlan = plans.get(parentKey);
      const hubParent = existing.get(parentKey);
      const what = `foreign key (${fk.info.columns.join(', ')}) → ${fk.info.refTable}`;
      if (!parentPlan && !hubParent) {
        warn(
          table,
          fk.info.columns.join(', '),
          what,
          `${fk.info.refTable} is not part of this translation and does not exist on the hub; the key is left out`,
        );
        return false;
      }
      // InnoDB needs the referenced columns to lead an index (SQLite only checks when writing).
      const parentKeys = parentPlan
        ? [parentPlan.src.primaryKey, ...parentPlan.indexes.map((ix) => ix.info.columns)]
        : [hubParent?.primaryKey ?? [], ...(hubParent?.indexes.map((ix) => ix.columns) ?? [])];
      if (!parentKeys.some((k) => fk.info.refColumns.every((c, i) => lower(k[i] ?? '') === lower(c)))) {
        warn(
          table,
          fk.info.columns.join(', '),
          what,
          `${fk.info.refTable} (${fk.info.refColumns.join(', ')}) is not a key or an index there, which MySQL requires; the key is left out`,
        );
        return false;
      }
      for (const [i, childName] of fk.info.columns.entries()) {
        const child = plan.columns.get(lower(childName));
        const parentName = fk.info.refColumns[i] ?? '';
        const pType =
          parentPlan?.columns.get(lower(parentName))?.type ??
          (() => {
            const c = hubParent?.columns.find((x) => lower(x.name) === lower(parentName));
            return c ? typeOfHubColumn(c) : undefined;
          })();
        if (!child || !pType) {
          warn(table, childName, what, `column ${fk.info.refTable}.${parentName} does not exist; the key is left out`);
          return false;
        }
        if (!sameFamily(child.type, pType)) {
          warn(
            table,
            childName,
            what,
            `${child.type.sql} cannot reference ${pType.sql} on MySQL (SQLite allows it); the key is left out`,
          );
          return false;
        }
        for (const [rule, clause, aside] of [
          ['onDelete', 'ON DELETE', ' (SQLite would fail such a delete anyway)'],
          ['onUpdate', 'ON UPDATE', ''],
        ] as const) {
          if (fk[rule] !== 'SET NULL' || child.nullable) continue;
          warn(
            table,
            childName,
            `${what} ${clause} SET NULL`,
            `the column is NOT NULL, which MySQL refuses with SET NULL; NO ACTION is used${aside}`,
          );
          fk[rule] = 'NO ACTION';
        }
      }
      for (const rule of ['onDelete', 'onUpdate'] as const) {
        if (fk[rule] === 'SET DEFAULT') {
          warn(
            table,
            undefined,
            `${what} ${rule === 'onDelete' ? 'ON DELETE' : 'ON UPDATE'} SET DEFAULT`,
            'InnoDB does not support SET DEFAULT; NO ACTION is used',
          );
          fk[rule] = 'NO ACTION';
        }
      }
      return true;
    });
  }
}

/** Every index within InnoDB's 3072-byte key limit and every row within 65,535 bytes. */
export function fitKeys(ctx: TranslateContext): void {
  const { warn } = ctx;
  for (const plan of ctx.plans.values()) fitKeysAndRow(plan);

  /** Keeps every index within InnoDB's 3072-byte key limit and the row within 65,535 bytes. */
  function fitKeysAndRow(plan: TablePlan): void {
    const table = plan.src.name;
    const col = (name: string) => plan.columns.get(lower(name));
    const isLob = (c: ColumnPlan) => /text|blob/.test(c.type.base);
    const isBinary = (c: ColumnPlan) => /binary|blob/.test(c.type.base);
    /** Prefix lengths per key part (null: whole column); shortens unique keys' columns when they cannot fit. */
    const fitKey = (names: string[], unique: boolean, label: string): (number | null)[] => {
      const cols = names.map((n) => col(n));
      const prefixes: (number | null)[] = cols.map((c) => (c && isLob(c) ? PREFIX_CHARS : null));
      const bytes = (c: ColumnPlan, p: number | null) => (p === null ? keyBytes(c.type) : isBinary(c) ? p : p * UTF8MB4_BYTES);
      const total = cols.reduce((s, c, i) => s + (c ? bytes(c, prefixes[i] ?? null) : 0), 0);
      if (total <= MAX_KEY_BYTES) return prefixes;
      const stringParts = cols.flatMap((c, i) => (c && /char|text|binary|blob/.test(c.type.base) ? [i] : []));
      const fixed = cols.reduce((s, c, i) => s + (c && !stringParts.includes(i) ? keyBytes(c.type) : 0), 0);
      const perPart = Math.max(1, Math.floor((MAX_KEY_BYTES - fixed) / Math.max(stringParts.length, 1) / UTF8MB4_BYTES));
      for (const i of stringParts) {
        const c = cols[i];
        if (!c) continue;
        if (unique) {
          if ((c.type.length ?? 0) > perPart) {
            warn(
              table,
              c.src.name,
              `${label}: ${total} bytes`,
              `InnoDB keys hold at most ${MAX_KEY_BYTES} bytes; the column is shortened to ${perPart} characters and longer values will not fit`,
            );
            c.type = isBinary(c) ? varbinary(perPart * UTF8MB4_BYTES) : varchar(perPart);
          }
        } else if (isLob(c)) {
          prefixes[i] = isBinary(c) ? Math.min(PREFIX_CHARS, perPart * UTF8MB4_BYTES) : Math.min(PREFIX_CHARS, perPart);
        } else if ((c.type.length ?? 0) > (isBinary(c) ? perPart * UTF8MB4_BYTES : perPart)) {
          prefixes[i] = isBinary(c) ? perPart * UTF8MB4_BYTES : perPart;
        }
      }
      return prefixes;
    };
    if (plan.src.primaryKey.length > 0) fitKey(plan.src.primaryKey, true, 'primary key');
    for (const ix of plan.indexes) ix.prefixes = fitKey(ix.info.columns, ix.info.unique, `index ${ix.name}`);

    let total = [...plan.columns.values()].reduce((s, c) => s + rowBytes(c.type), 0);
    if (total > MAX_ROW_BYTES) {
      const wide = [...plan.columns.values()]
        .filter((c) => c.type.base === 'varchar' && !c.keyed)
        .sort((a, b) => (b.type.length ?? 0) - (a.type.length ?? 0));
      for (const c of wide) {
        if (total <= MAX_ROW_BYTES) break;
        total -= rowBytes(c.type) - rowBytes(LONGTEXT);
        warn(table, c.src.name, c.type.sql, `the row would exceed MySQL's ${MAX_ROW_BYTES}-byte limit; LONGTEXT is used`);
        c.type = LONGTEXT;
      }
      // Ordinary indexes on columns that became LONGTEXT need prefixes now.
      for (const ix of plan.indexes) if (!ix.info.unique) ix.prefixes = fitKey(ix.info.columns, false, `index ${ix.name}`);
    }
  }
}

/**
 * The collation of each column (null: the table's default), and a note per table
 * naming the text keys that get the binary one.
 */
export function chooseKeyCollations(ctx: TranslateContext, keyCollation: string): (c: ColumnPlan) => string | null {
  const collationOf = (c: ColumnPlan): string | null => {
    if (c.collationOf !== undefined) return c.collationOf;
    if (!c.keyed || !/char|text/.test(c.type.base) || keyCollation.toLowerCase() === 'server') return null;
    return keyCollation;
  };
  for (const plan of ctx.plans.values()) {
    const keys = [...plan.columns.values()].filter((c) => collationOf(c) === keyCollation).map((c) => c.src.name);
    if (keys.length)
      ctx.notes.push({
        table: plan.src.name,
        column: keys.join(', '),
        problem: `text key${keys.length === 1 ? '' : 's'} COLLATE ${keyCollation}`,
        reason: `compared byte for byte as in SQLite, so 'a', 'A' and 'a ' stay distinct rows; ${KEY_COLLATION_ENV}=server keeps the server's case-insensitive default`,
      });
  }
  return collationOf;
}
