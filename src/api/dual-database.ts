/**
 * The library facade for TypeScript applications:
 *
 *   const db = await DualDatabase.open();            // .env + environment, or a Config
 *   await db.insert('detections', { camera_id: 3, confidence: 0.92 });
 *   const rows = db.all('SELECT * FROM detections WHERE camera_id = ?', 3);
 *
 * Reads are served from SQLite. Writes are routed by SYNC_MODE:
 *  - sqlite_primary: committed in SQLite (captured by the triggers) and the syncer is
 *    nudged to push at once; returns without waiting for the hub.
 *  - mysql_primary: written to MySQL first, then mirrored into SQLite (read-your-writes,
 *    not captured again); when the hub is unreachable or known to be away the write
 *    fails over to SQLite and is queued — the result says so.
 *  - both: committed in SQLite and pushed to MySQL before returning; if the hub fails the
 *    write stays queued locally and the result says so (or throws with `strict`).
 * The background SyncService carries failover, retries and the drain on recovery.
 */
import { EventEmitter } from 'node:events';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import type { Row } from '../engines/codec.js';
import type { MysqlHub } from '../engines/mysql/connect.js';
import { isConnectionError } from '../engines/mysql/diagnose.js';
import { introspectSqliteTable } from '../engines/sqlite/introspect.js';
import { openSqlite, type SqliteDb } from '../engines/sqlite/open.js';

import { quoteSqliteId } from '../engines/sqlite/quote.js';
import type { SyncLog } from '../log/sync-log.js';
import { type CommitOutcome, committedInLog, committedToken, ensureWriteTokens, newWriteToken } from '../sync/commit-outcome.js';
import { ControlServer } from '../sync/control.js';
import { toSqliteRow } from '../sync/convert.js';
import { MysqlTableIO } from '../sync/mysql-io.js';
import { heldElsewhereCondition, holderTokenStatement, recordTokenAsHolder } from '../sync/node-fence.js';
import type { SyncTable } from '../sync/plan.js';
import type { RekeyEvent } from '../sync/rekey.js';
import { resolveRequestOf, runResolveRequest } from '../sync/rekey-resolve-request.js';
import { SyncService } from '../sync/service.js';
import type { NodeState, SyncStatus } from '../sync/status.js';
import { type CycleReport, Syncer } from '../sync/syncer.js';
import { formsOf } from '../sync/value-forms.js';
import { DualdbError, MysqlError } from '../util/errors.js';
import { HubInsertPool, type HubInsertState, keyInToken } from './hub-insert.js';
import { writeOpsOnHub } from './hub-write-ops.js';
import { LocalStatements } from './local-statements.js';
import { type InputRow, normaliseRow } from './values.js';

/** How long a write whose COMMIT reply was lost waits for the hub to say whether it committed. */
const OUTCOME_DEADLINE_MS = 10_000;

export interface OpenOptions {
  /** A ready configuration; otherwise read from `envFile`/.env and the environment. */
  config?: Config;
  envFile?: string;
  /** Run the background sync (watch + pull every SYNC_INTERVAL). Default true. */
  sync?: boolean;
  log?: SyncLog;
  /** `both` mode: throw instead of returning a queued result when the hub fails. */
  strict?: boolean;
  /** Milliseconds a hub write may take before it counts as failed (mysql_primary/both). Default 2000. */
  hubWriteTimeoutMs?: number;
}

export type WriteOp =
  | { kind: 'insert'; table: string; row: InputRow }
  | { kind: 'upsert'; table: string; row: InputRow }
  | { kind: 'update'; table: string; key: InputRow; changes: InputRow }
  | { kind: 'delete'; table: string; key: InputRow };

export interface WriteResult {
  /** Where the write is committed now. */
  committed: 'sqlite' | 'mysql+sqlite' | 'both';
  /** True when the hub does not have it yet (it will be pushed). */
  queued: boolean;
  /** True when the write went to SQLite only because the hub was unreachable. */
  failedOver: boolean;
  /** Rows changed in SQLite. */
  changes: number;
  /** The key of the last inserted row (SQLite rowid or MySQL AUTO_INCREMENT). */
  lastInsertId: bigint | null;
  /** Why the hub was not written, when it was not. */
  hubError?: string;
}

