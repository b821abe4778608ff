/**
 * Invariant 10 of docs/SYNC-CONTRACT.md: values round-trip exactly — node A → hub (push) → node B
 * (pull), and hub → nodes — for 64-bit integers beyond 2^53 and at the ±2^63
 * edges, DECIMAL(30,10), DATETIME(6) with microseconds, BLOBs (every byte value,
 * 3 MB), 4-byte UTF-8, '' vs NULL, DOUBLE extremes, and composite/text primary
 * keys whose parts contain ':' and digits (the composite key encoding).
 *
 * Time zones: this process runs as America/Sao_Paulo and the hub's sessions use
 * +09:00; a DATETIME that any layer converted through a Date or a session zone
 * would come back shifted (2018-11-04 00:30 does not even exist in São Paulo).
 */
process.env.TZ = 'America/Sao_Paulo';

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row, SqlValue } from '../src/engines/codec.js';
import { divergence, makeWorld, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub as startTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  // `amount` has TEXT affinity: a DECIMAL-declared SQLite column (NUMERIC affinity) keeps only 15 digits.
  'CREATE TABLE vals (id INTEGER PRIMARY KEY, i64 INTEGER, amount TEXT, at DATETIME, bin BLOB, txt TEXT, dbl REAL)',
  'CREATE TABLE kv (ns TEXT NOT NULL, k TEXT NOT NULL, n INTEGER NOT NULL, v TEXT, PRIMARY KEY (ns, k, n))',
  'CREATE TABLE names (name TEXT PRIMARY KEY, v INTEGER)',
];
const MYSQL_DDL = [
  `CREATE TABLE vals (id BIGINT PRIMARY KEY, i64 BIGINT NULL, amount DECIMAL(30,10) NULL, at DATETIME(6) NULL,
     bin LONGBLOB NULL, txt TEXT NULL, dbl DOUBLE NULL)`,
  `CREATE TABLE kv (ns VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, k VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, n BIGINT NOT NULL,
     v TEXT NULL, PRIMARY KEY (ns, k, n))`,
  'CREATE TABLE names (name VARCHAR(60) COLLATE utf8mb4_bin PRIMARY KEY, v BIGINT NULL)',
];

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const BIG_BLOB = randomBytes(3 * 1024 * 1024);

interface Val {
  id: bigint;
  i64: SqlValue;
  amount: SqlValue;
  at: SqlValue;
  bin: SqlValue;
  txt: SqlValue;
  dbl: SqlValue;
}

const VALUES: Val[] = [
  {
    id: 1n,
    i64: 9007199254740993n,
    amount: '12345678901234567890.0123456789',
    at: '2024-02-29 23:59:59.999999',
    bin: ALL_BYTES,
    txt: 'capacete 🦺🚧 ok',
    dbl: 0.1,
  },
  {
    id: 2n,
    i64: 9223372036854775807n,
    amount: '-99999999999999999999.9999999999',
    at: '2018-11-04 00:30:00.123456',
    bin: Buffer.alloc(0),
    txt: '',
    dbl: 1e-300,
  },
  {
    id: 3n,
    i64: -9223372036854775808n,
    amount: '0.0000000001',
    at: '1970-01-01 00:00:00.000001',
    bin: null,
    txt: null,
    dbl: 1.7976931348623157e308,
  },
  {
    id: 4n,
    i64: -9007199254740993n,
    amount: null,
    at: null,
    bin: BIG_BLOB,
    txt: '𝄞 \u0000 \\ \' "',
    dbl: -2.2250738585072014e-308,
  },
  { id: 5n, i64: 0n, amount: '1.5000000000', at: '2024-03-10 02:30:00', bin: Buffer.from([0]), txt: ' ', dbl: 5e-324 },
];

/** Keys whose naive "a:b" joins would collide; the length-prefixed encoding keeps them apart. */
const KV_KEYS: [string, string, bigint][] = [
  ['1:a', '2:bb', 1n],
  ['1', ':a2:bb', 1n],
  ['1:a2', ':bb', 1n],
  ['', '1:a2:bb', 1n],
  ['12', '3', 45n],
  ['1', '23', 45n],
  ['🚧', '🦺:1', -1n],
  ['a', 'b', 9223372036854775807n],
];
const NAMES = ['a:b', '12', '007', '7', '🚧', 'Ünïcödé', '1:', ':1', '-5'];

