/**
 * One setup in progress: the answers so far and every step the setup can take,
 * shared by the three front-ends (the Ink wizard, `--plain` prompts, `--quick`
 * flags). Front-ends ask questions and render results; the session does the work.
 * Secrets it handles (hub, admin and generated passwords) are registered for
 * redaction and never logged; the admin password is never kept after use.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { assertNoUnsyncedRows } from '../compare/join-guard.js';
import type { Config, MysqlConfig } from '../config/config.js';
import { MysqlHub } from '../engines/mysql/connect.js';
import { mysqlTableStats } from '../engines/mysql/introspect.js';
import { openSqlite } from '../engines/sqlite/open.js';
import { applyFit, type FitPlan, type FitResult, fitPlanFor } from '../schema/fit.js';
import { type PreflightReport, preflightToHub } from '../schema/preflight.js';
import { type InitReport, installCapture } from '../sync/init.js';
import { messageOf } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { answersFromConfig, answersFromEnvValues, configOf, defaultAnswers, type SetupAnswers, saveAnswers } from './answers.js';
import { envBlocker, envValuesProblem, preflightBlocker, type SetupCheck } from './check.js';
import { type ConnectionCheck, testConnection } from './connection.js';
import { type Discovery, discover, discoverSqlite } from './discover.js';
import { captureAdded, captureObjects, endpointOf, leftBehindPhrases, type Touched } from './left-behind.js';
import { type LocalServerStart, startLocalServer } from './local-server.js';
import { type MigrateOptions, type MigrationReport, runMigration, type TableProgress } from './migration.js';
import {
  type AdminCredentials,
  createDatabaseWith,
  type ExistingUserPolicy,
  type ProvisionResult,
  provisionHub,
} from './provision.js';
import { SetupRecord } from './record.js';
import { applySchema, planSchema, type SchemaApplyEvent, type SchemaChoice, type SchemaPlan } from './schema.js';
import { type MigrationDirection, readSetupState, resumableMigration, type SetupState, writeSetupState } from './state.js';
import { type AnswersView, initialSetupSnapshot, type SetupSnapshot, SetupStore } from './store.js';

export interface SessionOptions {
  /** The .env to read and write; default ./.env. */
  envFile?: string | undefined;
  /** The SQLite file; default SQLITE_DB_PATH of the .env, or the default path. */
  sqlitePath?: string | undefined;
  /** Values to start from (the app shell's partial config). */
  initial?: Partial<Config> | undefined;
}

export interface MigrationPlan {
  /** Where the data is: the side to copy from. Undefined when neither side has rows. */
  direction: MigrationDirection | undefined;
  sqliteRows: number;
  hubRows: number;
  /** An interrupted migration of the same file to the same hub. */
  resumable: SetupState['migration'] | undefined;
}

export { envValuesProblem, type SetupCheck, SetupCheckError } from './check.js';
export { cancelledMessage, endpointOf, stillThere } from './left-behind.js';

export class SetupSession {
  /** The state (answers, what was found, results so far): changed only through its transitions. */
  readonly store: SetupStore;
  private readonly log: SetupRecord;
  /** What this session changed outside the .env, for `leftBehind()`. */
  private readonly touched: Touched = {
    localServer: false,
    schema: { hub: false, sqlite: false },
    fit: false,
    capture: false,
    migration: false,
  };

  constructor(options: SessionOptions = {}) {
    const envFile = path.resolve(options.initial?.envFile ?? options.envFile ?? '.env');
    const sqliteGiven = options.sqlitePath ?? options.initial?.sqlitePath;
    const discovery = discover({ envFile, sqlitePath: sqliteGiven });
    let a = defaultAnswers(envFile);
    a = answersFromEnvValues(a, discovery.env.values);
    if (options.initial) a = answersFromConfig(a, { ...options.initial, envFile });
    a.sqlitePath = discovery.sqlite.path;
    this.store = new SetupStore(initialSetupSnapshot(a, discovery));
    this.log = new SetupRecord(() => this.config().log.file);
  }

  // ── the current snapshot, read-only ──

  get snapshot(): SetupSnapshot {
    return this.store.getSnapshot();
  }
  get answers(): AnswersView {
    return this.snapshot.answers;
  }
  get discovery(): Readonly<Discovery> {
    return this.snapshot.discovery;
  }
  get connection(): ConnectionCheck | undefined {
    return this.snapshot.connection;
  }
  get localServer(): LocalServerStart | undefined {
    return this.snapshot.localServer;
  }
  get provisioned(): ProvisionResult | undefined {
    return this.snapshot.provisioned;
  }
  get capture(): InitReport | undefined {
    return this.snapshot.capture;
  }

