/**
 * Vitest global setup: starts building the run's hub template (helpers/hub-template.ts) and
 * returns at once, so that files without a hub do not wait for it; files with one wait in
 * `templateDataDir()`. The template is removed after the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findServerBinaries } from '../src/engines/mysql/local-server.js';
import { buildHubTemplate, HUB_TEMPLATE_ENV } from './helpers/hub-template.js';

export default function setup(): (() => Promise<void>) | undefined {
  // With MYSQL_URL the tests use that server; without a binary they skip (helpers/hub.ts).
  if (process.env.MYSQL_URL || !findServerBinaries()) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dualdb-hub-template-'));
  // Set before the workers start: they inherit it.
  process.env[HUB_TEMPLATE_ENV] = dir;
  const building = buildHubTemplate(dir);
  return async () => {
    await building;
    rmSync(dir, { recursive: true, force: true });
  };
}
