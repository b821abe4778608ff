/**
 * A push batch that InnoDB rolls back for a deadlock (another transaction on the hub writing the
 * same rows) is tried again within the cycle: the cycle goes through, and the log says so at info
 * level, never a red `sync failed` error (operator report, issue 11). A real deadlock on the private
 * hub: another session holds row 2 and, once the push waits on it holding row 1, asks for row 1;
 * InnoDB rolls back the lighter transaction, the push's (the other one inserted many rows first).
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../src/log/sync-log.js';
import { syncWorlds, waitFor } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = ['CREATE TABLE workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'];
const MYSQL_DDL = [
  'CREATE TABLE workers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE ballast (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('a deadlock on the hub during a push', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('is retried within the cycle: the cycle goes through, logged as a retry (info), no error', async () => {
    const w = await fx.world({ nodes: ['a'] });
    const a = w.node('a');
    a.db.prepare("INSERT INTO workers (id, name) VALUES (1, 'w1'), (2, 'w2')").run();
    await a.syncer.syncOnce();
    a.db.prepare("UPDATE workers SET name = name || '-edited'").run();
    const entries: LogEntry[] = [];
    a.syncer.log.on('entry', (e) => entries.push(e));

    await w.hub.withConnection(async (conn) => {
      await conn.beginTransaction();
      // The heavier transaction: InnoDB picks the push as the deadlock's victim.
      for (let i = 0; i < 20; i++)
        await conn.query(`INSERT INTO ballast (v) VALUES ${Array.from({ length: 50 }, () => "('x')").join(', ')}`);
      await conn.query('SELECT * FROM workers WHERE id = 2 FOR UPDATE');
      const cycle = a.syncer.syncOnce().then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      // The push holds row 1 and waits for row 2.
      // INNODB_LOCK_WAITS needs the PROCESS privilege, which the test's account may lack: the
      // push's locking read, seen running in the process list (its own account's), is the wait.
      await waitFor(async () => {
        const [rows] = await conn.query(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%FROM `workers`%FOR UPDATE%'",
        );
        return Number((rows as { n: number | string }[])[0]?.n) > 0;
      }, 'the push to wait for row 2');
      await new Promise((r) => setTimeout(r, 300)); // row 1 taken before row 2 (key order)
      await conn.query('SELECT * FROM workers WHERE id = 1 FOR UPDATE'); // the deadlock: the push rolled back
      await conn.commit();
      const outcome = await cycle;
      expect(outcome.ok ? 'went through' : String((outcome as { e: unknown }).e)).toBe('went through');
    });

    expect(entries.filter((e) => e.level === 'error')).toEqual([]);
    const retried = entries.find((e) => e.event === 'hub.deadlock-retried');
    expect(retried?.level).toBe('info');
    expect(retried?.msg).toContain('retried once, it went through');
    const names = (await w.hub.query<{ name: string }>('SELECT name FROM workers ORDER BY id')).map((r) => r.name);
    expect(names).toEqual(['w1-edited', 'w2-edited']);
  }, 120_000);
});
