/**
 * A whole setup decided in advance (`dualdb setup --quick`, or the tail of the
 * plain prompts) as a list of steps, and its execution as events a front-end
 * renders: step started / done / skipped / failed, warnings, schema and
 * migration progress. The steps are the session's; nothing here asks anything.
 */
import { EventEmitter } from 'node:events';
import type { Config } from '../config/config.js';
import { describeKeyKinds } from '../sync/init.js';
import { DualdbError, isDualdbError, kindCode, MysqlError, messageOf } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import type { Diagnosis } from './connection.js';
import type { TableProgress } from './migration.js';
import type { ExistingUserPolicy } from './provision.js';
import type { SchemaApplyEvent, SchemaChoice } from './schema.js';
import type { SetupCheck, SetupSession } from './session.js';

export type StepId = 'local-server' | 'provision' | 'connect' | 'check' | 'schema' | 'capture' | 'migrate' | 'save';

export const STEP_TITLES: Record<StepId, string> = {
  'local-server': 'Start the private MySQL server',
  provision: 'Create the database and a dedicated user',
  connect: 'Test the connection',
  check: 'Check the schema and the data before writing',
  schema: 'Create the schema',
  capture: 'Install change capture',
  migrate: 'Copy the existing data',
  save: 'Save .env',
};

export interface SetupPlanInput {
  /** Start the private server in .dualdb/mysql/ and use it as the hub. */
  localServer?: boolean;
  /** SQLite only (DUAL_DATABASE=false). */
  sqliteOnly?: boolean;
  /** Admin login for provisioning; the password is used once and never stored. */
  admin?: { user: string; password: string; userHost?: string; grantProcess?: boolean; existingUser?: ExistingUserPolicy };
  /** Create the database with the hub user's own rights when it does not exist. */
  createDatabase?: boolean;
  schema: SchemaChoice;
  migrate?: { resume: boolean } | false;
}

export interface SetupStep {
  id: StepId;
  title: string;
}

export type SetupEvent =
  | { type: 'step'; id: StepId; state: 'running' | 'done' | 'skipped'; detail?: string }
  | { type: 'warning'; id: StepId; message: string }
  | { type: 'schema'; event: SchemaApplyEvent }
  | { type: 'migration'; progress: TableProgress };

export class SetupStepError extends DualdbError {
  constructor(
    readonly step: StepId,
    readonly original: unknown,
    readonly diagnosis?: Diagnosis,
  ) {
    const e = isDualdbError(original) ? original : undefined;
    const fromHub = diagnosis !== undefined || original instanceof MysqlError;
    super(
      e?.code ?? (diagnosis ? kindCode('MYSQL', diagnosis.kind) : 'SETUP_STEP_FAILED'),
      diagnosis?.message ?? messageOf(original),
      {
        hint: diagnosis?.fix ?? e?.hint,
        cause: original,
        exitCode: e?.exitCode ?? (fromHub ? EXIT.MYSQL_UNAVAILABLE : EXIT.FAILURE),
        context: { step },
      },
    );
  }
}

export function buildSetupPlan(input: SetupPlanInput): SetupStep[] {
  const ids: StepId[] = [];
  if (input.localServer) ids.push('local-server');
  if (input.admin && !input.sqliteOnly && !input.localServer) ids.push('provision');
  if (!input.sqliteOnly) ids.push('connect');
  // Everything that can stop the setup runs before its first write on either side.
  ids.push('check', 'schema', 'capture');
  if (input.migrate && !input.sqliteOnly) ids.push('migrate');
  ids.push('save');
  return ids.map((id) => ({ id, title: STEP_TITLES[id] }));
}

export interface SetupOutcome {
  config: Config;
  steps: SetupStep[];
}

/** Runs a plan against a session; emits `event`s; throws SetupStepError naming the failed step. */
export class SetupRun extends EventEmitter<{ event: [SetupEvent] }> {
  readonly steps: SetupStep[];

  constructor(
    private readonly session: SetupSession,
    private readonly input: SetupPlanInput,
    private readonly options: { signal?: AbortSignal } = {},
  ) {
    super();
    this.steps = buildSetupPlan(input);
  }

  private emitStep(id: StepId, state: 'running' | 'done' | 'skipped', detail?: string): void {
    this.emit('event', { type: 'step', id, state, ...(detail ? { detail } : {}) });
  }

  async run(): Promise<SetupOutcome> {
    const s = this.session;
    if (this.input.sqliteOnly) s.chooseSqliteOnly();
    let config: Config | undefined;
    for (const step of this.steps) {
      this.emitStep(step.id, 'running');
      try {
        const detail = await this.runStep(step.id);
        if (step.id === 'save') config = s.save();
        this.emitStep(step.id, detail === null ? 'skipped' : 'done', detail ?? undefined);
      } catch (e) {
        if (e instanceof SetupStepError) throw e;
        s.record('error', `${step.id} failed: ${messageOf(e)}`);
        throw new SetupStepError(step.id, e);
      }
    }
    await s.close();
    if (!config) throw new Error('setup plan without a save step');
    return { config, steps: this.steps };
  }

