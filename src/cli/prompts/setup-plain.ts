/**
 * `dualdb setup --plain`: the wizard's questions as line-by-line prompts, for
 * terminals or people that cannot use a full-screen app. Same steps, same
 * domain calls (src/setup), same validation; Ctrl+C leaves cleanly.
 */
import path from 'node:path';
import {
  CONFLICT_POLICIES,
  type ConflictPolicy,
  KEY_COLLISION_MODES,
  type KeyCollisionMode,
  SYNC_MODES,
  type SyncMode,
} from '../../config/schema.js';
import {
  actionChoices,
  CONFLICT_POLICY_HELP,
  type ConnectionCheck,
  cancelledMessage,
  type Diagnosis,
  KEY_COLLISIONS_HELP,
  maskEnvValues,
  PRIVILEGE_PURPOSE,
  planWrites,
  REQUIRED_PRIVILEGES,
  runSetupAction,
  type SchemaPlan,
  SetupSession,
  SYNC_MODE_HELP,
  stillThere,
  type TableProgress,
  validatePassword,
  validateSetting,
  validateUserHost,
  validateUserName,
} from '../../setup/index.js';
import { loadMigration, MigrationCancelledError } from '../../setup/migration.js';
import { checkLines } from '../../setup/plan.js';
import { isDualdbError, messageOf } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { color, err, formatBytes, formatCount, glyph, out } from '../output.js';
import { askConfirm, askPassword, askSelect, askText, PromptCancelled } from './ask.js';

const section = (title: string) => {
  out('');
  out(color.bold(title));
};

function showDiscovery(s: SetupSession): void {
  const d = s.discovery;
  section('1. What was found');
  if (d.sqlite.exists && !d.sqlite.error) {
    out(
      `${glyph.ok} SQLite ${d.sqlite.path}: ${formatBytes(d.sqlite.bytes)}, ${d.sqlite.tables.length} tables, ${formatCount(d.sqlite.totalRows)} rows`,
    );
    for (const t of d.sqlite.tables.slice(0, 12)) out(color.dim(`    ${t.name} ${formatCount(t.rows)}`));
  } else if (d.sqlite.error) {
    out(`${glyph.fail} SQLite ${d.sqlite.path}: ${d.sqlite.error.message}`);
  } else {
    out(`${glyph.info} SQLite ${d.sqlite.path}: none yet, a new database will be created`);
  }
  if (d.env.exists) {
    out(`${glyph.ok} ${d.env.file}:`);
    for (const [k, v] of Object.entries(maskEnvValues(d.env.values))) out(color.dim(`    ${k}=${v}`));
  } else out(`${glyph.info} no ${d.env.file} yet: it will be written at the end (mode 0600)`);
}

async function askConnection(s: SetupSession): Promise<void> {
  section('2. MySQL connection');
  const m = s.answers.mysql;
  const v = (key: Parameters<typeof validateSetting>[0]) => (x: string) => validateSetting(key, x);
  const host = await askText('Host', { default: m.host, validate: v('mysqlHost') });
  const port = await askText('Port', { default: String(m.port), validate: v('mysqlPort') });
  const user = await askText('User', { default: m.user, validate: v('mysqlUser') });
  const pw = await askPassword(m.password ? 'Password (Enter keeps the current one)' : 'Password', {
    validate: validatePassword,
  });
  const database = await askText('Database', { default: m.database, validate: v('mysqlDatabase') });
  const ssl = await askConfirm('Use TLS?', m.ssl);
  s.setMysql({
    host: host.trim(),
    port: Number(port),
    user: user.trim(),
    password: pw || m.password,
    database: database.trim(),
    ssl,
  });
  s.chooseHub();
}

function showDiagnosis(d: Diagnosis): void {
  out(`${d.optionalOnly ? glyph.warn : glyph.fail} ${d.message}`);
  out(`  ${color.bold('fix:')} ${d.fix}`);
  if (d.missing?.length) {
    for (const p of d.missing) out(color.dim(`    missing ${p} (${PRIVILEGE_PURPOSE[p] ?? ''})`));
  }
}

