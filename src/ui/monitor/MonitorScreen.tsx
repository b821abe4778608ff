/**
 * The live monitor: renders a MonitorSnapshot and turns keys into intents.
 * It holds no SQL and no sync logic: everything comes from the controller
 * (src/monitor/model.ts), which emits only when something visible changed.
 */
import { Box, Text, useInput } from 'ink';
import { type ReactNode, useCallback, useRef, useState, useSyncExternalStore } from 'react';
import type { MonitorController } from '../../monitor/view.js';
import { HelpOverlay } from '../components/HelpOverlay.js';
import { KeyHints } from '../components/KeyHints.js';
import { SizeGuard } from '../components/SizeGuard.js';
import { hintsFor, resolveKey, splitInput } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';
import { CompareOverlay } from './CompareOverlay.js';
import { Header } from './Header.js';
import { AlertLines, alertLines, HealthPanels } from './HealthPanels.js';
import { LogTail } from './LogTail.js';
import { monitorLayout } from './layout.js';
import { ProblemsView, problemItems } from './ProblemsView.js';
import { StatsView } from './StatsView.js';
import { type Effect, initialUi, reduceUi, scopesFor, type UiState } from './state.js';
import { TablesView } from './TablesView.js';

export interface MonitorScreenProps {
  controller: MonitorController & { dismissCompare?: () => void };
  columns: number;
  rows: number;
  title?: string;
  /** Quit was decided: stop the work, then leave the app. */
  onQuit: () => void;
  /** A second Ctrl+C while stopping: leave now. */
  onExitNow?: () => void;
  /** Whether this screen receives keys (false when stdin is not a TTY). */
  inputActive?: boolean;
}

export function MonitorScreen({
  controller,
  columns,
  rows,
  title = 'dualdb monitor',
  onQuit,
  onExitNow,
  inputActive = true,
}: MonitorScreenProps) {
  const theme = useTheme();
  const snap = useSyncExternalStore(controller.subscribe, controller.getSnapshot);
  const [ui, setUi] = useState<UiState>(initialUi);
  // Keys typed in one burst are handled one after the other against the latest state.
  const uiRef = useRef(ui);

  const run = useCallback(
    (effect: Effect) => {
      switch (effect) {
        case 'syncNow':
          void controller.syncNow();
          break;
        case 'togglePause':
          void controller.togglePause();
          break;
        case 'compare':
          void controller.compare();
          break;
        case 'dismissCompare':
          controller.dismissCompare?.();
          break;
        case 'quit':
          onQuit();
          break;
        case 'exitNow':
          onExitNow?.();
          break;
      }
    },
    [controller, onQuit, onExitNow],
  );

  useInput(
    (input, key) => {
      let cur = uiRef.current;
      const effects: Effect[] = [];
      for (const k of splitInput(input, key)) {
        const command = resolveKey(k.input, k.key, [...scopesFor(cur), 'global']);
        if (!command) continue;
        if (cur.stopping && command !== 'forceQuit') continue;
        if (cur.confirm && command !== 'confirmYes' && command !== 'confirmNo' && command !== 'forceQuit') continue;
        const r = reduceUi(cur, command, {
          busy: controller.busy(),
          compareRunning: Boolean(controller.getSnapshot().activity.compare?.running),
        });
        cur = r.ui;
        if (r.effect) effects.push(r.effect);
      }
      if (cur !== uiRef.current) {
        uiRef.current = cur;
        setUi(cur);
      }
      for (const e of effects) run(e);
    },
    { isActive: inputActive },
  );

  const problems = problemItems(snap).length;
  const alerts = alertLines(
    [
      { name: 'SQLite', side: snap.sqlite },
      { name: 'MySQL', side: snap.mysql },
    ],
    snap.lastError,
    columns,
    theme.glyph,
  );
  const layout = monitorLayout(columns, rows, { tables: snap.tables.length, problems, alerts: alerts.length });
  const compare = snap.activity.compare;

  let keyBar: ReactNode;
  if (ui.stopping) {
    keyBar = (
      <Text bold {...toneProps(theme, 'info')} wrap="truncate-end">
        stopping: finishing the batch in flight… (Ctrl+C again leaves at once)
      </Text>
    );
  } else if (ui.confirm) {
    keyBar = (
      <KeyHints
        prefix={`${theme.glyph.warn} ${ui.confirm.busy} is running. Quit anyway?`}
        bindings={hintsFor(['confirm'])}
        width={columns}
      />
    );
  } else if (ui.overlay !== 'none') {
    keyBar = <KeyHints bindings={hintsFor(['overlay', 'global'])} width={columns} />;
  } else {
    keyBar = <KeyHints bindings={hintsFor(['monitor', 'global'])} width={columns} />;
  }

  return (
    <SizeGuard columns={columns} rows={rows}>
      <Box flexDirection="column" width={columns} height={layout.height} overflow="hidden">
        <Header snap={snap} title={title} width={columns} />
        <Box flexDirection="column" height={layout.body} width={columns} overflow="hidden">
          {ui.overlay === 'help' ? (
            <HelpOverlay width={columns} height={layout.body} />
          ) : ui.overlay === 'compare' && compare ? (
            <CompareOverlay view={compare} width={columns} height={layout.body} />
          ) : (
            <>
              <HealthPanels sqlite={snap.sqlite} mysql={snap.mysql} widths={layout.panelWidths} />
              <AlertLines lines={alerts.slice(0, layout.alertLines)} width={columns} />
              <TablesView tables={snap.tables} width={columns} lines={layout.tableLines} hidden={layout.tablesHidden} />
              <StatsView snap={snap} width={columns} />
              <ProblemsView snap={snap} width={columns} lines={layout.problemLines} />
              <LogTail entries={snap.log} width={columns} lines={layout.logLines} />
            </>
          )}
        </Box>
        <Box height={1} width={columns} overflow="hidden">
          {keyBar}
        </Box>
      </Box>
    </SizeGuard>
  );
}
