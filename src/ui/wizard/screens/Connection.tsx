/**
 * Step 2: the hub's connection settings, and step 5: provisioning with admin
 * credentials. Both are forms validated as you type, with the same rules as the
 * configuration loader.
 */
import path from 'node:path';
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { OPTIONAL_GLOBAL_PRIVILEGES, REQUIRED_PRIVILEGES } from '../../../engines/mysql/privileges.js';
import { sslCaProblem } from '../../../engines/mysql/tls.js';
import { validatePassword, validateSetting, validateUserHost, validateUserName } from '../../../setup/answers.js';
import type { ExistingUserPolicy, ProvisionResult } from '../../../setup/provision.js';
import { isDualdbError } from '../../../util/errors.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import {
  type FieldSpec,
  FORM_SCOPES,
  firstEnabled,
  formCommand,
  formHints,
  initialForm,
  MENU_SCOPES,
  type MenuItem,
  menuCommand,
  typingIn,
} from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, FormView, Line, MenuView, Spinner } from '../widgets.js';

/** The connection form; a relative CA path is taken from `baseDir` (the .env file's folder), as DB_SSL_CA is. */
export function connectionFields(baseDir: string): FieldSpec[] {
  return [
    { kind: 'text', id: 'host', label: 'Host', validate: (v) => validateSetting('mysqlHost', v) },
    { kind: 'text', id: 'port', label: 'Port', validate: (v) => validateSetting('mysqlPort', v) },
    { kind: 'text', id: 'user', label: 'User', validate: (v) => validateSetting('mysqlUser', v) },
    { kind: 'text', id: 'password', label: 'Password', mask: true, validate: validatePassword, placeholder: '(empty)' },
    { kind: 'text', id: 'database', label: 'Database', validate: (v) => validateSetting('mysqlDatabase', v) },
    { kind: 'toggle', id: 'ssl', label: 'TLS', on: 'on (the server certificate is verified)', off: 'off', help: 'Space toggles' },
    {
      kind: 'text',
      id: 'sslCa',
      label: 'TLS CA file',
      placeholder: '(the system’s CAs)',
      help: 'DB_SSL_CA: PEM file of a private CA',
      validate: (v) => (v.trim() === '' ? undefined : sslCaProblem(path.resolve(baseDir, v.trim()))),
    },
  ];
}

export const CONNECTION_FIELDS: FieldSpec[] = connectionFields(process.cwd());

export function ConnectionScreen() {
  const w = useWizard();
  const theme = useTheme();
  const m = w.setup.answers.mysql;
  const baseDir = path.dirname(w.setup.answers.envFile);
  const fields = useMemo(() => connectionFields(baseDir), [baseDir]);
  const [form, setForm, formRef] = useKeyState(() =>
    initialForm({
      host: m.host,
      port: String(m.port),
      user: m.user,
      password: m.password,
      database: m.database,
      ssl: m.ssl,
      sslCa: m.sslCa ? path.relative(baseDir, m.sslCa) || m.sslCa : '',
    }),
  );
  const keys: ScreenKeys = {
    scopes: FORM_SCOPES,
    hints: formHints(fields, form),
    typing: () => typingIn(fields, formRef.current),
    onKey: (command, input, key) => {
      const r = formCommand(fields, formRef.current, command, input, key);
      if (r.back) return w.back();
      setForm(r.state);
      if (r.submit) {
        const v = r.state.values;
        w.session.setMysql({
          host: String(v.host).trim(),
          port: Number(v.port),
          user: String(v.user).trim(),
          password: String(v.password),
          database: String(v.database).trim(),
          ssl: Boolean(v.ssl),
          sslCa: String(v.sslCa).trim() ? path.resolve(baseDir, String(v.sslCa).trim()) : undefined,
        });
        w.session.chooseHub({ localServer: false });
        w.go('test');
      }
    },
  };
  return (
    <Screen keys={keys}>
      <Text>The central MySQL/MariaDB server (the hub) this node syncs with.</Text>
      <Box marginTop={1}>
        <FormView fields={fields} state={form} width={w.columns} />
      </Box>
      {form.attempted ? (
        <Box marginTop={1}>
          <Line tone="error" glyph={theme.glyph.error}>
            fix the fields marked above, then press Enter
          </Line>
        </Box>
      ) : null}
      <Box marginTop={1}>
        <Text {...toneProps(theme, 'muted')} wrap="wrap">
          No MySQL server? Press Enter anyway: the test that follows offers a private local server or SQLite-only.
        </Text>
      </Box>
    </Screen>
  );
}

