/**
 * Step 8: sync mode (each explained in one line), interval and conflict policy,
 * then capture installed; step 9: the .env saved (mode 0600) and a summary —
 * Enter opens the monitor.
 */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { Config } from '../../../config/config.js';
import {
  CONFLICT_POLICIES,
  type ConflictPolicy,
  KEY_COLLISION_MODES,
  type KeyCollisionMode,
  SYNC_MODES,
  type SyncMode,
} from '../../../config/schema.js';
import { CONFLICT_POLICY_HELP, KEY_COLLISIONS_HELP, SYNC_MODE_HELP, validateSetting } from '../../../setup/answers.js';
import { describeKeyKinds, type InitReport } from '../../../sync/init.js';
import { messageOf } from '../../../util/errors.js';
import { toneProps, useTheme } from '../../theme.js';
import { type ScreenKeys, useKeyState, useTask, useWizard } from '../context.js';
import { type FieldSpec, FORM_SCOPES, formCommand, formHints, initialForm, typingIn } from '../edit.js';
import { Screen } from '../Screen.js';
import { ErrorBlock, FormView, Line, Spinner } from '../widgets.js';

const SYNC_FIELDS: FieldSpec[] = [
  {
    kind: 'choice',
    id: 'mode',
    label: 'Mode',
    options: SYNC_MODES.map((m) => ({ value: m, label: m })),
  },
  {
    kind: 'text',
    id: 'interval',
    label: 'Interval',
    validate: (v) => validateSetting('syncInterval', v),
    help: 'seconds between pulls of hub changes',
  },
  {
    kind: 'choice',
    id: 'policy',
    label: 'Conflicts',
    options: [
      { value: 'default', label: 'default' },
      ...CONFLICT_POLICIES.map((p) => ({ value: p, label: p, help: CONFLICT_POLICY_HELP[p] })),
    ],
  },
  {
    // SYNC_KEY_COLLISIONS (docs/SYNC-CONTRACT.md invariant 13): rows created on both sides under one generated id.
    kind: 'choice',
    id: 'collisions',
    label: 'Same new id',
    options: KEY_COLLISION_MODES.map((m) => ({ value: m, label: m, help: KEY_COLLISIONS_HELP[m] })),
  },
];

export function SyncScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [form, setForm, formRef] = useKeyState(() =>
    initialForm({
      mode: w.setup.answers.sync.mode,
      interval: String(w.setup.answers.sync.intervalSec),
      policy: w.setup.answers.sync.conflictPolicy ?? 'default',
      collisions: w.setup.answers.sync.keyCollisions,
    }),
  );
  const [task, run, reset] = useTask<InitReport>();
  const keys: ScreenKeys =
    task.status === 'running'
      ? { scopes: [], onKey: () => undefined }
      : task.status === 'done'
        ? {
            scopes: ['wizardNext', 'wizardBack'],
            onKey: (command) => (command === 'next' ? w.go('save') : command === 'back' ? reset() : undefined),
          }
        : task.status === 'failed'
          ? { scopes: ['wizardNext', 'wizardBack'], onKey: (command) => command && reset() }
          : {
              scopes: FORM_SCOPES,
              hints: formHints(SYNC_FIELDS, form),
              typing: () => typingIn(SYNC_FIELDS, formRef.current),
              onKey: (command, input, key) => {
                const r = formCommand(SYNC_FIELDS, formRef.current, command, input, key);
                if (r.back) return w.back();
                setForm(r.state);
                if (r.submit) {
                  const v = r.state.values;
                  s.setSync({
                    mode: v.mode as SyncMode,
                    intervalSec: Number(v.interval),
                    conflictPolicy: v.policy === 'default' ? undefined : (v.policy as ConflictPolicy),
                    keyCollisions: v.collisions as KeyCollisionMode,
                  });
                  run(() => s.installCapture());
                }
              },
            };
  const mode = form.values.mode as SyncMode;
  return (
    <Screen keys={keys}>
      <FormView fields={SYNC_FIELDS} state={form} width={w.columns} />
      <Box marginTop={1} flexDirection="column">
        {SYNC_MODES.map((m) => (
          <Text key={m} wrap="truncate-end" {...(m === mode ? {} : toneProps(theme, 'muted'))}>
            {m === mode ? '›' : ' '} {m.padEnd(15)}
            {SYNC_MODE_HELP[m]}
          </Text>
        ))}
        <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
          {'  '}conflicts “default”: {mode === 'mysql_primary' ? 'hub-wins' : 'node-wins'} for {mode}; the losing version is
          always kept
        </Text>
      </Box>
      <Box marginTop={1} flexDirection="column">
        {task.status === 'running' ? <Spinner label="installing change capture (triggers and _dualdb_* tables)…" /> : null}
        {task.status === 'done' ? (
          <>
            <Line tone="ok" glyph={theme.glyph.ok}>
              capture installed for node {task.value.nodeId} on {task.value.tables.length} table
              {task.value.tables.length === 1 ? '' : 's'}
              {task.value.hub === 'disabled' ? '' : ', both sides'}
            </Line>
            {describeKeyKinds(task.value.tables) ? <Line tone="muted">{`  ${describeKeyKinds(task.value.tables)}`}</Line> : null}
            {task.value.hub === 'disabled' ? (
              <Line tone="muted">{'  SQLite only: changes queue until a hub is reachable'}</Line>
            ) : null}
            {task.value.paused.slice(0, 3).map((p) => (
              <Line key={p.table} tone="warn" glyph={theme.glyph.warn}>
                {p.table}: paused — {p.reason}
              </Line>
            ))}
            <Text>Enter: save</Text>
          </>
        ) : null}
        {task.status === 'failed' ? <ErrorBlock error={task.error} /> : null}
      </Box>
    </Screen>
  );
}