  /** Runs one step; returns a detail line, or null when there was nothing to do. */
  private async runStep(id: StepId): Promise<string | null> {
    const s = this.session;
    const input = this.input;
    switch (id) {
      case 'local-server': {
        const r = await s.startLocalServer();
        return `${r.created ? 'created' : 'started'} in ${r.dir}, port ${r.mysql.port}${r.passwordReset ? `; user ${r.mysql.user} has a new generated password (the old one was not known)` : ''}; later: ${r.startCommand}`;
      }
      case 'provision': {
        const admin = input.admin;
        if (!admin) return null;
        const r = await s.provision({
          admin: { user: admin.user, password: admin.password },
          ...(admin.userHost ? { userHost: admin.userHost } : {}),
          ...(admin.grantProcess !== undefined ? { grantProcess: admin.grantProcess } : {}),
          ...(admin.existingUser ? { existingUser: admin.existingUser } : {}),
        });
        return `database ${r.databaseCreated ? 'created' : 'existed'}; user ${r.user} ${r.userCreated ? 'created' : r.passwordReset ? 'password reset' : 'kept'}; granted ${[...r.granted.database, ...r.granted.global].join(', ')}`;
      }
      case 'connect': {
        let c = await s.testConnection();
        if (!c.ok && c.diagnosis?.kind === 'unknown-database' && input.createDatabase) {
          await s.createDatabase();
          c = await s.testConnection();
        }
        if (!c.ok) throw new SetupStepError('connect', undefined, c.diagnosis);
        if (c.diagnosis) this.emit('event', { type: 'warning', id, message: `${c.diagnosis.message} — ${c.diagnosis.fix}` });
        return `${c.endpoint} (${c.version})`;
      }
      case 'check': {
        const c = await s.check({ copy: Boolean(input.migrate) });
        for (const message of checkLines(c)) this.emit('event', { type: 'warning', id, message });
        if (c.blocker) throw new SetupStepError('check', c.blocker);
        const narrow = c.fit?.tables.length ?? 0;
        return `${c.preflight ? `${c.preflight.tables.reduce((n, t) => n + t.rows, 0)} rows checked, nothing the hub would refuse or change` : 'the .env can be written'}${narrow ? `; ${narrow} hub table(s) narrower than SQLite (\`dualdb schema fit\`)` : ''}`;
      }
      case 'schema': {
        const choice = input.schema;
        const plan = await s.planSchema(choice);
        if (choice === 'auto' && plan.suggestEpi) return 'no tables on either side yet (use --schema epi for the EPI schema)';
        if (choice === 'none') return null;
        for (const w of plan.warnings) {
          this.emit('event', {
            type: 'warning',
            id,
            message: `${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${w.reason}`,
          });
        }
        for (const d of plan.differences) this.emit('event', { type: 'warning', id, message: `${d.table} differs: ${d.detail}` });
        const r = await s.applySchema(plan, (event) => this.emit('event', { type: 'schema', event }));
        return `${plan.summary} (${r.statements} statements)`;
      }
      case 'capture': {
        const r = await s.installCapture();
        for (const p of r.paused) this.emit('event', { type: 'warning', id, message: `${p.table}: paused — ${p.reason}` });
        const kinds = describeKeyKinds(r.tables);
        return `node ${r.nodeId}: ${r.tables.length} table${r.tables.length === 1 ? '' : 's'} captured${kinds ? ` (${kinds})` : ''}${r.hub === 'disabled' ? ' (SQLite only: changes queue until a hub is configured)' : ''}`;
      }
      case 'migrate': {
        const m = input.migrate;
        if (!m) return null;
        const plan = await s.migrationPlan();
        if (!plan.direction) return 'no rows on either side: nothing to copy';
        const report = await s.migrate(
          {
            direction: plan.direction,
            resume: m.resume || plan.resumable !== undefined,
            ...(this.options.signal ? { signal: this.options.signal } : {}),
          },
          (progress) => this.emit('event', { type: 'migration', progress }),
        );
        // What was copied (synced tables only), not what the file holds: a table without a
        // primary key is not synced, and its rows are not copied.
        const rows = copiedRows(report) ?? (plan.direction === 'sqlite-to-mysql' ? plan.sqliteRows : plan.hubRows);
        return `${rows} rows ${plan.direction === 'sqlite-to-mysql' ? 'SQLite → MySQL' : 'MySQL → SQLite'}`;
      }
      case 'save':
        return s.answers.envFile;
    }
  }
}

/** What the check found, one line each: the hub's narrower columns, then the pre-flight's findings. */
export function checkLines(c: SetupCheck): string[] {
  const lines: string[] = [];
  for (const t of c.fit?.tables ?? [])
    for (const ch of t.changes)
      lines.push(`${t.table}.${ch.column}: the hub has ${ch.from}, SQLite needs ${ch.to} — ${ch.reason} (\`dualdb schema fit\`)`);
  const r = c.preflight;
  if (r && !r.ok) {
    for (const f of r.findings) {
      const key = Object.entries(f.key)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      lines.push(`${f.table} [${key}] ${f.column} = ${f.value} — ${f.kind}: ${f.reason}`);
    }
    const listed = new Map<string, number>();
    for (const f of r.findings) {
      const k = `${f.table}\u0000${f.column}\u0000${f.kind}`;
      listed.set(k, (listed.get(k) ?? 0) + 1);
    }
    for (const n of r.counts) {
      const more = n.count - (listed.get(`${n.table}\u0000${n.column}\u0000${n.kind}`) ?? 0);
      if (more > 0) lines.push(`… and ${more.toLocaleString('en-US')} more ${n.kind} in ${n.table}.${n.column}`);
    }
  }
  return lines;
}

/** Rows the migration copied (this run and a resumed one), when its report lists tables. */
function copiedRows(report: unknown): number | undefined {
  const tables = (report as { tables?: unknown } | null)?.tables;
  if (!Array.isArray(tables)) return undefined;
  return tables.reduce(
    (n: number, t: { rowsCopied?: number; rowsResumed?: number }) => n + (t.rowsCopied ?? 0) + (t.rowsResumed ?? 0),
    0,
  );
}
