/**
 * What the monitor and the wizard show an operator (issue 15, items 7 and 8): the exact texts of
 * the issue, at 80×24 and 120×40 in ink-testing-library (the tmux runs are in e2e-operator).
 */
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { initialSnapshot, type MonitorController, type MonitorSnapshot } from '../src/monitor/view.js';
import { CompareOverlay, verdictText } from '../src/ui/monitor/CompareOverlay.js';
import { wrapWords } from '../src/ui/monitor/format.js';
import { movedText } from '../src/ui/monitor/Header.js';
import { alertLines } from '../src/ui/monitor/HealthPanels.js';
import { MonitorScreen } from '../src/ui/monitor/MonitorScreen.js';
import { noColorTheme, ThemeContext } from '../src/ui/theme.js';
import { leftBehind } from '../src/ui/wizard/screens/Migrate.js';
import { Line } from '../src/ui/wizard/widgets.js';
import { strip } from './helpers/ink.js';

const CAUSE = 'connection to MySQL at 127.0.0.1:42035 was refused: no server is listening there';
const FIX = 'start the MySQL/MariaDB server, or fix DB_HOST/DB_PORT';

function snapshot(): MonitorSnapshot {
  const config = loadConfig({
    env: { SQLITE_DB_PATH: '/tmp/dualdb-op/site.db', DB_HOST: '127.0.0.1', DB_PORT: '42035', NODE_ID: 'site-a' },
    envFile: undefined,
    cwd: '/tmp',
  });
  const base = initialSnapshot(config);
  return {
    ...base,
    source: { kind: 'in-process' } as MonitorSnapshot['source'],
    nodeId: 'site-a',
    state: 'degraded',
    updatedAt: Date.now(),
    lastPushAt: '2024-05-01T23:12:26.000Z',
    sqlite: { ...base.sqlite, up: true, since: Date.now() - 60_000, version: '3.53.0', integrity: 'ok' },
    mysql: {
      ...base.mysql,
      up: false,
      since: Date.now() - 5000,
      error: { code: 'MYSQL_CONNECTION_REFUSED', message: CAUSE, hint: FIX },
    },
  };
}

function monitor(snap: MonitorSnapshot, columns: number, rows: number): string {
  const controller: MonitorController = {
    getSnapshot: () => snap,
    subscribe: () => () => {},
    syncNow: async () => {},
    togglePause: async () => {},
    compare: async () => {},
    busy: () => null,
    close: async () => {},
  };
  const r = render(
    <ThemeContext.Provider value={noColorTheme}>
      <MonitorScreen controller={controller} columns={columns} rows={rows} onQuit={() => {}} />
    </ThemeContext.Provider>,
  );
  const frame = strip(r.lastFrame());
  r.unmount();
  return frame;
}

const flat = (s: string) => s.replace(/[│┌┐└┘─]/g, ' ').replace(/\s+/g, ' ');

describe('8. long problems and fixes wrap, never cut', () => {
  for (const [columns, rows] of [
    [80, 24],
    [120, 40],
  ] as const) {
    it(`the monitor at ${columns}×${rows} shows the hub's cause and fix whole, within the window`, () => {
      const f = monitor(snapshot(), columns, rows);
      expect(flat(f)).toContain(`✖ MySQL: ${CAUSE}`);
      expect(flat(f)).toContain(`fix: ${FIX}`);
      expect(f).not.toContain('127.0.0.…');
      const lines = f.split('\n');
      expect(lines.length).toBeLessThanOrEqual(rows - 1);
      expect(lines.every((l) => l.length <= columns)).toBe(true);
    });
  }

  it('a wizard line with a long problem and fix wraps at 80 columns, nothing cut', () => {
    const text = `${CAUSE} — ${FIX}; then press Enter to test the connection again`;
    const r = render(
      <ThemeContext.Provider value={noColorTheme}>
        <Box width={80}>
          <Line tone="error" glyph="✖">
            {text}
          </Line>
        </Box>
      </ThemeContext.Provider>,
    );
    const f = strip(r.lastFrame());
    expect(f.split('\n').length).toBeGreaterThan(1);
    expect(flat(f)).toContain(`✖ ${text}`);
    r.unmount();
  });

  it('wraps words at the width and splits only a word longer than a line', () => {
    expect(wrapWords('aa bb cc', 5)).toEqual(['aa bb', 'cc']);
    expect(wrapWords('abcdefgh', 3)).toEqual(['abc', 'def', 'gh']);
    const lines = alertLines([{ name: 'MySQL', side: snapshot().mysql }], null, 40, noColorTheme.glyph);
    expect(lines.every((l) => l.text.length <= 39)).toBe(true);
    expect(lines.map((l) => l.text.trim()).join(' ')).toBe(`✖ MySQL: ${CAUSE} fix: ${FIX}`);
  });
});

