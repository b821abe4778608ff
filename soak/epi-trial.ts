/**
 * The operator trial (`npm run trial`): the real clients, as an operator runs them, under chaos.
 * A private MariaDB hub and N sites set up as a new operator would (the EPI application's
 * `create_all()`, `dualdb migrate` from the first site, `dualdb init` on every site), every id
 * left to the databases (SQLite INTEGER PRIMARY KEY, MySQL AUTO_INCREMENT): that is what makes
 * key collisions. Per site, the application (soak/epi_trial_writer.py: SQLAlchemy ORM sessions
 * per request) and a real `dualdb sync --watch` with SYNC_KEY_COLLISIONS set; on the hub, a
 * control room writing with the `mariadb` client. Every acknowledged write is journaled with its
 * payload (the row's unique `ref`), so a row is traced whatever key it ends up under. Under
 * `--mode manual` an operator loop runs `dualdb rekeys --json` and `dualdb rekeys resolve <id>
 * --rekey node|hub` beside the watchers. Chaos (seeded): the hub SIGKILLed, frozen (SIGSTOP),
 * stopped; sync processes SIGKILLed and restarted.
 *
 * At the end the writers stop, everything comes back, sync converges (bounded), and per payload:
 * every acknowledged insert exists exactly once on every side unless deleted (or its parent, ON
 * DELETE CASCADE); every acknowledged delete is gone everywhere; every child points at the parent
 * it was written for; the last acknowledged update wins or a conflict is recorded; every side
 * equals the hub (`compare`); no sync process printed the same error for more than 30 s.
 * Report: soak/results/trial-<mode>-<time>.json, the run's files in soak/results/trial-<mode>-<time>/
 * (SQLite files, journals, sync output, snapshot.json); exit 1 on any problem.
 *
 *   npm run trial -- [--sites 3] [--seconds 120] [--mode rekey-node|rekey-hub|manual] [--seed N]
 *                    [--chaos on|off] [--policy node-wins|hub-wins|newest-wins] [--converge 150]
 *                    [--late-site off|on]   (on: the last site joins a third of the way in: its \`init\` runs
 *                     against a hub that already has data while the others sync, then its watcher and
 *                     its application start; chaos leaves it alone until then)
 *                    [--app-transactions off|on]   (on: each request of the app one SQLite transaction;
 *                     off, as Flask-SQLAlchemy on pysqlite: reads outside it, a re-key may move a row
 *                     between a request's read and its write by id)
 *   npm run trial -- trace <payload> [--dir soak/results/trial-…]   (the evidence of one payload)
 *   npm run trial -- check [--dir soak/results/trial-…]             (the verdict of a finished run again)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareDatabases } from '../src/compare/compare.js';
import type { Config, MysqlConfig } from '../src/config/config.js';
import { KEY_COLLISION_MODES } from '../src/config/schema.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { cliArgs, cliEnv, envOf } from '../test/helpers/cli.js';
import { HUB_CRASHABLE, startTestHub } from '../test/helpers/hub.js';
import { mariadbClient } from '../test/helpers/mariadb-client.js';
import { nodeConfig } from '../test/helpers/node.js';
import { PYTHON, runPython } from '../test/helpers/python.js';
import { type ProcessResult, runProcess } from '../test/helpers/run-process.js';
import { rng, runChaos, sleep } from './common.js';
import {
  type Category,
  check,
  describeEvidence,
  evidenceOf,
  type JournalEntry,
  type RecordRow,
  type Row,
  type Snapshot,
  type Stall,
  TABLES,
} from './trial-check.js';

const SOAK_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(SOAK_DIR, '..');
const RESULTS_DIR = path.join(SOAK_DIR, 'results');
const WRITER = path.join(SOAK_DIR, 'epi_trial_writer.py');
/** The same error printed by one sync process, with no gap longer than this, is one episode. */
const STALL_GAP_MS = 15_000;
const STALL_MS = 30_000;

interface Site {
  name: string;
  config: Config;
  env: NodeJS.ProcessEnv;
  journal: string;
  output: string;
  sync: { child: ChildProcess; exited: Promise<number | null>; expected: boolean } | undefined;
  writer: ChildProcess | undefined;
  /** Unexpected exits of its sync process (not ours). */
  exits: string[];
  errors: Map<string, { first: number; last: number; times: number }>;
  stalls: Stall[];
}