const PROVISION_FIELDS: FieldSpec[] = [
  { kind: 'text', id: 'adminUser', label: 'Admin user', validate: validateUserName },
  { kind: 'text', id: 'adminPassword', label: 'Admin pass', mask: true, placeholder: '(empty)' },
  { kind: 'text', id: 'user', label: 'New user', validate: validateUserName },
  { kind: 'text', id: 'userHost', label: 'From host', validate: validateUserHost, help: "'%' = anywhere" },
  { kind: 'toggle', id: 'process', label: 'PROCESS', on: 'grant (exact late-commit detection)', off: 'do not grant' },
];

export function ProvisionScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const m = w.setup.answers.mysql;
  const [form, setForm, formRef] = useKeyState(() =>
    initialForm({
      adminUser: 'root',
      adminPassword: '',
      user: m.user === 'root' || m.user === '' ? 'epi_sync' : m.user,
      userHost: '%',
      process: true,
    }),
  );
  const [task, run, reset] = useTask<ProvisionResult>();
  const existsItems: MenuItem[] = [
    { value: 'reset-password', label: 'Reset its password', help: 'a new generated password, saved in .env only' },
    {
      value: 'keep-password',
      label: 'Keep its password, only grant',
      help: 'the password typed on the connection screen stays in use',
    },
    { value: 'edit', label: 'Choose another name' },
  ];
  const [cursor, setCursor, cursorRef] = useKeyState(firstEnabled(existsItems));
  const userExists = task.status === 'failed' && isDualdbError(task.error) && task.error.code === 'USER_EXISTS';

  const start = (existingUser: ExistingUserPolicy) => {
    const v = form.values;
    run(() =>
      s.provision({
        admin: { user: String(v.adminUser).trim(), password: String(v.adminPassword) },
        user: String(v.user).trim(),
        userHost: String(v.userHost).trim(),
        grantProcess: Boolean(v.process),
        existingUser,
      }),
    );
  };

  const keys: ScreenKeys =
    task.status === 'running'
      ? { scopes: [], onKey: () => undefined }
      : task.status === 'done'
        ? { scopes: ['wizardNext'], onKey: (command) => command === 'next' && w.go('test') }
        : userExists
          ? {
              scopes: MENU_SCOPES,
              onKey: (command, input) => {
                const r = menuCommand(existsItems, cursorRef.current, command, input);
                setCursor(r.cursor);
                if (r.back || r.chosen === 'edit') return reset();
                if (r.chosen) start(r.chosen as ExistingUserPolicy);
              },
            }
          : task.status === 'failed'
            ? {
                scopes: ['wizardEdit', 'wizardBack'],
                onKey: (command) => (command === 'back' ? w.back() : command === 'edit' ? reset() : undefined),
              }
            : {
                scopes: FORM_SCOPES,
                hints: formHints(PROVISION_FIELDS, form),
                typing: () => typingIn(PROVISION_FIELDS, formRef.current),
                onKey: (command, input, key) => {
                  const r = formCommand(PROVISION_FIELDS, formRef.current, command, input, key);
                  if (r.back) return w.back();
                  setForm(r.state);
                  if (r.submit) start('fail');
                },
              };

  const grants = `${REQUIRED_PRIVILEGES.join(', ')} on \`${m.database}\`${form.values.process ? `; ${OPTIONAL_GLOBAL_PRIVILEGES.join(', ')} globally` : ''}`;
  return (
    <Screen keys={keys}>
      <Text wrap="wrap">
        Creates database <Text bold>{m.database}</Text> (if missing) and a dedicated user with a generated strong password, on{' '}
        {m.host}:{m.port}.
      </Text>
      <Text {...toneProps(theme, 'muted')} wrap="wrap">
        The admin credentials are used once and never stored.
      </Text>
      <Box marginTop={1}>
        <FormView fields={PROVISION_FIELDS} state={form} width={w.columns} />
      </Box>
      <Box marginTop={1}>
        <Text wrap="wrap">
          <Text bold>Grants: </Text>
          {grants}
        </Text>
      </Box>
      <Box marginTop={1} flexDirection="column">
        {task.status === 'running' ? <Spinner label="creating the database and the user…" /> : null}
        {task.status === 'done' ? (
          <>
            <Line tone="ok" glyph={theme.glyph.ok}>
              database {m.database} {task.value.databaseCreated ? 'created' : 'exists'}; user {task.value.user}{' '}
              {task.value.userCreated ? 'created' : task.value.passwordReset ? 'has a new password' : 'kept its password'}
            </Line>
            {task.value.password !== undefined ? (
              <Line tone="muted">{`  generated password: ${task.value.password.length} characters, saved in .env only (never shown)`}</Line>
            ) : null}
            <Text>Enter tests the connection with the new user.</Text>
          </>
        ) : null}
        {task.status === 'failed' ? <ErrorBlock error={task.error} /> : null}
        {userExists ? <MenuView items={existsItems} cursor={cursor} /> : null}
      </Box>
    </Screen>
  );
}
