/**
 * The pull reads the hub without mysql2's typeCast callback (MysqlHub.withConnection's
 * `driverDecode`, issue 16: the callback was ~40 % of a pull's decode CPU). Every value class the
 * EPI application's models use (DateTime, Boolean, Float, Date, Time, JSON in Text, LargeBinary)
 * and the hard ones of docs/SYNC-CONTRACT.md invariant 10 (BIGINT beyond 2^53, DECIMAL, DATETIME(6),
 * DOUBLE with 17 significant digits, -0, NULL, a JSON column) decode on that connection exactly as
 * through the pool's callback, and arrive in the node's file as written on the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row, SqlValue } from '../src/engines/codec.js';
import { MysqlTableIO } from '../src/sync/mysql-io.js';
import { divergence, makeWorld, planTable, type SyncWorld } from './helpers/sync.js';
import { HUB_AVAILABLE, startSyncTestHub, type TestHub } from './helpers/sync-hub.js';
import { tempDir } from './helpers/tmp.js';

const SQLITE_DDL = [
  `CREATE TABLE epi (id INTEGER PRIMARY KEY, taken_at DATETIME, taken_us DATETIME, done BOOLEAN, rate FLOAT, score REAL,
     day DATE, check_in TIME, doc TEXT, doc_text TEXT, photo BLOB, big INTEGER, amount TEXT, precise FLOAT)`,
];
const MYSQL_DDL = [
  `CREATE TABLE epi (id BIGINT PRIMARY KEY, taken_at DATETIME NULL, taken_us DATETIME(6) NULL, done TINYINT(1) NULL,
     rate FLOAT NULL, score DOUBLE NULL, day DATE NULL, check_in TIME NULL, doc JSON NULL, doc_text TEXT NULL,
     photo LONGBLOB NULL, big BIGINT NULL, amount DECIMAL(30,10) NULL, precise FLOAT(40) NULL)`,
];
const COLS = [
  'id',
  'taken_at',
  'taken_us',
  'done',
  'rate',
  'score',
  'day',
  'check_in',
  'doc',
  'doc_text',
  'photo',
  'big',
  'amount',
  'precise',
];

/** 17 significant digits whose digits exceed 2^53: mysql2's own parser reads it one ulp off (90.28571428571428). */
const MISREAD = 90.28571428571429;

/** Doubles of 16–17 significant digits (a deterministic generator), the ones the driver's own parser may misread. */
function doubles(n: number): number[] {
  const out: number[] = [];
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < n; i++) out.push((10 + next() * 90) / (1 + Math.floor(next() * 13)));
  return out;
}

type HubRow = [bigint, ...SqlValue[]];

function hubRowsToWrite(): HubRow[] {
  const rows: HubRow[] = [
    [
      1n,
      '2026-12-07 21:00:01',
      '2026-12-07 21:00:01.123456',
      1,
      0.1,
      MISREAD,
      '2026-12-07',
      '08:30:00',
      '{"a": 1, "b": [1.50, 2], "c": "🦺"}',
      '{"helmet": true, "score": 0.30000000000000004}',
      Buffer.from([0, 1, 2, 255, 254, 0]),
      9007199254740993n,
      '12345678901234567890.0123456789',
      0.30000000000000004,
    ],
    [2n, null, null, null, null, null, null, null, null, null, null, null, null, null],
    [
      3n,
      '1970-01-01 00:00:00',
      '2018-11-04 00:30:00.000001',
      0,
      -0,
      -0,
      '1000-01-01',
      '-838:59:59',
      '[]',
      '',
      Buffer.alloc(0),
      -9223372036854775808n,
      '-0.0000000001',
      -0,
    ],
    [
      4n,
      '9999-12-31 23:59:59',
      '9999-12-31 23:59:59.999999',
      1,
      3.4e38,
      1.7976931348623157e308,
      '9999-12-31',
      '838:59:59',
      'null',
      '{}',
      Buffer.alloc(70_000, 7),
      9223372036854775807n,
      '99999999999999999999.9999999999',
      5e-324,
    ],
  ];
  const ds = doubles(400);
  for (const [i, d] of ds.entries())
    rows.push([
      BigInt(100 + i),
      null,
      null,
      i % 2,
      Math.fround(d),
      d,
      null,
      null,
      null,
      `{"v": ${d}}`,
      null,
      BigInt(i) * 2n ** 54n + 1n,
      null,
      d,
    ]);
  return rows;
}

