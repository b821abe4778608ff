/**
 * The monitor screen and the app shell with ink-testing-library, driven by a
 * fake controller (the real model is tested in ui-monitor-model.test.ts):
 * what each key does, the help generated from the key table, overlays and
 * Esc, quitting (and asking first while work runs), the header badges,
 * log colouring by level, highlighted differences, NO_COLOR, the frame
 * height, the too-small guard on resize, and wizard → monitor routing.
 */
import { EventEmitter } from 'node:events';
import { Text, useInput } from 'ink';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../src/config/config.js';
import { loadConfig } from '../src/config/load.js';
import type { LogEntry } from '../src/log/sync-log.js';
import { initialSnapshot, type MonitorController, type MonitorSnapshot } from '../src/monitor/view.js';
import { App } from '../src/ui/app/App.js';
import type { WizardProps } from '../src/ui/app/wizard-slot.js';
import { MONITOR_HELP } from '../src/ui/components/HelpOverlay.js';
import { BINDINGS } from '../src/ui/keys.js';
import { agoText, FRESH_FOR_MS } from '../src/ui/monitor/Ago.js';
import { MonitorScreen } from '../src/ui/monitor/MonitorScreen.js';
import { noColorTheme, type Theme, ThemeContext } from '../src/ui/theme.js';
import { hasColour, KEY, press, strip, tick, waitUntil, withColours } from './helpers/ink.js';

const SECRET = 'Pa55-w0rd-never-shown';

function testConfig(): Config {
  return loadConfig({
    env: {
      SQLITE_DB_PATH: '/tmp/dualdb-ui-test/site.db',
      DB_HOST: 'hub.example',
      DB_PORT: '3306',
      DB_USER: 'epi',
      DB_PASSWORD: SECRET,
      DB_NAME: 'epi_detection_db',
      NODE_ID: 'site-a',
    },
    envFile: undefined,
    cwd: '/tmp',
  });
}

const log = (level: LogEntry['level'], msg: string): LogEntry => ({ time: '2024-05-01T10:00:00.000Z', level, msg });

function busySnapshot(config: Config): MonitorSnapshot {
  const base = initialSnapshot(config);
  return {
    ...base,
    source: { kind: 'attached', pid: 4242 },
    nodeId: 'site-a',
    state: 'online',
    updatedAt: Date.now(),
    sqlite: {
      ...base.sqlite,
      up: true,
      since: Date.now() - 60_000,
      version: '3.53.0',
      latencyMs: 0.02,
      bytes: 2048,
      walBytes: 512,
      integrity: 'ok',
    },
    mysql: {
      ...base.mysql,
      up: false,
      since: Date.now() - 5000,
      error: { code: 'ECONNREFUSED', message: 'connection refused', hint: 'is the server running?' },
    },
    queue: { push: 3, oldestPushAgeMs: 4000, pull: 0 },
    lag: { push: { p50: 120, p99: 900, max: 900, samples: 10 }, pull: { p50: null, p99: null, max: null, samples: 0 } },
    tables: [
      {
        table: 'detections',
        state: 'syncing',
        reason: null,
        sqliteRows: 1204,
        mysqlRows: 1201,
        diff: 3,
        pendingPush: 3,
        pendingPull: 0,
        conflictsOpen: 0,
        parked: 0,
        lastSyncAt: Date.now(),
      },
      {
        table: 'workers',
        state: 'syncing',
        reason: null,
        sqliteRows: 8,
        mysqlRows: 8,
        diff: 0,
        pendingPush: 0,
        pendingPull: 0,
        conflictsOpen: 0,
        parked: 0,
        lastSyncAt: null,
      },
    ],
    throughput: [...new Array(58).fill(0), 4, 9],
    conflictCounts: { open: 1, total: 2 },
    conflicts: [
      { id: 2, table: 'workers', pk: '[7]', at: '2024-05-01T10:00:00Z', policy: 'manual', winner: null, status: 'open' },
    ],
    log: [log('info', 'synced: ↑3 ↓0'), log('warn', 'hub unreachable, retry 1 in 0.5 s'), log('error', 'sync failed: boom')],
  };
}

class FakeController extends EventEmitter implements MonitorController {
  snap: MonitorSnapshot;
  syncNow = vi.fn(async () => {
    this.set({ activity: { ...this.snap.activity, syncing: true } });
  });
  togglePause = vi.fn(async () => {
    this.set({ state: this.snap.state === 'paused' ? 'online' : 'paused' });
  });
  compare = vi.fn(async () => {
    this.set({
      activity: {
        ...this.snap.activity,
        compare: {
          running: true,
          method: 'row checksums',
          table: 'detections',
          done: 1,
          total: 2,
          scanned: 12_000,
          startedAt: Date.now(),
          finishedAt: null,
          rows: [],
          error: null,
        },
      },
    });
  });
  dismissCompare = vi.fn(() => this.set({ activity: { ...this.snap.activity, compare: null } }));
  close = vi.fn(async () => {});
  busyWith: string | null = null;

