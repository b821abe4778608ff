/**
 * `dualdb rekeys resolve --all --rekey node|hub [--table T]`: every held key collision settled
 * in one process, parents before children (plan rank). A child row collides itself only once its
 * parent is settled (pending until then): each round's sync moves such a child as its parent moved
 * (rekey-resolve-parents.ts markFollowers), and holds any other collision it meets for the next
 * round, until none is left or none moves.
 */
import { DualdbError } from '../util/errors.js';
import type { RekeyEvent } from './rekey.js';
import { resolveRekey } from './rekey-resolve.js';
import type { Syncer } from './syncer.js';

export interface ResolveAllReport {
  /** Collisions ended by moving one row. */
  moved: number;
  /** Collisions ended because one of the two rows was gone. */
  gone: number;
  /** Collisions that could not be resolved, with why (the first few). */
  failed: { id: number; message: string }[];
  /** Still held or pending afterwards (of the table, if one was named). */
  held: number;
  pending: number;
  rounds: number;
  events: RekeyEvent[];
}

const MAX_ROUNDS = 20;

export async function resolveAllRekeys(syncer: Syncer, side: 'node' | 'hub', table?: string): Promise<ResolveAllReport> {
  const report: ResolveAllReport = { moved: 0, gone: 0, failed: [], held: 0, pending: 0, rounds: 0, events: [] };
  const failedIds = new Set<number>();
  // Held records whose node row names a parent the hub lacks: the round's sync sends it, once tried again.
  const waitedForSync = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const plan = await syncer.currentPlan();
    const rank = (t: string) => plan.byName.get(t)?.rank ?? Number.MAX_SAFE_INTEGER;
    const held = syncer.rekeys
      .list({ status: 'held', ...(table ? { table } : {}), limit: Number.MAX_SAFE_INTEGER })
      .filter((r) => !failedIds.has(r.id))
      .sort((a, b) => rank(a.tbl) - rank(b.tbl) || a.id - b.id);
    if (held.length === 0 && syncer.rekeys.statusCounts(table).pending === 0) break;
    report.rounds++;
    let progress = 0;
    let again = false;
    for (const rec of held) {
      try {
        const e = await resolveRekey(syncer, rec.id, side);
        progress++;
        if (e) {
          report.moved++;
          report.events.push(e);
        } else report.gone++;
      } catch (e) {
        // A child whose parent is still held waits for a later round; anything else is reported.
        if (e instanceof DualdbError && e.code === 'REKEY_PARENT_HELD') continue;
        // Its parent row is this node's own, not pushed yet: the sync below sends it; then once more.
        if (e instanceof DualdbError && e.code === 'REKEY_PARENT_UNSENT' && !waitedForSync.has(rec.id)) {
          waitedForSync.add(rec.id);
          again = true;
          continue;
        }
        failedIds.add(rec.id);
        report.failed.push({ id: rec.id, message: e instanceof Error ? e.message : String(e) });
      }
    }
    // Children whose parents were settled now collide themselves: the sync moves them as their
    // parents moved (markFollowers), counted as resolved here; others it holds for the next round.
    const before = syncer.rekeys.statusCounts(table);
    const followers = new Set(
      syncer.rekeys
        .list({ status: 'pending', ...(table ? { table } : {}), limit: Number.MAX_SAFE_INTEGER })
        .filter((r) => r.mode === 'rekey-node' || r.mode === 'rekey-hub')
        .map((r) => r.id),
    );
    const cycle = await syncer.syncOnce();
    for (const e of cycle.push.rekeys)
      if (followers.has(e.id)) {
        report.moved++;
        report.events.push(e);
        progress++;
      }
    const after = syncer.rekeys.statusCounts(table);
    if (progress === 0 && !again && after.held === before.held && after.pending === before.pending) break;
  }
  const left = syncer.rekeys.statusCounts(table);
  report.held = left.held;
  report.pending = left.pending;
  return report;
}
