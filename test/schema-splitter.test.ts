import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SqlDialect, splitSql, statementHead } from '../src/schema/splitter.js';

const sqls = (text: string, dialect: SqlDialect = 'mysql') => splitSql(text, dialect).map((s) => s.sql);
const lines = (text: string, dialect: SqlDialect = 'mysql') => splitSql(text, dialect).map((s) => s.line);

describe('splitSql: both dialects', () => {
  for (const dialect of ['mysql', 'sqlite'] as const) {
    it(`${dialect}: splits on semicolons, numbers lines from 1, drops empty statements`, () => {
      const text = 'SELECT 1;\n\nSELECT 2;;\n  ;\nSELECT\n  3;';
      expect(sqls(text, dialect)).toEqual(['SELECT 1', 'SELECT 2', 'SELECT\n  3']);
      expect(lines(text, dialect)).toEqual([1, 3, 5]);
      expect(splitSql(text, dialect)[2]?.endLine).toBe(6);
    });

    it(`${dialect}: keeps a last statement without a semicolon`, () => {
      expect(sqls('SELECT 1;\nSELECT 2\n', dialect)).toEqual(['SELECT 1', 'SELECT 2']);
      expect(sqls('SELECT 1; -- trailing comment', dialect)).toEqual(['SELECT 1']);
    });

    it(`${dialect}: ignores semicolons in strings, quoted identifiers and comments`, () => {
      const text = [
        "INSERT INTO t VALUES ('a;b', 'it''s; fine');",
        'SELECT "x;y" FROM `odd;name`;',
        'SELECT 1 -- not the end;\n + 1;',
        'SELECT /* ; */ 2;',
        '/* a comment; alone */;',
        'SELECT 3',
      ].join('\n');
      expect(sqls(text, dialect)).toEqual([
        "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
        'SELECT "x;y" FROM `odd;name`',
        'SELECT 1 -- not the end;\n + 1',
        'SELECT /* ; */ 2',
        'SELECT 3',
      ]);
    });

    it(`${dialect}: counts lines through multi-line strings and comments, and CRLF`, () => {
      const text = "SELECT 'a\r\nb';\r\n/* x\r\n y */\r\nSELECT 2;\r\n-- c\r\nSELECT 3;";
      expect(lines(text, dialect)).toEqual([1, 5, 7]);
      expect(sqls(text, dialect)[1]).toBe('SELECT 2');
    });

    it(`${dialect}: an unterminated string runs to the end (the server reports it)`, () => {
      expect(sqls("SELECT 'abc; SELECT 2;", dialect)).toEqual(["SELECT 'abc; SELECT 2;"]);
    });
  }
});