async function askProvision(s: SetupSession): Promise<boolean> {
  section('5. Database and dedicated user (admin credentials are used once, never stored)');
  const adminUser = await askText('Admin user', { default: 'root', validate: validateUserName });
  const adminPassword = await askPassword('Admin password');
  const user = await askText('Dedicated user to create', {
    default: s.answers.mysql.user === 'root' ? 'epi_sync' : s.answers.mysql.user,
    validate: validateUserName,
  });
  const userHost = await askText("It may connect from ('%' = anywhere)", { default: '%', validate: validateUserHost });
  const grantProcess = await askConfirm('Also grant PROCESS globally (exact late-commit detection)?', true);
  out(
    color.dim(
      `  grants on ${s.answers.mysql.database}: ${REQUIRED_PRIVILEGES.join(', ')}${grantProcess ? '; PROCESS globally' : ''}`,
    ),
  );
  let existingUser: 'fail' | 'keep-password' | 'reset-password' = 'fail';
  for (;;) {
    try {
      const r = await s.provision({
        admin: { user: adminUser.trim(), password: adminPassword },
        user: user.trim(),
        userHost: userHost.trim(),
        grantProcess,
        existingUser,
      });
      out(
        `${glyph.ok} database ${s.answers.mysql.database} ${r.databaseCreated ? 'created' : 'exists'}; user ${r.user} ${r.userCreated ? 'created with a generated password (saved in .env only)' : r.passwordReset ? 'has a new generated password' : 'kept its password'}`,
      );
      return true;
    } catch (e) {
      if (isDualdbError(e) && e.code === 'USER_EXISTS') {
        const choice = await askSelect(`${e.message}. What now?`, [
          { value: 'reset-password', name: 'Reset its password (a new generated one, saved in .env)' },
          { value: 'keep-password', name: 'Keep its password (the one typed in step 2), only grant' },
          { value: 'back', name: 'Back (choose another name)' },
        ] as const);
        if (choice === 'back') return false;
        existingUser = choice;
        continue;
      }
      out(`${glyph.fail} ${messageOf(e)}${isDualdbError(e) && e.hint ? color.dim(` — ${e.hint}`) : ''}`);
      return false;
    }
  }
}

/** Steps 2–5: connection, test, the ways on. Returns when the hub works or SQLite-only was chosen. */
async function connect(s: SetupSession): Promise<void> {
  await askConnection(s);
  for (;;) {
    section('3. Connection test');
    out(color.dim(`  connecting to ${s.answers.mysql.host}:${s.answers.mysql.port} as ${s.answers.mysql.user}…`));
    const c: ConnectionCheck = await s.testConnection();
    if (c.ok) {
      out(
        `${glyph.ok} connected to ${c.endpoint} (${c.version}); privileges ${c.diagnosis ? 'complete except optional ones' : 'complete'}`,
      );
      if (c.diagnosis) showDiagnosis(c.diagnosis);
      if (!s.provisioned && !s.answers.localServer) {
        const isRoot = s.answers.mysql.user === 'root';
        if (await askConfirm(`Optional: create a dedicated least-privilege user${isRoot ? ' instead of root' : ''}?`, isRoot)) {
          if (await askProvision(s)) continue;
        }
      }
      return;
    }
    const d = c.diagnosis as Diagnosis;
    showDiagnosis(d);
    if (d.unreachable) section('4. No MySQL reachable: two ways on');
    // The same choices as the wizard's Test screen (src/setup/actions.ts); no server answered: the ways on first.
    const choices = actionChoices(s.snapshot).map((c) => ({
      value: c.value,
      name: c.label,
      ...(c.disabled ? { disabled: `(${c.disabled})` } : {}),
    }));
    const action = await askSelect('What now?', choices);
    const step = runSetupAction(s, action);
    if (step.next === 'schema') {
      if (action === 'sqlite-only')
        out(
          `${glyph.info} SQLite only (DUAL_DATABASE=false): changes are captured and queued until a hub is configured and reachable`,
        );
      return;
    }
    if (step.next === 'edit') await askConnection(s);
    else if (step.next === 'provision') await askProvision(s);
    else if (step.work) {
      if (action === 'local-server') out(color.dim(`  starting a private server in ${s.discovery.localServer.dir}…`));
      try {
        const r = await step.work;
        if (r.kind === 'database') out(`${glyph.ok} database ${s.answers.mysql.database} created`);
        else {
          out(
            `${glyph.ok} private server ${r.start.created ? 'created and ' : ''}running on 127.0.0.1:${r.start.mysql.port}; its credentials go into .env`,
          );
          if (r.start.passwordReset)
            out(color.dim(`  its user's password was not known here: it has a new generated one, saved in .env only`));
          out(color.dim(`  to start it again later (after a reboot): ${r.start.startCommand}`));
        }
      } catch (e) {
        out(`${glyph.fail} ${messageOf(e)}${isDualdbError(e) && e.hint ? color.dim(` — ${e.hint}`) : ''}`);
        // The database could not be created with this user: admin credentials can.
        if (action === 'create-database') await askProvision(s);
      }
    }
  }
}

