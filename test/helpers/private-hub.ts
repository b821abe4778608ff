/**
 * The setup every hub-backed test file shares: a private MariaDB started before
 * the first test of a describe block and a temporary folder, and after the last
 * test whatever the tests handed to `keep` (nodes, sites, worlds) closed, the
 * hub stopped and the folder removed. Call it inside `describe`.
 */
import { afterAll, beforeAll } from 'vitest';
import { startTestHub, type TestHub } from './hub.js';
import { tempDir } from './tmp.js';

export interface PrivateHub {
  /** The running hub (inside tests and hooks that run after beforeAll). */
  readonly testHub: TestHub;
  /** The folder for SQLite files, logs and configs. */
  readonly dir: string;
  /** Closes `thing` after the block's tests, before the hub stops; returns it. */
  keep<T extends { close(): Promise<unknown> }>(thing: T): T;
}

/** `start`: how the hub starts (default `startTestHub`; the sync tests pass `startSyncTestHub`). */
export function privateHub(start: () => Promise<TestHub> = startTestHub): PrivateHub {
  let hub: TestHub | undefined;
  const tmp = tempDir();
  const kept: { close(): Promise<unknown> }[] = [];
  beforeAll(async () => {
    hub = await start();
  });
  afterAll(async () => {
    for (const k of kept) await k.close().catch(() => {});
    await hub?.close();
    tmp.cleanup();
  });
  return {
    get testHub(): TestHub {
      if (!hub) throw new Error('the private hub starts in beforeAll: use it inside a test');
      return hub;
    },
    dir: tmp.dir,
    keep(thing) {
      kept.push(thing);
      return thing;
    },
  };
}
