/**
 * What can be done after a connection test, written once for every front end:
 * the choices (`actionChoices`, from the setup's state) and what choosing one
 * does (`runSetupAction`). The wizard's Test screen and `setup --plain` both
 * call these; they only present the choices and the results in their own way.
 */
import path from 'node:path';
import { ACTION_LABELS, type SetupAction } from './connection.js';
import type { LocalServerStart } from './local-server.js';
import type { SetupSession } from './session.js';
import type { SetupSnapshot } from './store.js';

/** The ways on when no server answered: they come first. */
export const WAYS_ON: readonly SetupAction[] = ['local-server', 'sqlite-only'];

export interface ActionChoice {
  value: SetupAction;
  label: string;
  /** One more line about it. */
  help?: string;
  /** Why it cannot be chosen here. */
  disabled?: string;
}

/**
 * The choices after the last connection test: continue (and, optionally, a
 * dedicated user) when it connected; otherwise the diagnosis' actions, with the
 * ways on first when no server answered. Test again when there is no result.
 */
export function actionChoices(state: Pick<SetupSnapshot, 'connection' | 'answers' | 'discovery'>): ActionChoice[] {
  const check = state.connection;
  if (check?.ok) {
    return [
      { value: 'continue', label: 'Continue to the schema' },
      {
        value: 'provision',
        label: 'Optional: create a dedicated least-privilege user',
        help: 'with admin credentials (not stored); its generated password goes into .env',
      },
    ];
  }
  const d = check?.diagnosis;
  if (!d) return [{ value: 'retry', label: ACTION_LABELS.retry }];
  const ordered = d.unreachable
    ? [...d.actions.filter((a) => WAYS_ON.includes(a)), ...d.actions.filter((a) => !WAYS_ON.includes(a))]
    : d.actions;
  const { binary, dir } = state.discovery.localServer;
  return ordered.map((a): ActionChoice => {
    if (a === 'create-database')
      return {
        value: a,
        label: `Create the database "${state.answers.mysql.database}"`,
        help: 'with this user, if it may (otherwise use admin credentials)',
      };
    if (a === 'local-server')
      return {
        value: a,
        label: `${ACTION_LABELS[a]}${binary ? ` (${path.basename(binary)}; data in ${dir})` : ''}`,
        ...(binary ? {} : { disabled: 'no mariadbd/mysqld installed; Debian/Ubuntu: sudo apt-get install mariadb-server' }),
      };
    return { value: a, label: ACTION_LABELS[a] };
  });
}

/** What the work of an action gave (for the front end to show). */
export type ActionResult = { kind: 'database'; created: boolean } | { kind: 'local-server'; start: LocalServerStart };

/** Where the setup goes after an action (test again: after its work, if any). */
export type ActionStep =
  | { next: 'test'; work?: Promise<ActionResult> }
  | { next: 'edit' }
  | { next: 'provision' }
  | { next: 'schema' };

/**
 * What choosing an action does. The answers change at once (TLS on or off,
 * SQLite only, a hub); the work that takes time (creating the database,
 * starting the private server) is returned as `work`; `next` says where the
 * setup goes: test the connection again (after the work), edit the settings,
 * provision with admin credentials, or on to the schema.
 */
export function runSetupAction(session: SetupSession, action: SetupAction): ActionStep {
  switch (action) {
    case 'retry':
      return { next: 'test' };
    case 'enable-tls':
    case 'disable-tls':
      session.setMysql({ ssl: action === 'enable-tls' });
      return { next: 'test' };
    case 'create-database':
      return { next: 'test', work: session.createDatabase().then((created) => ({ kind: 'database', created })) };
    case 'local-server':
      return { next: 'test', work: session.startLocalServer().then((start) => ({ kind: 'local-server', start })) };
    case 'sqlite-only':
      session.chooseSqliteOnly();
      return { next: 'schema' };
    case 'continue':
      // A hub that answers is the hub, even after SQLite-only was chosen and taken back.
      session.chooseHub();
      return { next: 'schema' };
    case 'edit':
      return { next: 'edit' };
    case 'provision':
      return { next: 'provision' };
  }
}
