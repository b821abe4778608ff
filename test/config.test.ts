/**
 * Configuration: defaults, the old system's variable names from a
 * .env file and from the environment (the environment wins), one-line errors
 * that name the variable and what it accepts, no secret in any error, paths
 * relative to the .env file, `.env.example` in step with SETTINGS, and
 * `writeEnvFile` (0600, keeps other variables, exact round trip through dotenv).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseDotenv } from 'dotenv';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type LoadOptions, loadConfig } from '../src/config/load.js';
import { CONFLICT_POLICIES, SETTINGS, SYNC_MODES } from '../src/config/schema.js';
import { formatEnvValue, writeEnvFile } from '../src/config/write.js';
import { ConfigError } from '../src/util/errors.js';
import { EXIT } from '../src/util/exit-codes.js';
import { redact } from '../src/util/redact.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PASSWORD = 'S3cr3t-Pa55-xyz';

let secrets = 0;
/** A password no earlier test has loaded (the redaction registry is process-wide). */
const uniqueSecret = () => `Zq-${process.pid}-${++secrets}-never-seen`;

const tmp = tempDir('dualdb-config-');
afterAll(() => tmp.cleanup());

let folders = 0;
/** A new empty folder under the test's temp dir. */
function folder(name = 'f'): string {
  const dir = path.join(tmp.dir, `${name}-${++folders}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function envFileWith(lines: string[], dir = folder('envfile')): string {
  const file = path.join(dir, '.env');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** loadConfig with an empty environment unless given (never the test runner's own). */
function load(options: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: options.cwd ?? folder('cwd'), ...options });
}

/** The ConfigError thrown by loading this environment (fails the test if none is). */
function configErrorOf(env: Record<string, string>, options: LoadOptions = {}): ConfigError {
  try {
    load({ env, ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('defaults', () => {
  it('match the old system where it had them, and are valid', () => {
    const cwd = folder('defaults');
    const c = load({ cwd });
    expect(c.envFile).toBeUndefined();
    expect(c.sqlitePath).toBe(path.join(cwd, 'instance/epi_detection.db'));
    expect(c.dualDatabase).toBe(true);
    expect(c.nodeId).toBeUndefined();
    expect(c.mysql).toEqual({
      host: 'localhost',
      port: 3306,
      user: 'root',
      password: '',
      database: 'epi_detection_db',
      ssl: false,
      sslCa: undefined,
      connectTimeoutMs: 5000,
    });
    expect(c.sync.mode).toBe('sqlite_primary');
    expect(c.sync.intervalMs).toBe(1000);
    expect(c.sync.conflictPolicy).toBe('node-wins');
    expect(c.sync.conflictPolicyExplicit).toBe(false);
    expect(c.sync.tables).toEqual([]);
    expect(c.sync.exclude).toEqual([]);
    expect(c.sync.batchSize).toBe(2000);
    expect(c.log.file).toBe(path.join(cwd, 'instance/dualdb.log'));
    expect(c.log.level).toBe('info');
    expect(c.log.maxSizeBytes).toBe(10 * 1024 * 1024);
    expect(c.log.maxFiles).toBe(5);
    expect(c.pidFile).toBe(path.join(cwd, 'instance/dualdb.pid'));
  });

  it('treats an empty value as unset (KEY= in a .env file)', () => {
    const c = load({ env: { SYNC_MODE: '', DB_PORT: '  ', DB_NAME: '' } });
    expect(c.sync.mode).toBe('sqlite_primary');
    expect(c.mysql.port).toBe(3306);
    expect(c.mysql.database).toBe('epi_detection_db');
  });

  it('every default in SETTINGS passes its own validation', () => {
    for (const spec of Object.values(SETTINGS)) {
      if (spec.default === undefined) continue;
      expect(spec.schema.safeParse(spec.default).success, spec.env).toBe(true);
    }
  });
});

const OLD_NAMES = {
  DB_HOST: 'db.example.org',
  DB_PORT: '3307',
  DB_USER: 'epi',
  DB_PASSWORD: PASSWORD,
  DB_NAME: 'epi_site',
  SQLITE_DB_PATH: 'data/site.db',
  SYNC_MODE: 'mysql_primary',
  SYNC_INTERVAL: '30',
  DUAL_DATABASE: 'false',
};

function expectOldNames(c: ReturnType<typeof load>, base: string): void {
  expect(c.mysql.host).toBe('db.example.org');
  expect(c.mysql.port).toBe(3307);
  expect(c.mysql.user).toBe('epi');
  expect(c.mysql.password).toBe(PASSWORD);
  expect(c.mysql.database).toBe('epi_site');
  expect(c.sqlitePath).toBe(path.join(base, 'data/site.db'));
  expect(c.sync.mode).toBe('mysql_primary');
  expect(c.sync.intervalMs).toBe(30_000);
  expect(c.dualDatabase).toBe(false);
}

describe("the old system's variable names", () => {
  it('are read from a .env file', () => {
    const file = envFileWith(Object.entries(OLD_NAMES).map(([k, v]) => `${k}=${v}`));
    const c = load({ envFile: file });
    expect(c.envFile).toBe(file);
    expectOldNames(c, path.dirname(file));
  });

  it('are read from the environment', () => {
    const cwd = folder('env');
    expectOldNames(load({ env: { ...OLD_NAMES }, cwd }), cwd);
  });

  it('the default .env is the one in the working directory', () => {
    const file = envFileWith(['DB_HOST=from-cwd-file']);
    expect(load({ cwd: path.dirname(file) }).mysql.host).toBe('from-cwd-file');
  });

  it('DUALDB_ENV_FILE names the .env file', () => {
    const file = envFileWith(['DB_HOST=from-named-file']);
    expect(load({ env: { DUALDB_ENV_FILE: file } }).mysql.host).toBe('from-named-file');
  });

  it('the environment wins over the .env file, and flags win over both', () => {
    const file = envFileWith(['DB_HOST=file-host', 'DB_PORT=3310', 'SYNC_MODE=both', `DB_PASSWORD=file-password`]);
    const c = load({ envFile: file, env: { DB_HOST: 'env-host', DB_PASSWORD: PASSWORD } });
    expect(c.mysql.host).toBe('env-host');
    expect(c.mysql.password).toBe(PASSWORD);
    // Values only in the file still count.
    expect(c.mysql.port).toBe(3310);
    expect(c.sync.mode).toBe('both');
    const o = load({ envFile: file, env: { DB_HOST: 'env-host' }, overrides: { DB_HOST: 'flag-host' } });
    expect(o.mysql.host).toBe('flag-host');
  });

  it('reading a .env file does not touch process.env', () => {
    const name = 'DB_HOST';
    const before = process.env[name];
    const file = envFileWith(['DB_HOST=should-not-leak', 'DUALDB_TEST_ONLY_VAR=x']);
    load({ envFile: file });
    expect(process.env[name]).toBe(before);
    expect(process.env.DUALDB_TEST_ONLY_VAR).toBeUndefined();
  });

  it('an explicit .env file that does not exist is a ConfigError, not silent defaults', () => {
    const missing = path.join(folder('nofile'), 'nope.env');
    const e = configErrorOf({}, { envFile: missing });
    expect(e.message).toContain(missing);
    expect(e.exitCode).toBe(EXIT.CONFIG);
  });
});

describe('invalid values', () => {
  const cases: { env: Record<string, string>; variable: string; accepted: RegExp }[] = [
    { env: { SYNC_MODE: 'foo' }, variable: 'SYNC_MODE', accepted: /sqlite_primary, mysql_primary, both/ },
    { env: { DB_PORT: 'abc' }, variable: 'DB_PORT', accepted: /whole number from 1 to 65535/ },
    { env: { DB_PORT: '70000' }, variable: 'DB_PORT', accepted: /whole number from 1 to 65535/ },
    { env: { DB_PORT: '0' }, variable: 'DB_PORT', accepted: /whole number from 1 to 65535/ },
    { env: { DB_PORT: '33.06' }, variable: 'DB_PORT', accepted: /whole number from 1 to 65535/ },
    { env: { SYNC_INTERVAL: '-1' }, variable: 'SYNC_INTERVAL', accepted: /seconds, a number from 0\.1 to 86400/ },
    { env: { SYNC_INTERVAL: '0' }, variable: 'SYNC_INTERVAL', accepted: /seconds, a number from 0\.1 to 86400/ },
    { env: { SYNC_INTERVAL: '1s' }, variable: 'SYNC_INTERVAL', accepted: /seconds, a number from 0\.1 to 86400/ },
    { env: { DUAL_DATABASE: 'maybe' }, variable: 'DUAL_DATABASE', accepted: /true or false/ },
    { env: { DB_SSL: 'sometimes' }, variable: 'DB_SSL', accepted: /true or false/ },
    {
      env: { CONFLICT_POLICY: 'x' },
      variable: 'CONFLICT_POLICY',
      accepted: new RegExp(CONFLICT_POLICIES.join(', ')),
    },
    { env: { NODE_ID: 'site north 1' }, variable: 'NODE_ID', accepted: /letters, digits, dot, dash or underscore/ },
    { env: { NODE_ID: 'x'.repeat(65) }, variable: 'NODE_ID', accepted: /1-64/ },
    { env: { DB_NAME: 'epi db' }, variable: 'DB_NAME', accepted: /without spaces/ },
    { env: { LOG_LEVEL: 'verbose' }, variable: 'LOG_LEVEL', accepted: /debug, info, warn, error/ },
    { env: { LOG_MAX_SIZE: 'big' }, variable: 'LOG_MAX_SIZE', accepted: /10M/ },
    { env: { SYNC_BATCH_SIZE: '0' }, variable: 'SYNC_BATCH_SIZE', accepted: /1 to 100000/ },
  ];

  for (const c of cases) {
    const [name, value] = Object.entries(c.env)[0] ?? ['', ''];
    it(`${name}=${value.length > 20 ? `${value.slice(0, 20)}…` : value} names the variable and the accepted values in one line`, () => {
      const e = configErrorOf({ ...c.env, DB_PASSWORD: PASSWORD });
      expect(e.variable).toBe(c.variable);
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.exitCode).toBe(EXIT.CONFIG);
      expect(e.message).toContain(c.variable);
      expect(e.message).toMatch(c.accepted);
      // The offending value is shown so the user can find it.
      expect(e.message).toContain(JSON.stringify(value));
      const line = e.oneLine();
      expect(line).not.toMatch(/[\r\n]/);
      expect(line).toMatch(c.accepted);
      expect(line).not.toContain(PASSWORD);
      expect(e.hint).toBeTruthy();
    });
  }

  it('accepts the documented values of every enumerated setting', () => {
    for (const mode of SYNC_MODES) expect(load({ env: { SYNC_MODE: mode } }).sync.mode).toBe(mode);
    for (const p of CONFLICT_POLICIES) expect(load({ env: { CONFLICT_POLICY: p } }).sync.conflictPolicy).toBe(p);
    for (const t of ['true', 'TRUE', '1', 'yes', 'on', ' true '])
      expect(load({ env: { DUAL_DATABASE: t } }).dualDatabase).toBe(true);
    for (const f of ['false', 'False', '0', 'no', 'off']) expect(load({ env: { DUAL_DATABASE: f } }).dualDatabase).toBe(false);
    expect(load({ env: { DB_PORT: '65535' } }).mysql.port).toBe(65535);
    expect(load({ env: { DB_PORT: '1' } }).mysql.port).toBe(1);
    expect(load({ env: { SYNC_INTERVAL: '0.25' } }).sync.intervalMs).toBe(250);
    expect(load({ env: { NODE_ID: 'site-north_1.a' } }).nodeId).toBe('site-north_1.a');
    expect(load({ env: { LOG_MAX_SIZE: '512K' } }).log.maxSizeBytes).toBe(512 * 1024);
    expect(load({ env: { SYNC_TABLES: ' detections, alerts ,,' } }).sync.tables).toEqual(['detections', 'alerts']);
  });

  it('the same error comes from a .env file, and its hint names the file', () => {
    const file = envFileWith(['SYNC_MODE=foo']);
    const e = configErrorOf({}, { envFile: file });
    expect(e.variable).toBe('SYNC_MODE');
    expect(e.oneLine()).toContain(file);
  });

  it('the password never appears in an error, even when it ends up in the wrong variable', () => {
    // A password this process has never seen: redaction must not depend on an earlier successful load.
    const secret = uniqueSecret();
    // Two lines run together in a hand-edited .env: the password lands inside DB_PORT's value.
    const file = envFileWith([`DB_PORT=3306 DB_PASSWORD=${secret}`, `DB_PASSWORD=${secret}`]);
    const e = configErrorOf({}, { envFile: file });
    expect(e.variable).toBe('DB_PORT');
    expect(e.message).toContain('DB_PORT="3306 DB_PASSWORD=');
    expect(e.message).not.toContain(secret);
    expect(e.oneLine()).not.toContain(secret);
    // And anything printed later is scrubbed too.
    expect(redact(`oops ${secret}`)).not.toContain(secret);
  });

  it('no message or hint of any invalid setting contains the password', () => {
    for (const spec of Object.values(SETTINGS)) {
      if (spec.secret) continue;
      const secret = uniqueSecret();
      for (const bad of [secret, `x ${secret}`, `"${secret}"`]) {
        let err: unknown;
        try {
          load({ env: { [spec.env]: bad, DB_PASSWORD: secret } });
        } catch (e) {
          err = e;
        }
        if (err === undefined) continue; // a free-form setting (host, path) accepts it
        expect(err, spec.env).toBeInstanceOf(ConfigError);
        const ce = err as ConfigError;
        expect(`${ce.message} ${ce.hint ?? ''} ${JSON.stringify(ce.context)}`, spec.env).not.toContain(secret);
      }
    }
  });
});

describe('CONFLICT_POLICY', () => {
  it('defaults by mode: node-wins for sqlite_primary and both, hub-wins for mysql_primary', () => {
    const byMode = Object.fromEntries(SYNC_MODES.map((m) => [m, load({ env: { SYNC_MODE: m } }).sync]));
    expect(byMode.sqlite_primary?.conflictPolicy).toBe('node-wins');
    expect(byMode.both?.conflictPolicy).toBe('node-wins');
    expect(byMode.mysql_primary?.conflictPolicy).toBe('hub-wins');
    for (const s of Object.values(byMode)) expect(s?.conflictPolicyExplicit).toBe(false);
  });

  it('an explicit policy wins over the mode default and is marked explicit', () => {
    const s = load({ env: { SYNC_MODE: 'mysql_primary', CONFLICT_POLICY: 'newest-wins' } }).sync;
    expect(s.conflictPolicy).toBe('newest-wins');
    expect(s.conflictPolicyExplicit).toBe(true);
  });
});

describe('relative paths', () => {
  it("resolve against the .env file's folder, not the working directory", () => {
    const envDir = folder('site');
    const file = envFileWith(
      ['SQLITE_DB_PATH=data/node.db', 'LOG_FILE=logs/sync.log', 'PID_FILE=run/dualdb.pid', 'DB_SSL_CA=certs/ca.pem'],
      envDir,
    );
    const cwd = folder('elsewhere');
    const c = load({ envFile: file, cwd });
    expect(c.sqlitePath).toBe(path.join(envDir, 'data/node.db'));
    expect(c.log.file).toBe(path.join(envDir, 'logs/sync.log'));
    expect(c.pidFile).toBe(path.join(envDir, 'run/dualdb.pid'));
    expect(c.mysql.sslCa).toBe(path.join(envDir, 'certs/ca.pem'));
  });

  it('a relative --env-file is found from the working directory', () => {
    const cwd = folder('cwdrel');
    mkdirSync(path.join(cwd, 'conf'));
    envFileWith(['SQLITE_DB_PATH=../db/x.db'], path.join(cwd, 'conf'));
    const c = load({ envFile: 'conf/.env', cwd });
    expect(c.envFile).toBe(path.join(cwd, 'conf/.env'));
    expect(c.sqlitePath).toBe(path.join(cwd, 'db/x.db'));
  });

  it('log and pid files default to the folder of the SQLite file', () => {
    const file = envFileWith(['SQLITE_DB_PATH=/var/tmp/dualdb-x/node.db']);
    const c = load({ envFile: file });
    expect(c.sqlitePath).toBe('/var/tmp/dualdb-x/node.db');
    expect(c.log.file).toBe('/var/tmp/dualdb-x/dualdb.log');
    expect(c.pidFile).toBe('/var/tmp/dualdb-x/dualdb.pid');
  });

  it('absolute paths are kept as they are', () => {
    const c = load({ env: { SQLITE_DB_PATH: '/srv/epi/epi.db', LOG_FILE: '/var/log/dualdb.log' } });
    expect(c.sqlitePath).toBe('/srv/epi/epi.db');
    expect(c.log.file).toBe('/var/log/dualdb.log');
  });
});

describe('.env.example', () => {
  const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  /** Variables the example sets or shows commented out (`NAME=` or `# NAME=` at a line start). */
  const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));

  it('documents every setting in SETTINGS', () => {
    const missing = Object.values(SETTINGS)
      .map((s) => s.env)
      .filter((name) => !documented.has(name));
    expect(missing, 'add these variables to .env.example').toEqual([]);
  });

  it('documents no variable that dualdb does not read', () => {
    const known = new Set(Object.values(SETTINGS).map((s) => s.env));
    expect([...documented].filter((v) => v !== undefined && !known.has(v))).toEqual([]);
  });

  it('is itself a valid configuration', () => {
    const dir = folder('example');
    writeFileSync(path.join(dir, '.env'), example);
    const c = load({ envFile: path.join(dir, '.env') });
    expect(c.sqlitePath).toBe(path.join(dir, 'instance/epi_detection.db'));
    expect(c.sync.mode).toBe('sqlite_primary');
  });
});