  constructor(snap: MonitorSnapshot) {
    super();
    this.snap = snap;
  }
  getSnapshot = () => this.snap;
  subscribe = (l: () => void) => {
    this.on('update', l);
    return () => {
      this.off('update', l);
    };
  };
  busy = () => this.busyWith;
  set(p: Partial<MonitorSnapshot>): void {
    this.snap = { ...this.snap, ...p, version: this.snap.version + 1 };
    this.emit('update');
  }
}

function screen(controller: FakeController, opts: { columns?: number; rows?: number; theme?: Theme } = {}) {
  const onQuit = vi.fn();
  const r = render(
    <ThemeContext.Provider value={opts.theme ?? noColorTheme}>
      <MonitorScreen controller={controller} columns={opts.columns ?? 100} rows={opts.rows ?? 30} onQuit={onQuit} />
    </ThemeContext.Provider>,
  );
  return { ...r, onQuit, frame: () => strip(r.lastFrame()) };
}

/** Stands in for the setup wizard: Enter finishes it with the test configuration. */
function FakeWizard({ onDone, initial }: WizardProps) {
  useInput((_i, key) => {
    if (key.return) onDone(testConfig());
  });
  return <Text>wizard for {initial?.nodeId ?? 'a new node'} — press Enter</Text>;
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe('monitor screen', () => {
  it('shows mode, node, hub, state badge, source and "updated Ns ago" in the header; never the password', () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { frame } = screen(c, { columns: 140 });
    const lines = frame().split('\n');
    expect(lines[0]).toContain('dualdb monitor · sqlite_primary · node site-a · hub epi@hub.example:3306/epi_detection_db');
    expect(lines[0]).toContain('✔ online');
    expect(lines[0]).toContain('updated just now');
    expect(lines[1]).toContain('attached to daemon pid 4242');
    expect(frame()).not.toContain(SECRET);
  });

  it('shows stale data as stale: the age of the last refresh, counting', async () => {
    const c = new FakeController({ ...busySnapshot(testConfig()), updatedAt: Date.now() - 20_000 });
    const { frame } = screen(c, { columns: 140 });
    expect(frame().split('\n')[0]).toMatch(/▲ updated 2\ds ago/);
    expect(agoText(null, Date.now())).toBe('waiting for the first status');
    expect(agoText(1000, 1000 + FRESH_FOR_MS - 1)).toBe('updated just now');
    expect(agoText(1000, 1000 + 61_000)).toBe('updated 1m 01s ago');
  });

  it('shows both databases with up/down and since when, version, latency, sizes and WAL', () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const f = screen(c).frame();
    expect(f).toContain('SQLite (local)');
    expect(f).toContain('MySQL (hub)');
    expect(f).toMatch(/✔ up since \d\d:\d\d:\d\d/);
    expect(f).toMatch(/✖ down since \d\d:\d\d:\d\d · see below/);
    expect(f).toContain('✖ MySQL: connection refused');
    expect(f).toContain('SQLite 3.53.0');
    expect(f).toContain('WAL 512 B');
    expect(f).toContain('integrity ✔ ok');
    expect(f).toContain('fix: is the server running?');
  });

  it('lists tables with both counts, the difference marked, pending each way', () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const f = screen(c).frame();
    const det = f.split('\n').find((l) => l.includes('detections')) ?? '';
    expect(det).toMatch(/detections\s+1,204\s+1,201\s+≠ \+3\s+3\s+0\s+\d\d:\d\d:\d\d/);
    const wk = f.split('\n').find((l) => l.includes('workers') && !l.includes('conflict')) ?? '';
    expect(wk).toMatch(/workers\s+8\s+8\s+= 0\s+0\s+0\s+-/);
  });

  it('shows queue, lag p50/p99, the throughput sparkline, conflicts and the log tail', () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const f = screen(c).frame();
    expect(f).toContain('queue ↑ 3 ↓ 0');
    expect(f).toContain('p50 120 ms p99 900 ms');
    expect(f).toMatch(/throughput ▁+▅█ 9\/s now · 13 rows in the last minute/);
    expect(f).toContain('conflicts ▲ 1 open');
    expect(f).toContain('conflict');
    expect(f).toContain('workers [7] · manual · open');
    expect(f).toContain('INFO  synced: ↑3 ↓0');
    expect(f).toContain('WARN  hub unreachable');
    expect(f).toContain('ERROR sync failed: boom');
    expect(f).toContain('s sync now  p pause/resume  c compare  ? help  q quit');
  });

  it('shows the re-key count and the latest key collisions, like conflicts (issue 11 item 4)', () => {
    const c = new FakeController({
      ...busySnapshot(testConfig()),
      conflicts: [],
      rekeyCounts: { total: 3, open: 1 },
      rekeys: [
        { id: 4, table: 'workers', oldKey: '9', newKey: null, moved: null, status: 'held', at: '2024-05-01T10:00:02Z' },
        { id: 3, table: 'workers', oldKey: '5', newKey: '1001', moved: 'node', status: 'done', at: '2024-05-01T10:00:01Z' },
      ],
    });
    const f = screen(c, { columns: 140, rows: 40 }).frame();
    expect(f).toContain('re-keys ▲ 1 held, 3 moved');
    expect(f).toContain('key collision');
    expect(f).toContain('workers 9: two rows held apart, decide with `dualdb rekeys`');
    expect(f).toContain("workers 5 → 1001 (the node's row moved; both kept)");
  });

  it('colours the log by level (and prints the level word too)', () => {
    restore = withColours(1);
    const c = new FakeController(busySnapshot(testConfig()));
    const { lastFrame } = render(<MonitorScreen controller={c} columns={100} rows={30} onQuit={() => {}} />);
    const lines = (lastFrame() ?? '').split('\n');
    const err = lines.find((l) => strip(l).includes('sync failed: boom')) ?? '';
    const warn = lines.find((l) => strip(l).includes('hub unreachable')) ?? '';
    const info = lines.find((l) => strip(l).includes('synced: ↑3')) ?? '';
    expect(err).toContain('\u001b[31m'); // red
    expect(warn).toContain('\u001b[33m'); // yellow
    expect(hasColour(info.replace(/\u001b\[90m[^\u001b]*/g, ''))).toBe(false); // info: default colour (the time is grey)
    expect(strip(err)).toContain('ERROR');
    // The difference is highlighted in the warning colour.
    const det = lines.find((l) => strip(l).includes('detections')) ?? '';
    expect(det).toContain('\u001b[33m');
  });

  it('is readable without colour: NO_COLOR output has no colour codes, glyphs and words stay', () => {
    restore = withColours(1);
    const c = new FakeController(busySnapshot(testConfig()));
    const { lastFrame } = screen(c, { theme: noColorTheme });
    expect(hasColour(lastFrame())).toBe(false);
    const f = strip(lastFrame());
    for (const sign of ['✔ online', '✖ down', '≠ +3', 'ERROR', 'WARN', '▲ 1 open']) expect(f).toContain(sign);
  });

  it('keeps the frame one line shorter than the window at every size (no full-screen clears)', () => {
    const c = new FakeController(busySnapshot(testConfig()));
    for (const [columns, rows] of [
      [80, 24],
      [100, 30],
      [132, 50],
    ] as const) {
      const { frame, unmount } = screen(c, { columns, rows });
      const lines = frame().split('\n');
      expect(lines.length).toBe(rows - 1);
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(columns);
      unmount();
    }
  });

  it('s syncs now, with visible feedback', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, frame } = screen(c);
    expect(frame()).not.toContain('syncing…');
    await press(stdin, 's');
    expect(c.syncNow).toHaveBeenCalledTimes(1);
    await waitUntil(() => frame().includes('⟳ syncing…'), 'the syncing indicator');
    // The outcome stays in the header, where the log's later lines cannot push it away.
    c.set({ activity: { ...c.snap.activity, syncing: false, lastSyncNow: { at: Date.now(), ok: true, text: '↑20 ↓3' } } });
    await waitUntil(() => frame().includes('sync now ✔ ↑20 ↓3'), 'the outcome of s');
    c.set({ activity: { ...c.snap.activity, lastSyncNow: { at: Date.now() - 60_000, ok: true, text: '↑20 ↓3' } } });
    await waitUntil(() => !frame().includes('sync now ✔'), 'the outcome to go after a while');
  });

  it('p pauses and resumes', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, frame } = screen(c);
    await press(stdin, 'p');
    expect(c.togglePause).toHaveBeenCalledTimes(1);
    await waitUntil(() => frame().includes('‖ paused'), 'the paused badge');
    await press(stdin, 'p');
    expect(c.togglePause).toHaveBeenCalledTimes(2);
    await waitUntil(() => frame().includes('✔ online'), 'the online badge');
  });

  it('c runs a compare and shows its progress; Esc closes it', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, frame } = screen(c);
    await press(stdin, 'c');
    expect(c.compare).toHaveBeenCalledTimes(1);
    await waitUntil(() => frame().includes('Compare — row checksums'), 'the compare panel');
    expect(frame()).toContain('comparing detections (1/2 tables, 12,000 rows read)');
    expect(frame()).toContain('50%');
    c.set({
      activity: {
        ...c.snap.activity,
        compare: {
          ...(c.snap.activity.compare as NonNullable<MonitorSnapshot['activity']['compare']>),
          running: false,
          done: 2,
          finishedAt: Date.now(),
          rows: [
            {
              table: 'detections',
              sqliteRows: 10,
              mysqlRows: 9,
              equal: false,
              differences: 2,
              detail: '1 missing in MySQL, 1 different (first: id=7)',
              error: null,
            },
            { table: 'workers', sqliteRows: 8, mysqlRows: 8, equal: true, differences: 0, detail: null, error: null },
          ],
        },
      },
    });
    await waitUntil(() => frame().includes('1 identical · 1 differ'), 'the compare result');
    expect(frame()).toMatch(/detections\s+10\s+9\s+≠ 2 differ/);
    expect(frame()).toMatch(/workers\s+8\s+8\s+✔ identical/);
    expect(frame()).toContain('detections: 1 missing in MySQL, 1 different (first: id=7)');
    expect(frame()).toContain('dualdb repair --from sqlite|mysql');
    await press(stdin, KEY.escape, 80);
    expect(c.dismissCompare).toHaveBeenCalled();
    await waitUntil(() => !frame().includes('Compare —'), 'the panel to close');
    expect(frame()).toContain('SQLite (local)');
  });

  it('differences that are changes still queued for sync show as syncing, without the repair advice', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, frame } = screen(c);
    await press(stdin, 'c');
    c.set({
      activity: {
        ...c.snap.activity,
        compare: {
          ...(c.snap.activity.compare as NonNullable<MonitorSnapshot['activity']['compare']>),
          running: false,
          done: 2,
          finishedAt: Date.now(),
          rows: [
            {
              table: 'workers',
              sqliteRows: 9,
              mysqlRows: 10,
              equal: false,
              differences: 1,
              detail: '1 missing in SQLite (first: id=1002)',
              error: null,
              syncing: 1,
            },
            { table: 'detections', sqliteRows: 8, mysqlRows: 8, equal: true, differences: 0, detail: null, error: null },
          ],
        },
      },
    });
    await waitUntil(() => frame().includes('1 identical · 0 differ · 1 syncing'), 'the compare result');
    expect(frame()).toMatch(/workers\s+9\s+10\s+… 1 syncing/);
    expect(frame()).toContain('workers: changes still queued for sync, not differences');
    expect(frame()).toContain('press c again in a moment');
    expect(frame()).not.toContain('dualdb repair');
  });

  it('? opens the help generated from the key table; Esc and ? close it', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, frame } = screen(c);
    await press(stdin, '?');
    await waitUntil(() => frame().includes('Help — keys'), 'the help');
    // The monitor's keys, and only those (the setup wizard's keys are in the same table).
    for (const b of BINDINGS) {
      if (MONITOR_HELP.includes(b.scope)) expect(frame()).toContain(b.description);
      else expect(frame()).not.toContain(b.description);
    }
    for (const key of ['s', 'p', 'c', '?', 'q', 'Esc', 'Ctrl+C', 'y/Enter', 'n/Esc']) expect(frame()).toContain(`  ${key} `);
    // Monitor keys are not live under the help.
    await press(stdin, 's');
    expect(c.syncNow).not.toHaveBeenCalled();
    expect(frame()).toContain('Esc close');
    await press(stdin, KEY.escape, 80);
    await waitUntil(() => !frame().includes('Help — keys'), 'Esc to close the help');
    await press(stdin, '?');
    await waitUntil(() => frame().includes('Help — keys'), 'the help again');
    await press(stdin, '?');
    await waitUntil(() => !frame().includes('Help — keys'), '? to close the help');
  });

  it('q quits at once when nothing runs', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, onQuit, frame } = screen(c);
    await press(stdin, 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
    await waitUntil(() => frame().includes('stopping'), 'the stopping line');
  });

  it('q asks first while a sync runs: n keeps going, y quits', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    c.busyWith = 'a sync';
    const { stdin, onQuit, frame } = screen(c);
    await press(stdin, 'q');
    expect(onQuit).not.toHaveBeenCalled();
    await waitUntil(() => frame().includes('a sync is running. Quit anyway?'), 'the question');
    expect(frame()).toContain('y/Enter yes  n/Esc no');
    await press(stdin, 'n');
    await waitUntil(() => frame().includes('s sync now'), 'the key bar back');
    expect(onQuit).not.toHaveBeenCalled();
    await press(stdin, 'q');
    await waitUntil(() => frame().includes('Quit anyway?'), 'the question again');
    await press(stdin, 'y');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('Ctrl+C quits without asking', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    c.busyWith = 'a compare';
    const { stdin, onQuit } = screen(c);
    await press(stdin, KEY.ctrlC);
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('handles keys typed in one burst one by one', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const { stdin, onQuit } = screen(c);
    await press(stdin, 'spq');
    expect(c.syncNow).toHaveBeenCalledTimes(1);
    expect(c.togglePause).toHaveBeenCalledTimes(1);
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('shows the source and state while connecting, and a failed start with its hint', () => {
    const config = testConfig();
    const c = new FakeController(initialSnapshot(config));
    expect(screen(c).frame()).toContain('connecting to the sync…');
    c.snap = {
      ...initialSnapshot(config),
      state: 'stopped',
      source: {
        kind: 'failed',
        error: { code: 'CAPTURE_MISSING', message: 'change capture is not installed', hint: 'run `dualdb init`' },
      },
    };
    const f = screen(c).frame();
    expect(f).toContain('sync not running: change capture is not installed — run `dualdb init`');
    expect(f).toContain('■ stopped');
  });

  it.each([
    ['degraded', '✖ degraded'],
    ['recovering', '▲ recovering'],
    ['paused', '‖ paused'],
    ['resync-needed', '✖ resync-needed'],
    ['local-only', '● local-only'],
  ] as const)('shows the %s badge', (state, text) => {
    const c = new FakeController({ ...busySnapshot(testConfig()), state });
    expect(screen(c).frame().split('\n')[0]).toContain(text);
  });
});

describe('app shell', () => {
  it('opens the monitor, and shows the too-small guard after a resize below 80×24 (q still quits)', async () => {
    const c = new FakeController(busySnapshot(testConfig()));
    const onQuit = vi.fn(async () => {});
    const r = render(<App screen="monitor" config={testConfig()} openMonitor={() => c} onQuit={onQuit} theme={noColorTheme} />);
    const frame = () => strip(r.lastFrame());
    await waitUntil(() => frame().includes('SQLite (local)'), 'the monitor');
    // ink-testing-library's stdout is 100 columns; shrink it like a terminal would.
    Object.defineProperty(r.stdout, 'columns', { value: 60, configurable: true });
    r.stdout.emit('resize');
    await waitUntil(() => frame().includes('terminal too small, need 80×24'), 'the guard');
    expect(frame()).not.toContain('SQLite (local)');
    Object.defineProperty(r.stdout, 'columns', { value: 100, configurable: true });
    r.stdout.emit('resize');
    await waitUntil(() => frame().includes('SQLite (local)'), 'the monitor back');
    Object.defineProperty(r.stdout, 'columns', { value: 60, configurable: true });
    r.stdout.emit('resize');
    await waitUntil(() => frame().includes('too small'), 'the guard again');
    await press(r.stdin, 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('routes from the wizard to the monitor when the wizard is done', async () => {
    const config = testConfig();
    const c = new FakeController(busySnapshot(config));
    const openMonitor = vi.fn(() => c);
    const r = render(
      <App
        screen="wizard"
        wizardInitial={{ nodeId: 'site-x' }}
        openMonitor={openMonitor}
        onQuit={async () => {}}
        Wizard={FakeWizard}
        theme={noColorTheme}
      />,
    );
    const frame = () => strip(r.lastFrame());
    expect(frame()).toContain('wizard for site-x');
    expect(openMonitor).not.toHaveBeenCalled();
    await press(r.stdin, KEY.enter);
    await waitUntil(() => frame().includes('SQLite (local)'), 'the monitor after the wizard');
    expect(openMonitor).toHaveBeenCalledWith(expect.objectContaining({ nodeId: config.nodeId, sqlitePath: config.sqlitePath }));
  });

  it('explains what to do when this build has no wizard', async () => {
    const onQuit = vi.fn(async () => {});
    const r = render(
      <App screen="wizard" openMonitor={() => new FakeController(initialSnapshot(testConfig()))} onQuit={onQuit} />,
    );
    expect(strip(r.lastFrame())).toContain('dualdb setup --plain');
    await press(r.stdin, 'q');
    await tick();
    expect(onQuit).toHaveBeenCalled();
  });
});