/** Same JS type and the same value: bytes by content, numbers by Object.is (so 0 and -0 differ). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  return typeof a === typeof b && Object.is(a, b);
}

function show(v: unknown): string {
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  if (typeof v === 'bigint') return `${v}n`;
  if (Object.is(v, -0)) return '-0';
  return typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'object' && v !== null
      ? `object ${JSON.stringify(v)}`
      : String(v);
}

describe.skipIf(!HUB_AVAILABLE)('the pull decodes without the typeCast callback, every value as through it', () => {
  let testHub: TestHub;
  const tmp = tempDir();
  let world: SyncWorld;
  const written = hubRowsToWrite();
  beforeAll(async () => {
    testHub = await startSyncTestHub();
    world = await makeWorld(testHub, tmp.dir, { prefix: 'decode', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL, nodes: ['A'] });
    // Central writes (no origin): the node pulls them all.
    for (let i = 0; i < written.length; i += 200)
      await world.hub.execute(`INSERT INTO epi (${COLS.join(', ')}) VALUES ?`, [written.slice(i, i + 200)]);
  });
  afterAll(async () => {
    await world?.close();
    await testHub?.close();
    tmp.cleanup();
  });

  // Also: mysql2 caches row parsers globally by columns and options; the pool's same statement right
  // after must not be handed the parser compiled without the callback.
  it('the pull connection really has no callback: the driver alone misreads a 17-digit DOUBLE', async () => {
    const [plain] = await world.hub.withConnection(
      async (conn) => (await conn.query('SELECT score FROM epi WHERE id = 1'))[0] as Row[],
      { driverDecode: true },
    );
    expect(plain?.score).not.toBe(MISREAD);
    const [pooled] = await world.hub.query<Row>('SELECT score FROM epi WHERE id = 1');
    expect(pooled?.score).toBe(MISREAD);
  });

  it('the images the pull reads (MysqlTableIO) are value for value those of the pool', async () => {
    const table = await planTable(world.node('A').syncer, 'epi');
    const io = new MysqlTableIO(table);
    const keys = written.map((r) => String(r[0]));
    const viaPool = await world.hub.query<Row>(`SELECT ${COLS.join(', ')} FROM epi ORDER BY id`);
    const viaPull = await world.hub.withConnection((conn) => io.fetch(conn, keys), { driverDecode: true });
    expect(viaPull.size).toBe(viaPool.length);
    const differ: string[] = [];
    for (const want of viaPool) {
      const got = viaPull.get(io.keyOf(want)) ?? {};
      for (const c of COLS)
        if (!sameValue(got[c], want[c])) differ.push(`id ${want.id} ${c}: pool ${show(want[c])}, pull ${show(got[c])}`);
    }
    expect(differ).toEqual([]);
    // And what the pool gives is the value written: JSON as its text (MariaDB's JSON column too), DOUBLE exactly.
    const first = viaPool[0] as Row;
    expect(first.doc).toBe(written[0]?.[8]);
    expect(first.score).toBe(MISREAD);
    expect(first.big).toBe('9007199254740993');
  });

  it('hub → node: every value arrives in the file as written on the hub', async () => {
    const A = world.node('A');
    for (let round = 0; round < 5; round++) if (!(await A.syncer.pull()).more) break;
    const rows = A.db.prepare(`SELECT ${COLS.join(', ')} FROM epi ORDER BY id`).all() as Row[];
    expect(rows).toHaveLength(written.length);
    const differ: string[] = [];
    const expectValue = (id: SqlValue | undefined, col: string, got: SqlValue | undefined, want: SqlValue) => {
      if (!sameValue(got, want)) differ.push(`id ${show(id)} ${col}: ${show(got)}, wanted ${show(want)}`);
    };
    for (const [i, w] of written.entries()) {
      const r = rows[i] as Row;
      const [id, takenAt, takenUs, done, , score, day, checkIn, doc, docText, photo, big, amount] = w;
      expectValue(r.id, 'id', r.id, id);
      expectValue(r.id, 'taken_at', r.taken_at, takenAt ?? null);
      expectValue(r.id, 'taken_us', r.taken_us, takenUs ?? null);
      expectValue(r.id, 'done', r.done, done === null || done === undefined ? null : BigInt(done as number));
      // SQLite keeps no negative zero in a REAL column: -0 reads back 0 (as from the pool's image).
      expectValue(r.id, 'score', r.score, score === null || score === undefined ? null : (score as number) + 0);
      expectValue(r.id, 'day', r.day, day ?? null);
      expectValue(r.id, 'check_in', r.check_in, checkIn ?? null);
      expectValue(r.id, 'doc', r.doc, doc ?? null);
      expectValue(r.id, 'doc_text', r.doc_text, docText ?? null);
      expectValue(r.id, 'photo', r.photo, photo ?? null);
      expectValue(r.id, 'big', r.big, big ?? null);
      expectValue(r.id, 'amount', r.amount, amount ?? null);
    }
    expect(differ).toEqual([]);
    expect(await divergence(world, ['epi'])).toEqual([]);
  });
});
