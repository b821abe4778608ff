/**
 * The long chaos run (`npm run soak`), too long for `npm test`: several sites, each with a
 * real `dualdb sync --watch` process and an application writing through the `sqlite3` shell
 * (as the Python app does), a control room writing on the hub, and a chaos loop that SIGKILLs
 * the hub, freezes it (SIGSTOP, as a stalled network would), stops it cleanly, and kills or
 * restarts the sync processes, at random moments drawn from a seed.
 *
 * When the chaos stops, everything is brought back and must converge, then three checks:
 *   - every node is identical to the hub, row by row (`compare`);
 *   - no acknowledged insert is missing anywhere, and no row exists that nobody wrote;
 *   - each writer's own tally row holds exactly the number of increments it was told
 *     committed (a lost or stale-echoed update shows up as a smaller number).
 * Exit 0 when all hold, 1 otherwise; a JSON report goes to soak/results/.
 *
 *   npm run soak -- [--nodes 3] [--seconds 90] [--seed 42] [--rate 20]
 *                   [--mode sqlite_primary|mysql_primary|both] [--policy hub-wins|node-wins|newest-wins]
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareDatabases } from '../src/compare/compare.js';
import type { Config } from '../src/config/config.js';
import { SYNC_MODES } from '../src/config/schema.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { envOf, type RunningCli, spawnCli } from '../test/helpers/cli.js';
import { HUB_CRASHABLE, startTestHub } from '../test/helpers/hub.js';
import { createSqlite, nodeConfig } from '../test/helpers/node.js';
import { tempDir } from '../test/helpers/tmp.js';
import { rng, runChaos, sleep } from './common.js';

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

const SQLITE_DDL = [
  `CREATE TABLE events (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, body TEXT, amount REAL, touched_by TEXT,
     at DATETIME)`,
  'CREATE TABLE tallies (owner TEXT PRIMARY KEY, n INTEGER NOT NULL)',
];
const MYSQL_DDL = [
  `CREATE TABLE events (id BIGINT PRIMARY KEY, origin VARCHAR(20) NOT NULL, body TEXT NULL, amount DOUBLE NULL,
     touched_by VARCHAR(20) NULL, at DATETIME(6) NULL)`,
  'CREATE TABLE tallies (owner VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, n BIGINT NOT NULL)',
];

/** Ids of each writer live in their own range, beyond 2^53 so they must travel exactly. */
const ID_BASE = 2n ** 60n;
const ID_STRIDE = 10n ** 12n;

const stamp = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

interface Ledger {
  /** Inserts the writer was told committed. */
  inserted: Set<string>;
  /** Deletes the writer was told committed (its own rows only). */
  deleted: Set<string>;
  /** Inserts whose outcome is unknown (the connection died around the commit). */
  unsure: Set<string>;
  /** The writer's tally as last acknowledged, and increments with an unknown outcome. */
  tally: number;
  tallyUnsure: number;
}

const newLedger = (): Ledger => ({ inserted: new Set(), deleted: new Set(), unsure: new Set(), tally: 0, tallyUnsure: 0 });

interface Site {
  name: string;
  index: number;
  config: Config;
  sync: RunningCli | undefined;
  ledger: Ledger;
  seq: bigint;
}

/**
 * The application of one site: a `sqlite3` shell fed statements over time, replaced by a new
 * one every 40 statements (the Python app opens and closes connections too, and a closing
 * connection is the one that checkpoints and may delete the WAL). A statement counts as
 * committed only when its RETURNING row comes back: in autocommit the row is printed once
 * the change is made, and a WAL commit cannot fail on a lock after that.
 */
class ShellWriter {
  private shell!: ChildProcessWithoutNullStreams;
  private buffer = '';
  private current: { lines: string[]; resolve: (lines: string[]) => void } | undefined;
  private statements = 0;
  errors = 0;

  constructor(private readonly file: string) {
    this.open();
  }

  private open(): void {
    const shell = spawn('sqlite3', ['-batch', '-noheader', '-list', this.file], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.shell = shell;
    this.buffer = '';
    shell.stdin.write('.timeout 20000\n');
    shell.stdout.setEncoding('utf8');
    shell.stdout.on('data', (d: string) => {
      this.buffer += d;
      for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        const c = this.current;
        if (!c) continue;
        if (line === '--end--') {
          this.current = undefined;
          c.resolve(c.lines);
        } else c.lines.push(line);
      }
    });
    shell.stderr.on('data', () => {
      this.errors++;
    });
  }

