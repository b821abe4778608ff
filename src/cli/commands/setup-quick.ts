/**
 * `dualdb setup --quick`: the whole setup from flags and the environment, with
 * no questions (for scripts). Every problem with the input is reported at once,
 * one line each, before anything is touched; a failing step is one line with
 * its fix. Secrets come only from the environment (DB_PASSWORD,
 * DUALDB_ADMIN_PASSWORD), never from arguments.
 */
import path from 'node:path';
import {
  CONFLICT_POLICIES,
  type ConflictPolicy,
  KEY_COLLISION_MODES,
  type KeyCollisionMode,
  SETTINGS,
  SYNC_MODES,
  type SyncMode,
} from '../../config/schema.js';
import { answersFromEnvValues, validateSetting, validateUserHost, validateUserName } from '../../setup/answers.js';
import { localServerBinary } from '../../setup/local-server.js';
import { loadMigration } from '../../setup/migration.js';
import { type SetupEvent, type SetupPlanInput, SetupRun, SetupStepError, STEP_TITLES } from '../../setup/plan.js';
import type { SchemaChoice } from '../../setup/schema.js';
import { envValuesProblem, SetupSession, stillThere } from '../../setup/session.js';
import { isDualdbError, messageOf } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { registerSecret } from '../../util/redact.js';
import { color, err, formatCount, glyph, out } from '../output.js';

export interface SetupFlags {
  plain?: boolean;
  quick?: boolean;
  sqlite?: string;
  host?: string;
  port?: string;
  user?: string;
  database?: string;
  tls?: boolean;
  mode?: string;
  interval?: string;
  conflictPolicy?: string;
  /** SYNC_KEY_COLLISIONS. */
  keyCollisions?: string;
  nodeId?: string;
  createDatabase?: boolean;
  adminUser?: string;
  userHost?: string;
  processGrant?: boolean;
  existingUser?: string;
  localServer?: boolean;
  sqliteOnly?: boolean;
  schema?: string;
  migrate?: boolean;
  /** Refused: secrets never in arguments. */
  password?: string;
  adminPassword?: string;
}

const SCHEMA_CHOICES = ['auto', 'epi', 'none'] as const;