/** A CLI run as a separate process (async: the trial's other loops go on meanwhile). */
async function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  const r = await runProcess(process.execPath, cliArgs(args), { env: cliEnv(env), cwd: ROOT, timeoutMs });
  return { code: r.code, out: r.out + r.err };
}

/** The error a sync output line reports, without what changes from one attempt to the next. */
function errorOf(line: string): string | undefined {
  // Error codes by case: the banner's "mode sqlite_primary" is no error (trial 5 on merged main
  // counted a restarted watcher's banner as a stall).
  if (!/fail|error|refused|stall/i.test(line) && !/\b(ER_|SQLITE_)[A-Z]/.test(line)) return undefined;
  return line
    .replace(/\d{4}-\d\d-\d\d[T ][\d:.]+Z?/g, '')
    .replace(/\d\d:\d\d:\d\d(\.\d+)?/g, '')
    .replace(/retry in [\d.]+ ?m?s/g, 'retry in …')
    .replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, '… s')
    .trim()
    .slice(0, 300);
}

function noteError(site: Site, line: string): void {
  const e = errorOf(line);
  if (!e) return;
  const now = Date.now();
  const ep = site.errors.get(e);
  if (ep && now - ep.last <= STALL_GAP_MS) {
    ep.last = now;
    ep.times++;
    return;
  }
  if (ep) closeEpisode(site, e, ep);
  site.errors.set(e, { first: now, last: now, times: 1 });
}

function closeEpisode(site: Site, line: string, ep: { first: number; last: number; times: number }): void {
  if (ep.last - ep.first > STALL_MS)
    site.stalls.push({
      site: site.name,
      line,
      firstAt: new Date(ep.first).toISOString(),
      lastAt: new Date(ep.last).toISOString(),
      seconds: (ep.last - ep.first) / 1000,
      times: ep.times,
    });
}

