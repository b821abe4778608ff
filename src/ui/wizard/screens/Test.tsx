/**
 * Step 3: the connection test with its diagnosis and the fix, and step 4: the
 * two ways on when no server answers (a private local server, or SQLite only).
 */
import { Box, Text } from 'ink';
import { useEffect, useLayoutEffect, useState } from 'react';
import { describeMysql } from '../../../config/config.js';
import { PRIVILEGE_PURPOSE } from '../../../engines/mysql/privileges.js';
import { type ActionResult, actionChoices, runSetupAction, WAYS_ON } from '../../../setup/actions.js';
import type { ConnectionCheck, SetupAction } from '../../../setup/connection.js';
import type { SetupSnapshot } from '../../../setup/store.js';
import { redact } from '../../../util/redact.js';
import type { Command } from '../../keys.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import { firstEnabled, MENU_SCOPES, type MenuItem, menuCommand } from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, Line, MenuView, Spinner } from '../widgets.js';

type TestChoice = SetupAction | 'ways-on';

/**
 * The menu under a test result: the setup's choices (src/setup/actions.ts); when
 * no server answered, its two ways on are one item that opens step 4.
 */
export function testMenu(state: Pick<SetupSnapshot, 'connection' | 'answers' | 'discovery'>): MenuItem<TestChoice>[] {
  const choices = actionChoices(state);
  if (!state.connection?.diagnosis?.unreachable) return choices;
  return [
    {
      value: 'ways-on',
      label: 'Two ways on: a private local server, or SQLite only',
      help: 'instead of a dead end: keep working now, add the hub later',
    },
    ...choices.filter((c) => !WAYS_ON.includes(c.value)),
  ];
}

