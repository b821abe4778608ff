/**
 * Pre-flight check before copying SQLite data to MySQL: finds the values that
 * MySQL would refuse or silently change, so the migration can stop (or the user
 * fix them) before anything is written.
 *
 * Checked against the target columns (the hub's tables, or the translation of the
 * SQLite schema for tables the hub does not have yet):
 *  - text (or bytes) in numeric columns, fractions in integer columns, integers
 *    beyond a column's range or beyond 2^53 in a DOUBLE, non-finite REALs,
 *    decimals with more digits than DECIMAL(p,s) keeps;
 *  - date-times MySQL refuses (invalid dates, numbers such as Unix times) or changes
 *    (a date alone in DATETIME, more than 6 fractional digits, a time in DATE);
 *  - strings longer than VARCHAR(n) (characters) or TEXT types (bytes), bytes in text columns;
 *  - NULL in primary keys (SQLite allows it outside INTEGER keys) and in NOT NULL columns;
 *  - NUL characters in text going to a key (MySQL's collation ignores them: 'a\0' = 'a');
 *  - keys that collide under MySQL's case- and accent-insensitive utf8mb4_unicode_ci
 *    ('ABC' = 'abc' = 'abc ', 'é' = 'e'), or after type conversion (1 and '1');
 *  - rows whose foreign key points at a missing parent (SQLite enforces keys only
 *    when PRAGMA foreign_keys is on).
 *
 * One scan per table inside SQLite: its WHERE clause (preflight-sql.ts) tests every value
 * in C and returns only the rows where some value may be a problem; the per-value checks
 * (value-checks.ts) then decide on those rows, so the findings are the same as checking
 * every row in JavaScript. Unique keys that may collide are tracked over a scan of the key
 * columns only (their collation keys kept in memory for that table only; keys that cannot
 * collide, such as INTEGER keys or text under a binary NO PAD collation, are not tracked).
 * Foreign keys add SQLite's own foreign_key_check. Each check keeps a few sample findings
 * and counts the rest.
 */
import { canonicalNumber, normaliseDatetimeText, type SqlValue } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { introspectMysql } from '../engines/mysql/introspect.js';
import { introspectSqlite } from '../engines/sqlite/introspect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { quoteSqliteId } from '../engines/sqlite/quote.js';
import { type ColumnInfo, isMetaTable, type TableInfo } from '../engines/types.js';
import { hasNulSql, suspectSql } from './preflight-sql.js';
import { keyCollationFor, translateToMysql } from './translate.js';
import { classifySqliteType, collationKeepsApart } from './type-map.js';
import { checkerFor, displayValue, type FindingKind, INT_RANGES, type Problem, unicodeCiKey } from './value-checks.js';

export { checkerFor, displayValue, type FindingKind, unicodeCiKey } from './value-checks.js';

const lower = (s: string) => s.toLowerCase();

export interface PreflightFinding {
  table: string;
  /** The row: its primary key values as text (or its rowid when the table has no key). */
  key: Record<string, string>;
  /** The column (for keys of several columns: their names joined by ", "). */
  column: string;
  /** The value, shortened and printable. */
  value: string;
  kind: FindingKind;
  reason: string;
}

export interface PreflightCount {
  table: string;
  column: string;
  kind: FindingKind;
  count: number;
}

export interface PreflightReport {
  /** True when nothing was found. */
  ok: boolean;
  /** What the values were checked against: the hub's tables or the translated schema. */
  target: 'hub' | 'translation' | 'given';
  tables: { table: string; rows: number; findings: number }[];
  /** Samples: at most `samplesPerCheck` per table, column and kind. */
  findings: PreflightFinding[];
  /** Every problem counted, per table, column and kind. */
  counts: PreflightCount[];
  /** True when some findings were counted but not listed. */
  truncated: boolean;
  /** Tables not checked, with the reason. */
  skipped: { table: string; reason: string }[];
}

export interface PreflightOptions {
  /** Only these tables (case-insensitive). */
  tables?: string[];
  /** Sample findings kept per table, column and kind (default 20). */
  samplesPerCheck?: number;
  /**
   * Whether a target text column without a known collation compares case-sensitively
   * (a _bin collation). Default: no (utf8mb4_unicode_ci). A column's own `collation` wins.
   */
  caseSensitive?: (table: string, column: string) => boolean;
  /** Progress: called as each table starts. */
  onTable?: (table: string, index: number, total: number) => void;
}

