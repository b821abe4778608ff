/**
 * Writing repaired rows into one side without firing capture there
 * (docs/SYNC-CONTRACT.md, invariant 2): a repair copies what the other side already has, so logging it
 * would only send it back. Each call is one transaction.
 *
 *  - SQLite: `_dualdb_flags.applying = 1` inside the write transaction and back
 *    to 0 before commit (no other writer ever sees 1); foreign keys are checked
 *    at commit, so rows of a self-referencing table may come in any order.
 *  - MySQL: `@dualdb_capture_off = 1` on a pinned connection, which
 *    `MysqlHub.withConnection` resets before the connection goes back to the pool.
 */
import type { Row } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import type { SqliteDb } from '../engines/sqlite/open.js';
import { MysqlTableIO, oversizeText, PACKET_MARGIN, type QueryRunner } from '../sync/mysql-io.js';
import type { SyncTable } from '../sync/plan.js';
import { SqliteTableIO } from '../sync/sqlite-io.js';
import { DualdbError } from '../util/errors.js';
import type { Side } from './types.js';

export interface RepairWriter {
  readonly side: Side;
  /** Inserts or updates row images given in this side's value form. */
  upsert(rows: Row[]): Promise<void>;
  delete(keys: string[]): Promise<void>;
}

const DELETE_CHUNK = 500;

export class SqliteRepairWriter implements RepairWriter {
  readonly side = 'sqlite' as const;
  private readonly io: SqliteTableIO;
  private readonly hasFlags: boolean;

  constructor(
    private readonly db: SqliteDb,
    table: SyncTable,
  ) {
    this.io = new SqliteTableIO(db, table);
    this.hasFlags = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_dualdb_flags'").get() !== undefined;
  }

  private write(fn: () => void): void {
    this.db
      .transaction(() => {
        this.db.pragma('defer_foreign_keys = ON');
        if (this.hasFlags) this.db.prepare('UPDATE _dualdb_flags SET applying = 1 WHERE id = 1').run();
        fn();
        if (this.hasFlags) this.db.prepare('UPDATE _dualdb_flags SET applying = 0 WHERE id = 1').run();
      })
      .immediate();
  }

  async upsert(rows: Row[]): Promise<void> {
    this.write(() => {
      for (const r of rows) this.io.upsert(r);
    });
  }

  async delete(keys: string[]): Promise<void> {
    this.write(() => {
      for (const k of keys) this.io.delete(k);
    });
  }
}

/** A row larger than the hub accepts in one statement: reported with its cause, never sent (it would cut the connection). */
export class RowTooLargeError extends DualdbError {
  constructor(message: string) {
    super('ROW_TOO_LARGE', message);
  }
}

export class MysqlRepairWriter implements RepairWriter {
  readonly side = 'mysql' as const;
  private io: MysqlTableIO | undefined;

  constructor(
    private readonly hub: MysqlHub,
    private readonly table: SyncTable,
  ) {}

  /** Statements sized from the hub's real max_allowed_packet (read once). */
  private async tableIO(): Promise<MysqlTableIO> {
    if (!this.io) {
      const [packet] = await this.hub.query<{ p: string | number }>('SELECT @@max_allowed_packet AS p');
      const limit = Number(packet?.p ?? 0);
      this.io = limit > PACKET_MARGIN ? new MysqlTableIO(this.table, limit - PACKET_MARGIN) : new MysqlTableIO(this.table);
    }
    return this.io;
  }

  /** One transaction on a pinned connection with capture off; `withConnection` resets the variable before release. */
  private async write(fn: (conn: QueryRunner) => Promise<void>): Promise<void> {
    await this.hub.withConnection(async (conn) => {
      await conn.query('SET @dualdb_capture_off = 1');
      await conn.beginTransaction();
      try {
        await fn(conn);
        await conn.commit();
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      }
    });
  }

  async upsert(rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    const io = await this.tableIO();
    for (const row of rows) {
      const bytes = io.rowBytes(row);
      if (bytes > io.rowLimit) throw new RowTooLargeError(oversizeText(this.table, io.keyOf(row), bytes, io.rowLimit));
    }
    // As push does it: existing keys updated in place, new keys plain inserts (never an
    // ON DUPLICATE KEY UPDATE that would land on another row sharing a unique value).
    await this.write((conn) => io.write(conn, rows));
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const io = await this.tableIO();
    await this.write(async (conn) => {
      for (let i = 0; i < keys.length; i += DELETE_CHUNK) await conn.query(io.deleteStatement(keys.slice(i, i + DELETE_CHUNK)));
    });
  }
}

export function repairWriter(side: Side, db: SqliteDb, hub: MysqlHub, table: SyncTable): RepairWriter {
  return side === 'sqlite' ? new SqliteRepairWriter(db, table) : new MysqlRepairWriter(hub, table);
}
