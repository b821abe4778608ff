/**
 * The sync plan outlives its lifetime while the hub's schema holds (src/sync/syncer.ts
 * `currentPlan`): one fingerprint query (PLAN_FINGERPRINT_SQL) instead of a full introspection,
 * so an idle node's heartbeat every 10 s re-reads no hub schema. The fingerprint must cover all a
 * plan is built from: a foreign key, an index or a column default changed on the hub makes a new
 * plan, and a column added there still pauses the table (invariants 9 and 16).
 */
import { describe, expect, it, vi } from 'vitest';
import { hubPlanFingerprint, hubSchemaFingerprint } from '../src/sync/schema-guard.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
  'CREATE TABLE players (id INTEGER PRIMARY KEY, team_id INTEGER, name TEXT NOT NULL)',
];
const MYSQL_DDL = [
  'CREATE TABLE teams (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)',
  // Both columns already keyed: a foreign key or index added later leaves information_schema's
  // COLUMN_KEY as it was, so only the fingerprint's index and foreign key parts see them.
  'CREATE TABLE players (id BIGINT PRIMARY KEY, team_id BIGINT NULL, name VARCHAR(50) NOT NULL, KEY (team_id), KEY (name))',
];

describe.skipIf(!HUB_AVAILABLE)('sync plan reuse', () => {
  const fx = syncWorlds({ sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('an unchanged hub schema keeps the plan: one fingerprint query, no introspection', async () => {
    const w = await fx.world();
    const { syncer } = w.node('A');
    const first = await syncer.currentPlan();
    const hub = await syncer.connectHub();
    const query = vi.spyOn(hub, 'query');
    try {
      const again = await syncer.currentPlan();
      expect(again).toBe(first);
      expect(query.mock.calls.map((c) => String(c[0])).filter((q) => /information_schema/i.test(q))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
  });

  it("the fingerprint's column part is the batches' stamp (hubSchemaFingerprint)", async () => {
    const w = await fx.world();
    const hub = await w.node('A').syncer.connectHub();
    expect((await hubPlanFingerprint(hub)).columns).toBe(await hubSchemaFingerprint(hub));
  });

  const changes: [string, string][] = [
    ['a foreign key', 'ALTER TABLE players ADD CONSTRAINT fk_team FOREIGN KEY (team_id) REFERENCES teams (id)'],
    ['an index', 'CREATE INDEX players_name_team ON players (name, team_id)'],
    ['a column default', "ALTER TABLE players ALTER COLUMN name SET DEFAULT 'anon'"],
    ['a column added', 'ALTER TABLE players ADD COLUMN nick VARCHAR(20) NULL'],
  ];
  for (const [what, ddl] of changes) {
    it(`${what} changed on the hub makes a new plan`, async () => {
      const w = await fx.world();
      const { syncer } = w.node('A');
      const first = await syncer.currentPlan();
      await w.hub.execute(ddl);
      const next = await syncer.currentPlan();
      expect(next).not.toBe(first);
      if (what === 'a foreign key') expect(next.byName.get('players')?.parents).toEqual(['teams']);
      if (what === 'a column added') expect(next.paused.map((p) => p.table)).toEqual(['players']);
    });
  }
});