function valRow(v: Val): SqlValue[] {
  return [v.id, v.i64, v.amount, v.at, v.bin, v.txt, v.dbl];
}

/** Exact comparison of SQLite values: same JS type, same bits (bigint, Buffer, string, number). */
function expectSameValue(actual: SqlValue | undefined, expected: SqlValue, what: string): void {
  if (Buffer.isBuffer(expected)) {
    expect(Buffer.isBuffer(actual), `${what} is bytes`).toBe(true);
    expect((actual as Buffer).equals(expected), `${what} bytes equal`).toBe(true);
    return;
  }
  expect(actual, what).toStrictEqual(expected);
}

/** DECIMAL comes back from MySQL with its 10 fraction digits: compare as the same number. */
function decimalOf(text: SqlValue | undefined): string | null {
  if (text === null || text === undefined) return null;
  const s = String(text);
  const [i, f = ''] = s.split('.');
  return `${i}.${f.padEnd(10, '0')}`;
}

/** DATETIME comes back without an all-zero fraction; the digits that matter must be identical. */
function datetimeOf(text: SqlValue | undefined): string | null {
  if (text === null || text === undefined) return null;
  return String(text).replace(/\.0+$/, '');
}

describe.skipIf(!HUB_AVAILABLE)('values round-trip exactly', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
    // Every hub session in this file runs in another zone than this process.
    const admin = await testHub.admin();
    await admin.query("SET GLOBAL time_zone = '+09:00'");
    await admin.end();
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  it('the test really runs with shifted zones on both sides', async () => {
    world = await makeWorld(testHub, tmp.dir, { prefix: 'vals', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A', 'B'] });
    expect(new Date('2024-01-01T12:00:00Z').getTimezoneOffset()).toBe(180);
    const [tz] = await world.hub.query<{ tz: string }>('SELECT @@session.time_zone AS tz');
    expect(tz?.tz).toBe('+09:00');
  });

  it('node → hub → node: every value arrives bit for bit', async () => {
    const A = world.node('A');
    const B = world.node('B');
    const ins = A.db.prepare('INSERT INTO vals (id, i64, amount, at, bin, txt, dbl) VALUES (?, ?, ?, ?, ?, ?, ?)');
    A.db.transaction(() => {
      for (const v of VALUES) ins.run(...valRow(v));
    })();
    const pushed = await A.syncer.syncOnce();
    expect(pushed.push.parked).toBe(0);
    expect(pushed.push.perTable.get('vals')?.upserts).toBe(VALUES.length);

    // On the hub: the exact texts and bytes (mysql2 returns BIGINT/DECIMAL/DATETIME as strings).
    const onHub = await world.hub.query<Row>('SELECT id, i64, amount, at, bin, txt, dbl FROM vals ORDER BY id');
    expect(onHub).toHaveLength(VALUES.length);
    for (const [i, v] of VALUES.entries()) {
      const h = onHub[i] as Row;
      expect(h.i64, `hub i64 of ${v.id}`).toBe(v.i64 === null ? null : String(v.i64));
      expect(decimalOf(h.amount), `hub amount of ${v.id}`).toBe(decimalOf(v.amount));
      expect(datetimeOf(h.at), `hub at of ${v.id}`).toBe(v.at);
      expectSameValue(h.bin, v.bin, `hub bin of ${v.id}`);
      expect(h.txt, `hub txt of ${v.id}`).toBe(v.txt);
      expect(h.dbl, `hub dbl of ${v.id}`).toBe(v.dbl);
    }

    await B.syncer.syncOnce();
    const onB = B.db.prepare('SELECT id, i64, amount, at, bin, txt, dbl FROM vals ORDER BY id').all() as Row[];
    expect(onB).toHaveLength(VALUES.length);
    for (const [i, v] of VALUES.entries()) {
      const b = onB[i] as Row;
      expectSameValue(b.id, v.id, `B id of ${v.id}`);
      expectSameValue(b.i64, v.i64, `B i64 of ${v.id}`);
      expect(decimalOf(b.amount), `B amount of ${v.id}`).toBe(decimalOf(v.amount));
      expect(datetimeOf(b.at), `B at of ${v.id}`).toBe(v.at);
      expectSameValue(b.bin, v.bin, `B bin of ${v.id}`);
      expectSameValue(b.txt, v.txt, `B txt of ${v.id}`);
      expectSameValue(b.dbl, v.dbl, `B dbl of ${v.id}`);
    }
    expect(await divergence(world, ['vals'])).toEqual([]);
  });

  it('hub → nodes: central writes of the same values arrive exactly', async () => {
    const A = world.node('A');
    const B = world.node('B');
    for (const v of VALUES) {
      await world.hub.execute('INSERT INTO vals (id, i64, amount, at, bin, txt, dbl) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        v.id + 100n,
        v.i64,
        v.amount,
        v.at,
        v.bin,
        v.txt,
        v.dbl,
      ]);
    }
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    for (const n of [A, B]) {
      const rows = n.db.prepare('SELECT id, i64, amount, at, bin, txt, dbl FROM vals WHERE id > 100 ORDER BY id').all() as Row[];
      expect(rows).toHaveLength(VALUES.length);
      for (const [i, v] of VALUES.entries()) {
        const r = rows[i] as Row;
        expectSameValue(r.id, v.id + 100n, `${n.name} id`);
        expectSameValue(r.i64, v.i64, `${n.name} i64 of ${v.id}`);
        expect(decimalOf(r.amount), `${n.name} amount of ${v.id}`).toBe(decimalOf(v.amount));
        expect(datetimeOf(r.at), `${n.name} at of ${v.id}`).toBe(v.at);
        expectSameValue(r.bin, v.bin, `${n.name} bin of ${v.id}`);
        expectSameValue(r.txt, v.txt, `${n.name} txt of ${v.id}`);
        expectSameValue(r.dbl, v.dbl, `${n.name} dbl of ${v.id}`);
      }
    }
    expect(await divergence(world, ['vals'])).toEqual([]);
  });

  it('an update that only changes a value beyond 2^53 or a microsecond is seen and carried', async () => {
    const A = world.node('A');
    const B = world.node('B');
    // 9007199254740993 → 9007199254740992 is invisible to a double; .999999 → .999998 to a millisecond clock.
    A.db.prepare('UPDATE vals SET i64 = 9007199254740992, at = ? WHERE id = 1').run('2024-02-29 23:59:59.999998');
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    expect(B.db.prepare('SELECT i64, at FROM vals WHERE id = 1').get()).toEqual({
      i64: 9007199254740992n,
      at: '2024-02-29 23:59:59.999998',
    });
    // And back the other way, from the hub.
    await world.hub.execute("UPDATE vals SET i64 = 9223372036854775806, at = '2024-02-29 23:59:59.000001' WHERE id = 1");
    await A.syncer.syncOnce();
    expect(A.db.prepare('SELECT i64, at FROM vals WHERE id = 1').get()).toEqual({
      i64: 9223372036854775806n,
      at: '2024-02-29 23:59:59.000001',
    });
  });

  it('composite and text keys containing ":" and digits stay distinct rows on every side', async () => {
    const A = world.node('A');
    const B = world.node('B');
    const insKv = A.db.prepare('INSERT INTO kv (ns, k, n, v) VALUES (?, ?, ?, ?)');
    const insName = A.db.prepare('INSERT INTO names (name, v) VALUES (?, ?)');
    A.db.transaction(() => {
      for (const [i, [ns, k, n]] of KV_KEYS.entries()) insKv.run(ns, k, n, `v${i}`);
      for (const [i, name] of NAMES.entries()) insName.run(name, i);
    })();
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    const hubKv = await world.hub.query<{ ns: string; k: string; n: string; v: string }>('SELECT ns, k, n, v FROM kv');
    expect(hubKv).toHaveLength(KV_KEYS.length);
    const bKv = B.db.prepare('SELECT ns, k, n, v FROM kv').all() as { ns: string; k: string; n: bigint; v: string }[];
    expect(new Set(bKv.map((r) => JSON.stringify([r.ns, r.k, String(r.n), r.v])))).toEqual(
      new Set(KV_KEYS.map(([ns, k, n], i) => JSON.stringify([ns, k, String(n), `v${i}`]))),
    );
    // Updates and deletes address exactly one of the look-alike keys, in both directions.
    A.db.prepare("UPDATE kv SET v = 'changed' WHERE ns = '1' AND k = ':a2:bb' AND n = 1").run();
    A.db.prepare("DELETE FROM kv WHERE ns = '1:a' AND k = '2:bb' AND n = 1").run();
    A.db.prepare("UPDATE names SET v = 700 WHERE name = '007'").run();
    A.db.prepare("DELETE FROM names WHERE name = '7'").run();
    await world.hub.execute("UPDATE kv SET v = 'hub' WHERE ns = '12' AND k = '3' AND n = 45");
    await world.hub.execute("DELETE FROM kv WHERE ns = '1' AND k = '23' AND n = 45");
    await world.hub.execute("UPDATE names SET v = -1 WHERE name = ':1'");
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    await A.syncer.syncOnce();
    expect(await divergence(world, ['kv', 'names'])).toEqual([]);
    const kvB = B.db.prepare('SELECT ns, k, n, v FROM kv ORDER BY ns, k, n').all();
    expect(kvB).toHaveLength(KV_KEYS.length - 2);
    expect(B.db.prepare("SELECT v FROM kv WHERE ns = '1' AND k = ':a2:bb'").get()).toEqual({ v: 'changed' });
    expect(B.db.prepare("SELECT v FROM kv WHERE ns = '12' AND k = '3'").get()).toEqual({ v: 'hub' });
    expect(B.db.prepare("SELECT v FROM kv WHERE ns = '1:a2' AND k = ':bb'").get()).toEqual({ v: 'v2' });
    expect(B.db.prepare("SELECT name, v FROM names WHERE name IN ('007', '7', ':1', '1:') ORDER BY name").all()).toEqual([
      { name: '007', v: 700n },
      { name: '1:', v: 6n },
      { name: ':1', v: -1n },
    ]);
    for (const n of [A, B]) expect(n.syncer.state.parked()).toEqual([]);
  });
});