describe('7. status that tells the truth', () => {
  it('a fresh monitor says nothing moved since it opened, not a heartbeat time', () => {
    const snap = snapshot();
    const opened = new Date(2024, 4, 1, 23, 40, 0).getTime();
    expect(movedText(snap, opened, '↑', '↓')).toBe('no rows moved since 23:40:00');
    const moved = {
      ...snap,
      session: { pushed: 3, pulled: 0, cycles: 1 },
      lastPushAt: new Date(2024, 4, 1, 23, 41, 5).toISOString(),
    };
    expect(movedText(moved, opened, '↑', '↓')).toBe('since 23:40:00: ↑ 3 rows (last 23:41:05) ↓ 0 rows');
    expect(flat(monitor(snap, 120, 40))).toMatch(/no rows moved since \d\d:\d\d:\d\d/);
    expect(monitor(snap, 120, 40)).not.toContain('rows last moved');
  });

  it('the last sync error shows with its time when both sides are up', () => {
    const snap = { ...snapshot(), mysql: { ...snapshot().mysql, up: true, error: null }, lastError: 'boom (at 23:12:26)' };
    expect(flat(monitor(snap, 120, 40))).toContain('▲ last sync error: boom (at 23:12:26)');
  });

  it('`c` next to "the same on both sides" says how many tables were not compared (no primary key)', () => {
    const rows = [
      { table: 'detections', sqliteRows: 9, mysqlRows: 9, equal: true, differences: 0, detail: null, error: null },
      {
        table: 'notes',
        sqliteRows: 2,
        mysqlRows: 0,
        equal: null,
        differences: null,
        detail: 'no primary key: not synced',
        error: 'no primary key: not synced',
      },
    ];
    expect(verdictText(rows)).toBe(
      'every row of the compared tables is the same on both sides · 1 table not compared (no primary key)',
    );
    expect(verdictText(rows.slice(0, 1))).toBe('every row is the same on both sides');
    // Paused by schema drift: it differs, and the fix named is the schema's, never a repair.
    const drifted = {
      table: 'workers',
      sqliteRows: 3,
      mysqlRows: 3,
      equal: false,
      differences: null,
      detail: 'schema drift — only in MySQL: badge',
      error: null,
      paused: true,
    };
    expect(verdictText([...rows.slice(0, 1), drifted])).toBe(
      'every row of the compared tables is the same on both sides · 1 table paused by schema drift: make the schemas match (`dualdb status` names the fix); a repair cannot',
    );
    expect(verdictText([...rows.slice(0, 1), drifted])).not.toContain('dualdb repair');
    const view = {
      running: false,
      method: 'row checksums',
      table: null,
      done: 2,
      total: 2,
      scanned: 0,
      startedAt: 0,
      finishedAt: 10,
      rows,
      error: null,
    };
    const r = render(
      <ThemeContext.Provider value={noColorTheme}>
        <CompareOverlay view={view} width={80} height={20} />
      </ThemeContext.Provider>,
    );
    expect(flat(strip(r.lastFrame()))).toContain('1 table not compared (no primary key)');
    r.unmount();
  });

  it('the copy screen says which rows stay behind and why', () => {
    const report = {
      direction: 'sqlite-to-mysql' as const,
      tables: [
        { table: 'detections', state: 'done' as const, error: undefined },
        { table: 'notes', state: 'skipped' as const, error: 'no primary key: not synced' },
      ],
    } as unknown as Parameters<typeof leftBehind>[0];
    const b = leftBehind(
      report,
      new Map([
        ['notes', 2],
        ['detections', 9],
      ]),
    );
    expect(b.rows).toBe(2);
    expect(b.lines).toEqual(['notes: 2 rows stay in SQLite — no primary key: not synced']);
  });
});
