/**
 * A locked and a corrupt SQLite file (issue 15, items 3 and 6): the CLI in a separate process,
 * the lock held by another process (Python's sqlite3, as the EPI application would).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { EXIT } from '../src/util/exit-codes.js';
import { type AppLock, holdWriteLock } from './helpers/app-lock.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('dualdb-lock-');
afterAll(() => tmp.cleanup());
const env = (file: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NO_COLOR: '1',
  SQLITE_DB_PATH: file,
  DUAL_DATABASE: 'false',
});

/** A file of 2000 rows whose data page 21 is overwritten ("database disk image is malformed"); `prepare` runs before. */
function corrupted(file: string, prepare = () => {}): void {
  const db = openSqlite(file, { create: true });
  db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT)');
  const insert = db.prepare('INSERT INTO detections (label) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200));
  })();
  db.close();
  prepare();
  const again = openSqlite(file);
  again.pragma('wal_checkpoint(TRUNCATE)');
  again.close();
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 4096 * 20);
  closeSync(fd);
}

describe('3. a locked SQLite file', () => {
  const file = path.join(tmp.dir, 'locked.db');
  let holder: AppLock;

  beforeAll(async () => {
    const db = openSqlite(file, { create: true });
    db.exec("CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO detections (label) VALUES ('helmet')");
    db.close();
    expect(runCli(['init'], env(file), { cwd: tmp.dir }).code).toBe(EXIT.OK);
    // Another process holds BEGIN EXCLUSIVE until its stdin closes.
    holder = await holdWriteLock(file, "INSERT INTO detections (label) VALUES ('vest')", {
      begin: 'EXCLUSIVE',
      rollback: true,
      extraArgs: ['DB_PASSWORD=hunter2-never-shown'], // an argument the error line must not quote
    });
  });
  afterAll(() => {
    holder.stop();
  });

  it('`dualdb sync` waits, then names the holder, how long it has held the lock and what to do; exit 4', () => {
    const r = runCli(['sync'], env(file), { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(EXIT.SQLITE_UNAVAILABLE);
    expect(r.stderr).toContain(`${file} is locked by another process: process ${holder.child.pid} (`);
    expect(r.stderr).toContain('python3');
    expect(r.stderr).toContain('has held its write lock for at least 5 s');
    expect(r.stderr).toContain(`let that program commit or roll back its transaction (or stop it: kill ${holder.child.pid})`);
    expect(r.stderr).not.toMatch(/^dualdb: database is locked$/m);
    // The holder by its program name only: its arguments (a script, a password) stay out of the line.
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('import sqlite3');
  });
});

describe('6. a corrupt SQLite file', () => {
  const file = path.join(tmp.dir, 'corrupt.db');

  beforeAll(() => corrupted(file));

  it('names the file, says dualdb wrote nothing, and gives .backup and .recover as ways on', () => {
    const r = runCli(['info'], env(file), { cwd: tmp.dir });
    expect(r.code).toBe(EXIT.SQLITE_UNAVAILABLE);
    expect(r.stdout).toContain(
      `the SQLite file ${file} is corrupt (database disk image is malformed); dualdb wrote nothing to it`,
    );
    expect(r.stdout).toContain('restore it from your last backup');
    expect(r.stdout).toContain('.backup');
    expect(r.stdout).toContain(`sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered`);
    expect(r.stdout).toContain('point SQLITE_DB_PATH at the new file');
  });

  it('init and status on a corrupt file without capture: corrupt (not "run init"), and init writes nothing', () => {
    const before = readFileSync(file);
    for (const cmd of [['init'], ['status'], ['sync', '--once']]) {
      const r = runCli(cmd, env(file), { cwd: tmp.dir });
      expect(r.code, cmd.join(' ')).toBe(EXIT.SQLITE_UNAVAILABLE);
      expect(r.stdout + r.stderr, cmd.join(' ')).toMatch(/is corrupt \(.+\); dualdb wrote nothing to it/);
      expect(r.stdout + r.stderr, cmd.join(' ')).not.toMatch(/capture is not installed/);
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('6. a corrupt SQLite file with capture installed: sync refuses before the hub', () => {
  const file = path.join(tmp.dir, 'corrupt-synced.db');

  // Capture installed first; the damage is in a data page of detections: the file opens, and its
  // schema and (empty) change log read fine.
  beforeAll(() => corrupted(file, () => expect(runCli(['init'], env(file), { cwd: tmp.dir }).code).toBe(EXIT.OK)));

  it('`sync --once` and `sync --watch`: the corrupt-file error (exit 4), as `health` says, and nothing written', () => {
    const health = runCli(['health'], env(file), { cwd: tmp.dir });
    expect(health.code).toBe(EXIT.SQLITE_UNAVAILABLE);
    const before = readFileSync(file);
    // A hub nobody listens on: a sync that reached for it first would fail with a hub error instead.
    const hub = { ...env(file), DUAL_DATABASE: 'true', DB_HOST: '127.0.0.1', DB_PORT: '1', DB_NAME: 'x', DB_USER: 'x' };
    for (const [cmd, e] of [
      [['sync', '--once'], hub],
      [['sync', '--watch'], hub],
    ] as [string[], NodeJS.ProcessEnv][]) {
      const r = runCli(cmd, e, { cwd: tmp.dir, timeoutMs: 60_000 });
      const said = `${cmd.join(' ')} (hub: ${e.DUAL_DATABASE}): ${r.stdout}${r.stderr}`;
      expect(r.code, said).toBe(EXIT.SQLITE_UNAVAILABLE);
      expect(r.stdout + r.stderr, said).toMatch(/the SQLite file .+ is corrupt \(.+\); dualdb wrote nothing to it/);
      expect(r.stdout + r.stderr, said).toContain('.recover');
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