describe.skipIf(!HUB_AVAILABLE)('what the hub stores differently comes back', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  beforeAll(async () => {
    testHub = await startTestHub();
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  it('DECIMAL scale, DATETIME precision and the hub’s own BEFORE triggers: the node ends up with the hub’s row', async () => {
    world = await makeWorld(testHub, tmp.dir, {
      prefix: 'rewrite',
      sqliteDdl: [
        'CREATE TABLE readings (id INTEGER PRIMARY KEY, price REAL, at TEXT, name TEXT, edits INTEGER NOT NULL DEFAULT 0)',
      ],
      mysqlDdl: [
        'CREATE TABLE readings (id BIGINT PRIMARY KEY, price DECIMAL(10,2) NULL, at DATETIME NULL, name VARCHAR(40) NULL, edits BIGINT NOT NULL DEFAULT 0)',
        'CREATE TRIGGER readings_name BEFORE INSERT ON readings FOR EACH ROW SET NEW.name = UPPER(NEW.name)',
        'CREATE TRIGGER readings_edits BEFORE UPDATE ON readings FOR EACH ROW SET NEW.edits = OLD.edits + 1',
      ],
      nodes: ['A', 'B'],
    });
    const A = world.node('A');
    const B = world.node('B');
    A.db
      .prepare(
        "INSERT INTO readings (id, price, at, name) VALUES (1, 0.125, '2024-01-01 10:00:00.700', 'ana'), (2, 2.5, NULL, 'BIA')",
      )
      .run();
    await A.syncer.syncOnce();
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    const hub = await world.hub.query<{ price: string; name: string }>('SELECT price, name FROM readings WHERE id = 1');
    expect(hub[0]).toMatchObject({ price: '0.13', name: 'ANA' });
    expect(await divergence(world, ['readings'])).toEqual([]);
    expect(A.db.prepare('SELECT price, name FROM readings WHERE id = 1').get()).toEqual({ price: 0.13, name: 'ANA' });

    A.db.prepare("UPDATE readings SET name = 'Ana' WHERE id = 1").run();
    await A.syncer.syncOnce();
    await A.syncer.syncOnce();
    await B.syncer.syncOnce();
    // (ON DUPLICATE KEY UPDATE runs the BEFORE INSERT trigger too: the hub keeps 'ANA', and so does the node.)
    const [h] = await world.hub.query<{ name: string; edits: string }>('SELECT name, edits FROM readings WHERE id = 1');
    expect(h).toEqual({ name: 'ANA', edits: '1' });
    expect(A.db.prepare('SELECT name, edits FROM readings WHERE id = 1').get()).toEqual({ name: 'ANA', edits: 1n });
    expect(await divergence(world, ['readings'])).toEqual([]);
    // Rows the hub kept as sent are not echoed back; nothing is left to move.
    const quiet = await A.syncer.syncOnce();
    expect(quiet.pull.perTable.get('readings')).toBeUndefined();
    expect(quiet.push.perTable.get('readings')).toBeUndefined();
  });
});