function showSchemaPlan(plan: SchemaPlan): void {
  out(`  ${plan.summary}`);
  for (const t of plan.tables.filter((x) => x.action !== 'exists'))
    out(
      color.dim(
        `    + ${t.side === 'mysql' ? 'MySQL ' : 'SQLite'} ${t.name}${t.action === 'alter' ? ` (add ${(t.columns ?? []).join(', ')})` : ''}`,
      ),
    );
  if (plan.warnings.length) {
    out(`${glyph.warn} not translated faithfully (nothing is written before you confirm):`);
    for (const w of plan.warnings) out(`    ${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${w.reason}`);
  }
  if (plan.differences.length) {
    out(`${glyph.warn} tables that differ between the sides (left as they are; sync pauses them until fixed):`);
    for (const d of plan.differences) out(`    ${d.table}: ${d.detail}`);
  }
  for (const n of plan.notes) out(color.dim(`  ${glyph.info} ${n.table}.${n.column}: ${n.problem} — ${n.reason}`));
}

/**
 * Before the schema step writes anything: the hub's narrower columns (asks to widen
 * them, as `dualdb schema fit` would) and the pre-flight's findings, which stop the
 * setup with nothing changed.
 */
async function checkStep(s: SetupSession): Promise<void> {
  if (!s.answers.dualDatabase) return;
  const copy = Boolean(await loadMigration());
  let c = await s.check({ copy });
  if (c.fit && c.fit.tables.length > 0) {
    out(`${glyph.warn} the hub's columns are narrower than the SQLite data:`);
    for (const line of checkLines({ ...c, preflight: undefined })) out(`    ${line}`);
    for (const t of c.fit.tables.filter((x) => x.algorithm === 'COPY'))
      out(color.dim(`    ${t.table} needs a copy of the table (${formatCount(t.rows)} rows, ${formatBytes(t.bytes)})`));
    if (await askConfirm('Widen these columns on the hub now (`dualdb schema fit`)?', true)) {
      await s.applyFit(c.fit, (t) => {
        if (t.status === 'applied') out(`  ${glyph.ok} ${t.table}: widened (ALGORITHM=${t.used})`);
      });
      c = await s.check({ copy });
    }
  }
  const findings = checkLines({ ...c, fit: undefined });
  if (findings.length) {
    out(`${glyph.fail} values the hub would refuse or change:`);
    for (const line of findings) out(`    ${line}`);
  }
  if (c.blocker) throw c.blocker;
}

async function schemaStep(s: SetupSession): Promise<void> {
  section('6. Schema');
  let plan = await s.planSchema('auto');
  if (plan.suggestEpi) {
    const choice = await askSelect('No tables on either side yet. Create:', [
      { value: 'epi' as const, name: 'the EPI schema (sql/: detections, alerts, workers, sensors… with views)' },
      { value: 'none' as const, name: 'nothing (the application creates its tables; run setup again later)' },
    ]);
    plan = await s.planSchema(choice);
  }
  showSchemaPlan(plan);
  if (!planWrites(plan)) return;
  if (!(await askConfirm('Apply this schema?', true))) return;
  await s.applySchema(plan, (e) => {
    if (e.state === 'done')
      out(
        `  ${glyph.ok} ${e.side === 'mysql' ? 'MySQL ' : 'SQLite'} ${e.table}: ${e.action === 'add-column' ? `column(s) added (${(e.columns ?? []).join(', ')})` : 'table created'}  (${e.index + 1}/${e.total})`,
      );
  });
}