function startSync(site: Site): void {
  const child = spawn(process.execPath, cliArgs(['sync', '--watch']), {
    env: cliEnv(site.env),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { child, exited: Promise.resolve<number | null>(null), expected: false };
  let buffer = '';
  const onData = (d: Buffer) => {
    buffer += String(d);
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      appendFileSync(site.output, `${new Date().toISOString()} ${line}\n`);
      noteError(site, line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  state.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      if (!state.expected) {
        const what = `${new Date().toISOString()} sync --watch exited by itself: code ${code} signal ${signal}`;
        site.exits.push(what);
        appendFileSync(site.output, `${what}\n`);
      }
      resolve(code);
    }),
  );
  site.sync = state;
}

async function stopSync(site: Site, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const s = site.sync;
  if (!s) return;
  s.expected = true;
  s.child.kill(signal);
  await s.exited;
  site.sync = undefined;
}

/** The control room: workers with attendance, detections with alerts, updates and deletes, every id left to AUTO_INCREMENT. */
async function controlRoom(
  m: MysqlConfig,
  journalFile: string,
  random: () => number,
  running: () => boolean,
  count: (a: string) => void,
): Promise<void> {
  const log = (e: Omit<JournalEntry, 't' | 'side'>) =>
    appendFileSync(journalFile, `${JSON.stringify({ t: Date.now() / 1000, side: 'hub', ...e })}\n`);
  const ref = (kind: string) => `hub-${kind}-${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const rows = (r: ProcessResult) => r.out.split('\n').map((l) => l.split('\t'));
  // The row is picked, then named by its ref: under rekey-hub a sync process may move the hub's
  // row to another id between two statements, and an id read before would name another row.
  const pickWorker =
    'SELECT id, ref INTO @w, @r FROM workers WHERE id >= FLOOR(RAND() * (SELECT MAX(id) FROM workers)) ORDER BY id LIMIT 1;\n';
  for (let n = 1; running(); n++) {
    await sleep(250 + random() * 500);
    const roll = random();
    if (roll < 0.3) {
      const w = ref('w');
      const ats = [ref('at'), ...(random() < 0.5 ? [ref('at')] : [])];
      const r = await mariadbClient(
        m,
        `START TRANSACTION;
         INSERT INTO workers (ref, name, department, is_active, created_at, updated_at)
           VALUES ('${w}', 'Contrôle ${n} 🚧', 'new', 1, NOW(6), NOW(6));
         SET @w = LAST_INSERT_ID();
         ${ats.map((a) => `INSERT INTO attendance (ref, worker_id, date, compliance_score) VALUES ('${a}', @w, CURDATE(), 0.5); SELECT @w, LAST_INSERT_ID();`).join('\n')}
         COMMIT;`,
      );
      const out = rows(r);
      if (r.code === 0) {
        const wid = out[0]?.[0];
        log({ op: 'insert', table: 'workers', payload: w, key: wid, parent: null });
        ats.forEach((a, i) => {
          log({
            op: 'insert',
            table: 'attendance',
            payload: a,
            key: out[i]?.[1],
            parent: { col: 'worker_id', payload: w, key: wid },
          });
        });
        count('hub insert worker');
      } else {
        // The connection may have died after the COMMIT: either outcome is right.
        log({ op: 'insert', table: 'workers', payload: w, unsure: true, parent: null });
        for (const a of ats)
          log({ op: 'insert', table: 'attendance', payload: a, unsure: true, parent: { col: 'worker_id', payload: w } });
        count('hub write refused');
      }
    } else if (roll < 0.45) {
      const a = ref('at');
      const r = await mariadbClient(
        m,
        `${pickWorker}INSERT INTO attendance (ref, worker_id, date, compliance_score) SELECT '${a}', id, CURDATE(), 0.25 FROM workers WHERE ref = @r;
         SELECT ROW_COUNT(), LAST_INSERT_ID(), (SELECT worker_id FROM attendance WHERE ref = '${a}'), @r;`,
      );
      const [rc, id, wid, wref] = rows(r)[0] ?? [];
      if (r.code === 0 && rc === '1' && wref)
        log({ op: 'insert', table: 'attendance', payload: a, key: id, parent: { col: 'worker_id', payload: wref, key: wid } });
      else if (r.code !== 0) log({ op: 'insert', table: 'attendance', payload: a, unsure: true, parent: null });
      count(r.code === 0 ? 'hub insert attendance' : 'hub write refused');
    } else if (roll < 0.6) {
      const d = ref('d');
      const a = ref('a');
      const r = await mariadbClient(
        m,
        `START TRANSACTION;
         INSERT INTO detections (ref, timestamp, source, compliance_rate) VALUES ('${d}', NOW(6), 'control', 0.5);
         SET @d = LAST_INSERT_ID();
         INSERT INTO alerts (ref, timestamp, detection_id, message, severity, resolved) VALUES ('${a}', NOW(6), @d, 'contrôle', 'high', 0);
         SELECT @d, LAST_INSERT_ID();
         COMMIT;`,
      );
      const [did, aid] = rows(r)[0] ?? [];
      if (r.code === 0) {
        log({ op: 'insert', table: 'detections', payload: d, key: did, parent: null });
        log({ op: 'insert', table: 'alerts', payload: a, key: aid, parent: { col: 'detection_id', payload: d, key: did } });
      } else {
        log({ op: 'insert', table: 'detections', payload: d, unsure: true, parent: null });
        log({ op: 'insert', table: 'alerts', payload: a, unsure: true, parent: { col: 'detection_id', payload: d } });
      }
      count(r.code === 0 ? 'hub insert detection' : 'hub write refused');
    } else if (roll < 0.85) {
      const v = `hub-${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const r = await mariadbClient(
        m,
        `${pickWorker}UPDATE workers SET department = '${v}' WHERE ref = @r; SELECT ROW_COUNT(), @w, @r;`,
      );
      const [rc, wid, wref] = rows(r)[0] ?? [];
      if (r.code === 0 && rc === '1' && wref)
        log({ op: 'update', table: 'workers', payload: wref, key: wid, value: { department: v } });
      count(r.code === 0 ? 'hub update' : 'hub write refused');
    } else {
      const r = await mariadbClient(m, `${pickWorker}DELETE FROM workers WHERE ref = @r; SELECT ROW_COUNT(), @w, @r;`);
      const [rc, wid, wref] = rows(r)[0] ?? [];
      if (r.code === 0 && rc === '1' && wref) log({ op: 'delete', table: 'workers', payload: wref, key: wid });
      count(r.code === 0 ? 'hub delete' : 'hub write refused');
    }
  }
}