export function TestScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [task, run] = useTask<ConnectionCheck>();
  const [createTask, runCreate, resetCreate] = useTask<boolean>();
  const [cursor, setCursor, cursorRef] = useKeyState(0);
  const m = w.setup.answers.mysql;

  // biome-ignore lint/correctness/useExhaustiveDependencies: run once when the screen opens
  useEffect(() => {
    run(() => s.testConnection());
  }, []);

  const check = task.status === 'done' ? task.value : undefined;
  const items = check ? testMenu({ ...w.setup, connection: check }) : [];

  // A layout effect: done before the next key is read, so a key typed at once is not undone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset the cursor for each new result
  useLayoutEffect(() => {
    if (check) setCursor(firstEnabled(items));
  }, [check]);

  useEffect(() => {
    if (createTask.status === 'done') {
      resetCreate();
      run(() => s.testConnection());
    }
  }, [createTask, resetCreate, run, s]);

  const choose = (command: Command | undefined, input: string) => {
    const r = menuCommand(items, cursorRef.current, command, input);
    setCursor(r.cursor);
    if (r.back) return w.back();
    const chosen = r.chosen as TestChoice | undefined;
    if (chosen === undefined) return;
    if (chosen === 'ways-on' || chosen === 'local-server') return w.go('waysOn');
    const step = runSetupAction(s, chosen);
    if (step.next === 'edit') return w.back();
    if (step.next !== 'test') return w.go(step.next);
    const { work } = step;
    if (work) return runCreate(() => work.then(() => true));
    run(() => s.testConnection());
  };
  const keys: ScreenKeys =
    task.status === 'running'
      ? { scopes: [], onKey: () => undefined }
      : task.status !== 'done' || createTask.status === 'running'
        ? { scopes: ['wizardBack'], onKey: (command) => command === 'back' && w.back() }
        : createTask.status === 'failed'
          ? { scopes: ['wizardNext', 'wizardBack'], onKey: (command) => command && resetCreate() }
          : { scopes: MENU_SCOPES, onKey: choose };

  const d = check?.diagnosis;
  return (
    <Screen keys={keys}>
      <Text wrap="truncate-end">
        Testing <Text bold>{describeMysql(m)}</Text>
        {m.password ? ' with password ••••••••' : ' without a password'}
      </Text>
      <Box marginTop={1} flexDirection="column">
        {task.status === 'running' || task.status === 'idle' ? <Spinner label={`connecting to ${m.host}:${m.port}…`} /> : null}
        {check?.ok ? (
          <>
            <Line tone="ok" glyph={theme.glyph.ok}>
              connected: {check.version} ({check.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'})
            </Line>
            {!d ? (
              <Line tone="ok" glyph={theme.glyph.ok}>
                privileges: everything dualdb needs on {m.database}
                {check.privileges?.viaRoles ? ' (some through roles, not checked)' : ''}
              </Line>
            ) : null}
          </>
        ) : null}
        {d ? (
          <>
            <Text {...toneProps(theme, d.optionalOnly ? 'warn' : 'error')} wrap="wrap">
              {d.optionalOnly ? theme.glyph.warn : theme.glyph.error} {redact(d.message)}
            </Text>
            {d.missing?.length ? (
              <Text wrap="wrap">
                {'  '}missing: {d.missing.map((p) => `${p} (${PRIVILEGE_PURPOSE[p] ?? '?'})`).join(', ')}
              </Text>
            ) : null}
            <Text wrap="wrap">
              <Text bold>Fix: </Text>
              {redact(d.fix)}
            </Text>
          </>
        ) : null}
        {createTask.status === 'running' ? <Spinner label={`creating database ${m.database}…`} /> : null}
        {createTask.status === 'failed' ? (
          <>
            <ErrorBlock error={createTask.error} />
            <Line tone="muted">Enter: back to the choices (creating it with admin credentials works)</Line>
          </>
        ) : null}
      </Box>
      {task.status === 'done' && createTask.status !== 'failed' ? (
        <Box marginTop={1}>
          <MenuView items={items} cursor={cursor} />
        </Box>
      ) : null}
    </Screen>
  );
}

export function WaysOnScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const ls = w.setup.discovery.localServer;
  const [task, run, reset] = useTask<ActionResult | undefined>();
  const started = task.status === 'done' && task.value?.kind === 'local-server' ? task.value.start : undefined;
  // The address that did not answer, as it was: starting the private server changes the answers.
  const [tried] = useState(() => `${w.setup.answers.mysql.host}:${w.setup.answers.mysql.port}`);
  const items: MenuItem[] = [
    {
      value: 'local-server',
      label: 'Start a private local server',
      help: `${ls.binary ? `${ls.binary} found. ` : ''}Data in ${ls.dir} (beside the .env); its user and generated password are saved in .env. Later: \`dualdb server start\`.`,
      disabled: ls.binary ? false : 'no mariadbd/mysqld installed (Debian/Ubuntu: sudo apt-get install mariadb-server)',
    },
    {
      value: 'sqlite-only',
      label: 'Continue SQLite-only',
      help: 'DUAL_DATABASE=false: changes are captured and queued until a hub is configured and reachable.',
    },
    { value: 'edit', label: 'Edit the connection settings' },
  ];
  const [cursor, setCursor, cursorRef] = useKeyState(firstEnabled(items));
  const choose = (command: Command | undefined, input: string) => {
    const r = menuCommand(items, cursorRef.current, command, input);
    setCursor(r.cursor);
    if (r.back) return w.back();
    if (r.chosen === undefined) return;
    // The same actions as the Test screen's: start the private server (then test it), or SQLite only.
    const step = runSetupAction(s, r.chosen as SetupAction);
    if (step.next === 'test') run(async () => step.work);
    else w.go(step.next === 'edit' ? 'connection' : step.next);
  };
  const keys: ScreenKeys =
    task.status === 'running'
      ? { scopes: [], onKey: () => undefined }
      : task.status === 'done'
        ? { scopes: ['wizardNext'], onKey: (command) => command === 'next' && w.go('test') }
        : task.status === 'failed'
          ? { scopes: ['wizardNext', 'wizardBack'], onKey: (command) => command && reset() }
          : { scopes: MENU_SCOPES, onKey: choose };
  return (
    <Screen keys={keys}>
      {task.status === 'done' ? null : (
        <>
          <Text wrap="wrap">No MySQL server answered at {tried}. Two ways on:</Text>
          <Box marginTop={1}>
            <MenuView items={items} cursor={cursor} showHelp="all" />
          </Box>
        </>
      )}
      <Box marginTop={1} flexDirection="column">
        {task.status === 'running' ? (
          <Spinner label="starting the private server (the first start prepares its data folder)…" />
        ) : null}
        {task.status === 'done' ? (
          <>
            <Line tone="ok" glyph={theme.glyph.ok}>
              private server {started?.created ? 'created, ' : ''}running on 127.0.0.1:{started?.mysql.port} (user{' '}
              {started?.mysql.user}, database {started?.mysql.database})
            </Line>
            {started?.passwordReset ? (
              <Line tone="muted">{`  its user's password was not known here: it has a new generated one, saved in .env only`}</Line>
            ) : null}
            <Text wrap="wrap">
              It keeps running after setup. To start it again later (after a reboot): <Text bold>{started?.startCommand}</Text>
            </Text>
            <Text>Enter tests the connection.</Text>
          </>
        ) : null}
        {task.status === 'failed' ? <ErrorBlock error={task.error} /> : null}
      </Box>
    </Screen>
  );
}