describe('splitSql: MySQL', () => {
  it('takes backslash escapes in strings', () => {
    expect(sqls('SELECT \'it\\\'s; ok\';SELECT "a\\";b";SELECT 2')).toEqual([
      "SELECT 'it\\'s; ok'",
      'SELECT "a\\";b"',
      'SELECT 2',
    ]);
    expect(sqls("SELECT 'ends with backslash\\\\';SELECT 2")).toEqual(["SELECT 'ends with backslash\\\\'", 'SELECT 2']);
  });

  it('treats # as a comment, and -- only when followed by a space', () => {
    // A comment at the end of a statement is not part of its text.
    expect(sqls('SELECT 1 # ; hash comment\n;SELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(sqls('SELECT 1 # ; c\n+ 1;SELECT 2')).toEqual(['SELECT 1 # ; c\n+ 1', 'SELECT 2']);
    expect(sqls('SELECT 5--1;SELECT 2')).toEqual(['SELECT 5--1', 'SELECT 2']);
    expect(sqls('SELECT 1 --\tc;\n;SELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('keeps executable comments /*! … */ as statements', () => {
    const text = '/*!40101 SET NAMES utf8mb4 */;\n/* plain */;\nSELECT /*+ MAX_EXECUTION_TIME(1) */ 1;';
    expect(sqls(text)).toEqual(['/*!40101 SET NAMES utf8mb4 */', 'SELECT /*+ MAX_EXECUTION_TIME(1) */ 1']);
    expect(lines(text)).toEqual([1, 3]);
  });

  it('follows DELIMITER // for procedure bodies, and DELIMITER ; back', () => {
    const text = [
      'DROP PROCEDURE IF EXISTS p;',
      'DELIMITER //',
      'CREATE PROCEDURE p()',
      'BEGIN',
      "  SELECT 'a;b';",
      '  IF 1 THEN SELECT 2; END IF;',
      'END //',
      'DELIMITER ;',
      'CALL p();',
    ].join('\n');
    const out = splitSql(text, 'mysql');
    expect(out.map((s) => s.sql)).toEqual([
      'DROP PROCEDURE IF EXISTS p',
      "CREATE PROCEDURE p()\nBEGIN\n  SELECT 'a;b';\n  IF 1 THEN SELECT 2; END IF;\nEND",
      'CALL p()',
    ]);
    expect(out.map((s) => s.line)).toEqual([1, 3, 9]);
  });

  it('follows DELIMITER $$ (lower case, CRLF, a delimiter glued to END)', () => {
    const text =
      'delimiter $$\r\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END$$\r\ndelimiter ;\r\nSELECT 1;';
    expect(sqls(text)).toEqual(['CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END', 'SELECT 1']);
    expect(lines(text)).toEqual([2, 4]);
  });

  it('does not take DELIMITER inside a statement or a string for the command', () => {
    expect(sqls("SELECT 'DELIMITER //';\nSELECT delimiter_col FROM t;")).toEqual([
      "SELECT 'DELIMITER //'",
      'SELECT delimiter_col FROM t',
    ]);
  });
});

describe('splitSql: SQLite', () => {
  it('keeps a trigger body together, with CASE … END inside', () => {
    const text = [
      'CREATE TABLE t (a, b);',
      'CREATE TRIGGER IF NOT EXISTS trg AFTER INSERT ON t',
      'WHEN NEW.a IS NOT NULL',
      'BEGIN',
      "  UPDATE t SET b = CASE WHEN NEW.a > 0 THEN 'pos;' ELSE 'neg' END WHERE rowid = NEW.rowid;",
      '  INSERT INTO log VALUES (NEW.a);',
      'END;',
      'CREATE TEMP TRIGGER t2 BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, "no; way"); END;',
      'SELECT 1;',
    ].join('\n');
    const out = splitSql(text, 'sqlite');
    expect(out).toHaveLength(4);
    expect(out[1]?.sql).toMatch(/^CREATE TRIGGER IF NOT EXISTS trg[\s\S]*INSERT INTO log VALUES \(NEW\.a\);\nEND$/);
    expect(out[2]?.sql).toMatch(/^CREATE TEMP TRIGGER t2 .*END$/);
    expect(out.map((s) => s.line)).toEqual([1, 2, 8, 9]);
  });

  it('does not mistake BEGIN TRANSACTION or a column named end for a trigger body', () => {
    expect(sqls('BEGIN TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT;', 'sqlite')).toEqual([
      'BEGIN TRANSACTION',
      'INSERT INTO t VALUES (1)',
      'COMMIT',
    ]);
    const trig = 'CREATE TRIGGER x AFTER UPDATE ON t BEGIN UPDATE u SET v = NEW.end; DELETE FROM w; END;\nSELECT 2;';
    expect(sqls(trig, 'sqlite')).toEqual([
      'CREATE TRIGGER x AFTER UPDATE ON t BEGIN UPDATE u SET v = NEW.end; DELETE FROM w; END',
      'SELECT 2',
    ]);
  });

  it('has no backslash escapes, no # comments, takes -- anywhere and [bracketed] identifiers', () => {
    expect(sqls("SELECT 'a\\';SELECT 2", 'sqlite')).toEqual(["SELECT 'a\\'", 'SELECT 2']);
    expect(sqls('SELECT 5--1;\n;SELECT [odd;name] FROM t', 'sqlite')).toEqual(['SELECT 5', 'SELECT [odd;name] FROM t']);
    expect(sqls('SELECT 1 # 2;SELECT 3', 'sqlite')).toEqual(['SELECT 1 # 2', 'SELECT 3']);
    expect(sqls('/*! not special here */;SELECT 1', 'sqlite')).toEqual(['SELECT 1']);
  });

  it('has no DELIMITER command', () => {
    expect(sqls('DELIMITER //\nSELECT 1;', 'sqlite')).toEqual(['DELIMITER //\nSELECT 1']);
  });
});

describe('statementHead', () => {
  it('flattens whitespace and cuts long statements', () => {
    expect(statementHead('CREATE TABLE t (\n  a INT\n)')).toBe('CREATE TABLE t ( a INT )');
    expect(statementHead('x'.repeat(100), 20)).toBe(`${'x'.repeat(19)}…`);
  });
});

/** Property: statements built from awkward tokens come back exactly, with their start lines. */
describe('splitSql: property', () => {
  const awkward = fc.constantFrom(
    ';',
    "'",
    '"',
    '`',
    '\\',
    '--',
    '#',
    '/*',
    '*/',
    '\n',
    'END',
    'BEGIN',
    ' ',
    'é',
    '😀',
    '//',
    '$$',
  );
  const content = fc.array(fc.oneof(awkward, fc.constantFrom('a', 'b', 'x1')), { maxLength: 8 }).map((a) => a.join(''));

  /** Tokens valid in both dialects, with every quote escaped the way the dialect reads it. */
  const token = (dialect: SqlDialect) =>
    fc.oneof(
      fc.constantFrom('SELECT', 'a', 'b_1', '42', '(', ')', ',', '+', '=', '.'),
      content.map((c) => `'${c.replaceAll("'", "''").replaceAll('\\', dialect === 'mysql' ? '\\\\' : '\\')}'`),
      content.map((c) => `\`${c.replaceAll('`', '``')}\``),
      content.map((c) => `"${c.replaceAll('"', '""').replaceAll('\\', dialect === 'mysql' ? '\\\\' : '\\')}"`),
      content.filter((c) => !c.includes('*/')).map((c) => `/* ${c} */`),
      content.filter((c) => !c.includes('\n')).map((c) => `-- ${c}\n`),
    );
  const statement = (dialect: SqlDialect) =>
    fc.array(token(dialect), { minLength: 0, maxLength: 6 }).map((ts) => `SELECT ${ts.join(' ')} x`);
  const separator = fc.constantFrom(';\n', ';', ' ;\r\n', ';\n-- between; statements\n', '; /* ; */ ', ';\n\n;\n');

  for (const dialect of ['mysql', 'sqlite'] as const) {
    it(`${dialect}: split(join(statements)) = statements`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(statement(dialect), separator), { minLength: 1, maxLength: 6 }), (parts) => {
          let text = '';
          const expected: { sql: string; line: number }[] = [];
          for (const [sql, sep] of parts) {
            expected.push({ sql, line: text.split('\n').length });
            text += sql + sep;
          }
          const got = splitSql(text, dialect).map((s) => ({ sql: s.sql, line: s.line }));
          expect(got).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('mysql: with DELIMITER //, semicolons inside statements stay', () => {
    fc.assert(
      fc.property(fc.array(statement('mysql'), { minLength: 1, maxLength: 5 }), (stmts) => {
        const bodies = stmts.map((s) => `${s}; SELECT 2;`);
        const text = `DELIMITER //\n${bodies.join(' //\n')} //\nDELIMITER ;\nSELECT 3;`;
        expect(splitSql(text, 'mysql').map((s) => s.sql)).toEqual([...bodies, 'SELECT 3']);
      }),
      { numRuns: 200 },
    );
  });
});
