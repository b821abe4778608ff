/**
 * Step 3: the connection test with its diagnosis and the fix, and step 4: the
 * two ways on when no server answers (a private local server, or SQLite only).
 */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import { describeMysql } from '../../../config/config.js';
import { PRIVILEGE_PURPOSE } from '../../../engines/mysql/privileges.js';
import { ACTION_LABELS, type ConnectionCheck, type SetupAction } from '../../../setup/connection.js';
import type { LocalServerStart } from '../../../setup/local-server.js';
import { redact } from '../../../util/redact.js';
import { toneProps, useTheme } from '../../theme.js';
import { HINT, useHints, useKeyState, useKeys, useTask, useWizard } from '../context.js';
import { firstEnabled, type MenuItem, menuKey } from '../edit.js';
import { ErrorBlock, Line, MenuView, Spinner } from '../widgets.js';

type TestChoice = SetupAction | 'ways-on' | 'next' | 'create-user';

/** The menu under a test result: the diagnosis' actions, in the wizard's words. */
export function testMenu(check: ConnectionCheck, database: string): MenuItem<TestChoice>[] {
  if (check.ok) {
    return [
      { value: 'next', label: 'Continue to the schema' },
      {
        value: 'create-user',
        label: 'Optional: create a dedicated least-privilege user',
        help: 'with admin credentials (not stored); its generated password goes into .env',
      },
    ];
  }
  const d = check.diagnosis;
  if (!d) return [{ value: 'retry', label: ACTION_LABELS.retry }];
  const items: MenuItem<TestChoice>[] = [];
  if (d.unreachable) {
    items.push({
      value: 'ways-on',
      label: 'Two ways on: a private local server, or SQLite only',
      help: 'instead of a dead end: keep working now, add the hub later',
    });
  }
  for (const a of d.actions) {
    if (d.unreachable && (a === 'local-server' || a === 'sqlite-only')) continue;
    items.push({
      value: a,
      label: a === 'create-database' ? `Create the database "${database}"` : ACTION_LABELS[a],
      ...(a === 'create-database' ? { help: 'with this user, if it may (otherwise use admin credentials)' } : {}),
    });
  }
  return items;
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
  const items = check ? testMenu(check, m.database) : [];

  // biome-ignore lint/correctness/useExhaustiveDependencies: reset the cursor for each new result
  useEffect(() => {
    if (check) setCursor(firstEnabled(items));
  }, [check]);

  useEffect(() => {
    if (createTask.status === 'done') {
      resetCreate();
      run(() => s.testConnection());
    }
  }, [createTask, resetCreate, run, s]);

  useHints(task.status === 'running' ? [HINT.quit] : [HINT.choose, HINT.move, HINT.back, HINT.quit]);

  useKeys((input, key) => {
    if (task.status !== 'done' || createTask.status === 'running') {
      if (key.escape && task.status !== 'running') w.back();
      return;
    }
    if (createTask.status === 'failed') {
      if (key.escape || key.return) resetCreate();
      return;
    }
    const r = menuKey(items, cursorRef.current, input, key);
    setCursor(r.cursor);
    if (r.back) return w.back();
    switch (r.chosen as TestChoice | undefined) {
      case undefined:
        return;
      case 'next':
      case 'continue':
        // A hub that answers is the hub, even after SQLite-only was chosen and taken back.
        s.chooseHub();
        return w.go('schema');
      case 'create-user':
      case 'provision':
        return w.go('provision');
      case 'ways-on':
        return w.go('waysOn');
      case 'edit':
        return w.back();
      case 'retry':
        return run(() => s.testConnection());
      case 'enable-tls':
        s.setMysql({ ssl: true });
        return run(() => s.testConnection());
      case 'disable-tls':
        s.setMysql({ ssl: false });
        return run(() => s.testConnection());
      case 'create-database':
        return runCreate(() => s.createDatabase());
      case 'local-server':
        return w.go('waysOn');
      case 'sqlite-only':
        s.chooseSqliteOnly();
        return w.go('schema');
    }
  });

  const d = check?.diagnosis;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        Testing <Text bold>{describeMysql(m)}</Text>
        {m.password ? ' with password ••••••••' : ' without a password'}
      </Text>
      <Box marginTop={1} flexDirection="column">
        {task.status === 'running' ? <Spinner label={`connecting to ${m.host}:${m.port}…`} /> : null}
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
    </Box>
  );
}

export function WaysOnScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const ls = w.setup.discovery.localServer;
  const [task, run, reset] = useTask<LocalServerStart>();
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
  useHints(
    task.status === 'running'
      ? [HINT.quit]
      : task.status === 'done'
        ? [HINT.next, HINT.quit]
        : [HINT.choose, HINT.move, HINT.back, HINT.quit],
  );
  useKeys((input, key) => {
    if (task.status === 'running') return;
    if (task.status === 'done') {
      if (key.return) w.go('test');
      return;
    }
    if (task.status === 'failed') {
      if (key.return || key.escape) reset();
      return;
    }
    const r = menuKey(items, cursorRef.current, input, key);
    setCursor(r.cursor);
    if (r.back) return w.back();
    if (r.chosen === 'local-server') run(() => s.startLocalServer());
    else if (r.chosen === 'sqlite-only') {
      s.chooseSqliteOnly();
      w.go('schema');
    } else if (r.chosen === 'edit') w.go('connection');
  });
  return (
    <Box flexDirection="column">
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
              private server {task.value.created ? 'created, ' : ''}running on 127.0.0.1:{task.value.mysql.port} (user{' '}
              {task.value.mysql.user}, database {task.value.mysql.database})
            </Line>
            {task.value.passwordReset ? (
              <Line tone="muted">{`  its user's password was not known here: it has a new generated one, saved in .env only`}</Line>
            ) : null}
            <Text wrap="wrap">
              It keeps running after setup. To start it again later (after a reboot): <Text bold>{task.value.startCommand}</Text>
            </Text>
            <Text>Enter tests the connection.</Text>
          </>
        ) : null}
        {task.status === 'failed' ? <ErrorBlock error={task.error} /> : null}
      </Box>
    </Box>
  );
}
