/**
 * Column defaults across the engines. Defaults are SQL text on both sides
 * (SQLite's PRAGMA dflt_value, MariaDB-style COLUMN_DEFAULT from introspection)
 * and DDL takes no parameters, so literals are re-escaped with each engine's own
 * rules (mysql2's escape, SQLite's doubled quotes), never pasted as found.
 *
 * Clocks: SQLite's CURRENT_TIMESTAMP, datetime('now') and friends are UTC, while
 * MySQL's CURRENT_TIMESTAMP follows the session time zone. The faithful MySQL
 * default is therefore UTC_TIMESTAMP(6) (an expression default: MySQL 8.0.13+,
 * MariaDB 10.2+). `clock: 'session'` asks for CURRENT_TIMESTAMP(6) instead, for
 * hubs known to run in UTC.
 */
import mysql from 'mysql2/promise';
import { sqliteLiteral } from '../engines/sqlite/quote.js';
import type { MysqlType, TypeDiagnosis } from './type-map.js';

export type ClockStyle = 'utc' | 'session';

export interface TranslatedDefault {
  /** The DEFAULT clause's expression, or null for none. */
  sql: string | null;
  warning?: TypeDiagnosis;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const HEX_INT = /^[+-]?0x[0-9a-f]+$/i;
const DATETIME_TEXT = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$/;

/** `'it''s'` → `it's` (SQLite string literal; also accepts "…", which SQLite takes as a string in DEFAULT). */
function unquoteSqlite(text: string): string | undefined {
  const q = text[0];
  if ((q !== "'" && q !== '"') || text.at(-1) !== q || text.length < 2) return undefined;
  const body = text.slice(1, -1);
  // A lone quote inside means this was not one literal (e.g. 'a' || 'b').
  if (body.replaceAll(q + q, '').includes(q)) return undefined;
  return body.replaceAll(q + q, q);
}

function stripParens(text: string): string {
  let t = text.trim();
  while (t.startsWith('(') && t.endsWith(')') && balanced(t.slice(1, -1))) t = t.slice(1, -1).trim();
  return t;
}

function balanced(s: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0 && quote === null;
}

const isLob = (t: MysqlType) => /text|blob/.test(t.base);
/** MySQL 8 accepts defaults on TEXT/BLOB only as expressions: `('x')`, not `'x'`. */
const literalFor = (t: MysqlType, lit: string) => (isLob(t) ? `(${lit})` : lit);

type Kind = 'number' | 'text' | 'datetime' | 'date' | 'time' | 'blob';

function kindOf(t: MysqlType): Kind {
  if (/int|decimal|double|float|bit|year/.test(t.base)) return 'number';
  if (t.base === 'datetime' || t.base === 'timestamp') return 'datetime';
  if (t.base === 'date') return 'date';
  if (t.base === 'time') return 'time';
  if (/blob|binary/.test(t.base)) return 'blob';
  return 'text';
}

/** Normalised form of the SQLite clock expressions we know, or undefined. */
function sqliteClock(expr: string): 'timestamp' | 'timestamp-ms' | 'date' | 'time' | 'epoch' | undefined {
  const e = expr.toLowerCase().replace(/\s+/g, '').replaceAll('"', "'");
  if (e === 'current_timestamp' || e === "datetime('now')" || e === "datetime('now','utc')") return 'timestamp';
  if (e === "strftime('%y-%m-%d%h:%m:%f','now')" || e === "strftime('%y-%m-%dt%h:%m:%f','now')") return 'timestamp-ms';
  if (e === "strftime('%y-%m-%d%h:%m:%s','now')") return 'timestamp';
  if (e === 'current_date' || e === "date('now')") return 'date';
  if (e === 'current_time' || e === "time('now')") return 'time';
  if (
    e === 'unixepoch()' ||
    e === "unixepoch('now')" ||
    e === "strftime('%s','now')" ||
    e === "cast(strftime('%s','now')asinteger)"
  )
    return 'epoch';
  return undefined;
}

/** The MySQL DEFAULT expression for a SQLite column default. */
export function sqliteDefaultToMysql(dflt: string | null, target: MysqlType, clock: ClockStyle = 'utc'): TranslatedDefault {
  if (dflt === null) return { sql: null };
  const raw = dflt.trim();
  const expr = stripParens(raw);
  const kind = kindOf(target);
  const cannot = (reason: string): TranslatedDefault => ({
    sql: null,
    warning: { problem: `default ${raw}`, reason: `${reason}; the column gets no default on MySQL` },
  });
  if (/^null$/i.test(expr)) return { sql: null };
  if (/^true$/i.test(expr)) return kind === 'number' ? { sql: '1' } : cannot('TRUE on a non-numeric column');
  if (/^false$/i.test(expr)) return kind === 'number' ? { sql: '0' } : cannot('FALSE on a non-numeric column');

  const clockKind = sqliteClock(expr);
  if (clockKind) {
    const utc = clock === 'utc';
    switch (kind) {
      case 'datetime':
        return { sql: utc ? '(UTC_TIMESTAMP(6))' : 'CURRENT_TIMESTAMP(6)' };
      case 'date':
        return clockKind === 'time'
          ? cannot('a time of day on a DATE column')
          : { sql: utc ? '(UTC_DATE())' : '(CURRENT_DATE())' };
      case 'time':
        return { sql: utc ? '(UTC_TIME())' : '(CURRENT_TIME())' };
      case 'number':
        return clockKind === 'epoch' ? { sql: '(UNIX_TIMESTAMP())' } : cannot('a clock default on a numeric column');
      case 'text': {
        // Same text as SQLite writes: 'YYYY-MM-DD hh:mm:ss' (or .mmm with %f).
        const fn = utc ? 'UTC' : 'CURRENT';
        const e =
          clockKind === 'timestamp'
            ? `${fn}_TIMESTAMP()`
            : clockKind === 'timestamp-ms'
              ? `${fn}_TIMESTAMP(3)`
              : clockKind === 'date'
                ? `${fn}_DATE()`
                : clockKind === 'time'
                  ? `${fn}_TIME()`
                  : 'UNIX_TIMESTAMP()';
        return { sql: `(CAST(${e} AS CHAR))` };
      }
      default:
        return cannot('a clock default on a binary column');
    }
  }

  let value: string | undefined;
  if (NUMBER.test(expr)) value = expr.replace(/^\+/, '');
  else if (HEX_INT.test(expr)) value = BigInt(expr.replace(/^[+-]/, '')).toString();
  if (value !== undefined) {
    if (kind === 'number') return { sql: value };
    if (kind === 'text') return { sql: literalFor(target, mysql.escape(value)) };
    return cannot(`a number on a ${target.base.toUpperCase()} column`);
  }

  const blob = /^x'([0-9a-f]*)'$/i.exec(expr);
  if (blob) {
    if (kind === 'blob') return { sql: literalFor(target, `X'${blob[1]}'`) };
    return cannot('a blob literal on a non-binary column');
  }

  const text = unquoteSqlite(expr);
  if (text !== undefined) {
    switch (kind) {
      case 'number':
        // SQLite's numeric affinity turns '5' into 5; anything else stays text, which MySQL refuses.
        return NUMBER.test(text.trim()) ? { sql: text.trim().replace(/^\+/, '') } : cannot('text on a numeric column');
      case 'datetime':
      case 'date':
      case 'time':
        if (kind !== 'time' && !DATETIME_TEXT.test(text)) return cannot(`'${text}' is not a MySQL ${kind}`);
        return { sql: mysql.escape(text.replace('T', ' ')) };
      case 'blob':
        return { sql: literalFor(target, mysql.escape(text)) };
      default:
        return { sql: literalFor(target, mysql.escape(text)) };
    }
  }
  return cannot('SQLite expression with no MySQL equivalent');
}

/** `'it''s \\n'` in MariaDB's COLUMN_DEFAULT form → the string value. */
function unquoteMysql(text: string): string | undefined {
  if (text.length < 2 || text[0] !== "'" || text.at(-1) !== "'") return undefined;
  const body = text.slice(1, -1);
  let out = '';
  const esc: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\' && i + 1 < body.length) {
      const d = body[++i] as string;
      out += esc[d] ?? d;
    } else if (c === "'") {
      if (body[i + 1] !== "'") return undefined;
      out += "'";
      i++;
    } else out += c;
  }
  return out;
}

