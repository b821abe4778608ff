/**
 * `dualdb migrate --dry-run` exits with the code the real run would end with (README "Exit
 * codes"): a target that already holds rows is a refusal, exit 2, not a failure (1); a plan with
 * nothing to refuse exits 0.
 */
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/util/exit-codes.js';
import { envOf, runCli } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { epiSite } from './helpers/migrate.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_AVAILABLE)('dualdb migrate --dry-run (CLI process): exit codes', () => {
  const hub = privateHub();

  it('a refused plan (the hub tables hold rows) exits 2 as the real run does; a clean one 0', async () => {
    const site = hub.keep(await epiSite(hub.testHub, hub.dir, 'dryrun', 200));
    const env = envOf(site.config);
    const clean = runCli(['migrate', '--dry-run'], env);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(EXIT.OK);
    expect(runCli(['migrate'], env, { timeoutMs: 90_000 }).code).toBe(EXIT.OK);

    const real = runCli(['migrate'], env);
    expect(real.code).toBe(EXIT.CONFIG);
    const dry = runCli(['migrate', '--dry-run'], env);
    expect(dry.stdout).toMatch(/already holds .* row\(s\)/);
    expect(dry.code).toBe(real.code);
    const json = runCli(['migrate', '--dry-run', '--json'], env);
    expect(json.code).toBe(EXIT.CONFIG);
    const report = JSON.parse(json.stdout) as { ok: boolean; refusal?: { code: string; exitCode: number } };
    expect(report.ok).toBe(false);
    expect(report.refusal).toEqual({ code: 'MIGRATION_TARGET_NOT_EMPTY', exitCode: EXIT.CONFIG });
  }, 180_000);
});
