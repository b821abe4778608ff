/**
 * `initNode` as the CLI and the library call it: the sync layer's init with the join guard
 * (src/compare/join-guard.ts, invariant 15) — a file holding rows the hub does not hold as they
 * are is refused before any capture goes in. The guard compares rows, which is the compare
 * layer's work, above sync: so it is passed down from here, not imported there.
 */
import { assertNoUnsyncedRows } from '../compare/join-guard.js';
import type { Config } from '../config/config.js';
import { type InitOptions, type InitReport, initNode as initSyncNode } from '../sync/init.js';

export function initNode(config: Config, options: InitOptions = {}): Promise<InitReport> {
  return initSyncNode(config, { ...options, joinGuard: options.joinGuard ?? assertNoUnsyncedRows });
}
