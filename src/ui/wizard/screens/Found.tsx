/** Step 1: what is already here — the SQLite file and an existing .env (password masked). */
import path from 'node:path';
import { Box, Text } from 'ink';
import { useState } from 'react';
import { validateSetting } from '../../../setup/answers.js';
import { maskEnvValues } from '../../../setup/discover.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useWizard } from '../context.js';
import { type FieldSpec, formCommand, initialForm } from '../edit.js';
import { Screen } from '../Screen.js';
import { FormView, Line } from '../widgets.js';

const fmtBytes = (n: number | null) =>
  n === null ? '-' : n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`;
const fmtCount = (n: number) => n.toLocaleString('en-US');

export function FoundScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const d = w.setup.discovery;
  const rel = (p: string) => {
    const r = path.relative(path.dirname(w.setup.answers.envFile), p);
    return r.startsWith('..') ? p : r;
  };
  const fields: FieldSpec[] = [
    {
      kind: 'text',
      id: 'sqlite',
      label: 'SQLite file',
      validate: (v) => validateSetting('sqlitePath', v),
      help: 'edit to use another file',
    },
  ];
  const [form, setForm, formRef] = useKeyState(() => initialForm({ sqlite: rel(w.setup.answers.sqlitePath) }));
  const [shownFor, setShownFor] = useState(rel(w.setup.answers.sqlitePath));
  const keys: ScreenKeys = {
    scopes: ['wizardNext', 'wizardBack'],
    typing: () => true,
    onKey: (command, input, key) => {
      const r = formCommand(fields, formRef.current, command, input, key);
      if (r.back) return w.back();
      setForm(r.state);
      if (r.submit) {
        const value = String(r.state.values.sqlite).trim();
        if (value !== shownFor) {
          // A new path: look at it first; the next Enter goes on.
          s.rediscoverSqlite(value);
          setShownFor(value);
          return;
        }
        w.go('connection');
      }
    },
  };

  const sq = d.sqlite;
  const env = d.env;
  const envLines = Object.entries(maskEnvValues(env.values));
  const tableLine = sq.tables
    .slice(0, 6)
    .map((t) => `${t.name} ${fmtCount(t.rows)}`)
    .join(' · ');
  const maxEnv = Math.max(0, w.bodyRows - 13);
  return (
    <Screen keys={keys}>
      <Text bold>SQLite database</Text>
      {sq.error ? (
        <>
          <Line tone="error" glyph={theme.glyph.error}>
            {sq.path}: {sq.error.message}
          </Line>
          {sq.error.hint ? <Line tone="muted">Fix: {sq.error.hint}</Line> : null}
        </>
      ) : sq.exists ? (
        <>
          <Line tone="ok" glyph={theme.glyph.ok}>
            {sq.path}
          </Line>
          <Text>
            {'  '}
            {fmtBytes(sq.bytes)} · {sq.tables.length} table{sq.tables.length === 1 ? '' : 's'} · {fmtCount(sq.totalRows)} rows
          </Text>
          {tableLine ? (
            <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
              {'  '}
              {tableLine}
              {sq.tables.length > 6 ? ` · +${sq.tables.length - 6} more` : ''}
            </Text>
          ) : null}
        </>
      ) : (
        <Line tone="info" glyph={theme.glyph.info}>
          {sq.path}: none yet, a new database will be created
        </Line>
      )}
      <Box marginTop={1}>
        <Text bold>Existing .env</Text>
      </Box>
      {env.exists ? (
        <>
          <Line tone="ok" glyph={theme.glyph.ok}>
            {env.file}
            {env.mode !== null && env.mode !== 0o600 ? ` (mode ${env.mode.toString(8)}; it will be rewritten with 600)` : ''}
          </Line>
          {envLines.slice(0, maxEnv).map(([k, v]) => (
            <Text key={k} wrap="truncate-end">
              {'  '}
              {k}={v}
            </Text>
          ))}
          {envLines.length > maxEnv ? <Line tone="muted">{`  … ${envLines.length - maxEnv} more`}</Line> : null}
        </>
      ) : (
        <Line tone="info" glyph={theme.glyph.info}>
          {env.file}: none yet; written at the end (mode 0600)
        </Line>
      )}
      {d.localServer.exists ? (
        <Line tone="info" glyph={theme.glyph.info}>
          private server in {d.localServer.dir} ({d.localServer.running ? 'running' : 'stopped'})
        </Line>
      ) : null}
      {d.state.migration && d.state.migration.status !== 'done' ? (
        <Line tone="warn" glyph={theme.glyph.warn}>
          an initial migration was {d.state.migration.status === 'failed' ? 'interrupted by an error' : 'interrupted'}: step 7
          offers to resume it
        </Line>
      ) : null}
      <Box marginTop={1}>
        <FormView fields={fields} state={form} width={w.columns} />
      </Box>
    </Screen>
  );
}