/** The SQLite DEFAULT expression for a hub column default (MariaDB-style text from introspection). */
export function mysqlDefaultToSqlite(dflt: string | null, baseType: string): TranslatedDefault {
  if (dflt === null) return { sql: null };
  const raw = dflt.trim();
  const expr = stripParens(raw);
  const e = expr.toLowerCase().replace(/\s+/g, '');
  const cannot = (reason: string): TranslatedDefault => ({
    sql: null,
    warning: { problem: `default ${raw}`, reason: `${reason}; the column gets no default in SQLite` },
  });
  if (e === 'null') return { sql: null };
  if (NUMBER.test(expr)) return { sql: expr };
  const text = unquoteMysql(expr);
  if (text !== undefined) return { sql: sqliteLiteral(text) };
  const hex = /^x'([0-9a-f]*)'$/i.exec(expr);
  if (hex) return { sql: `X'${hex[1]}'` };

  // Text columns with a clock default, as translateToMysql writes them: (CAST(UTC_TIMESTAMP(3) AS CHAR)).
  const cast = /^cast\((.*)aschar(?:charset\w+)?\)$/.exec(e);
  if (cast?.[1]) return mysqlDefaultToSqlite(cast[1], baseType);
  const fraction = /\(([1-6])\)$/.test(e);
  const sessionClock = 'the hub uses its session time zone here while SQLite uses UTC';
  if (/^utc_timestamp(\(\d?\))?$/.test(e))
    return { sql: fraction ? "(strftime('%Y-%m-%d %H:%M:%f', 'now'))" : 'CURRENT_TIMESTAMP' };
  if (/^(current_timestamp|now|localtimestamp|localtime)(\(\d?\))?$/.test(e))
    return {
      sql: fraction ? "(strftime('%Y-%m-%d %H:%M:%f', 'now'))" : 'CURRENT_TIMESTAMP',
      warning: { problem: `default ${raw}`, reason: `translated to SQLite's clock, which is UTC: ${sessionClock}` },
    };
  if (e === 'utc_date()') return { sql: 'CURRENT_DATE' };
  if (/^(curdate|current_date)(\(\))?$/.test(e))
    return { sql: 'CURRENT_DATE', warning: { problem: `default ${raw}`, reason: `translated to CURRENT_DATE: ${sessionClock}` } };
  if (/^utc_time(\(\d?\))?$/.test(e)) return { sql: 'CURRENT_TIME' };
  if (/^(curtime|current_time)(\(\d?\))?$/.test(e))
    return { sql: 'CURRENT_TIME', warning: { problem: `default ${raw}`, reason: `translated to CURRENT_TIME: ${sessionClock}` } };
  if (/^b'[01]*'$/.test(e) && baseType === 'bit') return cannot('BIT literal');
  return cannot('MySQL expression with no SQLite equivalent');
}
