/**
 * The wizard's schema step against a hub whose columns are narrower than the
 * SQLite data: before any write, the list of what `dualdb schema fit` would widen;
 * Enter widens (and nothing else was written before it), then the schema plan.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MysqlConfig } from '../src/config/config.js';
import { MysqlHub } from '../src/engines/mysql/connect.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { HUB_AVAILABLE, startTestHub, type TestHub } from './helpers/hub.js';
import { tempDir } from './helpers/tmp.js';
import { KEY, renderWizard, type WizardDriver } from './helpers/wizard.js';

let hub: TestHub;
let dir: string;
let cleanup: () => void;
let w: WizardDriver | undefined;
beforeAll(async () => {
  if (HUB_AVAILABLE) hub = await startTestHub();
});
afterAll(async () => hub?.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-wizard-fit-'));
});
afterEach(() => {
  w?.unmount();
  w = undefined;
  cleanup();
});

const flat = (f: string) => f.replace(/\s*\n\s*/g, ' ');

describe.skipIf(!HUB_AVAILABLE)('wizard: a hub narrower than the SQLite data', () => {
  it('lists the widening before any write, Enter applies it, then the schema plan', async () => {
    const m: MysqlConfig = await hub.freshDatabase('wzfit');
    const h = await MysqlHub.connect(m);
    await h.query('CREATE TABLE readings (id INT AUTO_INCREMENT PRIMARY KEY, rate FLOAT NOT NULL, at DATETIME NULL)');
    const sqlitePath = path.join(dir, 'site.db');
    const db = openSqlite(sqlitePath, { create: true });
    db.exec(`CREATE TABLE readings (id INTEGER PRIMARY KEY, rate REAL, at DATETIME);
             INSERT INTO readings VALUES (1, 0.1, '2026-02-01 10:00:00.123456')`);
    db.close();
    writeFileSync(path.join(dir, '.env'), 'SQLITE_DB_PATH=site.db\n');

    w = renderWizard({ envFile: path.join(dir, '.env') });
    await w.waitFor('step 1 of 9');
    await w.press(KEY.enter);
    await w.waitFor('step 2 of 9');
    for (const v of [m.host, String(m.port), m.user, m.password, m.database]) {
      await w.press(KEY.ctrlU);
      await w.type(v);
      await w.press(KEY.tab);
    }
    await w.press(KEY.enter);
    await w.waitFor('step 3 of 9');
    await w.waitGone('connecting to', 20_000);
    await w.press(KEY.enter); // continue (PROCESS is optional)
    let f = flat(await w.waitFor('narrower than the SQLite data', 20_000));
    expect(f).toContain('readings.rate: the hub has float NOT NULL, SQLite needs DOUBLE NULL');
    expect(f).toContain('readings.at: the hub has datetime NULL, SQLite needs DATETIME(6) NULL');
    expect(f).toContain('1. Widen these columns on the hub');
    // Nothing was written yet: no capture tables on the hub.
    const before = await h.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dualdb\\_%'",
    );
    expect(Number(before[0]?.n)).toBe(0);
    await w.press(KEY.enter);
    // On to the plan once widened: the tables exist on both sides already.
    f = flat(await w.waitFor('1. Continue', 30_000));
    expect(f).toContain('step 6 of 9');
    expect(f).not.toContain('narrower than the SQLite data');
    const cols = await h.query<{ COLUMN_NAME: string; COLUMN_TYPE: string; IS_NULLABLE: string }>(
      "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'readings' ORDER BY ORDINAL_POSITION",
    );
    await h.close();
    expect(cols.map((c) => `${c.COLUMN_NAME} ${c.COLUMN_TYPE} ${c.IS_NULLABLE}`)).toEqual([
      'id bigint(20) NO',
      'rate double YES',
      'at datetime(6) YES',
    ]);
  }, 120_000);
});