/** The problems with the flags and the environment, one line each (empty when all is well). */
export function quickProblems(flags: SetupFlags, env: NodeJS.ProcessEnv): string[] {
  const p: string[] = [];
  if (flags.password !== undefined)
    p.push('--password is not accepted: secrets never go in process arguments; set DB_PASSWORD in the environment');
  if (flags.adminPassword !== undefined)
    p.push(
      '--admin-password is not accepted: secrets never go in process arguments; set DUALDB_ADMIN_PASSWORD in the environment',
    );
  const check = (flag: string, key: Parameters<typeof validateSetting>[0], v: string | undefined) => {
    if (v === undefined) return;
    const why = validateSetting(key, v);
    if (why) p.push(`${flag} ${JSON.stringify(v)} is not valid: ${why}`);
  };
  check('--host', 'mysqlHost', flags.host);
  check('--port', 'mysqlPort', flags.port);
  check('--user', 'mysqlUser', flags.user);
  check('--database', 'mysqlDatabase', flags.database);
  check('--interval', 'syncInterval', flags.interval);
  check('--node-id', 'nodeId', flags.nodeId);
  check('--sqlite', 'sqlitePath', flags.sqlite);
  if (flags.mode !== undefined && !(SYNC_MODES as readonly string[]).includes(flags.mode))
    p.push(`--mode ${JSON.stringify(flags.mode)} is not valid: accepted: ${SYNC_MODES.join(', ')}`);
  if (flags.conflictPolicy !== undefined && !(CONFLICT_POLICIES as readonly string[]).includes(flags.conflictPolicy))
    p.push(`--conflict-policy ${JSON.stringify(flags.conflictPolicy)} is not valid: accepted: ${CONFLICT_POLICIES.join(', ')}`);
  if (flags.keyCollisions !== undefined && !(KEY_COLLISION_MODES as readonly string[]).includes(flags.keyCollisions))
    p.push(`--key-collisions ${JSON.stringify(flags.keyCollisions)} is not valid: accepted: ${KEY_COLLISION_MODES.join(', ')}`);
  if (flags.schema !== undefined && !(SCHEMA_CHOICES as readonly string[]).includes(flags.schema))
    p.push(`--schema ${JSON.stringify(flags.schema)} is not valid: accepted: ${SCHEMA_CHOICES.join(', ')}`);
  if (flags.existingUser !== undefined && !['keep', 'reset'].includes(flags.existingUser))
    p.push(
      `--existing-user ${JSON.stringify(flags.existingUser)} is not valid: accepted: keep (only grant), reset (new password)`,
    );
  if (flags.adminUser !== undefined) {
    const why = validateUserName(flags.adminUser);
    if (why) p.push(`--admin-user is not valid: ${why}`);
    const user = flags.user ?? env.DB_USER;
    if (user === undefined || user.trim() === 'root' || user.trim() === flags.adminUser.trim())
      p.push('--admin-user creates a dedicated user: name it with --user (e.g. --user epi_sync), not root nor the admin account');
    if (env.DUALDB_ADMIN_PASSWORD === undefined)
      p.push('--admin-user needs the admin password in the environment variable DUALDB_ADMIN_PASSWORD (never a flag)');
  }
  if (flags.userHost !== undefined) {
    const why = validateUserHost(flags.userHost);
    if (why) p.push(`--user-host is not valid: ${why}`);
  }
  // Settings taken from the environment must be valid too (the same words as loadConfig).
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const v = env[spec.env];
    if (v === undefined || v.trim() === '' || ('secret' in spec && spec.secret)) continue;
    const why = validateSetting(key as keyof typeof SETTINGS, v);
    if (why) p.push(`${spec.env}=${JSON.stringify(v)} in the environment is not valid: ${why}`);
  }
  if (flags.localServer && flags.sqliteOnly) p.push('--local-server and --sqlite-only exclude each other: choose one');
  if (flags.localServer && (flags.host !== undefined || flags.port !== undefined))
    p.push('--local-server runs its own server on 127.0.0.1: leave out --host and --port');
  if (flags.localServer && flags.adminUser !== undefined) p.push('--local-server creates its own user: leave out --admin-user');
  if (flags.localServer && !localServerBinary())
    p.push(
      '--local-server needs a MariaDB/MySQL server binary (mariadbd or mysqld): install mariadb-server, or use --sqlite-only',
    );
  if (flags.sqliteOnly) {
    for (const [f, given] of [
      ['--admin-user', flags.adminUser !== undefined],
      ['--create-database', flags.createDatabase],
      ['--migrate', flags.migrate],
    ] as const) {
      if (given) p.push(`${f} needs a hub, but --sqlite-only has none: leave out one of them`);
    }
  }
  return p;
}

function eventLine(e: SetupEvent): string | undefined {
  switch (e.type) {
    case 'step':
      if (e.state === 'running') return undefined;
      return `${e.state === 'done' ? glyph.ok : glyph.info} ${STEP_TITLES[e.id]}${e.detail ? color.dim(`: ${e.detail}`) : e.state === 'skipped' ? color.dim(': nothing to do') : ''}`;
    case 'warning':
      return `${glyph.warn} ${e.message}`;
    case 'schema': {
      if (e.event.state !== 'done') return undefined;
      const side = e.event.side === 'mysql' ? 'MySQL' : 'SQLite';
      return color.dim(
        e.event.action === 'add-column'
          ? `  column${(e.event.columns?.length ?? 0) === 1 ? '' : 's'} added in ${side}: ${e.event.table} (${e.event.columns?.join(', ')})`
          : `  table created in ${side}: ${e.event.table}`,
      );
    }
    case 'migration': {
      const p = e.progress;
      if (p.state === 'done')
        return color.dim(
          `  ${p.table}: ${formatCount(p.rowsDone)} rows${p.rowsPerSec > 0 ? ` (${formatCount(Math.round(p.rowsPerSec))} rows/s)` : ''}`,
        );
      if (p.state === 'failed') return `${glyph.fail} ${p.table}: ${p.error ?? 'failed'}`;
      return undefined;
    }
  }
}

