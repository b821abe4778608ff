/**
 * Compare of one synced table: both sides read in key order, cut into aligned
 * key-range chunks, each chunk fingerprinted on each side; only chunks whose
 * fingerprints differ are compared row by row, and the keys found there are
 * looked up again on both sides (the recheck) so that a row that was merely
 * in flight — written by a running sync between the two reads — or read in
 * another chunk on the other side is not reported.
 */
import { canonical, type LogicalType, type Row } from '../engines/codec.js';
import type { MysqlHub, PoolConnection } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { sameImage } from '../sync/convert.js';
import { MysqlTableIO, type QueryRunner } from '../sync/mysql-io.js';
import type { SyncTable } from '../sync/plan.js';
import { SqliteTableIO } from '../sync/sqlite-io.js';
import { DualdbError, MysqlError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { canCompareByChecksum, type KnownRange, scanByChecksums } from './checksum-compare.js';
import { ChunkAligner, type ChunkPair } from './chunks.js';
import { compareKeys, type KeyShape, keyPartsOf, keyShape, keyTextOf } from './key-order.js';
import { type MysqlKeyOrder, mysqlKeyOrders, openMysqlReader } from './mysql-reader.js';
import { canonicalTuple, chunkDigest, differingColumns } from './row-hash.js';
import { openSqliteReader } from './sqlite-reader.js';
import type { CompareEvent, DifferenceKind, RowDifference, TableComparison } from './types.js';

export interface TableCompareContext {
  /** SQLite connection used for keyset reads and lookups (no transaction open on it). */
  db: SqliteDb;
  /** The same file, for a second connection when SQLite must sort (non-BINARY text keys). */
  sqlitePath: string;
  hub: MysqlHub;
  /** How each table's key sorts on the hub (`mysqlKeyOrders`). */
  keyOrders: Map<string, MysqlKeyOrder>;
}

/** A difference with both sides' current images (null: no row, or not read again because recheck is off). */
export interface ConfirmedDifference extends RowDifference {
  sqliteRow: Row | null;
  mysqlRow: Row | null;
}

export interface TableCompareOptions {
  /** Rows per chunk (the first chunk's, when `sizeByTime`). */
  chunkSize: number;
  /** Size chunks by time rather than by `chunkSize` (in-engine checksums only; the caller did not fix a size). */
  sizeByTime?: boolean;
  /** Rows per read (keyset page); default min(chunkSize, 2,000). */
  pageSize?: number;
  /** Differences kept in the result (all are counted). */
  maxDifferences: number;
  /** Look differing keys up again before reporting them (default in compare and always in repair). */
  recheck: boolean;
  signal?: AbortSignal;
  onEvent?: (e: CompareEvent) => void;
  /** Every confirmed difference, chunk by chunk, in key order (repair applies them here). */
  onDifferences?: (diffs: ConfirmedDifference[]) => Promise<void>;
  /** The key ranges to sum, some already summed on the SQLite side (in-engine checksums only). */
  known?: readonly KnownRange[];
}

const DEFAULT_PAGE_ROWS = 2_000;

/** An error raised by mysql2 or already diagnosed as the hub's (as opposed to SQLite's or ours). */
export function looksLikeMysqlError(e: unknown): boolean {
  if (e instanceof MysqlError) return true;
  if (typeof e !== 'object' || e === null || e instanceof DualdbError) return false;
  const code = String((e as { code?: unknown }).code ?? '');
  return 'sqlMessage' in e || 'fatal' in e || code.startsWith('ER_') || code.startsWith('PROTOCOL_') || /^E[A-Z]+$/.test(code);
}

export class CompareCancelledError extends DualdbError {
  constructor() {
    super('CANCELLED', 'compare cancelled', { exitCode: EXIT.INTERRUPTED });
  }
}

interface Candidate {
  key: string;
  kind: DifferenceKind;
  /** Key values, in key order (to sort the differences). */
  tuple: unknown[];
  sqlite: string | null;
  mysql: string | null;
}

/** Row-by-row differences of a chunk whose digests differ, from the rows' canonical forms. */
function diffChunk(chunk: ChunkPair, shape: KeyShape): Candidate[] {
  const hub = new Map<string, number>();
  chunk.mysql.keys.forEach((k, i) => {
    hub.set(keyTextOf(k), i);
  });
  const out: Candidate[] = [];
  chunk.sqlite.keys.forEach((tuple, i) => {
    const key = keyTextOf(tuple);
    const s = chunk.sqlite.canon[i] as string;
    const j = hub.get(key);
    if (j === undefined) {
      out.push({ key, kind: 'missing-in-mysql', tuple, sqlite: s, mysql: null });
      return;
    }
    hub.delete(key);
    const m = chunk.mysql.canon[j] as string;
    if (s !== m) out.push({ key, kind: 'different', tuple, sqlite: s, mysql: m });
  });
  for (const [key, j] of hub) {
    out.push({
      key,
      kind: 'missing-in-sqlite',
      tuple: chunk.mysql.keys[j] as unknown[],
      sqlite: null,
      mysql: chunk.mysql.canon[j] as string,
    });
  }
  return out.sort((a, b) => compareKeys(a.tuple, b.tuple, shape.types));
}

function sameValue(c: { name: string; type: LogicalType }, s: Row, m: Row): boolean {
  return canonical(s[c.name], c.type) === canonical(m[c.name], c.type);
}

function kindOf(s: Row | null, m: Row | null): DifferenceKind {
  return m === null ? 'missing-in-mysql' : s === null ? 'missing-in-sqlite' : 'different';
}

/** The hub pool as a QueryRunner for lookups (the scan holds its own pinned connection). */
function poolRunner(hub: MysqlHub): QueryRunner {
  return { query: (sql, values) => hub.pool.query(sql, values as never) as unknown as Promise<[unknown, unknown]> };
}

/** Keeps the candidates that still differ when both sides are read again now. */
async function recheck(ctx: TableCompareContext, table: SyncTable, shape: KeyShape, cands: Candidate[]) {
  const keys = cands.map((c) => c.key);
  const sImages = new SqliteTableIO(ctx.db, table).fetch(keys);
  const mImages = await new MysqlTableIO(table).fetch(poolRunner(ctx.hub), keys);
  const out: ConfirmedDifference[] = [];
  for (const key of keys) {
    const s = sImages.get(key) ?? null;
    const m = mImages.get(key) ?? null;
    if (s === null && m === null) continue;
    if (s !== null && m !== null && sameImage(table, s, m)) continue;
    const kind = kindOf(s, m);
    const d: ConfirmedDifference = { key, keyParts: keyPartsOf(key, shape), kind, sqliteRow: s, mysqlRow: m };
    if (kind === 'different' && s && m) d.columns = table.columns.filter((c) => !sameValue(c, s, m)).map((c) => c.name);
    out.push(d);
  }
  return out;
}

/** Differences as the scan saw them (recheck off): no images, columns from the canonical forms. */
function unconfirmed(table: SyncTable, shape: KeyShape, cands: Candidate[]): ConfirmedDifference[] {
  return cands.map((c) => {
    const d: ConfirmedDifference = {
      key: c.key,
      keyParts: keyPartsOf(c.key, shape),
      kind: c.kind,
      sqliteRow: null,
      mysqlRow: null,
    };
    if (c.kind === 'different' && c.sqlite && c.mysql) d.columns = differingColumns(c.sqlite, c.mysql, table.columns);
    return d;
  });
}

/** A table compared as equal with nothing read yet: the start of a comparison (and of a failed one). */
export function emptyComparison(table: string, key: string[]): TableComparison {
  return {
    table,
    key,
    status: 'match',
    rows: { sqlite: 0, mysql: 0 },
    chunks: { total: 0, differing: 0 },
    differenceCount: 0,
    byKind: { 'missing-in-mysql': 0, 'missing-in-sqlite': 0, different: 0 },
    differences: [],
    queued: 0,
    truncated: false,
    readModes: { sqlite: 'keyset', mysql: 'keyset' },
    durationMs: 0,
  };
}

/**
 * Runs `fn` on a pinned hub connection. withConnection turns every error thrown inside into a
 * MySQL diagnosis; SQLite errors, cancellation and repair's own failures are carried out of it
 * untouched instead.
 */
async function carryForeignErrors(hub: MysqlHub, fn: (conn: PoolConnection) => Promise<void>): Promise<void> {
  let foreign: { error: unknown } | undefined;
  await hub.withConnection(async (conn) => {
    try {
      await fn(conn);
    } catch (e) {
      if (looksLikeMysqlError(e)) throw e;
      foreign = { error: e };
    }
  });
  if (foreign) throw foreign.error;
}

/** GROUP_CONCAT of a whole chunk's row texts on this session, restored afterwards (it outlives the pool lease). */
export async function withLongConcat<T>(conn: PoolConnection, fn: () => Promise<T>): Promise<T> {
  await conn.query('SET SESSION group_concat_max_len = 4294967295');
  try {
    return await fn();
  } finally {
    await conn.query('SET SESSION group_concat_max_len = DEFAULT').catch(() => {});
  }
}

export async function compareTable(
  ctx: TableCompareContext,
  table: SyncTable,
  options: TableCompareOptions,
): Promise<TableComparison> {
  const t0 = Date.now();
  const shape = keyShape(table);
  const types = table.columns.map((c) => c.type);
  const chunkSize = Math.max(1, Math.floor(options.chunkSize));
  // Pages smaller than a chunk: the drivers' rows are reduced to key + canonical form page by
  // page, so fewer of them are alive at once (less garbage-collector work than whole chunks).
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? Math.min(chunkSize, DEFAULT_PAGE_ROWS)));
  const result = emptyComparison(table.name, shape.names);
  const order = ctx.keyOrders.get(table.name) ?? (await mysqlKeyOrders(ctx.hub, [table])).get(table.name);
  if (!order) throw new Error(`no key order for ${table.name}`);
  const record = async (chunk: ChunkPair): Promise<void> => {
    const cands = diffChunk(chunk, shape);
    const diffs = options.recheck ? await recheck(ctx, table, shape, cands) : unconfirmed(table, shape, cands);
    for (const d of diffs) {
      result.differenceCount++;
      result.byKind[d.kind]++;
      if (result.differences.length < options.maxDifferences) {
        result.differences.push({ key: d.key, keyParts: d.keyParts, kind: d.kind, ...(d.columns ? { columns: d.columns } : {}) });
      }
    }
    if (diffs.length && options.onDifferences) await options.onDifferences(diffs);
  };
  const progress = (matched: boolean) =>
    options.onEvent?.({
      type: 'chunk',
      table: table.name,
      chunk: result.chunks.total,
      rowsScanned: { ...result.rows },
      matched,
      differences: result.differenceCount,
    });
  if (canCompareByChecksum(ctx.db, table, order)) {
    await carryForeignErrors(ctx.hub, (conn) =>
      withLongConcat(conn, () =>
        scanByChecksums(ctx.db, conn, table, shape, {
          chunkRows: options.sizeByTime ? undefined : chunkSize,
          initialRows: chunkSize,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.known ? { known: options.known } : {}),
          cancelled: () => new CompareCancelledError(),
          onDiffering: record,
          onChunk: (sums, matched) => {
            result.chunks.total++;
            if (!matched) result.chunks.differing++;
            result.rows.sqlite += sums.sqlite.rows;
            result.rows.mysql += sums.mysql.rows;
            progress(matched);
          },
        }),
      ),
    );
  } else {
    const sqliteReader = openSqliteReader(ctx.db, ctx.sqlitePath, table, shape, pageSize);
    result.readModes.sqlite = sqliteReader.mode;
    try {
      await carryForeignErrors(ctx.hub, async (conn) => {
        const mysqlReader = openMysqlReader(conn, table, shape, pageSize, order);
        result.readModes.mysql = mysqlReader.mode;
        try {
          const aligner = new ChunkAligner(sqliteReader, mysqlReader, shape, (row) => canonicalTuple(row, types), chunkSize);
          for (;;) {
            if (options.signal?.aborted) throw new CompareCancelledError();
            const chunk = await aligner.next();
            if (!chunk) break;
            result.chunks.total++;
            result.rows.sqlite += chunk.sqlite.keys.length;
            result.rows.mysql += chunk.mysql.keys.length;
            const canonS = chunk.sqlite.canon;
            const canonM = chunk.mysql.canon;
            const matched = canonS.length === canonM.length && chunkDigest(canonS) === chunkDigest(canonM);
            if (!matched) {
              result.chunks.differing++;
              await record(chunk);
            }
            progress(matched);
          }
        } finally {
          await mysqlReader.close();
        }
      });
    } finally {
      await sqliteReader.close();
    }
  }
  result.truncated = result.differenceCount > result.differences.length;
  result.status = result.differenceCount > 0 ? 'differ' : 'match';
  result.durationMs = Date.now() - t0;
  return result;
}