export interface Transaction {
  insert(table: string, row: InputRow): void;
  upsert(table: string, row: InputRow): void;
  update(table: string, key: InputRow, changes: InputRow): void;
  delete(table: string, key: InputRow): void;
}

/**
 * Events: `state` (the node's state changed) and `rekey` (docs/SYNC-CONTRACT.md invariant 13: a
 * row created here or on the hub moved to a new generated id because the other side created a
 * different row under the same id; update any id your application holds for `table`).
 */
export class DualDatabase extends EventEmitter<{ state: [NodeState, NodeState]; rekey: [RekeyEvent] }> {
  private constructor(
    readonly config: Config,
    readonly service: SyncService,
    private readonly lock: ControlServer | undefined,
    private readonly options: OpenOptions,
  ) {
    super();
    service.on('state', (s, p) => this.emit('state', s, p));
    service.syncer.on('rekey', (e) => this.emit('rekey', e));
  }

  static async open(options: OpenOptions = {}): Promise<DualDatabase> {
    const config = options.config ?? loadConfig({ envFile: options.envFile });
    const db = openSqlite(config.sqlitePath);
    const syncer = Syncer.open(config, { db, ...(options.log ? { log: options.log } : {}) });
    const service = new SyncService(config, { syncer });
    let lock: ControlServer | undefined;
    if (options.sync !== false) {
      // The library's syncer is the node's syncer: it takes the same lock a daemon would.
      lock = await ControlServer.listen(config.sqlitePath, async (cmd, args) => {
        if (cmd === 'ping') return { pid: process.pid, kind: 'library', nodeId: syncer.nodeId, state: service.state };
        if (cmd === 'status') return service.status();
        if (cmd === 'sync-now') return service.syncNow();
        if (cmd === 'pause') return service.pause();
        if (cmd === 'resume') return service.resume();
        if (cmd === 'rekeys-resolve') {
          const req = resolveRequestOf(args);
          return service.runInLoop(() => runResolveRequest(syncer, req));
        }
        throw new Error(`unknown command ${cmd}`);
      }).catch(async (e) => {
        await syncer.close();
        db.close();
        throw e;
      });
      service.start();
    }
    return new DualDatabase(config, service, lock, options);
  }

  /** The SQLite handle (reads; integers come back as bigint, exact). */
  get sqlite(): SqliteDb {
    return this.service.syncer.db;
  }

  get state(): NodeState {
    return this.service.state;
  }

  // ---- reads: always local ----

  all<T = Row>(sql: string, ...params: unknown[]): T[] {
    return this.sqlite.prepare(sql).all(...params) as T[];
  }

  get<T = Row>(sql: string, ...params: unknown[]): T | undefined {
    return this.sqlite.prepare(sql).get(...params) as T | undefined;
  }

  // ---- writes: routed by mode ----

  insert(table: string, row: InputRow): Promise<WriteResult> {
    return this.write([{ kind: 'insert', table, row }]);
  }

  upsert(table: string, row: InputRow): Promise<WriteResult> {
    return this.write([{ kind: 'upsert', table, row }]);
  }

  update(table: string, key: InputRow, changes: InputRow): Promise<WriteResult> {
    return this.write([{ kind: 'update', table, key, changes }]);
  }

  delete(table: string, key: InputRow): Promise<WriteResult> {
    return this.write([{ kind: 'delete', table, key }]);
  }

  /** Several writes applied atomically (per side). The callback records them; reads inside see SQLite as it was. */
  transaction(fn: (tx: Transaction) => void): Promise<WriteResult> {
    const ops: WriteOp[] = [];
    fn({
      insert: (table, row) => ops.push({ kind: 'insert', table, row }),
      upsert: (table, row) => ops.push({ kind: 'upsert', table, row }),
      update: (table, key, changes) => ops.push({ kind: 'update', table, key, changes }),
      delete: (table, key) => ops.push({ kind: 'delete', table, key }),
    });
    return this.write(ops);
  }