export async function runQuickSetup(
  flags: SetupFlags,
  envFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const problems = quickProblems(flags, env);
  if (flags.migrate && !(await loadMigration()))
    problems.push('--migrate needs the migration library (src/migrate), which this build does not have: leave out --migrate');
  if (problems.length > 0) {
    for (const line of problems) err(`dualdb setup: ${line}`);
    return EXIT.CONFIG;
  }
  let session: SetupSession;
  try {
    session = new SetupSession({ envFile: envFile ?? env.DUALDB_ENV_FILE, sqlitePath: flags.sqlite });
  } catch (e) {
    err(`dualdb setup: ${messageOf(e)}`);
    return isDualdbError(e) ? e.exitCode : EXIT.FAILURE;
  }
  // Environment over the existing .env, flags over both.
  const a = answersFromEnvValues(session.answers, env as Record<string, string>);
  if (flags.sqlite !== undefined) a.sqlitePath = path.resolve(flags.sqlite);
  if (flags.host !== undefined) a.mysql.host = flags.host.trim();
  if (flags.port !== undefined) a.mysql.port = Number(flags.port);
  if (flags.user !== undefined) a.mysql.user = flags.user.trim();
  if (flags.database !== undefined) a.mysql.database = flags.database.trim();
  if (flags.tls !== undefined) a.mysql.ssl = flags.tls;
  if (flags.mode !== undefined) a.sync.mode = flags.mode as SyncMode;
  if (flags.interval !== undefined) a.sync.intervalSec = Number(flags.interval);
  if (flags.conflictPolicy !== undefined) a.sync.conflictPolicy = flags.conflictPolicy as ConflictPolicy;
  if (flags.keyCollisions !== undefined) a.sync.keyCollisions = flags.keyCollisions as KeyCollisionMode;
  if (flags.nodeId !== undefined) a.nodeId = flags.nodeId.trim();
  a.dualDatabase = !flags.sqliteOnly;
  session.replaceAnswers(a);
  session.rediscoverSqlite();
  registerSecret(a.mysql.password);
  // A value the .env cannot hold is known now: say so before any work.
  const envProblem = envValuesProblem(a);
  if (envProblem) {
    err(`dualdb setup: ${envProblem}; nothing was changed`);
    await session.close();
    return EXIT.CONFIG;
  }

  const adminPassword = env.DUALDB_ADMIN_PASSWORD;
  registerSecret(adminPassword);
  const input: SetupPlanInput = {
    localServer: flags.localServer ?? false,
    sqliteOnly: flags.sqliteOnly ?? false,
    ...(flags.adminUser !== undefined && adminPassword !== undefined
      ? {
          admin: {
            user: flags.adminUser.trim(),
            password: adminPassword,
            ...(flags.userHost ? { userHost: flags.userHost.trim() } : {}),
            grantProcess: flags.processGrant !== false,
            existingUser:
              flags.existingUser === 'keep' ? 'keep-password' : flags.existingUser === 'reset' ? 'reset-password' : 'fail',
          },
        }
      : {}),
    createDatabase: flags.createDatabase ?? false,
    schema: (flags.schema as SchemaChoice | undefined) ?? 'auto',
    // An interrupted copy of the same file to the same hub is resumed (the plan finds it); otherwise a fresh copy.
    migrate: flags.migrate ? { resume: false } : false,
  };
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const run = new SetupRun(session, input, { signal: controller.signal });
  run.on('event', (e) => {
    const line = eventLine(e);
    if (line) out(line);
  });
  try {
    const { config } = await run.run();
    out(`${glyph.ok} ${color.bold('setup done')}: ${config.envFile} (mode 0600)`);
    out(
      color.dim(
        `next: \`dualdb health\`, then \`dualdb sync --daemon\` (or \`dualdb\` for the monitor)${session.localServer ? `; after a reboot: \`${session.localServer.startCommand}\`` : ''}`,
      ),
    );
    return EXIT.OK;
  } catch (e) {
    const step = e instanceof SetupStepError ? `${STEP_TITLES[e.step]} failed: ` : '';
    const hint = isDualdbError(e) && e.hint ? color.dim(` — ${e.hint}`) : '';
    err(`dualdb setup: ${step}${messageOf(e)}${hint}`);
    const left = stillThere(session.leftBehind());
    if (left) err(`  no .env was written. ${left}`);
    return isDualdbError(e) ? e.exitCode : EXIT.FAILURE;
  } finally {
    process.off('SIGINT', onSigint);
    await session.close();
  }
}
