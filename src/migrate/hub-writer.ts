/**
 * Writing row images into one hub table, inside the caller's transaction on a
 * pinned connection whose capture is off:
 *
 *  - `load-data`: LOAD DATA LOCAL INFILE fed from an in-memory stream of
 *    tab-separated lines (explicit CHARACTER SET, FIELDS/LINES/ESCAPED BY;
 *    `\N` is NULL, backslash, tab, newline, CR and NUL escaped; BLOB columns
 *    travel as hex into a user variable and are stored with UNHEX, so no byte is
 *    reinterpreted as text). LOAD DATA LOCAL turns errors into warnings and skips
 *    duplicate keys, so every batch checks the rows written and the warnings, and
 *    fails (rolling back) on either.
 *  - `insert`: multi-row INSERTs sized to the server's max_allowed_packet,
 *    values escaped by mysql2 (exact for bigint, Buffer, strings).
 *
 * Values arrive in MySQL form (src/engines/codec.ts via toMysqlRow).
 */
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { Row, SqlValue } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SyncTable } from '../sync/plan.js';
import type { HubMethod } from './types.js';

/** Lines per Buffer handed to the LOAD DATA stream. */
const CHUNK_ROWS = 500;

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

export function escapeField(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] ?? c) : s;
}

/** One value as a LOAD DATA field (`hex`: the column goes through UNHEX). */
export function fieldText(v: SqlValue, hex: boolean): string {
  if (v === null) return '\\N';
  if (Buffer.isBuffer(v)) return hex ? v.toString('hex') : escapeField(v.toString('utf8'));
  if (typeof v === 'string') return hex ? Buffer.from(v, 'utf8').toString('hex') : escapeField(v);
  // bigint: exact digits; number: the shortest text that reads back as the same double.
  return String(v);
}

export class LoadDataRefusedError extends Error {
  constructor(override readonly cause: unknown) {
    super('the server or the client refused LOAD DATA LOCAL INFILE');
  }
}

/** errno 1148/3948/4166: local_infile off on the server or the client. */
export function isLocalInfileRefusal(e: unknown): boolean {
  const err = e as { errno?: number; code?: string; message?: string };
  return (
    err?.errno === 4166 ||
    err?.errno === 3948 ||
    err?.errno === 1148 ||
    err?.code === 'ER_NOT_ALLOWED_COMMAND' ||
    err?.code === 'ER_CLIENT_LOCAL_FILES_DISABLED' ||
    /local (infile|data).*disabled|LOAD DATA LOCAL INFILE is forbidden/i.test(err?.message ?? '')
  );
}

export class HubTableWriter {
  private readonly q: string;
  private readonly columns: string;
  private readonly hexColumns: boolean[];
  private readonly loadSql: string;

  constructor(
    readonly table: SyncTable,
    /** Largest statement the INSERT path builds (bytes). */
    private readonly maxStatementBytes: number,
  ) {
    this.q = quoteMysqlId(table.name);
    this.columns = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
    this.hexColumns = table.columns.map((c) => c.type === 'blob');
    const targets = table.columns.map((c, i) => (this.hexColumns[i] ? `@dualdb_h${i}` : quoteMysqlId(c.name)));
    const sets = table.columns.flatMap((c, i) => (this.hexColumns[i] ? [`${quoteMysqlId(c.name)} = UNHEX(@dualdb_h${i})`] : []));
    this.loadSql =
      `LOAD DATA LOCAL INFILE 'dualdb-migrate.tsv' INTO TABLE ${this.q} CHARACTER SET utf8mb4 ` +
      "FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' STARTING BY '' " +
      `(${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`;
  }

  /** Whether LOAD DATA can carry these rows (a Buffer in a text column cannot: INSERT sends it as is). */
  loadable(rows: Row[]): boolean {
    const cols = this.table.columns;
    for (const r of rows) {
      for (let i = 0; i < cols.length; i++) {
        if (!this.hexColumns[i] && Buffer.isBuffer(r[(cols[i] as { name: string }).name])) return false;
      }
    }
    return true;
  }

  async write(conn: PoolConnection, rows: Row[], method: HubMethod): Promise<void> {
    if (rows.length === 0) return;
    if (method === 'load-data' && this.loadable(rows)) await this.load(conn, rows);
    else await this.insert(conn, rows);
  }

  private *chunks(rows: Row[]): Generator<Buffer> {
    const cols = this.table.columns.map((c) => c.name);
    const hex = this.hexColumns;
    let text = '';
    let n = 0;
    for (const r of rows) {
      let line = '';
      for (let i = 0; i < cols.length; i++) {
        if (i > 0) line += '\t';
        line += fieldText(r[cols[i] as string] ?? null, hex[i] === true);
      }
      text += `${line}\n`;
      if (++n >= CHUNK_ROWS) {
        // mysql2 copies what it is given: it must be Buffers, never strings.
        yield Buffer.from(text, 'utf8');
        text = '';
        n = 0;
      }
    }
    if (text) yield Buffer.from(text, 'utf8');
  }

  private async load(conn: PoolConnection, rows: Row[]): Promise<void> {
    let res: mysql.ResultSetHeader;
    try {
      const [r] = await conn.query({ sql: this.loadSql, infileStreamFactory: () => Readable.from(this.chunks(rows)) });
      res = r as mysql.ResultSetHeader;
    } catch (e) {
      if (isLocalInfileRefusal(e)) throw new LoadDataRefusedError(e);
      throw e;
    }
    await this.check(conn, res, rows.length);
  }

  private async insert(conn: PoolConnection, rows: Row[]): Promise<void> {
    const head = `INSERT INTO ${this.q} (${this.columns}) VALUES `;
    const placeholders = `(${this.table.columns.map(() => '?').join(', ')})`;
    let parts: string[] = [];
    let bytes = head.length;
    let count = 0;
    const flush = async () => {
      if (parts.length === 0) return;
      const [r] = await conn.query(head + parts.join(','));
      await this.check(conn, r as mysql.ResultSetHeader, count);
      parts = [];
      bytes = head.length;
      count = 0;
    };
    for (const row of rows) {
      const tuple = mysql.format(
        placeholders,
        this.table.columns.map((c) => row[c.name] ?? null),
      );
      if (parts.length > 0 && bytes + tuple.length + 1 > this.maxStatementBytes) await flush();
      parts.push(tuple);
      bytes += tuple.length + 1;
      count++;
    }
    await flush();
  }

  /** Every row written, no warning (a LOCAL load skips duplicates and truncates with warnings only). */
  private async check(conn: PoolConnection, res: mysql.ResultSetHeader, expected: number): Promise<void> {
    const warnings = Number((res as unknown as { warningStatus?: number }).warningStatus ?? 0);
    if (res.affectedRows === expected && warnings === 0) return;
    let detail = `${res.affectedRows} of ${expected} row(s) written`;
    if (warnings > 0) {
      const [w] = await conn.query('SHOW WARNINGS LIMIT 5');
      const list = (w as { Level: string; Code: number; Message: string }[]).map((x) => `${x.Level} ${x.Code}: ${x.Message}`);
      detail += `; the server reported ${warnings} warning(s): ${list.join(' | ')}`;
    }
    throw new HubWriteCheckError(detail);
  }
}

export class HubWriteCheckError extends Error {}
