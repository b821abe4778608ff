/**
 * The choices after a connection test, and what each does, are one function of
 * src/setup used by the wizard and by `setup --plain`: with no server answering
 * the two ways on come first (the private server disabled, with the fix, when
 * no server program is installed); a connected hub offers to continue; choosing
 * changes the session's state through its store and says where the setup goes.
 * No database: the sessions here never connect.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actionChoices, runSetupAction } from '../src/setup/actions.js';
import type { ConnectionCheck, Diagnosis } from '../src/setup/connection.js';
import { SetupSession } from '../src/setup/session.js';
import { tempDir } from './helpers/tmp.js';

let dir: string;
let cleanup: () => void;
let s: SetupSession;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-actions-'));
  s = new SetupSession({ envFile: path.join(dir, '.env') });
});
afterEach(async () => {
  await s.close();
  cleanup();
});

const failed = (d: Partial<Diagnosis>): ConnectionCheck =>
  ({ ok: false, endpoint: 'x', diagnosis: { message: 'm', fix: 'f', unreachable: false, actions: [], ...d } }) as ConnectionCheck;

describe('actionChoices', () => {
  it('no server answered: the ways on first, then the rest of the diagnosis', () => {
    const state = {
      ...s.snapshot,
      connection: failed({ unreachable: true, actions: ['edit', 'retry', 'local-server', 'sqlite-only'] }),
    };
    const choices = actionChoices(state);
    expect(choices.map((c) => c.value)).toEqual(['local-server', 'sqlite-only', 'edit', 'retry']);
    const local = choices[0];
    if (state.discovery.localServer.binary) expect(local?.label).toContain(`data in ${state.discovery.localServer.dir}`);
    else expect(local?.disabled).toContain('apt-get install mariadb-server');
  });

  it('names the database to create, and offers to continue once connected', () => {
    const db = s.answers.mysql.database;
    const missing = actionChoices({ ...s.snapshot, connection: failed({ actions: ['create-database', 'provision', 'edit'] }) });
    expect(missing[0]?.label).toBe(`Create the database "${db}"`);
    const ok = actionChoices({ ...s.snapshot, connection: { ok: true, endpoint: 'x' } as ConnectionCheck });
    expect(ok.map((c) => c.value)).toEqual(['continue', 'provision']);
    expect(actionChoices(s.snapshot).map((c) => c.value)).toEqual(['retry']);
  });
});

describe('runSetupAction', () => {
  it('changes the state through the store and says where the setup goes', () => {
    const seen: number[] = [];
    s.store.subscribe(() => seen.push(s.snapshot.version));
    expect(runSetupAction(s, 'enable-tls')).toEqual({ next: 'test' });
    expect(s.answers.mysql.ssl).toBe(true);
    expect(runSetupAction(s, 'disable-tls')).toEqual({ next: 'test' });
    expect(s.answers.mysql.ssl).toBe(false);
    expect(runSetupAction(s, 'sqlite-only')).toEqual({ next: 'schema' });
    expect(s.answers.dualDatabase).toBe(false);
    // A hub that answers is the hub again, even after SQLite only was chosen.
    expect(runSetupAction(s, 'continue')).toEqual({ next: 'schema' });
    expect(s.answers.dualDatabase).toBe(true);
    expect(runSetupAction(s, 'edit')).toEqual({ next: 'edit' });
    expect(runSetupAction(s, 'provision')).toEqual({ next: 'provision' });
    expect(runSetupAction(s, 'retry')).toEqual({ next: 'test' });
    expect(seen).toHaveLength(4);
  });
});
