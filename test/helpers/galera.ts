/**
 * A private three-member MariaDB Galera cluster on loopback ports, for the
 * clustered-hub test: each member is a `LocalMysqlServer` (temp datadir, its own
 * socket, a real password-protected user created on the first member and
 * replicated to the others) started with the wsrep options below.
 *
 * - Member 1 is initialised and bootstraps the cluster (`--wsrep-new-cluster`,
 *   first start only); members 2 and 3 start on an empty data folder and receive
 *   it by state transfer (SST, rsync) from a donor.
 * - Every member listens on 127.0.0.1 only: client port, group communication
 *   (gmcast), incremental state transfer (IST) and SST receiver each get a free
 *   loopback port.
 * - `wsrep_auto_increment_control` is left ON (the default): every member hands
 *   out AUTO_INCREMENT values with increment = cluster size and its own offset,
 *   so the hub's change-log sequence has permanent gaps.
 *
 * When Galera cannot run here (no provider library, no server, no rsync for the
 * state transfer) the test is skipped with a loud notice; under CI=true with the
 * library installed it must run (a missing piece is then a failure).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../src/config/config.js';
import { findServerBinaries, freePort, LocalMysqlServer } from '../../src/engines/mysql/local-server.js';

export const GALERA_PROVIDER = process.env.WSREP_PROVIDER ?? '/usr/lib/galera/libgalera_smm.so';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, cmd)));
}

function missingPieces(): string[] {
  const missing: string[] = [];
  const server = findServerBinaries();
  if (server?.flavor !== 'mariadb') missing.push('mariadbd (mariadb-server)');
  if (!existsSync(GALERA_PROVIDER)) missing.push(`${GALERA_PROVIDER} (galera-4)`);
  if (!onPath('rsync') || !onPath('wsrep_sst_rsync')) missing.push('rsync and wsrep_sst_rsync (rsync, mariadb-server)');
  return missing;
}

const missing = missingPieces();
/** Whether a Galera cluster can be started here. */
export const GALERA_AVAILABLE = missing.length === 0;

if (!GALERA_AVAILABLE) {
  const msg = `\n*** GALERA TEST SKIPPED: missing ${missing.join(', ')}. On Debian: apt-get install galera-4 rsync mariadb-server ***\n`;
  // CI installs galera-4 when it can (.ci/run); once the library is there, the test must run.
  if (process.env.CI === 'true' && existsSync(GALERA_PROVIDER)) throw new Error(msg);
  process.stderr.write(msg);
}

export interface GaleraMember {
  index: number;
  name: string;
  server: LocalMysqlServer;
  /** Connection settings for the test user on this member. */
  config(database: string): MysqlConfig;
}

