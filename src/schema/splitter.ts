/**
 * A real SQL statement splitter for MySQL and SQLite script files. It follows
 * what each engine's own command-line client does, not "split on `;`":
 *
 *  - strings: '…' and "…" with doubled quotes; MySQL also takes backslash escapes.
 *    In SQLite "…" is an identifier, which is scanned the same way (no backslashes);
 *  - quoted identifiers: `…` (both engines) and […] (SQLite only);
 *  - comments: `-- ` (MySQL needs a space or control character after the dashes,
 *    SQLite does not), `#` (MySQL only), and block comments. A MySQL executable
 *    comment (/*! … *\/ or /*+ … *\/) is code: it counts as statement text, so a
 *    statement made of one (dump headers such as `/*!40101 SET NAMES utf8 *\/;`) runs;
 *  - MySQL `DELIMITER xx` lines (a client command, never sent to the server), so
 *    procedure and trigger bodies containing `;` arrive as one statement;
 *  - SQLite `CREATE TRIGGER … BEGIN …; …; END;`: the body's semicolons do not end
 *    the statement (SQLite has no DELIMITER); CASE … END inside the body is tracked.
 *
 * Each statement carries the 1-based line where it starts, for error messages.
 */

export type SqlDialect = 'mysql' | 'sqlite';

export interface SqlStatement {
  /** The statement text, without its delimiter, trimmed; inner comments are kept. */
  sql: string;
  /** 1-based line of the statement's first character. */
  line: number;
  /** 1-based line of its last character. */
  endLine: number;
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isWordChar = (c: string | undefined) => c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 0x7f);

/** Tracks CREATE TRIGGER … BEGIN … END nesting in SQLite statements, one keyword at a time. */
class TriggerTracker {
  private words: string[] = [];
  private inTrigger = false;
  private depth = 0;

  reset(): void {
    this.words = [];
    this.inTrigger = false;
    this.depth = 0;
  }

  /** `afterDot`: the word follows a `.` (NEW.end), so it names a column, not a keyword. */
  word(w: string, afterDot: boolean): void {
    const u = w.toUpperCase();
    if (this.words.length < 6) {
      this.words.push(u);
      // CREATE [TEMP|TEMPORARY] TRIGGER
      const [a, b, c] = this.words;
      if (a === 'CREATE' && (b === 'TRIGGER' || ((b === 'TEMP' || b === 'TEMPORARY') && c === 'TRIGGER'))) this.inTrigger = true;
    }
    if (!this.inTrigger || afterDot) return;
    // BEGIN opens the body; CASE … END expressions nest inside it (or in the WHEN clause).
    if (u === 'BEGIN' || u === 'CASE') this.depth++;
    else if (u === 'END' && this.depth > 0) this.depth--;
  }

  /** True while a `;` belongs to the trigger body rather than ending the statement. */
  get open(): boolean {
    return this.inTrigger && this.depth > 0;
  }
}

/**
 * Splits a script into statements. Empty statements and statements made only of
 * comments are dropped; a last statement without a delimiter is kept.
 */
export function splitSql(text: string, dialect: SqlDialect): SqlStatement[] {
  const mysql = dialect === 'mysql';
  const out: SqlStatement[] = [];
  const trigger = new TriggerTracker();
  let delimiter = ';';
  let line = 1;
  let i = 0;
  const n = text.length;
  /** Offset and line of the current statement's first significant character, or -1. */
  let start = -1;
  let startLine = 0;
  let lastLine = 0;
  /** End offset of the last significant character of the current statement. */
  let lastEnd = -1;

  const begin = () => {
    if (start < 0) {
      start = i;
      startLine = line;
    }
  };
  const emit = () => {
    if (start >= 0) {
      const sql = text.slice(start, lastEnd).trim();
      if (sql !== '') out.push({ sql, line: startLine, endLine: lastLine });
    }
    start = -1;
    lastEnd = -1;
    trigger.reset();
  };
  /** Advances over text[i..to) counting newlines. */
  const advanceTo = (to: number) => {
    for (let k = i; k < to; k++) if (text.charCodeAt(k) === 10) line++;
    i = to;
  };
  const markSignificant = (to: number) => {
    advanceTo(to);
    lastEnd = i;
    lastLine = line;
  };
  /** End offset of a quoted run starting at i (after the closing quote), or n if unclosed. */
  const quotedEnd = (close: string, backslash: boolean): number => {
    let k = i + 1;
    while (k < n) {
      const c = text[k];
      if (backslash && c === '\\') {
        k += 2;
        continue;
      }
      if (c === close) {
        if (text[k + 1] === close && close !== ']') {
          k += 2;
          continue;
        }
        return k + 1;
      }
      k++;
    }
    return n;
  };
  const atLineStart = (): boolean => {
    for (let k = i - 1; k >= 0; k--) {
      const c = text[k];
      if (c === '\n') return true;
      if (c !== ' ' && c !== '\t' && c !== '\r') return false;
    }
    return true;
  };

  while (i < n) {
    const c = text[i] as string;

    // DELIMITER is a client command on a line of its own, between statements.
    if (mysql && start < 0 && (c === 'D' || c === 'd') && atLineStart()) {
      const m = /^delimiter[ \t]+(\S+)[^\n]*/i.exec(text.slice(i, i + 200));
      if (m?.[1]) {
        delimiter = m[1];
        advanceTo(i + m[0].length);
        continue;
      }
    }

    if (isSpace(c)) {
      advanceTo(i + 1);
      continue;
    }

    // Comments.
    if (c === '-' && text[i + 1] === '-' && (!mysql || i + 2 >= n || isSpace(text[i + 2]) || text.charCodeAt(i + 2) < 32)) {
      const nl = text.indexOf('\n', i);
      advanceTo(nl < 0 ? n : nl);
      continue;
    }
    if (mysql && c === '#') {
      const nl = text.indexOf('\n', i);
      advanceTo(nl < 0 ? n : nl);
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      const end = close < 0 ? n : close + 2;
      if (mysql && (text[i + 2] === '!' || text[i + 2] === '+')) {
        begin();
        markSignificant(end);
      } else {
        advanceTo(end);
      }
      continue;
    }

    // The delimiter ends the statement (unless inside an SQLite trigger body).
    if (text.startsWith(delimiter, i)) {
      if (!(dialect === 'sqlite' && trigger.open)) {
        advanceTo(i + delimiter.length);
        emit();
        continue;
      }
    }

    begin();
    if (c === "'" || c === '"') {
      markSignificant(quotedEnd(c, mysql));
    } else if (c === '`') {
      markSignificant(quotedEnd('`', false));
    } else if (!mysql && c === '[') {
      markSignificant(quotedEnd(']', false));
    } else if (isWordChar(c)) {
      let k = i + 1;
      // A word ends at the delimiter too (`END$$`).
      while (k < n && isWordChar(text[k]) && !text.startsWith(delimiter, k)) k++;
      if (!mysql) trigger.word(text.slice(i, k), lastEnd > 0 && text[lastEnd - 1] === '.');
      markSignificant(k);
    } else {
      markSignificant(i + 1);
    }
  }
  emit();
  return out;
}

/** The first characters of a statement on one line, for error messages. */
export function statementHead(sql: string, max = 80): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
