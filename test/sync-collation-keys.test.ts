/**
 * Issue 12 item 4: text keys that SQLite keeps apart and the hub's case-insensitive, pad-space
 * collation folds together (`abc`, `ABC`, `abc `). One of them reaches the hub; each of the
 * others is parked with the cause (the key it equals, the collation, the fix) — never
 * overwriting the first — and the rest of the batch flows.
 */
import { describe, expect, it } from 'vitest';
import { compareNode } from '../src/compare/compare.js';
import { repairNode } from '../src/compare/repair.js';
import { envOf, runCli } from './helpers/cli.js';
import { syncWorlds } from './helpers/sync.js';
import { HUB_AVAILABLE } from './helpers/sync-hub.js';

const SQLITE_DDL = [
  'CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT)',
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)',
];
const MYSQL_DDL = [
  'CREATE TABLE tags (code VARCHAR(40) COLLATE utf8mb4_unicode_ci PRIMARY KEY, label VARCHAR(80) NULL) ENGINE=InnoDB',
  'CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NULL) ENGINE=InnoDB',
];

describe.skipIf(!HUB_AVAILABLE)('issue 12 item 4: keys the hub collation folds together', () => {
  const fixture = syncWorlds({ prefix: 'coll', sqliteDdl: SQLITE_DDL, mysqlDdl: MYSQL_DDL });

  it('abc, ABC and "abc " : one reaches the hub, the others are parked with the cause; nothing overwritten', async () => {
    const w = await fixture.world();
    const db = w.node('A').db;
    const ins = db.prepare('INSERT INTO tags (code, label) VALUES (?, ?)');
    ins.run('abc', 'lower');
    ins.run('ABC', 'upper');
    ins.run('abc ', 'padded');
    db.prepare("INSERT INTO notes (id, body) VALUES (1, 'flows')").run();
    await w.node('A').syncer.syncOnce();
    await w.node('A').syncer.syncOnce();
    const hub = await w.hub.query<{ code: string; label: string }>('SELECT code, label FROM tags');
    expect(hub).toEqual([{ code: 'abc', label: 'lower' }]);
    expect(await w.hub.query('SELECT id FROM notes')).toEqual([{ id: '1' }]);
    const parked = w.node('A').syncer.state.parked('push');
    expect(parked.map((p) => p.pk).sort()).toEqual(['ABC', 'abc ']);
    for (const p of parked) {
      expect(p.error).toContain(`key '${p.pk}' equals 'abc' under the hub's collation utf8mb4_unicode_ci`);
      expect(p.error).toContain('binary collation');
      expect(p.error).toContain('dualdb schema fit');
    }
  }, 60_000);

  it('ABC created after abc reached the hub: parked, the hub row of abc untouched', async () => {
    const w = await fixture.world();
    const db = w.node('A').db;
    db.prepare("INSERT INTO tags (code, label) VALUES ('abc', 'lower')").run();
    await w.node('A').syncer.syncOnce();
    db.prepare("INSERT INTO tags (code, label) VALUES ('ABC', 'upper')").run();
    db.prepare("UPDATE tags SET label = 'lower 2' WHERE code = 'abc'").run();
    await w.node('A').syncer.syncOnce();
    await w.node('A').syncer.syncOnce();
    expect(await w.hub.query('SELECT code, label FROM tags')).toEqual([{ code: 'abc', label: 'lower 2' }]);
    expect(
      w
        .node('A')
        .syncer.state.parked('push')
        .map((p) => [p.pk, p.error.slice(0, 30)]),
    ).toEqual([['ABC', "key 'ABC' equals 'abc' under t"]]);
  }, 60_000);

  it('compare names the folded keys; repair --from sqlite reports them as failures with the fix, not "already equal"', async () => {
    const w = await fixture.world();
    const db = w.node('A').db;
    const ins = db.prepare('INSERT INTO tags (code, label) VALUES (?, ?)');
    for (const [code, label] of [
      ['abc', 'lower'],
      ['ABC', 'upper'],
      ['abc ', 'padded'],
    ])
      ins.run(code, label);
    await w.hub.execute("INSERT INTO tags (code, label) VALUES ('abc', 'lower')");
    const config = w.node('A').config;
    const report = await compareNode(config, { tables: ['tags'] });
    const diffs = report.tables[0]?.differences ?? [];
    expect(diffs.map((d) => [d.key, d.kind, d.folded])).toEqual([
      ['ABC', 'missing-in-mysql', expect.stringContaining("key 'ABC' equals 'abc' under the hub's collation utf8mb4_unicode_ci")],
      ['abc ', 'missing-in-mysql', expect.stringContaining("key 'abc ' equals 'abc' under the hub's collation")],
    ]);
    const fixed = await repairNode(config, { from: 'sqlite', tables: ['tags'] });
    expect(fixed.ok).toBe(false);
    expect(fixed.tables[0]?.failures.map((f) => f.error)).toEqual([
      expect.stringContaining('binary collation — `dualdb schema fit`'),
      expect.stringContaining('binary collation — `dualdb schema fit`'),
    ]);
    // The command line: what to do, never "already equal".
    await w.node('A').syncer.close();
    const cmp = runCli(['compare'], envOf(config));
    expect(cmp.stdout).toContain("key 'ABC' equals 'abc'");
    const rep = runCli(['repair', '--from', 'sqlite'], envOf(config));
    expect(rep.stdout).not.toMatch(/tags: .*already equal/);
    expect(rep.stdout).toContain('tags: ✖ 2 row(s) could not be written');
    expect(rep.stdout).toContain("key 'ABC' equals 'abc' under the hub's collation utf8mb4_unicode_ci");
  }, 60_000);
});
