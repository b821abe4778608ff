/**
 * Step 6: the schema. The check first (Fit.tsx: hub columns narrower than the
 * data, with Enter to widen them; values the hub would refuse), then the plan
 * (tables to create on each side, what cannot be translated faithfully, tables
 * that differ), nothing written until confirmed; then the DDL applied table by
 * table with progress.
 */
import { Box, Text } from 'ink';
import { useEffect, useLayoutEffect, useState } from 'react';
import { planWrites, type SchemaApplyEvent, type SchemaChoice, type SchemaPlan } from '../../../setup/schema.js';
import { ProgressBar } from '../../components/ProgressBar.js';
import type { Command } from '../../keys.js';
import { type Tone, toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import { firstEnabled, type MenuItem, menuCommand } from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, Line, MenuView, Spinner } from '../widgets.js';
import { FitStep } from './Fit.js';

interface DetailLine {
  tone: Tone;
  text: string;
}

/** Word-wraps a line to `width` columns; continuation lines are indented by two spaces. */
export function wrapLine(line: DetailLine, width: number): DetailLine[] {
  const w = Math.max(20, width);
  const out: DetailLine[] = [];
  let rest = line.text;
  let first = true;
  while (rest.length > 0) {
    const room = first ? w : w - 4;
    if (rest.length <= room) {
      out.push({ tone: line.tone, text: first ? rest : `    ${rest}` });
      break;
    }
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= 0) cut = room;
    out.push({ tone: line.tone, text: first ? rest.slice(0, cut) : `    ${rest.slice(0, cut)}` });
    rest = rest.slice(cut).trimStart();
    first = false;
  }
  return out;
}

/** The plan as lines (window them to the screen; PgUp/PgDn scroll). */
export function planLines(plan: SchemaPlan): DetailLine[] {
  const out: DetailLine[] = [];
  const creates = (side: 'mysql' | 'sqlite') =>
    plan.tables.filter((t) => t.side === side && t.action === 'create').map((t) => t.name);
  const exists = plan.tables
    .filter((t) => t.action === 'exists')
    .map((t) => (plan.source === 'epi' ? `${t.name} (${t.side === 'mysql' ? 'MySQL' : 'SQLite'})` : t.name));
  const up = creates('mysql');
  const down = creates('sqlite');
  if (up.length) out.push({ tone: 'ok', text: `+ create on MySQL (${up.length}): ${up.join(', ')}` });
  if (down.length) out.push({ tone: 'ok', text: `+ create in SQLite (${down.length}): ${down.join(', ')}` });
  for (const t of plan.tables.filter((x) => x.action === 'alter'))
    out.push({
      tone: 'ok',
      text: `+ add to ${t.name} on ${t.side === 'mysql' ? 'MySQL' : 'SQLite'}: ${(t.columns ?? []).join(', ')}`,
    });
  if (exists.length) out.push({ tone: 'muted', text: `= exist already (${exists.length}): ${exists.join(', ')}` });
  if (plan.source === 'epi')
    out.push({
      tone: 'muted',
      text: '  files: sql/sqlite/epi_schema.sql, sql/mysql/epi_schema.sql, sql/mysql/epi_procedures.sql',
    });
  if (plan.warnings.length) {
    out.push({
      tone: 'warn',
      text: `▲ not translated faithfully (${plan.warnings.length}) — nothing is written before you confirm:`,
    });
    for (const w of plan.warnings)
      out.push({ tone: 'warn', text: `  ${w.table}${w.column ? `.${w.column}` : ''}: ${w.problem} — ${w.reason}` });
  }
  if (plan.differences.length) {
    out.push({
      tone: 'warn',
      text: `▲ tables that differ between the sides (${plan.differences.length}); left as they are, sync pauses them:`,
    });
    for (const d of plan.differences) out.push({ tone: 'warn', text: `  ${d.table}: ${d.detail}` });
  }
  for (const n of plan.notes) out.push({ tone: 'muted', text: `ℹ ${n.table}.${n.column}: ${n.problem} — ${n.reason}` });
  // The exact statements, so a production hub's owner sees what will run before saying yes.
  if (plan.steps.length) {
    out.push({ tone: 'muted', text: `the statements that will run (${plan.steps.length}):` });
    for (const step of plan.steps) {
      out.push({ tone: 'muted', text: `  -- ${step.target === 'mysql' ? 'MySQL' : 'SQLite'}` });
      for (const line of step.sql.split('\n')) out.push({ tone: 'muted', text: `  ${line}` });
    }
  }
  return out;
}

/**
 * The step: first the check before any write (FitStep: the hub's narrower columns
 * and the pre-flight's findings, passed over when there are none), then the plan.
 */
export function SchemaScreen() {
  const w = useWizard();
  const [checked, setChecked] = useState(!w.setup.answers.dualDatabase);
  return checked ? <SchemaPlanScreen /> : <FitStep onDone={() => setChecked(true)} />;
}

function SchemaPlanScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [planTask, runPlan] = useTask<SchemaPlan>();
  const [applyTask, runApply, resetApply] = useTask<{ statements: number }>();
  const [progress, setProgress] = useState<Map<string, SchemaApplyEvent>>(new Map());
  const [cursor, setCursor, cursorRef] = useKeyState(0);
  const [offset, setOffset] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: plan once when the screen opens
  useEffect(() => {
    runPlan(() => s.planSchema('auto'));
  }, []);

  const plan = planTask.status === 'done' ? planTask.value : undefined;
  const choosingEpi = plan?.suggestEpi === true && plan.choice === 'auto';
  const writes = plan ? planWrites(plan) : false;
  const hub = w.setup.answers.dualDatabase;
  const items: MenuItem[] = choosingEpi
    ? [
        {
          value: 'epi',
          label: 'Create the EPI schema (sql/)',
          help: `detections, alerts, workers, sensors, readings, training results, system logs; views${hub ? ' and procedures on the hub' : ''}`,
        },
        { value: 'none', label: 'Create nothing now', help: 'the application creates its tables; run setup again afterwards' },
      ]
    : writes
      ? [
          { value: 'apply', label: 'Apply this schema' },
          { value: 'skip', label: 'Skip (change nothing)' },
        ]
      : [{ value: 'skip', label: 'Continue' }];

  // A layout effect: done before the next key is read, so a key typed at once is not undone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new plan resets the cursor
  useLayoutEffect(() => {
    setCursor(firstEnabled(items));
    setOffset(0);
  }, [plan]);

  const choose = (command: Command | undefined, input: string) => {
    if (command === 'scrollDown') return setOffset((o) => o + 5);
    if (command === 'scrollUp') return setOffset((o) => Math.max(0, o - 5));
    const r = menuCommand(items, cursorRef.current, command, input);
    setCursor(r.cursor);
    if (r.back) return w.back();
    if (r.chosen === 'epi' || r.chosen === 'none') {
      if (r.chosen === 'none') return w.go('migrate');
      runPlan(() => s.planSchema(r.chosen as SchemaChoice));
    } else if (r.chosen === 'apply' && plan) {
      setProgress(new Map());
      runApply(() => s.applySchema(plan, (e) => setProgress((m) => new Map(m).set(`${e.side}:${e.table}`, e))));
    } else if (r.chosen === 'skip') w.go('migrate');
  };
  const keys: ScreenKeys =
    planTask.status === 'running' || applyTask.status === 'running'
      ? { scopes: [], onKey: () => undefined }
      : planTask.status === 'failed'
        ? {
            scopes: ['wizardNext', 'wizardBack'],
            onKey: (command) => {
              if (command === 'back') w.back();
              if (command === 'next') runPlan(() => s.planSchema('auto'));
            },
          }
        : applyTask.status === 'done'
          ? { scopes: ['wizardNext'], onKey: (command) => command === 'next' && w.go('migrate') }
          : applyTask.status === 'failed'
            ? { scopes: ['wizardNext', 'wizardBack'], onKey: (command) => command && resetApply() }
            : { scopes: ['wizardMenu', 'wizardScroll', 'wizardBack'], onKey: choose };

  if (planTask.status !== 'done') {
    return (
      <Screen keys={keys}>
        {planTask.status === 'failed' ? (
          <>
            <ErrorBlock error={planTask.error} />
            <Line tone="muted">Enter: try again · Esc: back</Line>
          </>
        ) : (
          <Spinner label="reading both schemas…" />
        )}
      </Screen>
    );
  }
  const p = plan as SchemaPlan;

  if (applyTask.status !== 'idle') {
    const events = [...progress.values()];
    const total = events[0]?.total ?? p.tables.length;
    const done = events.filter((e) => e.state === 'done').length;
    const rows = Math.max(3, w.bodyRows - 5);
    const visible = events.slice(-rows);
    return (
      <Screen keys={keys}>
        <Text>{p.summary}</Text>
        <ProgressBar value={total ? done / total : 1} width={Math.min(60, w.columns - 4)} tone="info" />
        {visible.map((e) => (
          <Text key={`${e.side}:${e.table}`} wrap="truncate-end">
            {e.state === 'done' ? <Text {...toneProps(theme, 'ok')}>{theme.glyph.ok}</Text> : <Text>▸</Text>}{' '}
            {e.side === 'mysql' ? 'MySQL ' : 'SQLite'} {e.table}
          </Text>
        ))}
        {applyTask.status === 'done' ? (
          <Line tone="ok" glyph={theme.glyph.ok}>
            schema applied ({applyTask.value.statements} statements). Enter: next
          </Line>
        ) : null}
        {applyTask.status === 'failed' ? <ErrorBlock error={applyTask.error} /> : null}
      </Screen>
    );
  }

  const lines = choosingEpi ? [] : planLines(p).flatMap((l) => wrapLine(l, w.columns - 2));
  const menuRows = items.length + 2;
  const room = Math.max(2, w.bodyRows - menuRows - 3);
  const start = Math.min(offset, Math.max(0, lines.length - room));
  const shown = lines.slice(start, start + room);
  return (
    <Screen keys={keys}>
      <Text bold wrap="wrap">
        {choosingEpi ? 'No tables on either side yet: a brand-new site.' : p.summary}
      </Text>
      {!hub && !choosingEpi ? <Line tone="muted">SQLite only: the hub side is planned when a hub is configured.</Line> : null}
      {shown.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines of a scrolled window are identified by their position
        <Text key={`${start + i}`} {...toneProps(theme, l.tone)} wrap="truncate-end">
          {l.text}
        </Text>
      ))}
      {lines.length > room ? (
        <Line tone="muted">{`  lines ${start + 1}–${start + shown.length} of ${lines.length} (PgUp/PgDn)`}</Line>
      ) : null}
      <Box marginTop={1}>
        <MenuView items={items} cursor={cursor} />
      </Box>
    </Screen>
  );
}