async function migrationStep(s: SetupSession): Promise<void> {
  if (!s.answers.dualDatabase) return;
  section('7. Initial migration');
  if (!(await loadMigration())) {
    out(`${glyph.info} the migration library is not part of this build: copy the data later with \`dualdb migrate\``);
    return;
  }
  const plan = await s.migrationPlan();
  if (!plan.direction) {
    out(`${glyph.info} no rows on either side: nothing to copy`);
    return;
  }
  const what =
    plan.direction === 'sqlite-to-mysql'
      ? `${formatCount(plan.sqliteRows)} rows SQLite → MySQL`
      : `${formatCount(plan.hubRows)} rows MySQL → SQLite`;
  const question = plan.resumable ? `Resume the interrupted copy (${what})?` : `Copy ${what} now?`;
  if (!(await askConfirm(question, true))) return;
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  out(color.dim('  Ctrl+C cancels; run setup again to resume'));
  const last = new Map<string, number>();
  try {
    await s.migrate(
      { direction: plan.direction, resume: plan.resumable !== undefined, signal: controller.signal },
      (p: TableProgress) => {
        const now = Date.now();
        if (p.state === 'done') out(`  ${glyph.ok} ${p.table} ${formatCount(p.rowsDone)} rows`);
        else if (p.state === 'failed') out(`  ${glyph.fail} ${p.table}: ${p.error ?? 'failed'}`);
        else if (p.state === 'copying' && now - (last.get(p.table) ?? 0) > 1000) {
          last.set(p.table, now);
          out(
            color.dim(
              `    ${p.table} ${formatCount(p.rowsDone)}/${formatCount(p.rowsTotal)} rows, ${formatCount(Math.round(p.rowsPerSec))} rows/s${p.etaSec !== null ? `, ${Math.ceil(p.etaSec)} s left` : ''}`,
            ),
          );
        }
      },
    );
  } catch (e) {
    if (e instanceof MigrationCancelledError) {
      out(`${glyph.warn} ${e.message} — ${e.hint}`);
      throw new PromptCancelled();
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function syncStep(s: SetupSession): Promise<void> {
  section('8. Sync');
  const mode = await askSelect<SyncMode>(
    'Sync mode',
    SYNC_MODES.map((m) => ({ value: m, name: m, description: SYNC_MODE_HELP[m] })),
    s.answers.sync.mode,
  );
  const interval = await askText('Pull interval (seconds)', {
    default: String(s.answers.sync.intervalSec),
    validate: (v) => validateSetting('syncInterval', v),
  });
  const policy = await askSelect<ConflictPolicy | 'default'>(
    'Conflict policy',
    [
      { value: 'default', name: `default for ${mode} (${mode === 'mysql_primary' ? 'hub-wins' : 'node-wins'})` },
      ...CONFLICT_POLICIES.map((p) => ({ value: p, name: p, description: CONFLICT_POLICY_HELP[p] })),
    ],
    s.answers.sync.conflictPolicy ?? 'default',
  );
  // SYNC_KEY_COLLISIONS (docs/SYNC-CONTRACT.md invariant 13), as the wizard's "Same new id" field asks it.
  const keyCollisions = await askSelect<KeyCollisionMode>(
    'Same new id on both sides (a row created on each under one generated id)',
    KEY_COLLISION_MODES.map((m) => ({ value: m, name: m, description: KEY_COLLISIONS_HELP[m] })),
    s.answers.sync.keyCollisions,
  );
  s.setSync({
    mode,
    intervalSec: Number(interval),
    conflictPolicy: policy === 'default' ? undefined : policy,
    keyCollisions,
  });
  const r = await s.installCapture();
  out(
    `${glyph.ok} capture installed for node ${r.nodeId} on ${r.tables.length} tables${r.hub === 'disabled' ? ' (SQLite only: changes queue until a hub is reachable)' : ''}`,
  );
  for (const p of r.paused) out(`${glyph.warn} ${p.table}: paused — ${p.reason}`);
}

/** The whole plain setup. Returns the exit code. */
export async function runPlainSetup(options: { envFile?: string | undefined; sqlitePath?: string | undefined }): Promise<number> {
  const s = new SetupSession(options);
  try {
    out(color.bold('dualdb setup') + color.dim(' — Ctrl+C leaves at any time; the .env is written at the last step'));
    showDiscovery(s);
    const sqlite = await askText('SQLite file', {
      default: path.relative(process.cwd(), s.answers.sqlitePath) || s.answers.sqlitePath,
      validate: (v) => validateSetting('sqlitePath', v),
    });
    s.rediscoverSqlite(path.resolve(sqlite));
    await connect(s);
    await checkStep(s);
    await schemaStep(s);
    await migrationStep(s);
    await syncStep(s);
    section('9. Save');
    const config = s.save();
    out(`${glyph.ok} saved ${config.envFile} (mode 0600)`);
    out(`  SQLite ${config.sqlitePath}`);
    out(
      `  hub    ${config.dualDatabase ? `${config.mysql.user}@${config.mysql.host}:${config.mysql.port}/${config.mysql.database}` : 'none (SQLite only)'}`,
    );
    out(
      `  sync   ${config.sync.mode}, every ${config.sync.intervalMs / 1000} s, conflicts: ${config.sync.conflictPolicy}, same new id: ${config.sync.keyCollisions}`,
    );
    if (s.localServer) out(color.dim(`  the private server keeps running; after a reboot: ${s.localServer.startCommand}`));
    out(color.dim('next: `dualdb` opens the monitor; `dualdb sync --daemon` runs the sync as a service'));
    return EXIT.OK;
  } catch (e) {
    if (e instanceof PromptCancelled) {
      err(cancelledMessage(s.leftBehind()));
      return e.exitCode;
    }
    err(`dualdb setup: ${messageOf(e)}${isDualdbError(e) && e.hint ? ` — ${e.hint}` : ''}`);
    const left = stillThere(s.leftBehind());
    if (left) err(`  no .env was written. ${left}`);
    return isDualdbError(e) ? e.exitCode : EXIT.FAILURE;
  } finally {
    await s.close();
  }
}
