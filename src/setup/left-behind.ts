/**
 * What a setup that ends without writing the .env (cancelled, failed) leaves
 * behind, in a phrase each: the private server it started, tables it created,
 * columns it widened, capture it installed, rows it copied. Front ends say
 * "nothing was saved" only when that is true.
 */
import path from 'node:path';
import type { MysqlConfig } from '../config/config.js';
import { localServerDir, localServerStatus, serverCommandFor } from './local-server.js';

/** What a session changed outside the .env. */
export interface Touched {
  localServer: boolean;
  schema: { hub: boolean; sqlite: boolean };
  fit: boolean;
  capture: boolean;
  migration: boolean;
}

export function endpointOf(m: Readonly<MysqlConfig>): string {
  return `${m.host}:${m.port}/${m.database}`;
}

/**
 * The line shown when a setup is left before it wrote the .env: "nothing was
 * saved" only when that is true, otherwise what remains (SetupSession.leftBehind).
 */
export function cancelledMessage(leftBehind: readonly string[]): string {
  if (leftBehind.length === 0) return 'setup cancelled; nothing was saved';
  return `setup cancelled; no .env was written. ${stillThere(leftBehind)}`;
}

/** "Still there: a; b" (empty when nothing is). */
export function stillThere(leftBehind: readonly string[]): string {
  return leftBehind.length === 0 ? '' : `Still there: ${leftBehind.join('; ')}`;
}

/** A folder as typed from here: relative when inside the current folder. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/**
 * One phrase per thing still there. `before` is the private server as the
 * session found it (it counts only when this session started or created it).
 */
export function leftBehindPhrases(
  touched: Readonly<Touched>,
  answers: { readonly envFile: string; readonly mysql: Readonly<MysqlConfig> },
  before: { readonly exists: boolean; readonly running: boolean },
): string[] {
  const out: string[] = [];
  const dir = localServerDir(answers.envFile);
  const now = localServerStatus(dir);
  // The private server: started (or created, or being created) by this session.
  if (now.exists && (touched.localServer || !before.exists || (now.running && !before.running))) {
    const flavor = now.marker?.flavor === 'mysql' ? 'MySQL' : 'MariaDB';
    const state = now.running
      ? `running; \`${serverCommandFor(answers.envFile, 'stop')}\` stops it, running setup again reuses it`
      : 'stopped; running setup again reuses it';
    out.push(`the private ${flavor} server in ${shownPath(dir)} (${state})`);
  }
  const { hub, sqlite } = touched.schema;
  if (hub || sqlite) {
    const where = [hub ? `the hub ${endpointOf(answers.mysql)}` : '', sqlite ? 'the SQLite file' : '']
      .filter(Boolean)
      .join(' and ');
    out.push(`the tables the schema step created on ${where}`);
  }
  if (touched.fit) out.push(`the hub's columns widened by schema fit (they hold every value they held)`);
  if (touched.capture) out.push('change capture (triggers and _dualdb_ tables) installed');
  if (touched.migration) out.push('the rows copied so far (setup again offers to resume)');
  return out;
}