/** How MySQL compares a key part: ci (utf8mb4_unicode_ci), bin (binary, PAD SPACE), exact (binary, NO PAD), num, dt, raw. */
type KeyMode = 'ci' | 'bin' | 'exact' | 'num' | 'dt' | 'raw';

function keyModeFor(col: ColumnInfo, caseSensitive: boolean): KeyMode {
  const base = col.baseType.toLowerCase();
  if (INT_RANGES[base] || /decimal|numeric|double|float|real/.test(base)) return 'num';
  if (/date|time/.test(base)) return 'dt';
  if (/char|text|enum|set/.test(base)) {
    if (col.collation) return collationKeepsApart(col.collation) ? 'exact' : /_bin$/i.test(col.collation) ? 'bin' : 'ci';
    return caseSensitive ? 'bin' : 'ci';
  }
  return 'raw';
}

/** One key part as MySQL would compare it; null when the part is NULL (NULLs never collide in unique keys). */
function keyPart(mode: KeyMode, v: SqlValue): string | null {
  if (v === null) return null;
  switch (mode) {
    case 'ci':
      return `t${unicodeCiKey(Buffer.isBuffer(v) ? v.toString('utf8') : String(v))}`;
    case 'bin':
      return `t${(Buffer.isBuffer(v) ? v.toString('utf8') : String(v)).replace(/ +$/, '')}`;
    case 'num': {
      const c = canonicalNumber(typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
      return c === undefined ? `x${String(v)}` : `n${c}`;
    }
    case 'dt':
      return typeof v === 'string' ? `d${normaliseDatetimeText(v)}` : `x${String(v)}`;
    case 'exact':
      return `t${Buffer.isBuffer(v) ? v.toString('utf8') : String(v)}`;
    default:
      return Buffer.isBuffer(v) ? `b${v.toString('hex')}` : `t${String(v)}`;
  }
}

/** A unique key of the target watched during the table's one pass: collation key → the first row holding it. */
interface KeyWatch {
  label: string;
  /** Positions of the key's columns in the pass's row. */
  at: number[];
  modes: KeyMode[];
  what: string;
  seen: Map<string, SqlValue[]>;
}

/**
 * The target's unique keys that may collide in MySQL although they are distinct in
 * SQLite. Keys that cannot collide are left out: integers over INTEGER columns, and
 * text over TEXT columns under a binary NO PAD collation (SQLite's own uniqueness holds).
 */
function keyWatches(
  s: TableInfo,
  target: TableInfo,
  position: (column: string) => number,
  caseSensitive: (table: string, column: string) => boolean,
): KeyWatch[] {
  const sCols = new Map(s.columns.map((c) => [lower(c.name), c]));
  const tCols = new Map(target.columns.map((c) => [lower(c.name), c]));
  const keys: { cols: string[]; pk: boolean }[] = [];
  if (target.primaryKey.length > 0) keys.push({ cols: target.primaryKey, pk: true });
  for (const ix of target.indexes) if (ix.unique) keys.push({ cols: ix.columns, pk: false });
  const out: KeyWatch[] = [];
  for (const { cols, pk } of keys) {
    const parts = cols.map((name) => ({ s: sCols.get(lower(name)), t: tCols.get(lower(name)), at: position(name) }));
    if (parts.some((p) => !p.s || !p.t || p.at < 0)) continue;
    const modes = parts.map((p) => keyModeFor(p.t as ColumnInfo, caseSensitive(target.name, p.t?.name ?? '')));
    const cannotCollide = parts.every((p, i) => {
      const cls = classifySqliteType(p.s?.type ?? '').cls;
      return (modes[i] === 'num' && cls === 'integer') || (modes[i] === 'exact' && cls === 'text');
    });
    if (cannotCollide) continue;
    out.push({
      label: cols.join(', '),
      at: parts.map((p) => p.at),
      modes,
      what: `${modes.includes('ci') ? `MySQL's case- and accent-insensitive ${parts.find((_, i) => modes[i] === 'ci')?.t?.collation ?? 'utf8mb4_unicode_ci'}` : modes.includes('bin') ? 'MySQL’s binary collation, which ignores trailing spaces' : 'MySQL’s comparison'}: the ${pk ? 'primary key' : 'unique index'} would refuse it`,
      seen: new Map(),
    });
  }
  return out;
}

/** The collation key of a row's key, or null when a part is NULL. */
function collationKey(w: KeyWatch, row: SqlValue[]): string | null {
  let out = '';
  for (let i = 0; i < w.at.length; i++) {
    const part = keyPart(w.modes[i] as KeyMode, row[w.at[i] as number] ?? null);
    if (part === null) return null;
    out += `${part.length}:${part}`;
  }
  return out;
}

class Findings {
  readonly samples: PreflightFinding[] = [];
  private readonly counts = new Map<string, PreflightCount>();
  truncated = false;

  constructor(readonly perCheck: number) {}

  add(f: PreflightFinding): void {
    this.count(f.table, f.column, f.kind, 1, f);
  }

  /** Adds `n` to a count, keeping `sample` if there is room. */
  count(table: string, column: string, kind: FindingKind, n: number, sample?: PreflightFinding): void {
    const id = `${table}\u0000${column}\u0000${kind}`;
    let c = this.counts.get(id);
    if (!c) {
      c = { table, column, kind, count: 0 };
      this.counts.set(id, c);
    }
    const before = c.count;
    c.count += n;
    if (sample) {
      if (before < this.perCheck) this.samples.push(sample);
      else this.truncated = true;
    } else if (c.count > this.perCheck) this.truncated = true;
  }

  room(table: string, column: string, kind: FindingKind): boolean {
    return (this.counts.get(`${table}\u0000${column}\u0000${kind}`)?.count ?? 0) < this.perCheck;
  }

  all(): PreflightCount[] {
    return [...this.counts.values()];
  }

  forTable(table: string): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.table === table) n += c.count;
    return n;
  }
}