describe('writeEnvFile', () => {
  it('creates the file with mode 0600 and nothing left behind', () => {
    const dir = folder('write');
    const file = path.join(dir, '.env');
    writeEnvFile(file, { DB_HOST: 'h', DB_PASSWORD: PASSWORD });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['.env']);
    expect(parseDotenv(readFileSync(file))).toEqual({ DB_HOST: 'h', DB_PASSWORD: PASSWORD });
  });

  it('makes an existing world-readable file 0600 when it rewrites it', () => {
    const file = path.join(folder('write'), '.env');
    writeFileSync(file, 'A=1\n');
    chmodSync(file, 0o644);
    writeEnvFile(file, { B: '2' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps variables it does not manage, replaces the ones given and removes the ones set to undefined', () => {
    const file = path.join(folder('write'), '.env');
    writeFileSync(file, ['# mine', 'FLASK_SECRET=keep me', "APP_NAME='EPI # app'", 'DB_HOST=old', 'DB_PORT=1234', ''].join('\n'));
    writeEnvFile(file, { DB_HOST: 'new-host', DB_PORT: undefined, SYNC_MODE: 'both' });
    expect(parseDotenv(readFileSync(file))).toEqual({
      FLASK_SECRET: 'keep me',
      APP_NAME: 'EPI # app',
      DB_HOST: 'new-host',
      SYNC_MODE: 'both',
    });
  });

  it('the file it writes loads back as the same configuration', () => {
    const dir = folder('write');
    const file = path.join(dir, '.env');
    writeEnvFile(file, { ...OLD_NAMES, DB_PASSWORD: 'pa ss#"$x\\y' });
    const c = load({ envFile: file });
    expect(c.mysql.password).toBe('pa ss#"$x\\y');
    expect(c.sync.mode).toBe('mysql_primary');
  });

  it('a value ending in a backslash survives a later line that holds a quote', () => {
    // Quoted as 'C:\dir\' dotenv would read \' as an escaped quote and run on into the next line.
    const file = path.join(folder('write'), '.env');
    writeEnvFile(file, { WIN_PATH: 'C:\\epi data\\', NEXT: "it's" });
    expect(parseDotenv(readFileSync(file))).toEqual({ WIN_PATH: 'C:\\epi data\\', NEXT: "it's" });
  });

  /** Printable characters, with the ones that trouble .env files much more often than chance. */
  const awkward = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom("'", '"', '`', '#', '$', ' ', '\\', '=', '\t', '{', '}', 'n', '$HOME', '$' + '{X}', '\\n'),
    },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  );
  const value = fc.string({ unit: awkward, maxLength: 24 });

  /**
   * The only values no form can carry: no quote works (it holds ' and `, or ends
   * with a backslash) and it cannot go bare (a #, a leading quote, or spaces at an end).
   */
  const cannotWrite = (v: string) =>
    ((v.includes("'") && v.includes('`')) || v.endsWith('\\')) && (v.includes('#') || v.trim() !== v || /^['"`]/.test(v));

  it('round-trips any printable value through dotenv exactly, or refuses it with an error', () => {
    const dir = folder('prop');
    const file = path.join(dir, '.env');
    let refused = 0;
    writeEnvFile(file, { KEEP: 'x' });
    let before = readFileSync(file, 'utf8');
    fc.assert(
      fc.property(value, value, (a, b) => {
        let wrote = true;
        try {
          writeEnvFile(file, { DB_PASSWORD: a, OTHER: b });
        } catch {
          wrote = false;
        }
        if (!wrote) {
          refused++;
          expect(cannotWrite(a) || cannotWrite(b)).toBe(true);
          // A refusal leaves the previous file as it was.
          expect(readFileSync(file, 'utf8')).toBe(before);
          return;
        }
        before = readFileSync(file, 'utf8');
        const back = parseDotenv(readFileSync(file));
        expect(back.DB_PASSWORD).toBe(a);
        expect(back.OTHER).toBe(b);
      }),
      { numRuns: 500 },
    );
    // The generator does reach the refusal path (so the branch above is tested).
    expect(refused).toBeGreaterThan(0);
  });

  it('formatEnvValue never returns a text dotenv reads differently', () => {
    fc.assert(
      fc.property(value, (v) => {
        let text: string;
        try {
          text = formatEnvValue(v);
        } catch (e) {
          expect((e as Error).message).toMatch(/cannot contain/);
          expect(cannotWrite(v)).toBe(true);
          return;
        }
        expect(parseDotenv(`K=${text}\n`).K).toBe(v);
        // And the value still parses when other lines follow and precede it.
        expect(parseDotenv(`A=1\nK=${text}\nB='2'\n`)).toEqual({ A: '1', K: v, B: '2' });
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses line breaks instead of writing a broken file', () => {
    const file = path.join(folder('write'), '.env');
    expect(() => writeEnvFile(file, { A: 'one\ntwo' })).toThrow(/line break/);
    expect(() => writeEnvFile(file, { A: 'one\rtwo' })).toThrow(/line break/);
    expect(existsSync(file)).toBe(false);
  });
});