  // ── answers ──

  /** Looks again at the SQLite file (after the path was edited, or written to). */
  rediscoverSqlite(file?: string): void {
    if (file === undefined) {
      this.store.dispatch({ type: 'sqliteRediscovered', sqlite: discoverSqlite(this.answers.sqlitePath) });
      return;
    }
    const sqlitePath = path.resolve(path.dirname(this.answers.envFile), file);
    this.store.dispatch({ type: 'sqliteChosen', sqlitePath, sqlite: discoverSqlite(sqlitePath) });
  }

  setMysql(m: Partial<MysqlConfig>): void {
    registerSecret(m.password);
    this.store.dispatch({ type: 'mysqlSet', mysql: m });
  }

  /**
   * A hub it is (DUAL_DATABASE=true), e.g. after SQLite-only was chosen and taken
   * back; `localServer: false` when its settings were typed by hand.
   */
  chooseHub(options: { localServer?: boolean } = {}): void {
    this.store.dispatch({ type: 'hubChosen', ...options });
  }

  setSync(sync: SetupAnswers['sync']): void {
    this.store.dispatch({ type: 'syncChosen', sync });
  }

  /** Every answer at once (`setup --quick`: the environment and flags over the .env). */
  replaceAnswers(answers: SetupAnswers): void {
    registerSecret(answers.mysql.password);
    this.store.dispatch({ type: 'answersReplaced', answers });
  }

  /** The Config the answers give right now. */
  config(): Config {
    return configOf(this.answers);
  }

  /** A line for the setup's own record in the sync log (src/setup/record.ts). */
  record(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
    this.log.write(level, `setup: ${msg}`, fields);
  }

  async testConnection(): Promise<ConnectionCheck> {
    const c = await testConnection(this.answers.mysql);
    this.store.dispatch({ type: 'connectionTested', check: c });
    this.record(c.ok ? 'info' : 'warn', c.ok ? `connected to ${c.endpoint}` : `connection test: ${c.diagnosis?.message}`, {
      kind: c.diagnosis?.kind,
    });
    return c;
  }

  /** Starts (or creates) the private server beside the .env and makes it the hub. */
  async startLocalServer(): Promise<LocalServerStart> {
    this.touched.localServer = true;
    const r = await startLocalServer({
      envFile: this.answers.envFile,
      database: this.answers.mysql.database,
      ...(this.discovery.localServer.exists && this.answers.mysql.password ? { password: this.answers.mysql.password } : {}),
    });
    const mysql = r.mysql.password ? r.mysql : { ...r.mysql, password: this.answers.mysql.password };
    registerSecret(mysql.password);
    this.store.dispatch({ type: 'localServerStarted', start: r, mysql: { ...this.answers.mysql, ...mysql } });
    this.record(
      'info',
      `${r.created ? 'created and started' : r.alreadyRunning ? 'reused the running' : 'started'} the private server in ${r.dir} on port ${r.mysql.port}${r.passwordReset ? `; user ${r.mysql.user} has a new generated password (the old one was not known)` : ''}`,
    );
    return r;
  }

  /**
   * What this session changed that stays when it ends without writing the .env
   * (cancelled, failed): one short phrase each, for "Still there: …". Empty
   * when nothing was changed.
   */
  leftBehind(): string[] {
    return leftBehindPhrases(this.touched, this.answers, this.discovery.localServer);
  }

  /** SQLite only: DUAL_DATABASE=false; the hub settings typed so far are kept for later. */
  chooseSqliteOnly(): void {
    this.store.dispatch({ type: 'sqliteOnlyChosen' });
    this.record('info', 'SQLite only (DUAL_DATABASE=false): changes are captured and queued until a hub is configured');
  }

  /** Creates the database with the hub user's own rights. */
  async createDatabase(): Promise<boolean> {
    const created = await createDatabaseWith(this.answers.mysql, this.answers.mysql.database);
    this.record('info', `database ${this.answers.mysql.database} ${created ? 'created' : 'exists already'}`);
    return created;
  }