/**
 * Checks the SQLite data against target (MySQL) tables. `sqliteTables` comes from
 * introspectSqlite(db); `targets` from introspectMysql or a translation's models.
 * Tables without a target are skipped (with the reason).
 */
export function preflight(
  db: SqliteDb,
  sqliteTables: TableInfo[],
  targets: TableInfo[],
  options: PreflightOptions = {},
): PreflightReport {
  const perCheck = options.samplesPerCheck ?? 20;
  const findings = new Findings(perCheck);
  const filter = options.tables?.length ? new Set(options.tables.map(lower)) : undefined;
  const targetByName = new Map(targets.map((t) => [lower(t.name), t]));
  const list = sqliteTables.filter((t) => !isMetaTable(t.name) && (!filter || filter.has(lower(t.name))));
  const report: PreflightReport = {
    ok: true,
    target: 'given',
    tables: [],
    findings: [],
    counts: [],
    truncated: false,
    skipped: [],
  };
  const caseSensitive = options.caseSensitive ?? (() => false);

  list.forEach((s, index) => {
    options.onTable?.(s.name, index, list.length);
    const target = targetByName.get(lower(s.name));
    if (!target) {
      report.skipped.push({ table: s.name, reason: 'no target table to check against' });
      return;
    }
    const rows = checkValues(db, s, target, findings, caseSensitive);
    checkOrphans(db, s, target, findings);
    report.tables.push({ table: s.name, rows, findings: findings.forTable(s.name) });
  });
  report.findings = findings.samples;
  report.counts = findings.all();
  report.truncated = findings.truncated;
  report.ok = report.counts.length === 0;
  return report;
}

/** Key columns of the SQLite table for naming rows: the primary key, or the rowid. */
function rowKey(s: TableInfo): { exprs: string[]; names: string[] } {
  if (s.primaryKey.length > 0) return { exprs: s.primaryKey.map(quoteSqliteId), names: s.primaryKey };
  return { exprs: ['rowid'], names: ['rowid'] };
}

const keyRecord = (names: string[], values: SqlValue[]): Record<string, string> =>
  Object.fromEntries(
    names.map((n, i) => [
      n,
      values[i] === null || values[i] === undefined
        ? 'NULL'
        : Buffer.isBuffer(values[i])
          ? displayValue(values[i])
          : String(values[i]),
    ]),
  );

/**
 * The table's values against their target columns (one filtered scan), and its unique
 * keys that may collide in MySQL (watchKeys). Returns the table's row count.
 */
