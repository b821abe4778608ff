/**
 * One node id, one file (docs/SYNC-CONTRACT.md invariant 17): two SQLite files that carry the
 * same node id (a copied .db file, a restored backup, one NODE_ID on two installs) never push
 * over each other; `init --new-node-id` and `init --take-over` resolve it without losing or
 * doubling a row; the crash between the hub's commit and the node's record stays exactly-once.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DualDatabase } from '../src/api/dual-database.js';
import { initNode as initGuarded } from '../src/api/init-node.js';
import type { Config } from '../src/config/config.js';
import { openSqlite, type SqliteDb } from '../src/engines/sqlite/open.js';
import { initNode } from '../src/sync/init.js';
import { localToken } from '../src/sync/node-fence.js';
import { collectStatus } from '../src/sync/status.js';
import { Syncer } from '../src/sync/syncer.js';
import { cliEnv, envOf, runCli, running, tsArgs } from './helpers/cli.js';
import { createSqlite, nodeConfig } from './helpers/node.js';
import { hubLog, localLog, type SyncWorld, syncWorlds, waitFor } from './helpers/sync.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers/sync-once-child.ts');

import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)'];
const MYSQL_DDL = ['CREATE TABLE notes (id VARCHAR(40) NOT NULL PRIMARY KEY, body TEXT NOT NULL) ENGINE=InnoDB'];

const put = (db: SqliteDb, ...ids: string[]) => {
  for (const id of ids) db.prepare('INSERT INTO notes VALUES (?, ?)').run(id, `body of ${id}`);
};
const ids = (db: SqliteDb) => (db.prepare('SELECT id FROM notes ORDER BY id').all() as { id: string }[]).map((r) => r.id);
const hubIds = async (world: SyncWorld) =>
  (await world.hub.query<{ id: string }>('SELECT id FROM notes ORDER BY id')).map((r) => r.id);
const hubNode = async (world: SyncWorld, id: string) =>
  (
    await world.hub.query<{ push_cursor: string; push_token: string | null }>(
      'SELECT push_cursor, push_token FROM _dualdb_nodes WHERE node_id = ?',
      [id],
    )
  )[0];
/** Hub log entries per key of `notes`: every key changed once must show up exactly once. */
const hubEntries = async (world: SyncWorld) => {
  const n = new Map<string, number>();
  for (const e of await hubLog(world.hub, 'notes')) n.set(e.pk, (n.get(e.pk) ?? 0) + 1);
  return n;
};