export function SaveScreen() {
  const w = useWizard();
  const theme = useTheme();
  const s = w.session;
  const [saved, setSaved] = useState<{ config: Config } | { error: unknown } | undefined>(undefined);
  // biome-ignore lint/correctness/useExhaustiveDependencies: save once when the screen opens
  useEffect(() => {
    try {
      setSaved({ config: s.save() });
    } catch (error) {
      setSaved({ error });
    }
  }, []);
  const keys: ScreenKeys = {
    scopes: saved && 'config' in saved ? ['wizardFinish', 'wizardBack'] : ['wizardBack'],
    onKey: (command) => {
      if (command === 'back') return w.back();
      if (command === 'next' && saved && 'config' in saved) {
        void s.close();
        w.done(saved.config);
      }
    },
  };
  if (!saved)
    return (
      <Screen keys={keys}>
        <Spinner label="saving…" />
      </Screen>
    );
  if ('error' in saved) {
    return (
      <Screen keys={keys}>
        <ErrorBlock error={saved.error} prefix="could not save the .env: " />
        <Line tone="muted">{messageOf(saved.error).includes('EACCES') ? 'check the folder permissions' : ''}</Line>
      </Screen>
    );
  }
  const c = saved.config;
  const row = (label: string, value: string) => (
    <Text wrap="truncate-end">
      <Text bold>{label.padEnd(10)}</Text>
      {value}
    </Text>
  );
  return (
    <Screen keys={keys}>
      <Line tone="ok" glyph={theme.glyph.ok}>
        saved {c.envFile} (mode 0600)
      </Line>
      <Box marginTop={1} flexDirection="column">
        {row('SQLite', c.sqlitePath)}
        {row(
          'Hub',
          c.dualDatabase
            ? `${c.mysql.user}@${c.mysql.host}:${c.mysql.port}/${c.mysql.database}${c.mysql.ssl ? ' (TLS)' : ''}, password ••••••••`
            : 'none for now (DUAL_DATABASE=false): changes queue until a hub is configured',
        )}
        {row(
          'Sync',
          `${c.sync.mode}, pull every ${c.sync.intervalMs / 1000} s, conflicts: ${c.sync.conflictPolicy}, same new id: ${c.sync.keyCollisions}`,
        )}
        {w.setup.capture ? row('Capture', `node ${w.setup.capture.nodeId}, ${w.setup.capture.tables.length} tables`) : null}
        {w.setup.localServer
          ? row(
              'Server',
              `private, 127.0.0.1:${w.setup.localServer.mysql.port}; after a reboot: ${w.setup.localServer.startCommand}`,
            )
          : null}
        {row('Log', c.log.file)}
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text wrap="wrap">
          Services: <Text bold>dualdb sync --daemon</Text> runs the sync in the background; <Text bold>dualdb health</Text> checks
          both sides.
        </Text>
        <Text bold>Enter opens the monitor.</Text>
      </Box>
    </Screen>
  );
}