function checkValues(
  db: SqliteDb,
  s: TableInfo,
  target: TableInfo,
  findings: Findings,
  caseSensitive: (table: string, column: string) => boolean,
): number {
  const key = rowKey(s);
  const tCols = new Map(target.columns.map((c) => [lower(c.name), c]));
  const keyCols = new Set<string>([
    ...target.primaryKey.map(lower),
    ...target.indexes.filter((i) => i.unique).flatMap((i) => i.columns.map(lower)),
    ...target.foreignKeys.flatMap((f) => f.columns.map(lower)),
  ]);
  const checked = s.columns
    .map((c) => ({ name: c.name, target: tCols.get(lower(c.name)) }))
    .filter((c): c is { name: string; target: ColumnInfo } => c.target !== undefined)
    .map((c) => ({
      ...c,
      check: checkerFor(c.target),
      inKey: keyCols.has(lower(c.name)),
      inPk: c.target.pkOrdinal > 0,
      notNull: !c.target.nullable && !c.target.autoIncrement,
    }));
  if (checked.length === 0) return 0;
  const from = quoteSqliteId(s.name);
  const rows = Number(db.prepare(`SELECT count(*) FROM ${from}`).pluck().get());
  const k = key.exprs.length;
  const watches = keyWatches(
    s,
    target,
    (name) => {
      const i = checked.findIndex((c) => lower(c.name) === lower(name));
      return i < 0 ? -1 : k + i;
    },
    caseSensitive,
  );
  if (watches.length > 0) watchKeys(db, s, key, k, checked, watches, findings);

  // One scan inside SQLite: only the rows where some value may be a problem come out
  // (preflight-sql.ts), and the checks below decide on those as on every row before.
  const suspects = checked.flatMap((c) => {
    const x = quoteSqliteId(c.name);
    const value = suspectSql(c.target, x);
    const tests = [
      ...(c.inPk || c.notNull ? [`${x} IS NULL`] : []),
      ...(value === null ? [] : [value]),
      ...(c.inKey ? [hasNulSql(x)] : []),
    ];
    return tests;
  });
  if (suspects.length === 0) return rows;
  const sql = `SELECT ${[...key.exprs, ...checked.map((c) => quoteSqliteId(c.name))].join(', ')} FROM ${from} NOT INDEXED WHERE ${suspects.join(' OR ')}`;
  const stmt = db.prepare(sql).raw(true).safeIntegers(true);
  for (const raw of stmt.iterate() as Iterable<SqlValue[]>) {
    for (let i = 0; i < checked.length; i++) {
      const c = checked[i];
      if (!c) continue;
      const v = raw[k + i] ?? null;
      let problem: Problem;
      if (v === null) {
        problem = c.inPk
          ? {
              kind: 'null-in-key',
              reason: 'NULL in a primary-key column (SQLite allows it outside INTEGER keys; MySQL does not)',
            }
          : c.notNull
            ? { kind: 'null-not-allowed', reason: 'NULL in a column that is NOT NULL on MySQL' }
            : null;
      } else {
        problem = c.check(v);
        if (!problem && c.inKey && typeof v === 'string' && v.includes('\u0000'))
          problem = {
            kind: 'nul-in-key',
            reason: "a NUL character in a key: MySQL's collation ignores it, so 'a\\0' and 'a' collide",
          };
      }
      if (problem) {
        const sample: PreflightFinding | undefined = findings.room(s.name, c.name, problem.kind)
          ? { table: s.name, key: keyRecord(key.names, raw.slice(0, k)), column: c.name, value: displayValue(v), ...problem }
          : undefined;
        findings.count(s.name, c.name, problem.kind, 1, sample);
      }
    }
  }
  return rows;
}

/**
 * The unique keys that may collide in MySQL, tracked by their collation keys over one
 * scan of the row key and the key columns only (utf8mb4_unicode_ci has no SQL twin in SQLite).
 */