describe.skipIf(!HUB_AVAILABLE)('one node id, one file (invariant 17)', () => {
  const worlds = syncWorlds({ prefix: 'ident', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  /** A byte-for-byte-equivalent copy of a node's file (as `cp` of a quiet file gives), with no NODE_ID of its own. */
  const copyOf = (db: SqliteDb, name: string, world: SyncWorld): Config => {
    const config = nodeConfig(worlds.dir, name, world.mysql, { NODE_ID: '' });
    db.exec(`VACUUM INTO '${config.sqlitePath.replaceAll("'", "''")}'`);
    return config;
  };

  it('a copied file: the second to sync refuses with NODE_ID_IN_USE; after `init --new-node-id` its rows sync once', async () => {
    const world = await worlds.world();
    const A = world.node('A');
    put(A.db, 'a0');
    await A.syncer.syncOnce();
    // Written before the copy, pushed by neither yet: both files carry it.
    put(A.db, 's1');
    const copy = copyOf(A.db, `copy-${path.basename(A.config.sqlitePath, '.db')}`, world);
    let B = Syncer.open(copy);
    expect(B.nodeId).toBe('A');

    put(A.db, 'a1');
    put(B.db, 'b1', 'b2');
    await A.syncer.syncOnce();
    const cursor = (await hubNode(world, 'A'))?.push_cursor;
    await expect(B.syncOnce()).rejects.toMatchObject({ code: 'NODE_ID_IN_USE', exitCode: 2 });
    // Refused before anything moved: the hub has A's rows only, B keeps its own queued.
    expect(await hubIds(world)).toEqual(['a0', 'a1', 's1']);
    expect((await hubNode(world, 'A'))?.push_cursor).toBe(cursor);
    expect(localLog(B.db, 'notes').map((e) => e.pk)).toEqual(['s1', 'b1', 'b2']);
    expect((await collectStatus(B, { connect: false })).lastError).toMatch(/^another SQLite file syncs as node A/);
    await B.close();

    // The CLI: exit 2 and one line with the cause and both fixes.
    const refused = runCli(['sync', '--once'], envOf(copy));
    expect(refused.code).toBe(2);
    const line = refused.stderr.trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain('another SQLite file syncs as node A');
    expect(line).toContain('dualdb init --new-node-id');
    expect(line).toContain('dualdb init --take-over');
    // Continuous sync stops at once with the same code (the service unit does not restart on 2).
    const watched = runCli(['sync', '--watch'], envOf(copy), { timeoutMs: 30_000 });
    expect(watched.code).toBe(2);
    expect(watched.stdout).toContain('another SQLite file syncs as node A');
    expect(await hubIds(world)).toEqual(['a0', 'a1', 's1']);

    const renamed = runCli(['init', '--new-node-id'], envOf(copy));
    expect(renamed.stderr).toBe('');
    expect(renamed.code).toBe(0);
    B = Syncer.open(copy);
    expect(B.nodeId).not.toBe('A');
    try {
      for (let round = 0; round < 2; round++) {
        await B.syncOnce();
        await A.syncer.syncOnce();
      }
      expect(await hubIds(world)).toEqual(['a0', 'a1', 'b1', 'b2', 's1']);
      expect(ids(A.db)).toEqual(['a0', 'a1', 'b1', 'b2', 's1']);
      expect(ids(B.db)).toEqual(['a0', 'a1', 'b1', 'b2', 's1']);
      // Nothing doubled: one hub log entry per key only one file wrote, B's under its new id. s1, the
      // same row in both files, is one row; B re-sends its (equal) image once, not a conflict.
      const entries = await hubEntries(world);
      expect({ ...Object.fromEntries(entries), s1: 1 }).toEqual({ a0: 1, a1: 1, b1: 1, b2: 1, s1: 1 });
      expect(entries.get('s1')).toBeLessThanOrEqual(2);
      expect(B.state.conflicts()).toEqual([]);
      const origins = new Map((await hubLog(world.hub, 'notes')).map((e) => [e.pk, e.origin]));
      expect(origins.get('b1')).toBe(B.nodeId);
      expect(origins.get('a1')).toBe('A');
      // A, the holder all along, syncs on untouched.
      put(A.db, 'a2');
      await A.syncer.syncOnce();
      await B.syncOnce();
      expect(ids(B.db)).toContain('a2');
    } finally {
      await B.close();
    }
  });

  it('`init --take-over`: a restored backup becomes the holder, gets what the old file pushed, and the old file is refused', async () => {
    const world = await worlds.world();
    const A = world.node('A');
    put(A.db, 'r1');
    await A.syncer.syncOnce();
    const backup = copyOf(A.db, `backup-${path.basename(A.config.sqlitePath, '.db')}`, world);
    put(A.db, 'r2', 'r3');
    A.db.prepare("UPDATE notes SET body = 'changed by the old file' WHERE id = 'r1'").run();
    // Both files beat their heartbeat row since the backup (operator trial: after the take-over,
    // `dualdb conflicts` listed _dualdb_heartbeats rows as user conflicts).
    A.syncer.heartbeat(true);
    await A.syncer.syncOnce();

    // The machine is restored from the backup, and written on before anyone notices.
    let B = Syncer.open(backup);
    put(B.db, 'r4');
    B.db.prepare("UPDATE notes SET body = 'changed on the restored file' WHERE id = 'r1'").run();
    await expect(B.syncOnce()).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
    await B.close();
    expect(runCli(['init', '--help'], envOf(backup)).stdout).toMatch(/--take-over\s+this file becomes the one that syncs as its/);

    const r = await initNode(backup, { takeOver: true });
    expect(r.nodeId).toBe('A');
    expect(r.takeOver?.relabelled).toBeGreaterThan(0);
    B = Syncer.open(backup);
    try {
      B.heartbeat(true);
      await B.syncOnce();
      await B.syncOnce();
      // r4 was logged under a seq the old file had already pushed past: pushed, not skipped.
      expect(await hubIds(world)).toEqual(['r1', 'r2', 'r3', 'r4']);
      // What the old file pushed after the backup reaches the restored file (not taken for its own echo).
      expect(ids(B.db)).toEqual(['r1', 'r2', 'r3', 'r4']);
      // r1, changed by both files since the backup: a conflict settled by the policy and recorded,
      // never the restored file's stale image written over silently as "its own" row.
      const conflicts = B.state.conflicts();
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]?.tbl).toBe('notes');
      expect(conflicts[0]?.pk).toContain('r1');
      const listed = runCli(['conflicts', '--json'], envOf(backup));
      expect((JSON.parse(listed.stdout) as { tbl: string }[]).map((c) => c.tbl)).toEqual(['notes']);
      const [hubR1] = await world.hub.query<{ body: string }>("SELECT body FROM notes WHERE id = 'r1'");
      expect((B.db.prepare("SELECT body FROM notes WHERE id = 'r1'").get() as { body: string }).body).toBe(hubR1?.body);
      expect(Object.fromEntries(await hubEntries(world))).toMatchObject({ r2: 1, r3: 1, r4: 1 });

      // The old file, back from the dead, is refused and pushes nothing.
      put(A.db, 'r5');
      await expect(A.syncer.syncOnce()).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
      expect(await hubIds(world)).toEqual(['r1', 'r2', 'r3', 'r4']);
      put(B.db, 'r6');
      await B.syncOnce();
      expect(await hubIds(world)).toEqual(['r1', 'r2', 'r3', 'r4', 'r6']);
    } finally {
      await B.close();
    }
  });

  it('a hub-first write (mysql_primary) from a copied file refuses with NODE_ID_IN_USE; the holder’s succeed', async () => {
    const world = await worlds.world({ env: { SYNC_MODE: 'mysql_primary' } });
    const A = world.node('A');
    put(A.db, 'h0');
    await A.syncer.syncOnce();
    const name = `hubfirst-${path.basename(A.config.sqlitePath, '.db')}`;
    copyOf(A.db, name, world);
    put(A.db, 'h1');
    await A.syncer.syncOnce();
    await A.syncer.close();
    const copyDb = await DualDatabase.open({
      config: nodeConfig(worlds.dir, name, world.mysql, { NODE_ID: '', SYNC_MODE: 'mysql_primary' }),
      sync: false,
    });
    try {
      // Written with this id as origin, the holder would skip it as its own echo: never lands.
      await expect(copyDb.insert('notes', { id: 'h2', body: 'from the copy' })).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
    } finally {
      await copyDb.close();
    }
    expect(await hubIds(world)).toEqual(['h0', 'h1']);
    const holder = await DualDatabase.open({ config: A.config, sync: false });
    try {
      await holder.insert('notes', { id: 'h3', body: 'from the holder' });
    } finally {
      await holder.close();
    }
    expect(await hubIds(world)).toEqual(['h0', 'h1', 'h3']);
  });

  it('one NODE_ID on two installs: the second install’s init refuses with NODE_ID_IN_USE; its own NODE_ID fixes it', async () => {
    const world = await worlds.world();
    put(world.node('A').db, 'x1');
    await world.node('A').syncer.syncOnce();
    const name = `twin-${path.basename(world.node('A').config.sqlitePath, '.db')}`;
    const twin = nodeConfig(worlds.dir, name, world.mysql, { NODE_ID: 'A' });
    const db = createSqlite(twin, SQLITE_DDL);
    put(db, 'y1');
    db.close();
    // The CLI's and the library's init (join guard on): the id's clash is named first, not the
    // file's row the hub lacks (y1; CI 9a read UNSYNCED_ROWS here).
    await expect(initGuarded(twin)).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
    await expect(initNode(twin)).rejects.toMatchObject({ code: 'NODE_ID_IN_USE' });
    // NODE_ID would overwrite a new id at the next start: refused, with the fix named.
    await expect(initNode(twin, { newNodeId: true })).rejects.toMatchObject({ code: 'CONFIG_INVALID', hint: /its own NODE_ID/ });
    const own = nodeConfig(worlds.dir, name, world.mysql, { NODE_ID: 'A-second' });
    await initNode(own);
    const syncer = Syncer.open(own);
    try {
      put(syncer.db, 'y2');
      await syncer.syncOnce();
      await world.node('A').syncer.syncOnce();
      // y1 was written before capture was installed: only y2 is a change to sync.
      expect(await hubIds(world)).toEqual(['x1', 'y2']);
      expect(ids(world.node('A').db)).toEqual(['x1', 'y2']);
    } finally {
      await syncer.close();
    }
  });

  it('a crash between the hub’s commit and the node’s record: the restart adopts it, every change exactly once', async () => {
    const world = await worlds.world();
    const A = world.node('A');
    put(A.db, 'c1', 'c2', 'c3');
    await A.syncer.syncOnce();
    put(A.db, 'c4', 'c5');
    // The node "dies" right after the hub committed: its local record of the push fails.
    for (const when of ['INSERT', 'UPDATE'])
      A.db.exec(
        `CREATE TRIGGER crash_${when} BEFORE ${when} ON _dualdb_meta WHEN NEW.key = 'pushed_upto'
         BEGIN SELECT RAISE(ABORT, 'simulated crash after the hub commit'); END`,
      );
    await expect(A.syncer.syncOnce()).rejects.toThrow(/simulated crash/);
    await A.syncer.close();
    A.db.close();
    const restarted = Syncer.open(A.config);
    try {
      restarted.db.exec('DROP TRIGGER crash_INSERT; DROP TRIGGER crash_UPDATE');
      // The hub is one token ahead of the file: known as this file's own (pending), not another file's.
      expect(localLog(restarted.db, 'notes').map((e) => e.pk)).toEqual(['c4', 'c5']);
      await restarted.syncOnce();
      await restarted.syncOnce();
      expect(localLog(restarted.db, 'notes')).toEqual([]);
      expect(await hubIds(world)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
      expect(Object.fromEntries(await hubEntries(world))).toEqual({ c1: 1, c2: 1, c3: 1, c4: 1, c5: 1 });
      expect(restarted.state.getMeta('push_pending')).toBeUndefined();
    } finally {
      await restarted.close();
    }
  });

  it('SIGKILL during pushes (the crash helpers’ child), restart, repeat: never refused, every row pushed once', async () => {
    const world = await worlds.world({ env: { SYNC_BATCH_SIZE: '20' } });
    const A = world.node('A');
    await A.syncer.close();
    const db = openSqlite(A.config.sqlitePath);
    const env = envOf(A.config, { SYNC_BATCH_SIZE: '20' });
    const cursor = async () => BigInt((await hubNode(world, 'A'))?.push_cursor ?? 0);
    let n = 0;
    try {
      for (let round = 0; round < 5; round++) {
        db.transaction(() => {
          for (let i = 0; i < 100; i++) put(db, `k${String(++n).padStart(4, '0')}`);
        })();
        const before = await cursor();
        const child = running(spawn(process.execPath, tsArgs(CHILD), { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
        // Killed once a batch is on the hub, mostly inside a later one (its pending token set, not
        // committed); the exact window after the hub's commit is the trigger-made crash above.
        await waitFor(async () => (await cursor()) > before || child.child.exitCode !== null, 'a push batch committed', 20_000);
        child.child.kill('SIGKILL');
        await child.exited;
      }
      const finish = runCli(['sync', '--once'], env);
      expect([0, 10], finish.stderr).toContain(finish.code);
      expect(localLog(db, 'notes')).toEqual([]);
      expect(await hubIds(world)).toHaveLength(n);
      expect([...(await hubEntries(world)).values()].every((c) => c === 1)).toBe(true);
    } finally {
      db.close();
    }
  });

  it('a hub restored from a backup (behind in cursor and token) is re-claimed with a warning, not refused', async () => {
    const world = await worlds.world();
    const A = world.node('A');
    put(A.db, 'k1');
    await A.syncer.syncOnce();
    const old = await hubNode(world, 'A');
    put(A.db, 'k2');
    await A.syncer.syncOnce();
    // The hub's registry goes back to the backup's row; the file is ahead of it.
    await world.hub.execute("UPDATE _dualdb_nodes SET push_cursor = ?, push_token = ? WHERE node_id = 'A'", [
      old?.push_cursor,
      old?.push_token,
    ]);
    put(A.db, 'k3');
    await A.syncer.syncOnce();
    expect(A.syncer.log.recent(500).some((e) => e.event === 'push.hub-restored')).toBe(true);
    expect(await hubIds(world)).toEqual(['k1', 'k2', 'k3']);
    expect((await hubNode(world, 'A'))?.push_token).not.toBe(old?.push_token);
  });

  it('a hub from before fencing: the column is added in place, other nodes’ rows untouched (invariant 15)', async () => {
    const world = await worlds.world({ nodes: ['A', 'B'] });
    await world.node('A').syncer.syncOnce();
    await world.node('B').syncer.syncOnce();
    await world.hub.execute('ALTER TABLE _dualdb_nodes DROP COLUMN push_token');
    const [before] = await world.hub.query<{ push_cursor: string }>("SELECT push_cursor FROM _dualdb_nodes WHERE node_id = 'B'");
    put(world.node('A').db, 'u1');
    await world.node('A').syncer.syncOnce();
    expect((await hubNode(world, 'A'))?.push_token).toMatch(/^1\.[0-9a-f]{16}$/);
    expect(await hubNode(world, 'B')).toEqual({ push_cursor: before?.push_cursor, push_token: null });
    await world.node('B').syncer.syncOnce();
    expect(ids(world.node('B').db)).toEqual(['u1']);
    expect((await hubNode(world, 'B'))?.push_token).not.toBeNull();
  });

  it('upgrading a hub with an account without ALTER: refused before anything moves, the grant named', async () => {
    const world = await worlds.world();
    const A = world.node('A');
    await A.syncer.syncOnce();
    await A.syncer.close();
    await world.hub.execute('ALTER TABLE _dualdb_nodes DROP COLUMN push_token');
    const user = `cap_${world.mysql.database.slice(-8)}`;
    const admin = await worlds.testHub.admin();
    try {
      for (const host of ['%', 'localhost']) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, 'cap-secret-1']);
        await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, TRIGGER ON \`${world.mysql.database}\`.* TO ?@?`, [
          user,
          host,
        ]);
      }
    } finally {
      await admin.end();
    }
    const name = path.basename(A.config.sqlitePath, '.db');
    const syncer = Syncer.open(
      nodeConfig(worlds.dir, name, { ...world.mysql, user, password: 'cap-secret-1' }, { NODE_ID: 'A' }),
    );
    try {
      put(syncer.db, 'z1');
      await expect(syncer.syncOnce()).rejects.toMatchObject({
        code: 'MYSQL_MISSING_PRIVILEGES',
        message: expect.stringMatching(/push_token column/),
        hint: expect.stringMatching(/GRANT ALTER ON `[^`]+`\._dualdb_nodes/),
      });
      expect(await hubIds(world)).toEqual([]);
      expect(localLog(syncer.db, 'notes').map((e) => e.pk)).toEqual(['z1']);
    } finally {
      await syncer.close();
    }
  });

  it('init refuses contradictory identity flags before touching anything (exit 2)', async () => {
    const world = await worlds.world();
    const env = envOf(world.node('A').config);
    for (const [flags, said] of [
      [['--new-node-id', '--take-over'], '--new-node-id and --take-over exclude each other'],
      [['--uninstall', '--take-over'], '--take-over installs and registers this node; --uninstall removes it'],
    ] as const) {
      const r = runCli(['init', ...flags], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(said);
    }
    expect(world.node('A').syncer.nodeId).toBe('A');
    expect((await hubNode(world, 'A'))?.push_token).toBe(localToken(world.node('A').syncer.state, 'A'));
  });
});
