/**
 * Many sites on one hub (issue 8, docs/SYNC-CONTRACT.md, invariant 5 at scale): 20 nodes, each a
 * SQLite file with its own `dualdb sync --watch` process, write steadily
 * (inserts, updates and deletes of their own detections, lag probes aimed at
 * other nodes) while a control room writes centrally on the hub with a plain
 * mysql client. After the writers stop, every node must end identical to the
 * hub — checked by `compare`, table by table and row by row, not by counts —
 * and every probe must have reached its target node.
 *
 * Lag figures are printed, never asserted (the bench reports them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, processCpuSeconds } from './helpers/scale.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const NODES = Number(process.env.DUALDB_SCALE_NODES ?? 20);
const WRITE_SECONDS = 12;

describe.skipIf(!HUB_AVAILABLE)(`${NODES} nodes on one hub`, () => {
  let testHub: TestHub;
  let fleet: Fleet | undefined;
  const tmp = tempDir('dualdb-scale-');

  beforeAll(async () => {
    testHub = await startSyncTestHub();
  });

  afterAll(async () => {
    await fleet?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  it('converge: every node ends identical to the hub after steady writes on all sides', { timeout: 150_000 }, async () => {
    const t0 = Date.now();
    const phase = (what: string) => process.stdout.write(`scale: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const mysql = await testHub.freshDatabase('scale');
    fleet = await Fleet.create(mysql, tmp.dir, NODES);
    phase(`${NODES} nodes created`);
    await fleet.startSyncers();
    phase('sync processes online');
    const hubPid = testHub.server?.pid;
    const cpu0 = processCpuSeconds(hubPid);
    const load = fleet.startLoad({ ratePerNode: 4, centralRate: 10, probeEveryMs: 150 });
    await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));
    const stats = await load.stop();

    phase('writers stopped');
    const differences = await fleet.waitConverged(60_000);
    phase('converged');
    const cpu = processCpuSeconds(hubPid) - cpu0;
    // Stop the sync processes and compare once more: what is on disk now is final.
    const codes = await fleet.stopSyncers();
    const final = await fleet.divergence();

    const lags = stats.probes.map((p) => p.endToEndMs).sort((a, b) => a - b);
    const q = (f: number) => Math.round(lags[Math.min(lags.length - 1, Math.floor(f * lags.length))] ?? Number.NaN);
    process.stdout.write(
      `scale: ${NODES} nodes, ${stats.localWrites} local + ${stats.centralWrites} central writes in ${stats.seconds.toFixed(1)} s; ` +
        `${stats.probes.length} probes node→node p50 ${q(0.5)} ms p99 ${q(0.99)} ms; hub CPU ${cpu.toFixed(1)} s; ` +
        `hub log ${await fleet.hubLogRows()} rows\n`,
    );

    expect(differences).toEqual([]);
    expect(final).toEqual([]);
    expect(stats.probesLost).toBe(0);
    expect(stats.probes.length).toBeGreaterThan(0);
    expect(stats.localWrites).toBeGreaterThan(0);
    expect(stats.centralWrites).toBeGreaterThan(0);
    expect(codes.every((c) => c === 0)).toBe(true);
    // Every node holds every node's detections and the hub's (not only its own).
    const sites = fleet.nodes[NODES - 1]?.app.prepare('SELECT count(DISTINCT site) FROM detections').pluck().get();
    expect(Number(sites)).toBe(NODES + 1);
  });
});
