/**
 * Before the schema step writes anything: the check (SetupSession.check). When the
 * hub's existing columns are narrower than the SQLite data (a hub created from the
 * application's own MySQL schema), the list of changes `dualdb schema fit` would
 * make, then Enter widens them; the pre-flight's findings, if any, below. Nothing
 * to show: it passes straight on to the schema plan.
 */
import { Box, Text } from 'ink';
import { useEffect, useLayoutEffect } from 'react';
import { checkLines } from '../../../setup/plan.js';
import type { SetupCheck } from '../../../setup/session.js';
import type { Command } from '../../keys.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import { MENU_SCOPES, type MenuItem, menuCommand } from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, Line, MenuView, Spinner } from '../widgets.js';
import { wrapLine } from './Schema.js';

/** Whether the check found something to show (otherwise the step is passed over). */
export function checkNeedsAttention(c: SetupCheck): boolean {
  return (c.fit?.tables.length ?? 0) > 0 || c.blocker !== undefined;
}

export function FitStep({ onDone }: { onDone: () => void }) {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [checkTask, runCheck] = useTask<SetupCheck>();
  const [applyTask, runApply, resetApply] = useTask<SetupCheck>();
  const [cursor, setCursor, cursorRef] = useKeyState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: check once when the step opens
  useEffect(() => {
    runCheck(() => s.check({ copy: true }));
  }, []);
  const latest = applyTask.status === 'done' ? applyTask.value : checkTask.status === 'done' ? checkTask.value : undefined;
  // A layout effect: done before the next key is read, so a key typed at once is not undone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: pass on once the check is clear
  useLayoutEffect(() => {
    if (latest && !checkNeedsAttention(latest)) onDone();
  }, [latest]);

  const widen = (latest?.fit?.tables.length ?? 0) > 0;
  const items: MenuItem[] = widen
    ? [
        {
          value: 'fit',
          label: 'Widen these columns on the hub',
          help: 'never narrows or drops; views and procedures keep working',
        },
        { value: 'skip', label: 'Continue without widening', help: 'values that do not fit stop the copy' },
      ]
    : [
        { value: 'again', label: 'Check again', help: 'after fixing the rows in SQLite' },
        { value: 'skip', label: 'Continue anyway', help: 'the copy stops on these values' },
      ];
  const busy = checkTask.status === 'running' || applyTask.status === 'running';
  const failed = checkTask.status === 'failed' || applyTask.status === 'failed';
  const keys: ScreenKeys = busy
    ? { scopes: [], onKey: () => undefined }
    : failed
      ? {
          scopes: ['wizardNext', 'wizardBack'],
          onKey: (command) => {
            if (command === 'back') w.back();
            if (command === 'next') {
              resetApply();
              runCheck(() => s.check({ copy: true }));
            }
          },
        }
      : { scopes: MENU_SCOPES, onKey: (command, input) => choose(command, input) };

  function choose(command: Command | undefined, input: string) {
    const r = menuCommand(items, cursorRef.current, command, input);
    setCursor(r.cursor);
    if (r.back) return w.back();
    if (r.chosen === 'skip') onDone();
    else if (r.chosen === 'again') {
      resetApply();
      runCheck(() => s.check({ copy: true }));
    } else if (r.chosen === 'fit' && latest?.fit) {
      const plan = latest.fit;
      runApply(async () => {
        await s.applyFit(plan);
        return s.check({ copy: true });
      });
    }
  }

  if (busy || !latest) {
    const error = checkTask.status === 'failed' ? checkTask.error : applyTask.status === 'failed' ? applyTask.error : undefined;
    return (
      <Screen keys={keys}>
        {error !== undefined ? (
          <>
            <ErrorBlock error={error} />
            <Line tone="muted">Enter: check again · Esc: back</Line>
          </>
        ) : (
          <Spinner
            label={applyTask.status === 'running' ? 'widening the hub’s columns…' : 'comparing the hub with the SQLite data…'}
          />
        )}
      </Screen>
    );
  }
  const lines = checkLines(latest).flatMap((text) =>
    wrapLine({ tone: text.includes('`dualdb schema fit`') ? 'warn' : 'error', text }, w.columns - 2),
  );
  const room = Math.max(2, w.bodyRows - items.length - 6);
  return (
    <Screen keys={keys}>
      <Text bold wrap="wrap">
        {widen
          ? `The hub’s columns are narrower than the SQLite data (${latest.fit?.tables.length} table(s)):`
          : 'Values the hub would refuse or change:'}
      </Text>
      {lines.slice(0, room).map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list of lines
        <Text key={i} {...toneProps(theme, l.tone)} wrap="truncate-end">
          {l.text}
        </Text>
      ))}
      {lines.length > room ? <Line tone="muted">{`  … ${lines.length - room} more line(s)`}</Line> : null}
      {latest.blocker && !widen ? <Line tone="muted">{latest.blocker.hint ?? ''}</Line> : null}
      <Box marginTop={1}>
        <MenuView items={items} cursor={cursor} />
      </Box>
    </Screen>
  );
}