function watchKeys(
  db: SqliteDb,
  s: TableInfo,
  key: { exprs: string[]; names: string[] },
  k: number,
  checked: { name: string }[],
  watches: KeyWatch[],
  findings: Findings,
): void {
  // Columns read: the row key, then every checked column in the watches' positions (others NULL).
  const wanted = new Set(watches.flatMap((w) => w.at));
  const cols = checked.map((c, i) => (wanted.has(k + i) ? quoteSqliteId(c.name) : 'NULL'));
  const stmt = db
    .prepare(`SELECT ${[...key.exprs, ...cols].join(', ')} FROM ${quoteSqliteId(s.name)}`)
    .raw(true)
    .safeIntegers(true);
  for (const raw of stmt.iterate() as Iterable<SqlValue[]>) {
    for (const w of watches) {
      const ck = collationKey(w, raw);
      if (ck === null) continue;
      const first = w.seen.get(ck);
      if (first === undefined) {
        // The row's key and the key's values, formatted only if a later row collides.
        w.seen.set(ck, [...raw.slice(0, k), ...w.at.map((i) => raw[i] ?? null)]);
        continue;
      }
      const values = w.at.map((i) => displayValue(raw[i])).join(', ');
      findings.count(
        s.name,
        w.label,
        'duplicate-key',
        1,
        findings.room(s.name, w.label, 'duplicate-key')
          ? {
              table: s.name,
              key: keyRecord(key.names, raw.slice(0, k)),
              column: w.label,
              value: values,
              kind: 'duplicate-key',
              reason: `equal to the row ${rowText(key.names, first.slice(0, k))} (${first
                .slice(k)
                .map((v) => displayValue(v))
                .join(', ')}) under ${w.what}`,
            }
          : undefined,
      );
    }
  }
}

const rowText = (names: string[], values: SqlValue[]): string =>
  Object.entries(keyRecord(names, values))
    .map(([n, v]) => `${n}=${v}`)
    .join(', ');

/** Rows whose foreign key points at no parent row (only for keys the target has too). */
function checkOrphans(db: SqliteDb, s: TableInfo, target: TableInfo, findings: Findings): void {
  if (s.foreignKeys.length === 0 || target.foreignKeys.length === 0) return;
  const targetFks = new Set(target.foreignKeys.map((f) => `${lower(f.refTable)}(${f.columns.map(lower).join(',')})`));
  let rows: { rowid: bigint | null; parent: string; fkid: bigint }[];
  try {
    rows = [];
    for (const r of db
      .prepare(`PRAGMA foreign_key_check(${quoteSqliteId(s.name)})`)
      .safeIntegers(true)
      .iterate() as Iterable<{
      rowid: bigint | null;
      parent: string;
      fkid: bigint;
    }>) {
      const fk = s.foreignKeys[Number(r.fkid)];
      if (!fk || !targetFks.has(`${lower(fk.refTable)}(${fk.columns.map(lower).join(',')})`)) continue;
      const label = fk.columns.join(', ');
      if (findings.room(s.name, label, 'orphan')) rows.push(r);
      else findings.count(s.name, label, 'orphan', 1);
    }
  } catch {
    return; // the parent table is missing in SQLite: nothing to check against
  }
  const key = rowKey(s);
  for (const r of rows) {
    const fk = s.foreignKeys[Number(r.fkid)];
    if (!fk) continue;
    const label = fk.columns.join(', ');
    let values: SqlValue[] = [];
    if (r.rowid !== null) {
      values = (db
        .prepare(
          `SELECT ${[...key.exprs, ...fk.columns.map(quoteSqliteId)].join(', ')} FROM ${quoteSqliteId(s.name)} WHERE rowid = ?`,
        )
        .raw(true)
        .safeIntegers(true)
        .get(r.rowid) ?? []) as SqlValue[];
    }
    const kn = key.exprs.length;
    findings.add({
      table: s.name,
      key: keyRecord(key.names, values.slice(0, kn)),
      column: label,
      value: values
        .slice(kn)
        .map((v) => displayValue(v))
        .join(', '),
      kind: 'orphan',
      reason: `no row in ${fk.refTable} has this key: MySQL refuses the row while foreign keys are checked`,
    });
  }
}

/**
 * The pre-flight as the migration runs it: against the hub's tables where they
 * exist (with their collations), and against the translated schema for tables
 * the hub does not have yet. Without a hub, everything is checked against the translation.
 */
export async function preflightToHub(
  db: SqliteDb,
  hub: MysqlHub | undefined,
  options: PreflightOptions = {},
): Promise<PreflightReport> {
  const sqliteTables = introspectSqlite(db);
  const hubTables = hub ? await introspectMysql(hub) : [];
  const onHub = new Set(hubTables.map((t) => lower(t.name)));
  const missing = sqliteTables.filter((t) => !onHub.has(lower(t.name)));
  const translated = translateToMysql(missing, {
    db,
    existing: hubTables,
    ...(hub ? { keyCollation: await keyCollationFor(hub) } : {}),
  }).tables.map((t) => t.model);
  // The hub's columns carry their collations (introspectMysql): keys are compared as the hub would.
  const report = preflight(db, sqliteTables, [...hubTables, ...translated], options);
  report.target = hub ? 'hub' : 'translation';
  return report;
}