  async status(): Promise<SyncStatus> {
    return this.service.status();
  }

  syncNow(): Promise<CycleReport> {
    return this.service.syncNow();
  }

  async close(): Promise<void> {
    await this.hubInsert?.close();
    await this.service.close();
    await this.lock?.close();
    if (this.sqlite.open) this.sqlite.close();
  }

  private readonly pkCache = new Map<string, string[]>();

  private sqlitePrimaryKey(table: string): string[] {
    let pk = this.pkCache.get(table);
    if (!pk) {
      pk = introspectSqliteTable(this.sqlite, table).primaryKey;
      if (pk.length === 0) throw new DualdbError('NO_PRIMARY_KEY', `table ${table} has no primary key: upsert needs one`);
      this.pkCache.set(table, pk);
    }
    return pk;
  }

  private async table(name: string): Promise<SyncTable | undefined> {
    if (!this.config.dualDatabase) return undefined;
    const plan = await this.service.syncer.currentPlan();
    return plan.byName.get(name);
  }

  private async write(ops: WriteOp[]): Promise<WriteResult> {
    const mode = this.config.sync.mode;
    if (!this.config.dualDatabase || mode === 'sqlite_primary') {
      const r = this.applyLocal(ops, true);
      this.service.nudge();
      return { committed: 'sqlite', queued: true, failedOver: false, ...r };
    }
    if (mode === 'mysql_primary') return this.writeHubFirst(ops);
    return this.writeBoth(ops);
  }

  /** SQLite writes, captured (queued for the hub) or mirrored (not captured). */
  private applyLocal(ops: WriteOp[], capture: boolean): { changes: number; lastInsertId: bigint | null } {
    const db = this.sqlite;
    let changes = 0;
    let lastInsertId: bigint | null = null;
    db.transaction(() => {
      if (!capture) this.local.applying(1);
      for (const op of ops) {
        const q = quoteSqliteId(op.table);
        const synced = this.service.syncer.knownPlan?.byName.get(op.table);
        const forms = synced ? formsOf(synced) : undefined;
        if (op.kind === 'insert' || op.kind === 'upsert') {
          const row = normaliseRow(op.row, forms);
          const cols = Object.keys(row);
          let sql = cols.length
            ? `INSERT INTO ${q} (${cols.map(quoteSqliteId).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`
            : `INSERT INTO ${q} DEFAULT VALUES`;
          if (op.kind === 'upsert' && cols.length) {
            // A real upsert: INSERT OR REPLACE would delete first and fire ON DELETE CASCADE.
            const pk = this.sqlitePrimaryKey(op.table);
            const rest = cols.filter((c) => !pk.includes(c));
            sql += ` ON CONFLICT (${pk.map(quoteSqliteId).join(', ')}) ${rest.length ? `DO UPDATE SET ${rest.map((c) => `${quoteSqliteId(c)} = excluded.${quoteSqliteId(c)}`).join(', ')}` : 'DO NOTHING'}`;
          }
          const r = this.local.statement(sql).run(...cols.map((c) => row[c]));
          changes += r.changes;
          lastInsertId = BigInt(r.lastInsertRowid);
        } else if (op.kind === 'update') {
          const set = normaliseRow(op.changes, forms);
          const key = normaliseRow(op.key);
          const sc = Object.keys(set);
          const kc = Object.keys(key);
          if (sc.length === 0) continue;
          const r = db
            .prepare(
              `UPDATE ${q} SET ${sc.map((c) => `${quoteSqliteId(c)} = ?`).join(', ')} WHERE ${kc.map((c) => `${quoteSqliteId(c)} = ?`).join(' AND ')}`,
            )
            .run(...sc.map((c) => set[c]), ...kc.map((c) => key[c]));
          changes += r.changes;
        } else {
          const key = normaliseRow(op.key);
          const kc = Object.keys(key);
          const r = db
            .prepare(`DELETE FROM ${q} WHERE ${kc.map((c) => `${quoteSqliteId(c)} = ?`).join(' AND ')}`)
            .run(...kc.map((c) => key[c]));
          changes += r.changes;
        }
      }
      if (!capture) this.local.applying(0);
    })();
    return { changes, lastInsertId };
  }