  /** Runs one statement (ending in RETURNING) and gives the rows it returned. Calls must not overlap. */
  async run(sql: string): Promise<string[]> {
    if (++this.statements % 40 === 0) {
      await this.close();
      this.open();
    }
    return new Promise((resolve) => {
      this.current = { lines: [], resolve };
      this.shell.stdin.write(`${sql}\nSELECT '--end--';\n`);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.shell.once('exit', r));
    this.shell.stdin.end('.quit\n');
    await exited;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '90' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      rate: { type: 'string', default: '20' },
      mode: { type: 'string' },
      policy: { type: 'string' },
    },
  });
  const nodeCount = Number(values.nodes);
  const seconds = Number(values.seconds);
  const seed = Number(values.seed);
  const rate = Number(values.rate);
  for (const [flag, v, min] of [
    ['--nodes', nodeCount, 1],
    ['--seconds', seconds, 5],
    ['--seed', seed, 0],
    ['--rate', rate, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) {
      process.stderr.write(`${flag} must be a whole number ≥ ${min}\n`);
      return 2;
    }
  }
  if (values.mode && !(SYNC_MODES as readonly string[]).includes(values.mode)) {
    process.stderr.write(`--mode must be one of ${SYNC_MODES.join(', ')}\n`);
    return 2;
  }
  // `manual` holds conflicting rows until someone decides: a run without a person never converges.
  const policies = ['hub-wins', 'node-wins', 'newest-wins'];
  if (values.policy && !policies.includes(values.policy)) {
    process.stderr.write(`--policy must be one of ${policies.join(', ')}\n`);
    return 2;
  }
  if (!HUB_CRASHABLE) {
    process.stderr.write('the soak needs its own MariaDB to kill (install mariadb-server; MYSQL_URL is not enough)\n');
    return 2;
  }
  // Two streams: the chaos schedule depends on the seed alone; the writers' choices also on timing.
  const chaosRandom = rng(seed);
  const random = rng(seed ^ 0x5eed);
  const say = (msg: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
  const t0 = Date.now();
  say(
    `soak: ${nodeCount} nodes, ${seconds} s of chaos, ${rate} writes/s per site, seed ${seed}` +
      `${values.mode ? `, SYNC_MODE=${values.mode}` : ''}${values.policy ? `, CONFLICT_POLICY=${values.policy}` : ''}`,
  );

  const tmp = tempDir('dualdb-soak-');
  const testHub = await startTestHub();
  const server = testHub.server;
  if (!server) throw new Error('no private server');
  const mysql = await testHub.freshDatabase('soak');
  const control = await MysqlHub.connect({ ...mysql, connectTimeoutMs: 2000 });
  for (const ddl of MYSQL_DDL) await control.execute(ddl);

  const sites: Site[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const name = `site${i + 1}`;
    const config = nodeConfig(path.join(tmp.dir, name), name, mysql, {
      SYNC_INTERVAL: '0.5',
      DB_CONNECT_TIMEOUT: '2',
      LOG_LEVEL: 'warn',
      ...(values.mode ? { SYNC_MODE: values.mode } : {}),
      ...(values.policy ? { CONFLICT_POLICY: values.policy } : {}),
    });
    createSqlite(config, SQLITE_DDL).close();
    await initNode(config);
    sites.push({ name, index: i + 1, config, sync: undefined, ledger: newLedger(), seq: 0n });
  }
  const hubLedger = newLedger();
  await control.execute("INSERT INTO tallies (owner, n) VALUES ('hub', 0)");
  const writers = new Map<string, ShellWriter>();
  for (const s of sites) {
    const w = new ShellWriter(s.config.sqlitePath);
    writers.set(s.name, w);
    await w.run(`INSERT INTO tallies (owner, n) VALUES ('${s.name}', 0) RETURNING owner;`);
  }

  const startSync = (s: Site) => {
    s.sync = spawnCli(['sync', '--watch'], envOf(s.config));
  };
  for (const s of sites) startSync(s);

  const actions: Record<string, number> = {};
  const count = (a: string) => {
    actions[a] = (actions[a] ?? 0) + 1;
  };
  let writing = true;

  // The applications: inserts of their own rows, updates of any row (conflicts with other
  // sites and the hub), deletes of their own rows, and increments of their own tally.
  const allIds: string[] = [];
  const pickId = () => allIds[Math.floor(random() * allIds.length)];
  const siteLoops = sites.map(async (s) => {
    const w = writers.get(s.name) as ShellWriter;
    const start = ID_BASE + BigInt(s.index) * ID_STRIDE;
    for (let k = 0; writing; k++) {
      await sleep(1000 / rate);
      const roll = random();
      if (roll < 0.5 || allIds.length < 10) {
        const id = String(start + ++s.seq);
        const out = await w.run(
          `INSERT INTO events (id, origin, body, amount, at) VALUES (${id}, '${s.name}', 'café 🦺 #${k}', ${(random() * 1000).toFixed(3)}, '${stamp()}') RETURNING id;`,
        );
        if (out[0] === id) {
          s.ledger.inserted.add(id);
          allIds.push(id);
        }
      } else if (roll < 0.75) {
        const id = pickId();
        await w.run(`UPDATE events SET amount = amount + 1, touched_by = '${s.name}' WHERE id = ${id} RETURNING id;`);
      } else if (roll < 0.85) {
        const own = [...s.ledger.inserted].filter((x) => !s.ledger.deleted.has(x));
        const id = own[Math.floor(random() * own.length)];
        if (!id) continue;
        const out = await w.run(`DELETE FROM events WHERE id = ${id} RETURNING id;`);
        if (out[0] === id) s.ledger.deleted.add(id);
      } else {
        const out = await w.run(`UPDATE tallies SET n = n + 1 WHERE owner = '${s.name}' RETURNING n;`);
        if (out[0] !== undefined) s.ledger.tally = Number(out[0]);
      }
    }
  });

  // The control room on the hub: the same mix, with retries while the hub is away. A failed
  // insert or increment may still have committed (the connection died after the commit), so
  // it is booked as unsure: the checks accept either outcome for it.
  const hubLoop = (async () => {
    const start = ID_BASE;
    let seq = 0n;
    for (let k = 0; writing; k++) {
      await sleep(2000 / rate);
      const roll = random();
      try {
        if (roll < 0.5 || allIds.length < 10) {
          const id = String(start + ++seq);
          try {
            await control.execute('INSERT INTO events (id, origin, body, amount, at) VALUES (?, ?, ?, ?, ?)', [
              id,
              'hub',
              `control room #${k}`,
              random() * 1000,
              stamp(),
            ]);
            hubLedger.inserted.add(id);
            allIds.push(id);
          } catch (e) {
            // It may have committed before the connection died: either outcome is then right.
            hubLedger.unsure.add(id);
            throw e;
          }
        } else if (roll < 0.8) {
          await control.execute('UPDATE events SET amount = amount - 1, touched_by = ? WHERE id = ?', ['hub', pickId()]);
        } else if (roll < 0.88) {
          const own = [...hubLedger.inserted].filter((x) => !hubLedger.deleted.has(x));
          const id = own[Math.floor(random() * own.length)];
          if (id) {
            await control.execute('DELETE FROM events WHERE id = ?', [id]);
            hubLedger.deleted.add(id);
          }
        } else {
          try {
            await control.execute("UPDATE tallies SET n = n + 1 WHERE owner = 'hub'");
            hubLedger.tally++;
          } catch (e) {
            hubLedger.tallyUnsure++;
            throw e;
          }
        }
      } catch {
        count('hub write refused');
        await sleep(250);
      }
    }
  })();

  // The chaos loop.
  const chaosLoop = runChaos({
    server,
    seconds,
    random: chaosRandom,
    say,
    count,
    sites: sites.map((site) => ({
      name: site.name,
      startSync: () => startSync(site),
      async stopSync(signal) {
        site.sync?.child.kill(signal);
        await site.sync?.exited;
      },
    })),
  });

  await chaosLoop;
  say('chaos over; writers go on for 5 s with everything up');
  await sleep(5000);
  writing = false;
  await Promise.all([...siteLoops, hubLoop]);
  for (const w of writers.values()) await w.close();
  const shellErrors = [...writers.values()].reduce((n, w) => n + w.errors, 0);
  say('writers stopped; waiting for every node to equal the hub');

  const convergeStart = Date.now();
  let differences: string[] = [];
  for (;;) {
    differences = [];
    for (const s of sites) {
      const report = await compareDatabases({ sqlitePath: s.config.sqlitePath, hub: control }, { maxDifferences: 5 });
      for (const t of report.tables) {
        if (t.status !== 'match') {
          differences.push(
            `${s.name} ${t.table}: ${t.status} (sqlite ${t.rows.sqlite}, hub ${t.rows.mysql}) ${t.differences.map((d) => `${d.kind} ${d.key}`).join(', ')}`,
          );
        }
      }
    }
    if (differences.length === 0 || Date.now() - convergeStart > 180_000) break;
    await sleep(1000);
  }
  const convergeSeconds = (Date.now() - convergeStart) / 1000;
  say(differences.length ? `NOT converged after ${convergeSeconds} s` : `converged in ${convergeSeconds.toFixed(1)} s`);

  // The ledger checks, on the hub (every node equals it when converged).
  const problems: string[] = [...differences];
  const hubIds = new Set(
    (await control.query<{ id: string }>('SELECT CAST(id AS CHAR) AS id FROM events')).map((r) => String(r.id)),
  );
  const ledgers = [...sites.map((s) => [s.name, s.ledger] as const), ['hub', hubLedger] as const];
  const knownIds = new Set<string>();
  let acknowledged = 0;
  for (const [name, l] of ledgers) {
    for (const id of l.inserted) knownIds.add(id);
    for (const id of l.unsure) knownIds.add(id);
    acknowledged += l.inserted.size;
    // Rows deleted by their owner may come back only through a conflict (another writer's
    // update winning); rows never deleted must all be there.
    const missing = [...l.inserted].filter((id) => !l.deleted.has(id) && !hubIds.has(id));
    if (missing.length) problems.push(`${name}: ${missing.length} acknowledged inserts missing, e.g. ${missing.slice(0, 3)}`);
  }
  const strangers = [...hubIds].filter((id) => !knownIds.has(id));
  if (strangers.length) problems.push(`${strangers.length} rows nobody wrote, e.g. ${strangers.slice(0, 3)}`);
  const tallies = new Map(
    (await control.query<{ owner: string; n: string | number }>('SELECT owner, n FROM tallies')).map((r) => [
      r.owner,
      Number(r.n),
    ]),
  );
  for (const [name, l] of ledgers) {
    const got = tallies.get(name);
    const ok = got !== undefined && got >= l.tally && got <= l.tally + l.tallyUnsure;
    if (!ok) problems.push(`${name}: tally ${got} on the hub, ${l.tally} acknowledged (+${l.tallyUnsure} unsure)`);
  }
  let conflicts = 0;
  let parked = 0;
  for (const s of sites) {
    const db = openSqlite(s.config.sqlitePath, { readonly: true, safeIntegers: false });
    parked += Number(db.prepare('SELECT count(*) FROM _dualdb_parked').pluck().get());
    conflicts += Number(db.prepare('SELECT count(*) FROM _dualdb_conflicts').pluck().get());
    db.close();
  }

  for (const s of sites) {
    s.sync?.child.kill('SIGTERM');
    await s.sync?.exited;
  }
  await control.close();
  await testHub.close();
  tmp.cleanup();

  const report = {
    when: new Date().toISOString(),
    seed,
    mode: values.mode ?? 'default',
    policy: values.policy ?? 'default for the mode',
    nodes: nodeCount,
    seconds,
    ratePerSite: rate,
    actions,
    acknowledgedInserts: acknowledged,
    rowsOnHub: hubIds.size,
    shellErrors,
    conflictsRecorded: conflicts,
    parked,
    convergeSeconds,
    problems,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `soak-${report.when.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

  const rows: [string, string][] = [
    ['seed', String(seed)],
    [
      'chaos actions',
      Object.entries(actions)
        .map(([a, n]) => `${a} ×${n}`)
        .join(', '),
    ],
    ['acknowledged inserts', String(acknowledged)],
    ['rows on the hub', String(hubIds.size)],
    ['conflicts recorded', String(report.conflictsRecorded)],
    ['parked changes', String(parked)],
    ['sqlite3 shell errors', String(shellErrors)],
    ['converged after', `${convergeSeconds.toFixed(1)} s`],
    ['result', problems.length ? `FAILED: ${problems.length} problem(s)` : 'every check holds'],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
  for (const p of problems) process.stdout.write(`  ✘ ${p}\n`);
  process.stdout.write(`report: ${path.relative(process.cwd(), file)}\n`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`soak failed to run: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
