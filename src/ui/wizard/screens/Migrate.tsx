/**
 * Step 7: the initial migration, with a progress bar per table (rows, rows/s,
 * ETA). Esc or Ctrl+C cancels through an AbortSignal; a cancelled or failed
 * copy is offered again as "resume" (now, or on the next setup run).
 */
import { Box, Text } from 'ink';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { MigrationReport } from '../../../migrate/types.js';
import type { PreflightReport } from '../../../schema/preflight.js';
import { loadMigration, MigrationCancelledError, type TableProgress } from '../../../setup/migration.js';
import type { MigrationPlan } from '../../../setup/session.js';
import { progressBar } from '../../components/ProgressBar.js';
import type { Command } from '../../keys.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import { firstEnabled, MENU_SCOPES, type MenuItem, menuCommand } from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, Line, MenuView, Spinner } from '../widgets.js';

const count = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatEta(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '';
  if (sec < 60) return `${Math.ceil(sec)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.ceil(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

/**
 * The tables a copy left out (no primary key, excluded…) with their rows where known and the
 * reason, so "copying 11 rows" followed by "9 rows" says which 2 stay behind and why.
 */
export function leftBehind(
  report: Pick<MigrationReport, 'tables' | 'direction'>,
  sourceRows: ReadonlyMap<string, number>,
): { rows: number | null; lines: string[] } {
  // The copy's result is whatever the session returned: a report without tables lists none.
  const skipped = (Array.isArray(report?.tables) ? report.tables : []).filter((t) => t.state === 'skipped');
  const side = report.direction === 'sqlite-to-mysql' ? 'SQLite' : 'MySQL';
  let rows: number | null = 0;
  const lines = skipped.map((t) => {
    const n = sourceRows.get(t.table);
    rows = rows === null || n === undefined ? null : rows + n;
    return `${t.table}${n === undefined ? '' : `: ${count(n)} row${n === 1 ? '' : 's'}`} stay${n === 1 ? 's' : ''} in ${side} — ${t.error ?? 'not copied'}`;
  });
  return { rows: skipped.length ? rows : 0, lines };
}

/** One table's line: name, bar, percent, rows, rows/s, ETA (or its state). */
export function progressLine(p: TableProgress, columns: number): string {
  const name = p.table.length > 18 ? `${p.table.slice(0, 17)}…` : p.table.padEnd(18);
  const frac = p.rowsTotal > 0 ? p.rowsDone / p.rowsTotal : p.state === 'done' ? 1 : 0;
  const pct = `${Math.round(frac * 100)}%`.padStart(4);
  const barWidth = Math.max(6, Math.min(20, columns - 62));
  const rows = `${count(p.rowsDone)}/${count(p.rowsTotal)}`.padStart(15);
  const tail =
    p.state === 'copying'
      ? `${count(p.rowsPerSec)} rows/s${p.etaSec !== null ? `  ETA ${formatEta(p.etaSec)}` : ''}`
      : p.state === 'verifying'
        ? 'verifying…'
        : p.state === 'done'
          ? 'done ✔'
          : p.state === 'failed'
            ? `failed ✖ ${p.error ?? ''}`
            : 'waiting';
  return `${name} ${progressBar(frac, barWidth)} ${pct} ${rows}  ${tail}`;
}

export function MigrateScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [available, setAvailable] = useState<boolean | undefined>(undefined);
  const [planTask, runPlan] = useTask<MigrationPlan>();
  const [runTask, runCopy, resetRun] = useTask<unknown>();
  const [checkTask, runCheck] = useTask<PreflightReport>();
  const [tables, setTables] = useState<Map<string, TableProgress>>(new Map());
  const [cursor, setCursor, cursorRef] = useKeyState(0);
  const controller = useRef<AbortController | undefined>(undefined);
  const [cancelling, setCancelling] = useState(false);
  const hub = w.setup.answers.dualDatabase;

  // biome-ignore lint/correctness/useExhaustiveDependencies: once when the screen opens
  useEffect(() => {
    if (!hub) return;
    void loadMigration().then((m) => {
      setAvailable(m !== undefined);
      if (m) runPlan(() => s.migrationPlan());
    });
  }, []);

  const plan = planTask.status === 'done' ? planTask.value : undefined;
  const cancelled = runTask.status === 'failed' && runTask.error instanceof MigrationCancelledError;
  const what = plan?.direction
    ? plan.direction === 'sqlite-to-mysql'
      ? `${count(plan.sqliteRows)} row${plan.sqliteRows === 1 ? '' : 's'} SQLite → MySQL`
      : `${count(plan.hubRows)} row${plan.hubRows === 1 ? '' : 's'} MySQL → SQLite`
    : '';
  const items: MenuItem[] =
    runTask.status === 'failed'
      ? [
          { value: 'resume', label: 'Resume now', help: 'continues where it stopped' },
          { value: 'skip', label: 'Skip for now', help: 'run setup again later: it offers to resume' },
        ]
      : plan?.resumable
        ? [
            { value: 'resume', label: `Resume the interrupted copy (${what})`, help: `stopped ${plan.resumable.updatedAt}` },
            { value: 'skip', label: 'Skip' },
          ]
        : [
            {
              value: 'copy',
              label: `Copy now: ${what}`,
              help: 'capture is installed first: writes made during the copy are synced after it',
            },
            ...(plan?.direction === 'sqlite-to-mysql' && checkTask.status === 'idle'
              ? [
                  {
                    value: 'check',
                    label: 'Check the data first',
                    help: 'finds values MySQL would refuse or change (reads every row)',
                  },
                ]
              : []),
            { value: 'skip', label: 'Skip (copy later with `dualdb migrate`)' },
          ];

  // A layout effect: done before the next key is read, so a key typed at once is not undone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset for each phase
  useLayoutEffect(() => {
    setCursor(firstEnabled(items));
  }, [plan, runTask.status, checkTask.status]);

  const start = (resume: boolean) => {
    if (!plan?.direction) return;
    const c = new AbortController();
    controller.current = c;
    setCancelling(false);
    setTables(new Map());
    const direction = plan.direction;
    runCopy(() => s.migrate({ direction, resume, signal: c.signal }, (p) => setTables((m) => new Map(m).set(p.table, { ...p }))));
  };

  const running = runTask.status === 'running';
  const simple = runTask.status === 'done' || !hub || available === false || (plan !== undefined && !plan.direction);
  const choose = (command: Command | undefined, input: string) => {
    const r = menuCommand(items, cursorRef.current, command, input);
    setCursor(r.cursor);
    if (r.back) return w.back();
    if (r.chosen === 'check') runCheck(() => s.preflight());
    else if (r.chosen === 'copy') start(false);
    else if (r.chosen === 'resume') {
      resetRun();
      start(true);
    } else if (r.chosen === 'skip') w.go('sync');
  };
  const keys: ScreenKeys = running
    ? {
        // Esc and Ctrl+C cancel the copy (the batch in flight finishes first).
        scopes: ['wizardCancel'],
        onKey: (command) => {
          if (command !== 'cancel') return;
          controller.current?.abort();
          setCancelling(true);
        },
      }
    : simple
      ? {
          scopes: ['wizardNext', 'wizardBack'],
          onKey: (command) => (command === 'next' ? w.go('sync') : command === 'back' ? w.back() : undefined),
        }
      : planTask.status === 'failed'
        ? {
            scopes: ['wizardNext', 'wizardBack'],
            onKey: (command) => {
              if (command === 'back') w.back();
              if (command === 'next') runPlan(() => s.migrationPlan());
            },
          }
        : !plan || checkTask.status === 'running'
          ? { scopes: [], onKey: () => undefined }
          : { scopes: MENU_SCOPES, onKey: choose };

  if (!hub) {
    return (
      <Screen keys={keys}>
        <Line tone="info" glyph={theme.glyph.info}>
          SQLite only: nothing to copy now.
        </Line>
        <Text wrap="wrap">Changes are captured and queued; they go to the hub once one is configured and reachable.</Text>
      </Screen>
    );
  }
  if (available === false) {
    return (
      <Screen keys={keys}>
        <Line tone="info" glyph={theme.glyph.info}>
          The migration library (src/migrate) is not part of this build.
        </Line>
        <Text wrap="wrap">Copy the existing data later with `dualdb migrate`. Enter: next</Text>
      </Screen>
    );
  }
  if (planTask.status !== 'done') {
    return planTask.status === 'failed' ? (
      <Screen keys={keys}>
        <ErrorBlock error={planTask.error} />
        <Line tone="muted">Enter: try again · Esc: back</Line>
      </Screen>
    ) : (
      <Screen keys={keys}>
        <Spinner label="counting rows on both sides…" />
      </Screen>
    );
  }
  const p = plan as MigrationPlan;
  if (!p.direction) {
    return (
      <Screen keys={keys}>
        <Line tone="info" glyph={theme.glyph.info}>
          No rows on either side: nothing to copy.
        </Line>
        <Text>Enter: next</Text>
      </Screen>
    );
  }
  const list = [...tables.values()];
  const rows = Math.max(3, w.bodyRows - 8);
  const active = list.findIndex((t) => t.state === 'copying' || t.state === 'verifying');
  const from = Math.max(0, Math.min(active < 0 ? list.length - rows : active - 1, list.length - rows));
  const totalDone = list.reduce((a, t) => a + t.rowsDone, 0);
  const totalAll = list.reduce((a, t) => a + t.rowsTotal, 0);
  const behind =
    runTask.status === 'done'
      ? leftBehind(
          runTask.value as MigrationReport,
          new Map(plan?.direction === 'sqlite-to-mysql' ? w.setup.discovery.sqlite.tables.map((t) => [t.name, t.rows]) : []),
        )
      : undefined;
  return (
    <Screen keys={keys}>
      <Text>Copying {what}</Text>
      {list.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          {list.slice(from, from + rows).map((t) => (
            <Text
              key={t.table}
              wrap="truncate-end"
              {...toneProps(theme, t.state === 'done' ? 'ok' : t.state === 'failed' ? 'error' : 'plain')}
            >
              {progressLine(t, w.columns)}
            </Text>
          ))}
          {list.length > rows ? (
            <Line tone="muted">{`  ${list.length} tables; ${count(totalDone)}/${count(totalAll)} rows`}</Line>
          ) : null}
        </Box>
      ) : null}
      {checkTask.status !== 'idle' && list.length === 0 ? (
        <Box marginTop={1} flexDirection="column">
          {checkTask.status === 'running' ? <Spinner label="checking every value against the hub's columns…" /> : null}
          {checkTask.status === 'failed' ? <ErrorBlock error={checkTask.error} /> : null}
          {checkTask.status === 'done' ? <PreflightView report={checkTask.value} rows={Math.max(2, w.bodyRows - 10)} /> : null}
        </Box>
      ) : null}
      <Box marginTop={1} flexDirection="column">
        {running ? (
          cancelling ? (
            <Spinner label="cancelling (the batch in flight finishes first)…" />
          ) : (
            <Spinner label="copying… Esc or Ctrl+C cancels; re-running setup offers to resume" />
          )
        ) : null}
        {runTask.status === 'done' ? (
          <>
            <Line tone="ok" glyph={theme.glyph.ok}>
              copied and verified ({count(totalDone)} rows). Enter: next
            </Line>
            {behind?.lines.length ? (
              <>
                <Line tone="warn" glyph={theme.glyph.warn}>
                  {`not copied${behind.rows ? ` (${count(behind.rows)} row${behind.rows === 1 ? '' : 's'})` : ''}, and not synced later either:`}
                </Line>
                {behind.lines.slice(0, 4).map((l) => (
                  <Text key={l} wrap="wrap">{`  ${l}`}</Text>
                ))}
              </>
            ) : null}
          </>
        ) : null}
        {cancelled ? (
          <Line tone="warn" glyph={theme.glyph.warn}>
            cancelled: what was copied stays; resume continues from there (now, or when you run setup again)
          </Line>
        ) : null}
        {runTask.status === 'failed' && !cancelled ? <ErrorBlock error={runTask.error} /> : null}
        {!running && runTask.status !== 'done' ? <MenuView items={items} cursor={cursor} /> : null}
      </Box>
    </Screen>
  );
}

function PreflightView({ report, rows }: { report: PreflightReport; rows: number }) {
  const theme = useTheme();
  if (report.ok) {
    return (
      <Line tone="ok" glyph={theme.glyph.ok}>
        no value MySQL would refuse or change ({report.tables.length} tables checked)
      </Line>
    );
  }
  const total = report.counts.reduce((a, c) => a + c.count, 0);
  return (
    <Box flexDirection="column">
      <Line tone="warn" glyph={theme.glyph.warn}>
        {`${count(total)} value${total === 1 ? '' : 's'} MySQL would refuse or change; fix them in SQLite first, or copy and see which rows fail:`}
      </Line>
      {report.findings.slice(0, rows).map((f) => (
        <Text key={`${f.table}.${f.column}.${JSON.stringify(f.key)}.${f.kind}`} wrap="truncate-end">
          {'  '}
          {f.table}.{f.column} (
          {Object.entries(f.key)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}
          ): {f.value} — {f.reason}
        </Text>
      ))}
    </Box>
  );
}