  /**
   * mysql_primary: the hub first, then the local mirror; on hub failure, fail over to SQLite.
   * Runs in the syncer's exclusive section: a push in flight (holding older local images that
   * it would write over this one, as own-origin hub changes are not conflicts) finishes first.
   */
  private writeHubFirst(ops: WriteOp[]): Promise<WriteResult> {
    return this.service.syncer.exclusive(() => this.writeHubFirstNow(ops));
  }

  private writeTokensReady = false;

  private async writeHubFirstNow(ops: WriteOp[]): Promise<WriteResult> {
    if (!this.service.hubUsable) {
      const r = this.applyLocal(ops, true);
      this.service.nudge();
      return {
        committed: 'sqlite',
        queued: true,
        failedOver: true,
        ...r,
        hubError: this.service.lastError ?? 'the hub is unreachable',
      };
    }
    let touched: { table: SyncTable; keys: Set<string> }[];
    const images = new Map<string, Map<string, Row>>();
    const tables = new Map<string, SyncTable>();
    const keysByTable = new Map<string, Set<string>>();
    let lastInsertId: bigint | null = null;
    let hub: MysqlHub | undefined;
    const token = newWriteToken();
    const w: HubInsertState = { committing: false, threadId: undefined };
    let fastTable: SyncTable | undefined;
    try {
      hub = await this.service.syncer.connectHub();
      for (const op of ops) {
        const t = await this.table(op.table);
        if (!t)
          throw new DualdbError(
            'TABLE_NOT_SYNCED',
            `table ${op.table} is not synced (see \`dualdb status\`), so it cannot be written through the hub`,
          );
        tables.set(op.table, t);
      }
      if (!this.writeTokensReady) {
        await ensureWriteTokens(hub);
        this.writeTokensReady = true;
      }
      const nodeId = this.service.syncer.nodeId;
      const only = ops.length === 1 ? ops[0] : undefined;
      if (only?.kind === 'insert' && this.service.syncer.hubReturning) {
        // One row: one round trip (hub-insert.ts); an older hub falls through to the general path.
        const t = tables.get(only.table) as SyncTable;
        fastTable = t;
        w.onImage = (image, key) => {
          keysByTable.set(t.name, new Set([key]));
          images.set(t.name, new Map([[key, image]]));
          const auto = t.hubAssignsKey && t.key.length === 1 ? image[t.key[0]?.name ?? ''] : undefined;
          if (auto !== undefined && auto !== null) lastInsertId = BigInt(auto as string);
        };
        this.hubInsert ??= new HubInsertPool(hub.config);
        const state = this.service.syncer.state;
        await this.hubInsert.insertRow(
          t,
          only.row,
          nodeId,
          token,
          {
            tokenStatement: (tok, sql) => holderTokenStatement(state, nodeId, tok, sql),
            heldElsewhere: () => heldElsewhereCondition(state, nodeId),
            // Read before the write is sent: its log row comes after every position pulled so far.
            logFloor: state.pullUpto(),
          },
          w,
          this.options.hubWriteTimeoutMs ?? 2000,
        );
      }
      if (keysByTable.size === 0)
        await hub.withConnection(async (conn) => {
          w.threadId = conn.threadId ?? undefined;
          // One statement opens the write: the origin for the capture triggers, and autocommit off so
          // the INSERT starts the transaction (no BEGIN round trip; withConnection restores it).
          await conn.query('SET @dualdb_origin = ?, autocommit = 0', [nodeId]);
          // Plain inserts return their row image (defaults, AUTO_INCREMENT key, what triggers set)
          // with RETURNING where the hub has it, instead of a read after the writes.
          const returning = this.service.syncer.hubReturning && ops.every((op) => op.kind === 'insert');
          try {
            const timeout = this.options.hubWriteTimeoutMs ?? 2000;
            const last = await writeOpsOnHub(conn, ops, tables, { returning, timeout }, keysByTable, images);
            if (last !== null) lastInsertId = last;
            if (!returning)
              for (const [name, keys] of keysByTable) {
                const t = tables.get(name) as SyncTable;
                images.set(name, await new MysqlTableIO(t).fetch(conn, [...keys]));
              }
            await recordTokenAsHolder(conn, this.service.syncer.state, nodeId, token);
            w.committing = true;
            await conn.commit();
          } catch (e) {
            if (!w.committing) await conn.rollback().catch(() => {});
            throw e;
          }
        });
      touched = [...keysByTable].map(([name, keys]) => ({ table: tables.get(name) as SyncTable, keys }));
    } catch (e) {
      const found: { outcome: CommitOutcome; token?: string; key?: string } | undefined =
        w.committing && hub
          ? w.inLog
            ? await committedInLog(hub, w.inLog.token, w.inLog.after, w.threadId, OUTCOME_DEADLINE_MS)
            : await committedToken(hub, w.lookup ?? token, w.threadId, OUTCOME_DEADLINE_MS)
          : undefined;
      const outcome = found?.outcome ?? 'rolled-back';
      // The one-query insert committed and its reply (with the row) was lost: the row is read back
      // by its key (the one its log row names; else given, or the one the hub assigned, carried by the token).
      const lostKey = found?.key ?? w.key ?? keyInToken(found?.token);
      if (outcome === 'committed' && hub && fastTable && keysByTable.size === 0 && lostKey !== undefined) {
        const t = fastTable;
        try {
          const image = (await hub.withConnection((c) => new MysqlTableIO(t).fetch(c, [lostKey]))).get(lostKey);
          if (image) w.onImage?.(image, lostKey);
        } catch {
          // The hub went away again: the pull path mirrors it (as a failed mirror below).
        }
        if (keysByTable.size === 0)
          this.service.syncer.state.park('pull', t.name, lostKey, 'local mirror: the hub’s reply was lost');
      }
      if (outcome === 'unknown') {
        this.service.reportHubFailure(e);
        throw new DualdbError(
          'HUB_WRITE_UNKNOWN',
          'the connection to the hub was lost during COMMIT and the hub stayed away: the write may or may not be on the hub; nothing was written locally',
          {
            hint: 'when the hub is back, `dualdb compare` shows whether it arrived; write it again only if it did not',
            cause: e,
          },
        );
      }
      // Committed: the hub has it (the reply was lost): mirrored below, never applied a second time.
      if (outcome === 'committed')
        touched = [...keysByTable].map(([name, keys]) => ({ table: tables.get(name) as SyncTable, keys }));
      else if (e instanceof MysqlError || isConnectionError(e) || (e as { code?: string }).code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
        // The hub is away: fail over. The write is captured locally and pushed when it returns.
        this.service.reportHubFailure(e);
        const r = this.applyLocal(ops, true);
        return {
          committed: 'sqlite',
          queued: true,
          failedOver: true,
          ...r,
          hubError: e instanceof DualdbError ? e.oneLine() : String((e as Error).message),
        };
      } else throw e;
    }
    // Mirror the hub's rows (with its AUTO_INCREMENT keys and defaults) locally, without capture.
    let changes = 0;
    const syncer = this.service.syncer;
    try {
      this.sqlite
        .transaction(() => {
          this.local.applying(1);
          for (const { table, keys } of touched) {
            const io = this.local.tableIO(table);
            const imgs = images.get(table.name) ?? new Map<string, Row>();
            for (const key of keys) {
              const img = imgs.get(key);
              if (img) io.upsert(toSqliteRow(table, img));
              else io.delete(key);
              syncer.state.dropPendingKey(table.name, key);
              changes++;
            }
          }
          this.local.applying(0);
        })
        .immediate();
    } catch (e) {
      // The hub has the write; the mirror is retried by the pull path instead of being lost.
      for (const { table, keys } of touched)
        for (const key of keys) syncer.state.park('pull', table.name, key, `local mirror failed: ${(e as Error).message}`);
    }
    return { committed: 'mysql+sqlite', queued: false, failedOver: false, changes, lastInsertId };
  }

