/**
 * `dualdb rekeys resolve <id> --rekey node|hub` and `rekeys resolve --all`, as one request: run by
 * the node's running syncer when one holds the file (the control socket's `rekeys-resolve`, inside
 * its own loop: SyncService.runInLoop), else by the command's own Syncer. A resolve in a second
 * process beside `sync --watch` raced the watcher's push and pull (PullRaceError, and `--all` timing
 * out under load: operator trials of `manual`, issue 11); in the loop it never does. The outcome is
 * plain JSON, so that the command prints the same either way.
 */
import { ConfigError } from '../util/errors.js';
import type { RekeyEvent } from './rekey.js';
import { resolveRekey } from './rekey-resolve.js';
import { type ResolveAllReport, resolveAllRekeys } from './rekey-resolve-all.js';
import type { Syncer } from './syncer.js';

export type ResolveRequest =
  | { all?: false; id: number; side: 'node' | 'hub' }
  | { all: true; side: 'node' | 'hub'; table?: string };

export type ResolveOutcome =
  | { kind: 'one'; id: number; event: RekeyEvent | null; closed?: string }
  | { kind: 'all'; report: ResolveAllReport };

/** The request as the socket brought it (from any local client): checked before anything runs. */
export function resolveRequestOf(x: unknown): ResolveRequest {
  const r = (x ?? {}) as { all?: unknown; id?: unknown; side?: unknown; table?: unknown };
  if (r.side !== 'node' && r.side !== 'hub')
    throw new ConfigError('--rekey', `--rekey ${String(r.side)} is not valid: accepted node or hub`);
  if (r.all === true) return { all: true, side: r.side, ...(typeof r.table === 'string' ? { table: r.table } : {}) };
  if (typeof r.id !== 'number' || !Number.isSafeInteger(r.id) || r.id < 1)
    throw new ConfigError('<id>', `key collision id ${String(r.id)} is not valid: a number from \`dualdb rekeys\`, or --all`);
  return { id: r.id, side: r.side };
}

/** Whether the lock holder's answer is an outcome (a `sync --once` holding it answers every command with its ping). */
export function isResolveOutcome(x: unknown): x is ResolveOutcome {
  const k = (x as { kind?: unknown } | null)?.kind;
  return k === 'one' || k === 'all';
}

export async function runResolveRequest(syncer: Syncer, req: ResolveRequest): Promise<ResolveOutcome> {
  if (req.all) {
    if (req.table && !(await syncer.currentPlan()).byName.has(req.table))
      throw new ConfigError('--table', `table ${req.table} is not synced: see \`dualdb status\``);
    return { kind: 'all', report: await resolveAllRekeys(syncer, req.side, req.table) };
  }
  let closed: string | undefined;
  const event = await resolveRekey(syncer, req.id, req.side, (line) => {
    closed = line;
  });
  return { kind: 'one', id: req.id, event, ...(closed ? { closed } : {}) };
}
