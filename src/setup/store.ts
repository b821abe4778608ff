/**
 * The state of one setup in progress, as an immutable snapshot changed only by
 * pure transitions (`reduceSetup`), behind a store with `subscribe`/`getSnapshot`
 * (React's useSyncExternalStore). The setup session does the work (connections,
 * files) and reports each result here as an event; front ends read snapshots and
 * re-render when the store says so, never by being told to (the monitor's model,
 * src/monitor/model.ts, works the same way).
 */
import type { MysqlConfig } from '../config/config.js';
import type { InitReport } from '../sync/init.js';
import type { SetupAnswers } from './answers.js';
import type { ConnectionCheck } from './connection.js';
import type { Discovery, SqliteDiscovery } from './discover.js';
import type { LocalServerStart } from './local-server.js';
import type { ProvisionResult } from './provision.js';

/** The answers as a snapshot holds them: read-only down to the hub settings. */
export type AnswersView = Readonly<Omit<SetupAnswers, 'mysql' | 'sync'>> & {
  readonly mysql: Readonly<MysqlConfig>;
  readonly sync: Readonly<SetupAnswers['sync']>;
};

export interface SetupSnapshot {
  readonly answers: AnswersView;
  readonly discovery: Readonly<Discovery>;
  /** The last connection test of the current hub settings (undefined once they change). */
  readonly connection: ConnectionCheck | undefined;
  readonly localServer: LocalServerStart | undefined;
  readonly provisioned: ProvisionResult | undefined;
  readonly capture: InitReport | undefined;
  /** Counts the transitions (a new snapshot each time). */
  readonly version: number;
}

export type SetupEvent =
  /** Another SQLite file was chosen, and what was found there. */
  | { type: 'sqliteChosen'; sqlitePath: string; sqlite: SqliteDiscovery }
  /** The same SQLite file looked at again (after the schema step wrote to it). */
  | { type: 'sqliteRediscovered'; sqlite: SqliteDiscovery }
  /** Hub settings changed: the last connection test no longer applies. */
  | { type: 'mysqlSet'; mysql: Partial<MysqlConfig> }
  /** A hub it is (DUAL_DATABASE=true); `localServer: false` when its settings were typed by hand. */
  | { type: 'hubChosen'; localServer?: boolean }
  | { type: 'sqliteOnlyChosen' }
  | { type: 'connectionTested'; check: ConnectionCheck }
  /** The private server runs and is the hub, with these settings. */
  | { type: 'localServerStarted'; start: LocalServerStart; mysql: MysqlConfig }
  /** A dedicated user was created (or granted): it is the hub login from now on. */
  | { type: 'provisioned'; result: ProvisionResult }
  | { type: 'captureInstalled'; report: InitReport }
  | { type: 'syncChosen'; sync: SetupAnswers['sync'] }
  /** Every answer at once (`setup --quick`: environment and flags over the .env). */
  | { type: 'answersReplaced'; answers: SetupAnswers };

function frozen(a: SetupAnswers | AnswersView): AnswersView {
  return Object.freeze({ ...a, mysql: Object.freeze({ ...a.mysql }), sync: Object.freeze({ ...a.sync }) });
}

export function initialSetupSnapshot(answers: SetupAnswers, discovery: Discovery): SetupSnapshot {
  return Object.freeze({
    answers: frozen(answers),
    discovery: Object.freeze({ ...discovery }),
    connection: undefined,
    localServer: undefined,
    provisioned: undefined,
    capture: undefined,
    version: 0,
  });
}

/** The snapshot after an event. Pure: the snapshot given is never changed. */
export function reduceSetup(s: SetupSnapshot, e: SetupEvent): SetupSnapshot {
  const next = (p: Partial<SetupSnapshot>): SetupSnapshot => Object.freeze({ ...s, ...p, version: s.version + 1 });
  const answers = (p: Partial<SetupAnswers>): AnswersView => frozen({ ...s.answers, ...p });
  switch (e.type) {
    case 'sqliteChosen':
      return next({
        answers: answers({ sqlitePath: e.sqlitePath }),
        discovery: Object.freeze({ ...s.discovery, sqlite: e.sqlite }),
      });
    case 'sqliteRediscovered':
      return next({ discovery: Object.freeze({ ...s.discovery, sqlite: e.sqlite }) });
    case 'mysqlSet':
      return next({ answers: answers({ mysql: { ...s.answers.mysql, ...e.mysql } }), connection: undefined });
    case 'hubChosen':
      return next({
        answers: answers({ dualDatabase: true, ...(e.localServer !== undefined ? { localServer: e.localServer } : {}) }),
      });
    case 'sqliteOnlyChosen':
      return next({ answers: answers({ dualDatabase: false, localServer: false }), connection: undefined });
    case 'connectionTested':
      return next({ connection: e.check });
    case 'localServerStarted':
      return next({
        localServer: e.start,
        answers: answers({ localServer: true, dualDatabase: true, mysql: { ...e.mysql } }),
        connection: undefined,
      });
    case 'provisioned':
      return next({
        provisioned: e.result,
        answers: answers({
          mysql: {
            ...s.answers.mysql,
            user: e.result.user,
            ...(e.result.password !== undefined ? { password: e.result.password } : {}),
          },
        }),
        connection: undefined,
      });
    case 'captureInstalled':
      return next({ capture: e.report });
    case 'syncChosen':
      return next({ answers: answers({ sync: { ...e.sync } }) });
    case 'answersReplaced':
      return next({ answers: frozen(e.answers), connection: undefined });
  }
}

/** The store: one snapshot at a time, listeners told after each transition. */
export class SetupStore {
  private snap: SetupSnapshot;
  private readonly listeners = new Set<() => void>();

  constructor(initial: SetupSnapshot) {
    this.snap = initial;
  }

  getSnapshot = (): SetupSnapshot => this.snap;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  dispatch(event: SetupEvent): SetupSnapshot {
    this.snap = reduceSetup(this.snap, event);
    for (const l of [...this.listeners]) l();
    return this.snap;
  }
}