/**
 * The operators of `--mode manual`, one per site at once (each beside its site's watcher): while the
 * writers run, each lists its site's held collisions and resolves them, node or hub at random, one
 * by one; once they stop (`finishing`), resolves every held one with `--all` (the side at random),
 * as an operator clearing the backlog.
 */
function operators(
  sites: Site[],
  logFile: string,
  random: () => number,
  running: () => boolean,
  finishing: () => boolean,
  count: (a: string) => void,
): Promise<void> {
  return Promise.all(sites.map((s) => operator([s], logFile, random, running, finishing, count))).then(() => {});
}

async function operator(
  sites: Site[],
  logFile: string,
  random: () => number,
  running: () => boolean,
  finishing: () => boolean,
  count: (a: string) => void,
): Promise<void> {
  const note = (entry: Record<string, unknown>) =>
    appendFileSync(logFile, `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
  let turn = 0;
  while (running()) {
    await sleep(finishing() ? 500 : 1000 + random() * 2000);
    const site = sites[turn++ % sites.length] as Site;
    const side = random() < 0.5 ? 'node' : 'hub';
    if (finishing()) {
      const r = await cli(['rekeys', 'resolve', '--all', '--rekey', side], site.env, 120_000);
      count(`resolve --all --rekey ${side}${r.code === 0 ? '' : ` (exit ${r.code})`}`);
      note({ site: site.name, all: true, side, code: r.code, out: r.out.trim().slice(-600) });
      continue;
    }
    const list = await cli(['rekeys', '--json', '--held', '--limit', '8'], site.env, 60_000);
    let held: { id: number; tbl: string; oldKey: string }[] = [];
    try {
      held = JSON.parse(list.out.slice(list.out.indexOf('['), list.out.lastIndexOf(']') + 1));
    } catch {
      note({ site: site.name, list: list.out.slice(-400) });
      continue;
    }
    for (const h of held) {
      if (!running() || finishing()) break;
      const one = random() < 0.5 ? 'node' : 'hub';
      const r = await cli(['rekeys', 'resolve', String(h.id), '--rekey', one], site.env, 60_000);
      count(`resolve --rekey ${one}${r.code === 0 ? '' : ` (exit ${r.code})`}`);
      note({ site: site.name, id: h.id, tbl: h.tbl, key: h.oldKey, side: one, code: r.code, out: r.out.trim().slice(-600) });
    }
  }
}

function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as JournalEntry);
}

const rowSql = (table: string, cast: 'CHAR' | 'TEXT') => {
  const t = TABLES[table] ?? {};
  return `SELECT CAST(id AS ${cast}) AS id, ref, ${t.fk ? `CAST(${t.fk.col} AS ${cast})` : 'NULL'} AS fk, ${t.val ?? 'NULL'} AS val FROM ${table}`;
};

async function snapshot(hub: MysqlHub, sites: Site[], journal: JournalEntry[], meta: Record<string, unknown>): Promise<Snapshot> {
  const sides: Snapshot['sides'] = { hub: {} };
  const hubSide = sides.hub as Record<string, Row[]>;
  for (const t of Object.keys(TABLES)) hubSide[t] = await hub.query<Row>(rowSql(t, 'CHAR'));
  const hubChanges = (
    await hub.query<Snapshot['hubChanges'][number]>(
      'SELECT CAST(seq AS CHAR) AS seq, tbl, pk, op, origin, at FROM _dualdb_changes ORDER BY _dualdb_changes.seq',
    )
  ).map((c) => ({ ...c, at: Number(c.at) }));
  const conflicts: Snapshot['conflicts'] = {};
  const rekeys: Snapshot['rekeys'] = {};
  const parked: Record<string, number> = {};
  for (const s of sites) {
    const db = openSqlite(s.config.sqlitePath, { readonly: true, safeIntegers: false });
    try {
      const side: Record<string, Row[]> = {};
      for (const t of Object.keys(TABLES)) side[t] = db.prepare(rowSql(t, 'TEXT')).all() as Row[];
      sides[s.name] = side;
      conflicts[s.name] = db.prepare('SELECT * FROM _dualdb_conflicts ORDER BY id').all() as RecordRow[];
      parked[s.name] = Number(db.prepare('SELECT count(*) FROM _dualdb_parked').pluck().get());
      rekeys[s.name] = db.prepare('SELECT * FROM _dualdb_rekeys ORDER BY id').all() as RecordRow[];
    } finally {
      db.close();
    }
  }
  return {
    meta: { ...meta, parkedAtEnd: parked },
    journal,
    sides,
    conflicts,
    rekeys,
    hubChanges,
    stalls: sites.flatMap((s) => s.stalls),
    differences: [],
  };
}

function summaryLines(
  meta: Record<string, unknown>,
  counts: Record<string, number>,
  problems: ReturnType<typeof check>['problems'],
): string[] {
  const lines = [
    `trial ${meta.mode}: ${meta.sites} sites, ${meta.seconds} s, seed ${meta.seed}, chaos ${meta.chaos}, policy ${meta.policy}, app transactions ${meta.appTransactions ?? 'off'}${meta.lateSite ? `, late site ${meta.lateSite}` : ''}`,
    `actions: ${Object.entries(meta.actions as Record<string, number>)
      .map(([a, n]) => `${a} ×${n}`)
      .join(', ')}`,
    `converged: ${meta.converged ? `yes, in ${meta.convergeSeconds} s` : `NO after ${meta.convergeSeconds} s (rows "lost" may still be held or parked)`}`,
    `parked at the end: ${JSON.stringify(meta.parkedAtEnd)}; sync processes that exited by themselves: ${(meta.unexpectedSyncExits as string[]).length}`,
  ];
  for (const [k, v] of Object.entries(counts)) lines.push(`${k.padEnd(40)} ${v}`);
  const byCategory = new Map<Category, number>();
  for (const p of problems) byCategory.set(p.category, (byCategory.get(p.category) ?? 0) + 1);
  lines.push(problems.length ? `FAILED: ${problems.length} problem(s)` : 'every check holds');
  for (const p of problems.slice(0, 60)) {
    lines.push(`  ✘ ${p.category}: ${p.table} ${p.payload} — ${p.detail}${p.hint ? ` [${p.hint}]` : ''}`);
    if (p.evidence) for (const l of describeEvidence(p.payload, p.table, p.evidence).slice(1, 30)) lines.push(`    ${l}`);
  }
  if (problems.length > 60) lines.push(`  … ${problems.length - 60} more in the JSON report`);
  return lines;
}

async function trial(values: Record<string, string | boolean | undefined>): Promise<number> {
  const siteCount = Number(values.sites);
  const seconds = Number(values.seconds);
  const seed = Number(values.seed);
  const convergeLimit = Number(values.converge);
  const mode = String(values.mode);
  const chaosOn = values.chaos !== 'off';
  for (const [flag, v, min] of [
    ['--sites', siteCount, 1],
    ['--seconds', seconds, 5],
    ['--seed', seed, 0],
    ['--converge', convergeLimit, 10],
  ] as const)
    if (!Number.isInteger(v) || v < min) {
      process.stderr.write(`${flag} must be a whole number ≥ ${min}\n`);
      return 2;
    }
  if (!(KEY_COLLISION_MODES as readonly string[]).includes(mode)) {
    process.stderr.write(`--mode must be one of ${KEY_COLLISION_MODES.join(', ')}\n`);
    return 2;
  }
  if (values['app-transactions'] !== 'on' && values['app-transactions'] !== 'off') {
    process.stderr.write('--app-transactions must be on or off\n');
    return 2;
  }
  if (values['late-site'] !== 'on' && values['late-site'] !== 'off') {
    process.stderr.write('--late-site must be on or off\n');
    return 2;
  }
  const lateSite = values['late-site'] === 'on';
  if (lateSite && siteCount < 2) {
    process.stderr.write('--late-site needs --sites 2 or more\n');
    return 2;
  }
  if (values.chaos !== 'on' && values.chaos !== 'off') {
    process.stderr.write('--chaos must be on or off\n');
    return 2;
  }
  if (!HUB_CRASHABLE || !PYTHON) {
    process.stderr.write(
      `the trial needs ${!HUB_CRASHABLE ? 'its own MariaDB (apt install mariadb-server; MYSQL_URL cannot be used: the trial kills its hub)' : 'Python with SQLAlchemy: python3 -m venv .venv-test && .venv-test/bin/python -m pip install SQLAlchemy'}\n`,
    );
    return 2;
  }
  const started = new Date();
  const name = `trial-${mode}-${started.toISOString().replace(/[:.]/g, '-')}`;
  const runDir = path.join(RESULTS_DIR, name);
  mkdirSync(runDir, { recursive: true });
  const t0 = Date.now();
  const say = (msg: string) => {
    const line = `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`;
    process.stdout.write(`${line}\n`);
    appendFileSync(path.join(runDir, 'trial.log'), `${line}\n`);
  };
  const actions: Record<string, number> = {};
  const count = (a: string) => {
    actions[a] = (actions[a] ?? 0) + 1;
  };
  const chaosRandom = rng(seed);
  const random = rng(seed ^ 0x5eed);
  const policy = typeof values.policy === 'string' ? values.policy : undefined;
  say(`trial ${mode}: ${siteCount} sites, ${seconds} s, seed ${seed}, chaos ${chaosOn ? 'on' : 'off'}; files in ${runDir}`);

  const testHub = await startTestHub();
  const server = testHub.server;
  if (!server) throw new Error('no private server');
  const sites: Site[] = [];
  let control: MysqlHub | undefined;
  try {
    const mysql = await testHub.freshDatabase('trial');
    for (let i = 1; i <= siteCount; i++) {
      const siteName = `site${i}`;
      const config = nodeConfig(runDir, siteName, mysql, {
        SYNC_INTERVAL: '0.5',
        DB_CONNECT_TIMEOUT: '2',
        SYNC_KEY_COLLISIONS: mode,
        ...(policy ? { CONFLICT_POLICY: policy } : {}),
      });
      sites.push({
        name: siteName,
        config,
        env: envOf(config, { SYNC_KEY_COLLISIONS: mode }),
        journal: path.join(runDir, `${siteName}.journal.jsonl`),
        output: path.join(runDir, `${siteName}.sync.out`),
        sync: undefined,
        writer: undefined,
        exits: [],
        errors: new Map(),
        stalls: [],
      });
    }
    // As a new operator: the application creates its tables; `migrate` makes the hub's from the
    // first site (empty); `init` installs capture on every site.
    for (const s of sites) await runPython('epi_writer.py', ['create', '--db', s.config.sqlitePath]);
    const first = sites[0] as Site;
    const migrated = await cli(['migrate', '--json'], first.env);
    if (migrated.code !== 0) throw new Error(`dualdb migrate failed (${migrated.code}): ${migrated.out.slice(-800)}`);
    const late = lateSite ? sites[sites.length - 1] : undefined;
    let joined = !late;
    for (const s of sites) {
      if (s === late) continue;
      const r = await cli(['init'], s.env);
      if (r.code !== 0) throw new Error(`dualdb init on ${s.name} failed (${r.code}): ${r.out.slice(-800)}`);
    }
    control = await MysqlHub.connect({ ...mysql, connectTimeoutMs: 2000 });
    say('hub and sites ready');

    for (const s of sites) if (s !== late) startSync(s);
    let writing = true;
    const startWriter = (s: Site, i: number): Promise<string> => {
      const child = spawn(
        PYTHON as string,
        [
          WRITER,
          ...['--db', s.config.sqlitePath, '--journal', s.journal, '--side', s.name, '--seed', String(seed * 10 + i)],
          ...(values['app-transactions'] === 'on' ? ['--begin-on-read'] : []),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1' },
        },
      );
      s.writer = child;
      let out = '';
      child.stdout.on('data', (d) => {
        out += String(d);
      });
      child.stderr.on('data', (d) => appendFileSync(path.join(runDir, `${s.name}.writer.err`), String(d)));
      return new Promise((resolve) => child.once('exit', (code) => resolve(`${s.name}: exit ${code} ${out}`)));
    };
    const writerDone: Promise<string>[] = sites.filter((s) => s !== late).map((s) => startWriter(s, sites.indexOf(s)));
    // The late site: `init` a third of the way in, against a hub that has data and nodes syncing
    // (retried while chaos has the hub down), then its watcher and its application.
    const joining = late
      ? (async () => {
          await sleep((seconds * 1000) / 3);
          for (let attempt = 1; ; attempt++) {
            const r = await cli(['init'], late.env);
            say(`late site ${late.name}: init exit ${r.code}${r.code === 0 ? '' : ` ${r.out.trim().split('\n').slice(-1)[0]}`}`);
            if (r.code === 0) break;
            if (attempt >= 30) throw new Error(`dualdb init on the late site ${late.name} failed ${attempt} times`);
            await sleep(2000);
          }
          joined = true;
          count('late site joined');
          startSync(late);
          writerDone.push(startWriter(late, sites.length - 1));
        })()
      : Promise.resolve();
    const hubJournal = path.join(runDir, 'hub.journal.jsonl');
    const controlLoop = controlRoom(mysql, hubJournal, random, () => writing, count);
    let operating = mode === 'manual';
    const operatorLoop = operating
      ? operators(
          sites,
          path.join(runDir, 'operator.jsonl'),
          random,
          () => operating,
          () => !writing,
          count,
        )
      : Promise.resolve();

    // The late site stays in the list before it joins (the seed's chaos is the same), left alone.
    const chaosSites = sites.map((s) => ({
      name: s.name,
      startSync: () => {
        if (s !== late || joined) startSync(s);
      },
      stopSync: (signal: 'SIGKILL' | 'SIGTERM') => stopSync(s, signal),
    }));
    if (chaosOn) await runChaos({ server, sites: chaosSites, seconds, random: chaosRandom, say, count, cleanStops: false });
    else await sleep(seconds * 1000);
    say('chaos over; writers go on for 5 s with everything up');
    await sleep(5000);
    await joining;
    writing = false;
    for (const s of sites) s.writer?.kill('SIGTERM');
    const writerResults = await Promise.all(writerDone);
    await controlLoop;
    for (const r of writerResults) say(`writer ${r}`);
    for (const s of sites) if (!s.sync || s.sync.child.exitCode !== null) startSync(s);
    say('writers stopped; waiting for every site to equal the hub');

    const convergeStart = Date.now();
    let differences: string[] = [];
    for (;;) {
      differences = [];
      for (const s of sites) {
        if (!s.sync || s.sync.child.exitCode !== null) startSync(s);
        try {
          const report = await compareDatabases({ sqlitePath: s.config.sqlitePath, hub: control }, { maxDifferences: 5 });
          for (const t of report.tables)
            if (t.status !== 'match')
              differences.push(
                `${s.name} ${t.table}: ${t.status} (sqlite ${t.rows.sqlite}, hub ${t.rows.mysql}) ${t.differences.map((d) => `${d.kind} ${d.key}`).join(', ')}`,
              );
        } catch (e) {
          differences.push(`${s.name}: compare failed: ${(e as Error).message}`);
        }
      }
      if (differences.length === 0 || Date.now() - convergeStart > convergeLimit * 1000) break;
      await sleep(2000);
    }
    const convergeSeconds = Number(((Date.now() - convergeStart) / 1000).toFixed(1));
    say(differences.length ? `NOT converged after ${convergeSeconds} s` : `converged in ${convergeSeconds} s`);
    operating = false;
    await operatorLoop;
    for (const s of sites) await stopSync(s, 'SIGTERM');
    for (const s of sites) for (const [line, ep] of s.errors) closeEpisode(s, line, ep);

    const journal = [...sites.flatMap((s) => readJournal(s.journal)), ...readJournal(hubJournal)].sort((a, b) => a.t - b.t);
    const meta: Record<string, unknown> = {
      when: started.toISOString(),
      mode,
      sites: siteCount,
      seconds,
      seed,
      chaos: chaosOn ? 'on' : 'off',
      appTransactions: values['app-transactions'],
      lateSite: late?.name,
      policy: policy ?? 'default (node-wins)',
      actions,
      converged: differences.length === 0,
      convergeSeconds,
      writers: writerResults,
      unexpectedSyncExits: sites.flatMap((s) => s.exits),
      runDir: path.relative(ROOT, runDir),
    };
    const snap = await snapshot(control, sites, journal, meta);
    snap.differences = differences;
    writeFileSync(path.join(runDir, 'snapshot.json'), JSON.stringify(snap));
    const { counts, problems } = check(snap);
    const report = { ...snap.meta, counts, problems };
    const file = path.join(RESULTS_DIR, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    const lines = summaryLines(snap.meta, counts, problems);
    writeFileSync(path.join(runDir, 'summary.txt'), `${lines.join('\n')}\n`);
    for (const l of lines) process.stdout.write(`${l}\n`);
    process.stdout.write(`report: ${path.relative(process.cwd(), file)}\nfiles: ${path.relative(process.cwd(), runDir)}\n`);
    return problems.length ? 1 : 0;
  } finally {
    for (const s of sites) {
      s.writer?.kill('SIGTERM');
      await stopSync(s, 'SIGTERM');
    }
    await control?.close();
    await testHub.close();
  }
}

/** The newest finished run's folder in soak/results/. */
function latestRun(): string | undefined {
  if (!existsSync(RESULTS_DIR)) return undefined;
  return readdirSync(RESULTS_DIR)
    .filter((d) => d.startsWith('trial-') && existsSync(path.join(RESULTS_DIR, d, 'snapshot.json')))
    .map((d) => path.join(RESULTS_DIR, d))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** `trace <payload>`: the evidence of one payload from a finished run's snapshot. */
function trace(payload: string, dir: string | undefined): number {
  const runDir = dir ?? latestRun();
  const file = runDir && path.join(runDir, 'snapshot.json');
  if (!file || !existsSync(file)) {
    process.stderr.write('no finished trial run found: give --dir soak/results/trial-…\n');
    return 2;
  }
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const tables = new Set(snap.journal.filter((e) => e.payload === payload).map((e) => e.table));
  for (const side of Object.values(snap.sides))
    for (const [t, rows] of Object.entries(side)) if (rows.some((r) => r.ref === payload)) tables.add(t);
  if (tables.size === 0) {
    process.stderr.write(`${payload} is in no journal and on no side of ${runDir}\n`);
    return 1;
  }
  for (const t of tables)
    for (const l of describeEvidence(payload, t, evidenceOf(snap, t, payload, 500))) process.stdout.write(`${l}\n`);
  return 0;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      sites: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '120' },
      mode: { type: 'string', default: 'rekey-node' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      chaos: { type: 'string', default: 'on' },
      policy: { type: 'string' },
      converge: { type: 'string', default: '150' },
      'app-transactions': { type: 'string', default: 'off' },
      'late-site': { type: 'string', default: 'off' },
      dir: { type: 'string' },
    },
  });
  if (positionals[0] === 'trace') {
    if (!positionals[1]) {
      process.stderr.write('usage: npm run trial -- trace <payload> [--dir soak/results/trial-…]\n');
      return 2;
    }
    return trace(positionals[1], values.dir);
  }
  if (positionals[0] === 'check') {
    const dir = values.dir ?? latestRun();
    if (!dir) {
      process.stderr.write('no finished trial run found: give --dir soak/results/trial-…\n');
      return 2;
    }
    const snap = JSON.parse(readFileSync(path.join(dir, 'snapshot.json'), 'utf8')) as Snapshot;
    const { counts, problems } = check(snap);
    for (const l of summaryLines(snap.meta, counts, problems)) process.stdout.write(`${l}\n`);
    return problems.length ? 1 : 0;
  }
  if (positionals.length) {
    process.stderr.write(`unknown argument ${positionals[0]}: the sub-commands are trace <payload> and check\n`);
    return 2;
  }
  return trial(values);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`trial failed to run: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