  private hubInsert: HubInsertPool | undefined;

  /** The error of the first of these log entries that the push parked (the hub refused it), if any. */
  private parkedError(logged: { tbl: string; pk: string | null }[]): string | undefined {
    const find = this.local.statement("SELECT error FROM _dualdb_parked WHERE direction = 'push' AND tbl = ? AND pk IS ?");
    for (const e of logged) {
      const p = find.get(e.tbl, e.pk) as { error: string } | undefined;
      if (p) return p.error;
    }
    return undefined;
  }
  private readonly local = new LocalStatements(() => this.sqlite);

  /**
   * both: commit locally (captured), then push and wait for the hub to hold it. A single insert
   * with nothing to decide goes up by the one-row push (sync/push-one.ts, on the multi-statement
   * pool); anything else by the generic push. A row the hub refused (parked) is reported as queued.
   */
  private async writeBoth(ops: WriteOp[]): Promise<WriteResult> {
    const syncer = this.service.syncer;
    const before = BigInt(
      (
        this.local.statement("SELECT seq FROM sqlite_sequence WHERE name = '_dualdb_changes'").get() as
          | { seq?: bigint }
          | undefined
      )?.seq ?? 0n,
    );
    const r = this.applyLocal(ops, true);
    // This write's log entries (AUTOINCREMENT: never below `before`), read before the push forgets them.
    const logged = this.local.statement('SELECT seq, tbl, pk FROM _dualdb_changes WHERE seq > ? ORDER BY seq').all(before) as {
      seq: bigint;
      tbl: string;
      pk: string | null;
    }[];
    const target = logged.at(-1)?.seq ?? syncer.state.pendingPush().maxSeq;
    if (this.service.hubUsable) {
      try {
        const timeout = this.options.hubWriteTimeoutMs ?? 2000;
        const pushed = await syncer.pushWrite(() => {
          this.hubInsert ??= new HubInsertPool(this.config.mysql);
          return this.hubInsert.lease();
        }, timeout);
        if (syncer.state.pushedUpto() >= target) {
          const refused = pushed.parked > 0 ? this.parkedError(logged) : undefined;
          if (refused === undefined) return { committed: 'both', queued: false, failedOver: false, ...r };
          if (this.options.strict)
            throw new DualdbError(
              'HUB_WRITE_FAILED',
              `the write is committed in SQLite and queued, but the hub refused it: ${refused}`,
              {
                hint: '`dualdb parked` shows it; it is retried automatically, and delivered once the cause is fixed',
              },
            );
          return { committed: 'sqlite', queued: true, failedOver: false, ...r, hubError: refused };
        }
      } catch (e) {
        if (e instanceof DualdbError && e.code === 'HUB_WRITE_FAILED') throw e;
        this.service.reportHubFailure(e);
        if (this.options.strict) throw e;
        return {
          committed: 'sqlite',
          queued: true,
          failedOver: true,
          ...r,
          hubError: e instanceof DualdbError ? e.oneLine() : String((e as Error).message),
        };
      }
    }
    const hubError = this.service.lastError ?? 'the hub is unreachable';
    if (this.options.strict) {
      throw new DualdbError('HUB_WRITE_FAILED', `the write is committed in SQLite and queued, but not on the hub: ${hubError}`, {
        hint: 'it is pushed automatically when the hub is back',
      });
    }
    this.service.nudge();
    return { committed: 'sqlite', queued: true, failedOver: true, ...r, hubError };
  }
}
