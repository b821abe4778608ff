/**
 * The setup session's state changes only through pure transitions: each event
 * gives a new snapshot and leaves the one before it as it was, new hub settings
 * drop the last connection test (it tested other settings), and the store tells
 * its listeners after every transition (what React's useSyncExternalStore needs).
 * No database: the snapshots are built from plain values.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnswers } from '../src/setup/answers.js';
import type { ConnectionCheck } from '../src/setup/connection.js';
import type { Discovery } from '../src/setup/discover.js';
import type { LocalServerStart } from '../src/setup/local-server.js';
import type { ProvisionResult } from '../src/setup/provision.js';
import { initialSetupSnapshot, reduceSetup, type SetupSnapshot, SetupStore } from '../src/setup/store.js';

const discovery = {
  sqlite: { path: '/tmp/x/app.db', exists: false, bytes: null, tables: [], totalRows: 0 },
  env: { file: '/tmp/x/.env', exists: false, mode: null, values: {} },
  localServer: { binary: undefined, dir: '/tmp/x/.dualdb/mysql', exists: false, running: false },
  state: {},
} as unknown as Discovery;

function start(): SetupSnapshot {
  return initialSetupSnapshot(defaultAnswers('/tmp/x/.env'), discovery);
}

const okCheck = { ok: true, endpoint: 'db:3306/app' } as unknown as ConnectionCheck;

describe('setup store: pure transitions', () => {
  it('gives a new snapshot and leaves the previous one unchanged', () => {
    const s0 = start();
    const before = JSON.stringify(s0);
    const s1 = reduceSetup(s0, { type: 'mysqlSet', mysql: { host: 'db.example', port: 3307 } });
    expect(JSON.stringify(s0)).toBe(before);
    expect(s1).not.toBe(s0);
    expect(s1.answers.mysql.host).toBe('db.example');
    expect(s1.answers.mysql.port).toBe(3307);
    expect(s1.answers.mysql.user).toBe(s0.answers.mysql.user);
    expect(s1.version).toBe(s0.version + 1);
  });

  it('snapshots cannot be changed in place', () => {
    const s = start();
    expect(() => {
      (s.answers as { dualDatabase: boolean }).dualDatabase = false;
    }).toThrow(TypeError);
    expect(() => {
      (s.answers.mysql as { host: string }).host = 'x';
    }).toThrow(TypeError);
  });

  it('new hub settings drop the last connection test; the test result is kept otherwise', () => {
    let s = reduceSetup(start(), { type: 'connectionTested', check: okCheck });
    expect(s.connection).toBe(okCheck);
    s = reduceSetup(s, {
      type: 'syncChosen',
      sync: { mode: 'mysql_primary', intervalSec: 9, conflictPolicy: undefined, keyCollisions: 'rekey-node' },
    });
    expect(s.connection).toBe(okCheck);
    expect(s.answers.sync.mode).toBe('mysql_primary');
    s = reduceSetup(s, { type: 'mysqlSet', mysql: { ssl: true } });
    expect(s.connection).toBeUndefined();
  });

  it('SQLite only and back: the hub settings typed so far are kept', () => {
    let s = reduceSetup(start(), { type: 'mysqlSet', mysql: { host: 'db.example' } });
    s = reduceSetup(s, { type: 'localServerStarted', start: {} as LocalServerStart, mysql: { ...s.answers.mysql, port: 3999 } });
    expect(s.answers.localServer).toBe(true);
    s = reduceSetup(s, { type: 'sqliteOnlyChosen' });
    expect(s.answers.dualDatabase).toBe(false);
    expect(s.answers.localServer).toBe(false);
    expect(s.answers.mysql.port).toBe(3999);
    s = reduceSetup(s, { type: 'hubChosen' });
    expect(s.answers.dualDatabase).toBe(true);
    expect(s.answers.localServer).toBe(false);
    s = reduceSetup(s, { type: 'hubChosen', localServer: true });
    expect(s.answers.localServer).toBe(true);
  });

  it('a provisioned user becomes the hub login (its password only when one was generated)', () => {
    const s0 = reduceSetup(start(), { type: 'mysqlSet', mysql: { user: 'root', password: 'typed' } });
    const kept = reduceSetup(s0, { type: 'provisioned', result: { user: 'epi_sync' } as ProvisionResult });
    expect(kept.answers.mysql).toMatchObject({ user: 'epi_sync', password: 'typed' });
    const fresh = reduceSetup(s0, { type: 'provisioned', result: { user: 'epi_sync', password: 'gen' } as ProvisionResult });
    expect(fresh.answers.mysql).toMatchObject({ user: 'epi_sync', password: 'gen' });
    expect(fresh.provisioned?.user).toBe('epi_sync');
  });

  it('another SQLite file changes the path and what was found together', () => {
    const sqlite = { ...discovery.sqlite, path: '/tmp/y/other.db', exists: true, totalRows: 5 };
    const s = reduceSetup(start(), { type: 'sqliteChosen', sqlitePath: '/tmp/y/other.db', sqlite });
    expect(s.answers.sqlitePath).toBe('/tmp/y/other.db');
    expect(s.discovery.sqlite.totalRows).toBe(5);
    expect(s.discovery.env).toBe(discovery.env);
  });
});

describe('setup store: subscribe/getSnapshot', () => {
  it('tells every listener after each transition, and stops after unsubscribe', () => {
    const store = new SetupStore(start());
    const seen: number[] = [];
    const off = store.subscribe(() => seen.push(store.getSnapshot().version));
    const first = store.getSnapshot();
    expect(store.getSnapshot()).toBe(first); // stable between transitions
    store.dispatch({ type: 'sqliteOnlyChosen' });
    store.dispatch({ type: 'hubChosen' });
    off();
    store.dispatch({ type: 'sqliteOnlyChosen' });
    expect(seen).toEqual([1, 2]);
    expect(store.getSnapshot().version).toBe(3);
  });
});
