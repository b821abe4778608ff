/**
 * `dualdb migrate` as a separate process, as users run it: SIGKILL in the
 * middle of the copy, then `--resume`: the result equals a clean run (every row
 * once, identical values), and a plain re-run is refused.
 */
import { describe, expect, it } from 'vitest';
import { envOf, runCli, spawnCli, until } from './helpers/cli.js';
import { HUB_AVAILABLE } from './helpers/hub.js';
import { copiedSoFar, differences, epiSite, hubCount } from './helpers/migrate.js';
import { privateHub } from './helpers/private-hub.js';

describe.skipIf(!HUB_AVAILABLE)('dualdb migrate (CLI process): SIGKILL and --resume', () => {
  const hub = privateHub();

  it('SIGKILL mid-copy, then --resume: every row exactly once, identical to the source', async () => {
    const site = hub.keep(await epiSite(hub.testHub, hub.dir, 'kill', 30_000));
    const env = envOf(site.config);
    const child = spawnCli(['migrate', '--batch-size', '500'], env);
    await until(async () => (await copiedSoFar(site)) >= 2000, 'the copy of detections to be under way', 40_000);
    child.child.kill('SIGKILL');
    await child.exited;
    const partial = await hubCount(site.hub, 'detections');
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(30_000);

    // A plain re-run refuses the half-filled table and says how to go on.
    const plain = runCli(['migrate'], env);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/already holds .* row\(s\).*--resume/s);

    const resumed = runCli(['migrate', '--resume', '--json', '--batch-size', '5000'], env, { timeoutMs: 90_000 });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const report = JSON.parse(resumed.stdout) as {
      ok: boolean;
      resumed: boolean;
      tables: { table: string; rowsResumed: number; rowsCopied: number; verification: { status: string } }[];
    };
    expect(report.ok).toBe(true);
    expect(report.resumed).toBe(true);
    const det = report.tables.find((t) => t.table === 'detections');
    expect(det?.rowsResumed).toBeGreaterThan(0);
    expect((det?.rowsResumed ?? 0) + (det?.rowsCopied ?? 0)).toBe(30_000);
    expect(det?.verification.status).toBe('match');
    expect(await hubCount(site.hub, 'detections')).toBe(30_000);
    expect(await differences(site.config, site.hub)).toEqual([]);
  }, 120_000);
});
