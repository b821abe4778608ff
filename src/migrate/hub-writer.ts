/**
 * Writing one batch of a table's rows into the hub, inside the caller's
 * transaction on a pinned connection whose capture is off. Rows are pulled one
 * at a time from a SQLite iterator (raw arrays, column order of the table) and
 * encoded straight into the bytes the server receives: nothing holds a whole
 * batch, so memory stays flat whatever the batch and the table size.
 *
 *  - `load-data`: LOAD DATA LOCAL INFILE fed from a stream of tab-separated
 *    lines (explicit CHARACTER SET, FIELDS/LINES/ESCAPED BY; `\N` is NULL,
 *    backslash, tab, newline, CR and NUL escaped; BLOB columns travel as hex
 *    into a user variable and are stored with UNHEX, so no byte is reinterpreted
 *    as text). The stream follows the socket's back-pressure (mysql2 does not).
 *    LOAD DATA LOCAL turns errors into warnings and skips duplicate keys, so
 *    every batch checks the rows written and the warnings, and fails (rolling
 *    back) on either.
 *  - `insert`: multi-row INSERTs sized to the server's max_allowed_packet,
 *    values escaped by mysql2 (exact for bigint, Buffer, strings).
 *
 * Values are converted by the codec (src/engines/codec.ts, `sqliteToMysql`);
 * the encoder only skips it where the codec provably returns its input.
 */
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { type LogicalType, type SqlValue, sqliteToMysql } from '../engines/codec.js';
import type { PoolConnection } from '../engines/mysql/connect.js';
import { quoteMysqlId } from '../engines/mysql/quote.js';
import type { SyncTable } from '../sync/plan.js';
import { DualdbError } from '../util/errors.js';
import type { RangeDigest } from './copy-digest.js';

/** Characters of TSV text per Buffer handed to the LOAD DATA stream. */
const CHUNK_CHARS = 256 * 1024;
/** Bytes waiting in the socket before the stream stops producing (mysql2 applies no back-pressure). */
const SOCKET_HIGH_WATER = 1024 * 1024;

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

export function escapeField(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] ?? c) : s;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether the codec's datetime normalisation returns `v` unchanged: shorter than
 * the shortest date-time it rewrites, or already 'YYYY-MM-DD hh:mm:ss[.f…]'.
 * (Only a shortcut: anything else goes through the codec.)
 */