export interface GaleraCluster {
  members: GaleraMember[];
  member(index: number): GaleraMember;
  /** Root on one member (private socket). */
  admin(index: number, database?: string): Promise<mysql.Connection>;
  /** A new database (created on member 1, replicated by the cluster) usable by the test user. */
  freshDatabase(prefix: string): Promise<string>;
  /**
   * Starts a stopped or killed member again; it rejoins and catches up by state transfer
   * (after a kill -9 its saved position is unknown, so the donor sends a full copy).
   */
  restartMember(index: number): Promise<void>;
  /** wsrep status of one member: cluster size and local state ('Synced', …). */
  status(index: number): Promise<{ size: number; state: string; ready: boolean }>;
  /** Waits until every running member sees a cluster of `size` and is Synced. */
  waitSynced(size: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * As root, the rsync daemon that receives an SST drops to `nobody`: the joiner's data folder
 * must be writable by that user (a test-only arrangement; real deployments run as `mysql`).
 */
function prepareJoinerDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  const walk = (p: string) => {
    chownSync(p, uid, gid);
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = path.join(p, e.name);
      if (e.isDirectory()) walk(q);
      else chownSync(q, uid, gid);
    }
  };
  walk(dir);
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function startGaleraCluster(size = 3): Promise<GaleraCluster> {
  const base = path.join(os.tmpdir(), `dualdb-galera-${process.pid}-${randomBytes(4).toString('hex')}`);
  const name = `dualdb_${randomBytes(3).toString('hex')}`;
  const ports = await distinctPorts(size * 4);
  const gmcast = ports.slice(0, size);
  const address = `gcomm://${gmcast.map((p) => `127.0.0.1:${p}`).join(',')}`;
  const password = randomBytes(18).toString('base64url');
  const members: GaleraMember[] = [];

  const wsrepArgs = (i: number): string[] => {
    const [g, ist, sst] = [gmcast[i], ports[size + i], ports[2 * size + i]];
    return [
      '--wsrep-on=ON',
      `--wsrep-provider=${GALERA_PROVIDER}`,
      `--wsrep-cluster-address=${address}`,
      `--wsrep-cluster-name=${name}`,
      `--wsrep-node-name=member${i + 1}`,
      `--wsrep-node-address=127.0.0.1:${g}`,
      // Loopback: a crashed member is suspected after 3 s instead of 5 (and evicted after 6 s, not 15);
      // not less, or a member starved of CPU by a loaded machine is suspected too.
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${g};ist.recv_addr=127.0.0.1:${ist};gcache.size=64M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.inactive_check_period=PT0.5S`,
      `--wsrep-sst-receive-address=127.0.0.1:${sst}`,
      '--wsrep-sst-method=rsync',
      '--binlog-format=ROW',
      '--innodb-autoinc-lock-mode=2',
      '--default-storage-engine=InnoDB',
      '--innodb-buffer-pool-size=64M',
      // A Galera member logs like a binlogged server: without this (or SUPER) the dualdb user may
      // not create its capture triggers (ER_BINLOG_CREATE_ROUTINE_NEED_SUPER, docs/CLUSTER.md).
      '--log-bin-trust-function-creators=1',
    ];
  };

  const makeMember = (i: number, server: LocalMysqlServer): GaleraMember => ({
    index: i + 1,
    name: `member${i + 1}`,
    server,
    config: (database: string) => ({ ...server.config(), database }),
  });

  const cluster: GaleraCluster = {
    members,
    member(index: number) {
      const m = members[index - 1];
      if (!m) throw new Error(`no member ${index}`);
      return m;
    },
    admin: (index, database) => cluster.member(index).server.rootConnection(database),
    async freshDatabase(prefix: string) {
      const db = `${prefix}_${randomBytes(4).toString('hex')}`;
      await cluster.member(1).server.createDatabase(db);
      return db;
    },
    async restartMember(index: number) {
      const m = cluster.member(index);
      // A crashed member left files the server wrote itself: the SST receiver must overwrite them.
      prepareJoinerDataDir(m.server.dataDir);
      await m.server.restart();
    },
    async status(index: number) {
      const c = await cluster.admin(index);
      try {
        const [rows] = (await c.query(
          "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_ready')",
        )) as unknown as [{ Variable_name: string; Value: string }[]];
        const v = new Map(rows.map((r) => [r.Variable_name, r.Value]));
        return {
          size: Number(v.get('wsrep_cluster_size') ?? 0),
          state: v.get('wsrep_local_state_comment') ?? '',
          ready: v.get('wsrep_ready') === 'ON',
        };
      } finally {
        await c.end();
      }
    },
    async waitSynced(expected: number, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        const running = members.filter((m) => m.server.running);
        const states = await Promise.all(running.map((m) => cluster.status(m.index).catch(() => undefined)));
        last = states.map((s, k) => `${running[k]?.name}: ${s ? `${s.state}/${s.size}` : 'down'}`).join(', ');
        if (states.every((s) => s && s.size === expected && s.state === 'Synced' && s.ready)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`the Galera cluster did not reach ${expected} synced members (${last})`);
    },
    async close() {
      for (const m of [...members].reverse()) await m.server.kill().catch(() => {});
      rmSync(base, { recursive: true, force: true });
    },
  };

  try {
    // Member 1: initialised here, bootstraps a new cluster. The bootstrap flag is removed once the
    // cluster has formed, so a restart of member 1 would rejoin instead of forking a second cluster.
    // (LocalMysqlServer keeps this very array and reads it at every launch.)
    const firstArgs = [...wsrepArgs(0), '--wsrep-new-cluster'];
    const first = await LocalMysqlServer.start({
      dir: path.join(base, 'member1'),
      port: ports[3 * size],
      user: 'dualdb_galera',
      password,
      database: 'dualdb_galera',
      durable: false,
      extraArgs: firstArgs,
    });
    members.push(makeMember(0, first));
    // Joiners start together: the donor serves one state transfer at a time and the other joiner
    // waits for it (or for the first joiner as a donor), but their own start-up overlaps.
    const joiners = await Promise.allSettled(
      Array.from({ length: size - 1 }, (_, k) => k + 1).map(async (i) => {
        const dir = path.join(base, `member${i + 1}`);
        prepareJoinerDataDir(path.join(dir, 'data'));
        const server = await LocalMysqlServer.start({
          dir,
          port: ports[3 * size + i],
          user: 'dualdb_galera',
          password,
          database: 'dualdb_galera',
          durable: false,
          receivesState: true,
          startTimeoutMs: 90_000,
          extraArgs: wsrepArgs(i),
        });
        return makeMember(i, server);
      }),
    );
    for (const j of joiners) if (j.status === 'fulfilled') members.push(j.value);
    const failed = joiners.find((j) => j.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await cluster.waitSynced(size);
    firstArgs.splice(firstArgs.indexOf('--wsrep-new-cluster'), 1);
    return cluster;
  } catch (e) {
    await cluster.close();
    throw e;
  }
}
