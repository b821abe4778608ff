/**
 * Vitest global setup: starts building the run's hub template (helpers/hub-template.ts) without
 * waiting for it (files with a hub wait in `templateDataDir()`), and compiles the CLI the tests
 * run (helpers/cli-build.ts). Both are removed after the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findServerBinaries } from '../src/engines/mysql/local-server.js';
import { buildCliTree, CLI_TREE_ENV } from './helpers/cli-build.js';
import { buildHubTemplate, HUB_TEMPLATE_ENV } from './helpers/hub-template.js';

type Teardown = () => Promise<void>;
const ONCE = Symbol.for('dualdb.test.globalSetup');

/**
 * vitest calls a global setup once for the root and once per project (vitest.config.ts has two),
 * in one process: the first call does the work, the others wait for it and tear nothing down.
 */
export default async function setup(): Promise<Teardown> {
  const g = globalThis as { [ONCE]?: Promise<Teardown> };
  const first = g[ONCE];
  if (first) {
    await first;
    return async () => {};
  }
  g[ONCE] = setupOnce();
  return g[ONCE];
}

async function setupOnce(): Promise<Teardown> {
  const cleanups: (() => Promise<void> | void)[] = [];
  // Variables set here, before the workers start, are inherited by them.
  // With MYSQL_URL the tests use that server; without a binary they skip (helpers/hub.ts).
  if (!process.env.MYSQL_URL && findServerBinaries()) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dualdb-hub-template-'));
    process.env[HUB_TEMPLATE_ENV] = dir;
    const building = buildHubTemplate(dir);
    cleanups.push(async () => {
      await building;
      rmSync(dir, { recursive: true, force: true });
    });
  }
  const cli = mkdtempSync(path.join(os.tmpdir(), 'dualdb-cli-'));
  cleanups.push(() => rmSync(cli, { recursive: true, force: true }));
  try {
    await buildCliTree(cli); // awaited: CLI tests start it synchronously
    process.env[CLI_TREE_ENV] = cli;
  } catch (e) {
    process.stderr.write(
      `\n*** the CLI could not be compiled for the tests (${(e as Error).message}): it runs through tsx ***\n`,
    );
  }
  return async () => {
    for (const c of cleanups) await c();
  };
}