export function datetimeAsIs(v: string): boolean {
  const n = v.length;
  if (n < 16) return true;
  if (n < 19 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 32) return false;
  if (v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return false;
  for (const i of [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) if (!isDigit(v.charCodeAt(i))) return false;
  if (n === 19) return true;
  if (v.charCodeAt(19) !== 46 || n === 20) return false;
  for (let i = 20; i < n; i++) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
}

/** How a column's values are written. */
const Kind = { Plain: 0, Datetime: 1, Hex: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

function kindOf(type: LogicalType): Kind {
  if (type === 'blob') return Kind.Hex;
  if (type === 'datetime' || type === 'date') return Kind.Datetime;
  return Kind.Plain;
}

/** A Buffer in a text column: LOAD DATA cannot carry it as is; the batch is redone with INSERTs. */
export class NotLoadableError extends DualdbError {
  constructor(readonly column: string) {
    super('LOAD_DATA_NOT_LOADABLE', `a BLOB value in the text column ${column}`, { context: { column } });
  }
}

/** The batch is redone with INSERTs, and so are the later ones. */
export class LoadDataRefusedError extends DualdbError {
  constructor(cause: unknown) {
    super('LOAD_DATA_REFUSED', 'the server or the client refused LOAD DATA LOCAL INFILE', { cause });
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

export class HubWriteCheckError extends DualdbError {
  constructor(detail: string) {
    super('HUB_WRITE_CHECK_FAILED', detail);
  }
}

/**
 * One batch's rows: pulled from a SQLite iterator until the batch is full (rows
 * or bytes), remembering only the last row (its key is the resume mark).
 */
export class BatchSource {
  rows = 0;
  bytes = 0;
  last: SqlValue[] | null = null;
  private pending: SqlValue[] | null;
  private ended = false;

  constructor(
    private readonly it: Iterator<SqlValue[]>,
    first: SqlValue[],
    private readonly maxRows: number,
    private readonly maxBytes: number,
    /** Rows taken so far in this batch (progress while the batch streams). */
    private readonly onRows?: (rows: number) => void,
    /** Every row taken, for the verification's SQLite half (copy-digest.ts). */
    private readonly digest?: RangeDigest,
  ) {
    this.pending = first;
  }

  next(): SqlValue[] | null {
    if (this.ended) return null;
    let row = this.pending;
    this.pending = null;
    if (row === null) {
      if (this.rows >= this.maxRows || this.bytes >= this.maxBytes) return this.end();
      const r = this.it.next();
      if (r.done) return this.end();
      row = r.value;
    }
    this.rows++;
    this.last = row;
    this.digest?.add(row);
    return row;
  }

  /** Progress (called by the writers once per chunk or statement). */
  report(): void {
    this.onRows?.(this.rows);
  }

  private end(): null {
    this.ended = true;
    this.close();
    return null;
  }

  close(): void {
    this.it.return?.();
  }
}

export class HubTableWriter {
  private readonly q: string;
  private readonly columns: string;
  private readonly names: string[];
  private readonly types: LogicalType[];
  private readonly kinds: Kind[];
  private readonly loadSql: string;

  constructor(
    readonly table: SyncTable,
    /** Largest statement the INSERT path builds (bytes). */
    private readonly maxStatementBytes: number,
  ) {
    this.q = quoteMysqlId(table.name);
    this.columns = table.columns.map((c) => quoteMysqlId(c.name)).join(', ');
    this.names = table.columns.map((c) => c.name);
    this.types = table.columns.map((c) => c.type);
    this.kinds = table.columns.map((c) => kindOf(c.type));
    const targets = table.columns.map((c, i) => (this.kinds[i] === Kind.Hex ? `@dualdb_h${i}` : quoteMysqlId(c.name)));
    const sets = table.columns.flatMap((c, i) =>
      this.kinds[i] === Kind.Hex ? [`${quoteMysqlId(c.name)} = UNHEX(@dualdb_h${i})`] : [],
    );
    this.loadSql =
      `LOAD DATA LOCAL INFILE 'dualdb-migrate.tsv' INTO TABLE ${this.q} CHARACTER SET utf8mb4 ` +
      "FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' STARTING BY '' " +
      `(${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`;
  }

  /** Appends one row as a TSV line (values through the codec; see `datetimeAsIs`). */
  private line(row: SqlValue[]): string {
    const kinds = this.kinds;
    let s = '';
    for (let i = 0; i < kinds.length; i++) {
      if (i > 0) s += '\t';
      const v = row[i] ?? null;
      if (v === null) s += '\\N';
      else if (typeof v === 'bigint') s += v;
      else if (typeof v === 'number') {
        // The codec refuses non-finite numbers; -0 and the shortest round-trip text as String(v).
        s += Number.isFinite(v) ? v : (sqliteToMysql(v, this.types[i] as LogicalType, this.names[i] as string) as number);
      } else if (typeof v === 'string') {
        const k = kinds[i];
        if (k === Kind.Hex) s += Buffer.from(v, 'utf8').toString('hex');
        else if (k === Kind.Datetime && !datetimeAsIs(v))
          s += escapeField(sqliteToMysql(v, this.types[i] as LogicalType, this.names[i] as string) as string);
        else s += escapeField(v);
      } else if (kinds[i] === Kind.Hex) s += v.toString('hex');
      else throw new NotLoadableError(this.names[i] as string);
    }
    return `${s}\n`;
  }

  /** LOAD DATA LOCAL INFILE of the batch; the server's count and warnings are checked. */
  async load(conn: PoolConnection, source: BatchSource): Promise<void> {
    const socket = (conn as unknown as { connection?: { stream?: NodeJS.WritableStream & { writableLength?: number } } })
      .connection?.stream;
    const encode = (): Buffer | null => {
      let text = '';
      let row = source.next();
      if (row === null) return null;
      while (row !== null) {
        text += this.line(row);
        if (text.length >= CHUNK_CHARS) break;
        row = source.next();
      }
      source.bytes += text.length;
      source.report();
      // mysql2 copies what it is given: it must be Buffers, never strings.
      return Buffer.from(text, 'utf8');
    };
    let waiting = false;
    const stream = new Readable({
      highWaterMark: 1,
      read() {
        if (waiting) return;
        if (socket && (socket.writableLength ?? 0) > SOCKET_HIGH_WATER) {
          waiting = true;
          socket.once('drain', () => {
            waiting = false;
            this._read(1);
          });
          return;
        }
        try {
          this.push(encode());
        } catch (e) {
          this.destroy(e as Error);
        }
      },
    });
    let res: mysql.ResultSetHeader;
    try {
      const [r] = await conn.query({ sql: this.loadSql, infileStreamFactory: () => stream });
      res = r as mysql.ResultSetHeader;
    } catch (e) {
      if (isLocalInfileRefusal(e)) throw new LoadDataRefusedError(e);
      throw e;
    } finally {
      stream.destroy();
    }
    await this.check(conn, res, source.rows);
  }

  /** Multi-row INSERTs of the batch, each below max_allowed_packet. */
  async insert(conn: PoolConnection, source: BatchSource): Promise<void> {
    const head = `INSERT INTO ${this.q} (${this.columns}) VALUES `;
    const n = this.names.length;
    let sql = head;
    let bytes = Buffer.byteLength(head, 'utf8');
    let count = 0;
    const flush = async () => {
      if (count === 0) return;
      const [r] = await conn.query(sql);
      await this.check(conn, r as mysql.ResultSetHeader, count);
      source.report();
      sql = head;
      bytes = Buffer.byteLength(head, 'utf8');
      count = 0;
    };
    for (let row = source.next(); row !== null; row = source.next()) {
      let tuple = '(';
      for (let i = 0; i < n; i++) {
        if (i > 0) tuple += ', ';
        tuple += mysql.escape(sqliteToMysql(row[i] ?? null, this.types[i] as LogicalType, this.names[i] as string));
      }
      tuple += ')';
      const size = Buffer.byteLength(tuple, 'utf8') + 1;
      source.bytes += size;
      if (count > 0 && bytes + size > this.maxStatementBytes) await flush();
      sql += count > 0 ? `,${tuple}` : tuple;
      bytes += size;
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