  /**
   * Creates the database and a dedicated user with admin credentials, and makes
   * that user the hub login. The admin password is used here and forgotten.
   */
  async provision(options: {
    admin: Omit<AdminCredentials, 'host' | 'port' | 'ssl' | 'sslCa' | 'connectTimeoutMs'> & Partial<AdminCredentials>;
    user?: string;
    userHost?: string;
    grantProcess?: boolean;
    existingUser?: ExistingUserPolicy;
  }): Promise<ProvisionResult> {
    const m = this.answers.mysql;
    registerSecret(options.admin.password);
    const user = options.user ?? m.user;
    const r = await provisionHub({
      admin: {
        host: options.admin.host ?? m.host,
        port: options.admin.port ?? m.port,
        user: options.admin.user,
        password: options.admin.password,
        ssl: options.admin.ssl ?? m.ssl,
        sslCa: options.admin.sslCa ?? m.sslCa,
        connectTimeoutMs: options.admin.connectTimeoutMs ?? m.connectTimeoutMs,
      },
      database: m.database,
      user,
      userHost: options.userHost ?? '%',
      grantProcess: options.grantProcess ?? true,
      existingUser: options.existingUser ?? 'fail',
    });
    registerSecret(r.password);
    this.store.dispatch({ type: 'provisioned', result: r });
    this.record(
      'info',
      `provisioned ${r.databaseCreated ? 'new' : 'existing'} database ${m.database} and ${r.userCreated ? 'new' : 'existing'} user ${r.user}`,
      {
        grants: [...r.granted.database, ...r.granted.global].join(', '),
      },
    );
    return r;
  }

  private async withHub<T>(fn: (hub: MysqlHub | undefined) => Promise<T>): Promise<T> {
    if (!this.answers.dualDatabase) return fn(undefined);
    const hub = await MysqlHub.connect(this.answers.mysql);
    try {
      return await fn(hub);
    } finally {
      await hub.close();
    }
  }

  async planSchema(choice: SchemaChoice): Promise<SchemaPlan> {
    return this.withHub((hub) => planSchema({ sqlitePath: this.answers.sqlitePath, hub, choice }));
  }

  async applySchema(plan: SchemaPlan, onTable?: (e: SchemaApplyEvent) => void): Promise<{ statements: number }> {
    const r = await this.withHub((hub) =>
      applySchema(plan, {
        sqlitePath: this.answers.sqlitePath,
        hub,
        onTable: (e) => {
          if (e.side === 'mysql') this.touched.schema.hub = true;
          else this.touched.schema.sqlite = true;
          onTable?.(e);
        },
      }),
    );
    this.record('info', `schema applied (${plan.summary}; ${r.statements} statements)`);
    this.rediscoverSqlite();
    return r;
  }

  /** Installs change capture on both sides (creating the SQLite file when missing). Idempotent. */
  async installCapture(): Promise<InitReport> {
    const config = this.config();
    const db = openSqlite(config.sqlitePath, { create: true });
    try {
      const r = await this.withHub(async (hub) => {
        const before = await captureObjects(db, hub);
        try {
          return await installCapture(db, hub, config, { joinGuard: assertNoUnsyncedRows });
        } catch (e) {
          // Say only what is there: a refusal (join guard, node id in use) comes before any
          // trigger. Not countable (the hub went away): assume all of it.
          if (this.touched.capture !== true) {
            const earlier = this.touched.capture;
            this.touched.capture = await captureObjects(db, hub).then(
              (after) => captureAdded(before, after, earlier),
              () => true,
            );
          }
          throw e;
        }
      });
      this.touched.capture = true;
      this.store.dispatch({ type: 'captureInstalled', report: r });
      this.record('info', `capture installed for node ${r.nodeId} (${r.tables.length} tables, hub ${r.hub})`);
      return r;
    } finally {
      db.close();
    }
  }

  /** Where the data is, and whether an interrupted migration can be resumed. */
  async migrationPlan(): Promise<MigrationPlan> {
    const sqliteRows = discoverSqlite(this.answers.sqlitePath).totalRows;
    const hubRows = await this.withHub(async (hub) =>
      hub ? (await mysqlTableStats(hub)).reduce((a, t) => a + (t.name.startsWith('_dualdb_') ? 0 : t.rows), 0) : 0,
    );
    const resumable = resumableMigration(
      readSetupState(this.answers.envFile),
      this.answers.sqlitePath,
      endpointOf(this.answers.mysql),
    );
    const direction: MigrationDirection | undefined =
      resumable?.direction ?? (sqliteRows > 0 ? 'sqlite-to-mysql' : hubRows > 0 ? 'mysql-to-sqlite' : undefined);
    return { direction, sqliteRows, hubRows, resumable };
  }

