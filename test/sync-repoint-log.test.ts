/**
 * The hub log's `P` (a child re-pointed by another node's move of its parent, rekey.ts
 * `repointChildren`) read without a database: not a change of the row (changeset.ts `repointed`,
 * row-history.ts), while a real change before or after it still is one.
 */
import { describe, expect, it } from 'vitest';
import { ChangeSet } from '../src/sync/changeset.js';
import { type HistoryEntry, rowHistory } from '../src/sync/row-history.js';

describe('the hub log’s re-pointing entries (P)', () => {
  it('coalesced: P alone is `repointed`; a real change before or after it is the change, the P adding only its seq', () => {
    const c = new ChangeSet();
    c.add('notes', '5', 10n, 1000, 'P');
    expect(c.get('notes', '5')).toMatchObject({ repointed: true, firstOp: 'U', maxSeq: 10n, deleted: false });
    c.add('notes', '5', 11n, 2000, 'D');
    expect(c.get('notes', '5')).toMatchObject({ firstOp: 'D', deleted: true, maxSeq: 11n, firstAt: 2000, lastAt: 2000, ops: 1 });
    expect(c.get('notes', '5')?.repointed).toBeFalsy();

    c.add('notes', '6', 20n, 1000, 'U');
    c.add('notes', '6', 21n, 5000, 'P');
    expect(c.get('notes', '6')).toMatchObject({ firstOp: 'U', maxSeq: 21n, lastAt: 1000, ops: 1 });
    expect(c.get('notes', '6')?.repointed).toBeFalsy();

    // A parked re-pointing retried is still one.
    c.add('notes', '7', 0n, 9000, 'P', true);
    expect(c.get('notes', '7')).toMatchObject({ repointed: true, retry: true });
  });

  it('a row’s history across moves skips it: nothing unseen but the re-pointing is nothing unseen', () => {
    const entries: HistoryEntry[] = [{ seq: 5n, pk: '5', op: 'P', origin: 'a', at: 1000 }];
    const byKey = new Map([['5', entries]]);
    expect(rowHistory('5', byKey, [], 'b', () => true)).toBeUndefined();
    entries.push({ seq: 6n, pk: '5', op: 'U', origin: 'a', at: 2000 });
    expect(rowHistory('5', byKey, [], 'b', () => true)).toMatchObject({ seq: 6n, firstOp: 'U', count: 1 });
  });
});
