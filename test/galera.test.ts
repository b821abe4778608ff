/**
 * A hub that outgrows one server (issue 8, item 3): the hub is a three-member
 * MariaDB Galera cluster on loopback ports, and the nodes talk to different
 * members (A → member 1, B → member 2, C → member 3).
 *
 * 1. Capture works on every member: a `mariadb` client writing on member 2 and a
 *    node pushing through member 3 both reach a node pulling from member 1
 *    (triggers fire on the member that runs the statement; the change-log rows
 *    travel to the others as row events).
 * 2. Late commits with Galera's auto_increment_increment/offset: every member
 *    hands out change-log seqs of its own residue, so the sequence has permanent
 *    gaps. A transaction held open on member 2 across pulls from member 1 is
 *    still delivered when it commits; the permanent gaps are given up (no
 *    cluster-wide proof of death exists from one member: SYNC_HOLE_TIMEOUT)
 *    without pinning the node's prune bound for ever.
 * 3. Failover of one member under load: writers on every node (the library and a
 *    `sqlite3` CLI process) and central writers keep going while member 2 is
 *    kill -9'ed; node B degrades, keeps writing locally, and reconnects when the
 *    member is back; node C is moved to another member mid-run (what a proxy or
 *    router in front of the cluster does). At the end `compare` finds every node
 *    identical to every member.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareNode } from '../src/compare/compare.js';
import type { Config } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import type { SqliteDb } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { SyncService } from '../src/sync/service.js';
import type { NodeState } from '../src/sync/status.js';
import { Syncer } from '../src/sync/syncer.js';
import { GALERA_AVAILABLE, type GaleraCluster, startGaleraCluster } from './helpers/galera.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { waitFor } from './helpers/sync.js';
import { tempDir } from './helpers/tmp.js';

const execFileAsync = promisify(execFile);

const SQLITE_DDL = ['CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT NOT NULL, n INTEGER NOT NULL, note TEXT)'];
// Galera replicates InnoDB tables with a primary key (every synced table has one anyway).
const HUB_DDL = 'CREATE TABLE events (id BIGINT PRIMARY KEY, source VARCHAR(20) NOT NULL, n BIGINT NOT NULL, note TEXT)';
const HOLE_TIMEOUT_S = 4;

interface GNode {
  name: string;
  member: number;
  config: Config;
  syncer: Syncer;
  db: SqliteDb;
}

describe.skipIf(!GALERA_AVAILABLE)('a hub on a three-member MariaDB Galera cluster', () => {
  let cluster: GaleraCluster;
  let database: string;
  const tmp = tempDir();
  const nodes = new Map<string, GNode>();
  const closers: (() => Promise<unknown>)[] = [];

  const memberConfig = (member: number) => cluster.member(member).config(database);
  async function hubOn(member: number): Promise<MysqlHub> {
    const h = await MysqlHub.connect(memberConfig(member));
    closers.push(() => h.close());
    return h;
  }
  const node = (name: string): GNode => {
    const n = nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  const ids = (db: SqliteDb): number[] =>
    (db.prepare('SELECT id FROM events ORDER BY id').all() as { id: bigint }[]).map((r) => Number(r.id));
  const has = (n: GNode, id: number) => n.db.prepare('SELECT 1 FROM events WHERE id = ?').get(id) !== undefined;

  beforeAll(async () => {
    cluster = await startGaleraCluster(3);
    database = await cluster.freshDatabase('galera');
    const h = await hubOn(1);
    await h.execute(HUB_DDL);
    for (const [name, member] of [
      ['A', 1],
      ['B', 2],
      ['C', 3],
    ] as const) {
      const config = nodeConfig(tmp.dir, name, memberConfig(member), {
        NODE_ID: name,
        SYNC_INTERVAL: '0.3',
        DB_CONNECT_TIMEOUT: '1',
        SYNC_HOLE_TIMEOUT: String(HOLE_TIMEOUT_S),
      });
      createSqlite(config, SQLITE_DDL).close();
      await initNode(config); // capture installed through this node's own member
      const syncer = Syncer.open(config, { planTtlMs: 0 });
      nodes.set(name, { name, member, config, syncer, db: syncer.db });
    }
  }, 150_000);

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    for (const n of nodes.values()) await n.syncer.close().catch(() => {});
    await cluster?.close();
    tmp.cleanup();
  });

  it('captures writes on every member and delivers late commits despite the permanent seq gaps', async () => {
    const A = node('A');
    const C = node('C');
    for (const n of nodes.values()) await n.syncer.syncOnce();

    // A plain `mariadb` client writing on member 2 (password through the environment, never argv).
    const m2 = memberConfig(2);
    await execFileAsync(
      'mariadb',
      [
        '--no-defaults',
        '--protocol=TCP',
        '-h',
        m2.host,
        '-P',
        String(m2.port),
        '-u',
        m2.user,
        '--default-character-set=utf8mb4',
        m2.database,
        '-e',
        "INSERT INTO events VALUES (1, 'cli-m2', 1, 'written on member 2 🚧'), (2, 'cli-m2', 2, NULL)",
      ],
      { env: { ...process.env, MYSQL_PWD: m2.password } },
    );
    // A local write on node C goes up through member 3.
    C.db.prepare("INSERT INTO events VALUES (3, 'node-C', 3, 'pushed via member 3')").run();
    await C.syncer.syncOnce();
    // A central write on member 1 itself.
    const h1 = await hubOn(1);
    await h1.execute("INSERT INTO events VALUES (4, 'hub-m1', 4, NULL)");

    await waitFor(async () => {
      await A.syncer.syncOnce();
      return [1, 2, 3, 4].every((id) => has(A, id));
    }, 'node A (member 1) to pull the writes made on members 2 and 3');
    expect(A.db.prepare('SELECT source, note FROM events WHERE id = 1').get()).toEqual({
      source: 'cli-m2',
      note: 'written on member 2 🚧',
    });

    // Every member numbered its captures with its own auto_increment offset: the log has gaps
    // that no transaction will ever fill.
    const log = await h1.query<{ seq: string; tbl: string; pk: string }>(
      "SELECT seq, tbl, pk FROM _dualdb_changes WHERE tbl = 'events' ORDER BY seq",
    );
    const seqs = log.map((r) => BigInt(r.seq));
    const [[inc]] = [await h1.query<{ inc: string }>('SELECT @@auto_increment_increment AS inc')];
    expect(Number(inc?.inc)).toBe(cluster.members.length);
    const residues = new Set(seqs.map((s) => s % BigInt(cluster.members.length)));
    expect(residues.size).toBeGreaterThan(1); // captured on more than one member
    const gaps = seqs.slice(1).filter((s, i) => s - (seqs[i] as bigint) > 1n).length;
    expect(gaps).toBeGreaterThan(0);

    // A late commit: a transaction on member 2 takes a seq and stays open while members 1 and 3
    // commit later changes, which node A (member 1) pulls.
    const slow: mysql.Connection = await cluster.admin(2, database);
    closers.push(() => slow.end());
    await slow.query('START TRANSACTION');
    await slow.query("INSERT INTO events VALUES (100, 'late-m2', 100, 'committed late')");
    const [late] = (await slow.query("SELECT seq FROM _dualdb_changes WHERE tbl = 'events' AND pk = '100'")) as unknown as [
      { seq: string }[],
    ];
    const lateSeq = BigInt(late[0]?.seq ?? -1);
    expect(lateSeq).toBeGreaterThan(0n);
    const h3 = await hubOn(3);
    for (let i = 101; i <= 103; i++) await h1.execute("INSERT INTO events VALUES (?, 'hub-m1', ?, NULL)", [i, i]);
    for (let i = 104; i <= 106; i++) await h3.execute("INSERT INTO events VALUES (?, 'hub-m3', ?, NULL)", [i, i]);
    await waitFor(async () => {
      await A.syncer.syncOnce();
      return [101, 102, 103, 104, 105, 106].every((id) => has(A, id));
    }, 'node A to pull the changes committed after the open transaction');
    expect(has(A, 100)).toBe(false);
    const during = A.syncer.state.pullState();
    expect(during.upto).toBeGreaterThan(lateSeq);
    expect(during.holes.has(lateSeq)).toBe(true);
    // Nor may the hub prune below the open transaction's seq on A's behalf.
    const [row] = await h1.query<{ pull_upto: string }>('SELECT pull_upto FROM _dualdb_nodes WHERE node_id = ?', ['A']);
    expect(BigInt(row?.pull_upto ?? 0)).toBeLessThan(lateSeq);

    await slow.query('COMMIT');
    await waitFor(async () => {
      await A.syncer.syncOnce();
      return has(A, 100);
    }, 'the late commit to reach node A');
    expect(A.db.prepare('SELECT source, note FROM events WHERE id = 100').get()).toEqual({
      source: 'late-m2',
      note: 'committed late',
    });
    expect(A.syncer.state.pullState().holes.has(lateSeq)).toBe(false);

    // The permanent gaps are released once SYNC_HOLE_TIMEOUT has passed: the node's hole list
    // empties and the prune bound it reports reaches its cursor.
    await waitFor(
      async () => {
        await A.syncer.syncOnce();
        return A.syncer.state.pullState().holes.size === 0;
      },
      'the permanent gaps to be given up',
      (HOLE_TIMEOUT_S + 20) * 1000,
    );
    const after = A.syncer.state.pullState();
    const [released] = await h1.query<{ pull_upto: string }>('SELECT pull_upto FROM _dualdb_nodes WHERE node_id = ?', ['A']);
    expect(BigInt(released?.pull_upto ?? 0)).toBe(after.upto);
    expect(A.syncer.log.recent(5000).some((e) => e.event === 'pull.holes-expired')).toBe(true);
    expect(ids(A.db)).toEqual([1, 2, 3, 4, 100, 101, 102, 103, 104, 105, 106]);
  }, 60_000);

  it('loses nothing when a member is killed under load, and every node ends identical to every member', async () => {
    const A = node('A');
    const B = node('B');
    const C = node('C');
    const services = new Map<string, SyncService>();
    const states = new Map<string, NodeState[]>();
    const startService = (n: GNode, config: Config, syncer?: Syncer) => {
      const s = new SyncService(config, syncer ? { syncer } : {});
      const seen: NodeState[] = states.get(n.name) ?? [];
      states.set(n.name, seen);
      s.on('state', (next) => seen.push(next));
      s.start();
      closers.push(() => s.stop());
      services.set(n.name, s);
      return s;
    };
    for (const n of [A, B, C]) startService(n, n.config, n.syncer);

    // Writers: the library on every node, a sqlite3 shell on node B, central writers on members 1 and 3.
    const shell = spawn('sqlite3', [B.config.sqlitePath], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    shell.stdin.write('.timeout 10000\n');
    let shellNext = 3_000_000;
    const centralHubs = [await hubOn(1), await hubOn(3)] as const;
    let writing = true;
    const written = { local: 0, shell: 0, central: 0 };
    const writer = async (n: GNode, base: number) => {
      let i = 0;
      while (writing) {
        i++;
        const id = base + i;
        n.db.prepare('INSERT INTO events (id, source, n, note) VALUES (?, ?, ?, ?)').run(id, `lib-${n.name}`, i, `ü ${i}`);
        written.local++;
        if (i % 5 === 0) n.db.prepare('UPDATE events SET n = n + 1000 WHERE id = ?').run(id - 2);
        if (i % 11 === 0) n.db.prepare('DELETE FROM events WHERE id = ?').run(id - 7);
        if (n === B && i % 4 === 0) {
          shell.stdin.write(
            `BEGIN; INSERT INTO events VALUES (${shellNext}, 'sqlite3', ${shellNext}, 'x'); INSERT INTO events VALUES (${shellNext + 1}, 'sqlite3', 1, NULL); COMMIT;\n`,
          );
          shellNext += 2;
          written.shell += 2;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // A central application on a cluster retries what the cluster refuses for a moment
    // (a member briefly out of the primary component under load, a certification
    // conflict): the write either committed or was rolled back, never half-done.
    const retrying = async (write: () => Promise<unknown>) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await write();
        } catch (e) {
          const { errno, code } = e as { errno?: number; code?: string };
          if (code === 'ER_DUP_ENTRY' && attempt > 1) return; // the earlier attempt did commit
          if (
            attempt >= 60 ||
            !(errno === 1180 || errno === 1047 || errno === 1213 || errno === 1205 || code === 'MYSQL_CONNECTION_LOST')
          )
            throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    const centralWriter = async () => {
      let i = 0;
      while (writing) {
        i++;
        const h = i % 2 === 0 ? centralHubs[0] : centralHubs[1];
        await retrying(() => h.execute("INSERT INTO events VALUES (?, 'central', ?, NULL)", [4_000_000 + i, i]));
        if (i % 6 === 0)
          await retrying(() => h.execute('UPDATE events SET note = ? WHERE id = ?', [`central ${i}`, 4_000_000 + i - 3]));
        written.central++;
        await new Promise((r) => setTimeout(r, 40));
      }
    };
    const writers = [writer(A, 1_000_000), writer(B, 2_000_000), writer(C, 5_000_000), centralWriter()];

    try {
      await waitFor(() => services.get('B')?.state === 'online', 'node B to be online');
      await new Promise((r) => setTimeout(r, 1500));

      // Member 2 crashes: node B loses its hub, keeps writing locally and queues.
      await cluster.member(2).server.kill();
      await waitFor(() => services.get('B')?.state === 'degraded', 'node B to notice that its member is gone', 20_000);
      const queuedAtDegrade = B.syncer.state.pendingPush(true).count;
      await waitFor(
        () => B.syncer.state.pendingPush(true).count > queuedAtDegrade,
        'node B to keep capturing local writes while its member is down',
      );

      // Node C is moved to member 1 (a proxy or router in front of the cluster may do this at any
      // time): its cursors are positions in the cluster-wide log, valid on every member.
      const oldC = services.get('C') as SyncService;
      await oldC.stop();
      const movedConfig: Config = { ...C.config, mysql: memberConfig(1) };
      const movedSyncer = Syncer.open(movedConfig, { planTtlMs: 0, db: C.db });
      startService(C, movedConfig, movedSyncer);
      closers.push(() => movedSyncer.close());

      // Member 2 comes back (state transfer from a donor); node B reconnects by itself.
      await cluster.restartMember(2);
      await cluster.waitSynced(3);
      // Reconnected is 'recovering' (the hub answers, B drains its queue) or 'online'. While its
      // writer keeps writing, a loaded machine may not drain B's queue to zero between two cycles,
      // so 'online' alone can wait until the writers stop. The reconnect backoff is capped at 30 s
      // (src/sync/backoff.ts), so B's next attempt can be that far away.
      await waitFor(
        () => ['online', 'recovering'].includes(services.get('B')?.state ?? ''),
        'node B to reconnect to member 2',
        65_000,
      );
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      writing = false;
      await Promise.all(writers);
      shell.stdin.end('.quit\n');
      await new Promise((r) => shell.once('exit', r));
    }
    expect(written.local).toBeGreaterThan(100);
    expect(written.shell).toBeGreaterThan(0);
    expect(written.central).toBeGreaterThan(10);
    expect(states.get('B')).toContain('degraded');

    // Writers stopped: sync until every queue is empty and every node matches every member.
    const pairs = [...nodes.values()].flatMap((n) => cluster.members.map((m) => ({ n, member: m.index })));
    let last: string[] = [];
    await waitFor(
      async () => {
        for (const s of services.values()) await s.syncNow();
        if ([...nodes.values()].some((n) => n.syncer.state.pendingPush(true).count > 0)) return false;
        last = [];
        for (const { n, member } of pairs) {
          const report = await compareNode({ ...n.config, mysql: memberConfig(member) });
          if (!report.match)
            last.push(`${n.name} vs member ${member}: ${report.totals.differences} differences, ${report.issues.length} issues`);
        }
        return last.length === 0;
      },
      'every node to be identical to every member',
      45_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}: ${last.join('; ')}`);
    });
    for (const s of services.values()) await s.stop();

    // Nothing parked, nothing in conflict, and the shell's and central writers' rows are all there.
    for (const n of nodes.values()) {
      expect(n.db.prepare('SELECT count(*) AS c FROM _dualdb_parked').get(), n.name).toEqual({ c: 0n });
      expect(n.db.prepare("SELECT count(*) AS c FROM events WHERE source = 'sqlite3'").get(), n.name).toEqual({
        c: BigInt(written.shell),
      });
    }
    const [hubCount] = await centralHubs[0].query<{ c: string }>("SELECT COUNT(*) AS c FROM events WHERE source = 'central'");
    expect(Number(hubCount?.c)).toBe(written.central);
  }, 180_000);
});