  /**
   * The values MySQL would refuse or silently change, found before any row is
   * copied (src/schema/preflight.ts; reads every row, so it is offered, not forced).
   */
  async preflight(): Promise<PreflightReport> {
    const db = openSqlite(this.answers.sqlitePath, { readonly: true });
    try {
      return await this.withHub((hub) => preflightToHub(db, hub, { samplesPerCheck: 3 }));
    } finally {
      db.close();
    }
  }

  /**
   * The initial copy. Capture is installed first (the consistent-snapshot model:
   * what the application writes during the copy is captured and synced after).
   * Progress per table; the signal cancels; the state file remembers an
   * interruption so that the next run offers to resume.
   */
  async migrate(
    options: { direction: MigrationDirection; resume: boolean; signal?: AbortSignal },
    onProgress: (p: TableProgress) => void,
  ): Promise<MigrationReport> {
    if (!this.capture) await this.installCapture();
    const endpoint = endpointOf(this.answers.mysql);
    const mark = (status: NonNullable<SetupState['migration']>['status'], error?: string) =>
      writeSetupState(this.answers.envFile, {
        ...readSetupState(this.answers.envFile),
        migration: {
          status,
          direction: options.direction,
          endpoint,
          sqlitePath: this.answers.sqlitePath,
          updatedAt: new Date().toISOString(),
          ...(error ? { error } : {}),
        },
      });
    mark('running');
    this.touched.migration = true;
    this.record('info', `${options.resume ? 'resuming' : 'starting'} the initial migration (${options.direction})`);
    const migrateOptions: MigrateOptions = {
      direction: options.direction,
      resume: options.resume,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    try {
      const report = await runMigration(this.config(), migrateOptions, onProgress);
      mark('done');
      this.record('info', 'initial migration done');
      return report;
    } catch (e) {
      const cancelled = options.signal?.aborted ?? false;
      mark(cancelled ? 'interrupted' : 'failed', messageOf(e));
      this.record(cancelled ? 'warn' : 'error', `initial migration ${cancelled ? 'cancelled' : 'failed'}: ${messageOf(e)}`);
      throw e;
    }
  }

  /**
   * Everything that can stop the setup, checked before its first write on either
   * side: the .env values can be written, the hub's existing columns hold what
   * SQLite holds (the fit plan), and, when the SQLite rows are to be copied, the
   * pre-flight check of every value. Reads only.
   */
  async check(options: { copy: boolean }): Promise<SetupCheck> {
    const envProblem = envValuesProblem(this.answers);
    if (!this.answers.dualDatabase || !existsSync(this.answers.sqlitePath))
      return { fit: undefined, preflight: undefined, envProblem, blocker: envProblem ? envBlocker(envProblem) : undefined };
    const db = openSqlite(this.answers.sqlitePath, { readonly: true });
    try {
      return await this.withHub(async (hub) => {
        const fit = hub ? await fitPlanFor(db, hub) : undefined;
        const copy = options.copy && (await this.migrationPlan()).direction === 'sqlite-to-mysql';
        const preflight = copy ? await preflightToHub(db, hub, { samplesPerCheck: 3 }) : undefined;
        const blocker = envProblem
          ? envBlocker(envProblem)
          : preflight && !preflight.ok
            ? preflightBlocker(preflight, fit)
            : undefined;
        this.record(
          blocker ? 'warn' : 'info',
          `checked before writing: ${blocker ? blocker.message : 'nothing stops the setup'}`,
        );
        return { fit, preflight, envProblem, blocker };
      });
    } finally {
      db.close();
    }
  }

  /** Widens the hub's columns (`dualdb schema fit`'s plan), after the user agreed. */
  async applyFit(plan: FitPlan, onTable?: (t: FitResult) => void): Promise<void> {
    await this.withHub(async (hub) => {
      if (!hub) return;
      this.touched.fit = true;
      const r = await applyFit(hub, plan, onTable);
      this.record(
        r.ok ? 'info' : 'error',
        `schema fit: ${r.tables.filter((t) => t.status === 'applied').length} table(s) widened`,
      );
      if (r.error) throw r.error;
    });
  }

  /** Writes the .env (mode 0600) and returns the Config read back from it. */
  save(): Config {
    const config = saveAnswers(this.answers);
    this.record('info', `saved ${this.answers.envFile} (mode 0600)`);
    return config;
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}
