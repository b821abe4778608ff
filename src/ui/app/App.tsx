/**
 * The full-screen app: routes between the setup wizard and the monitor.
 * Finishing the wizard (Enter on its last step) opens the monitor with the
 * configuration it wrote. The app renders and dispatches; what runs (the sync,
 * the model) is created and stopped by launch.tsx.
 */
import { Box, Text, useApp, useInput, useStdin } from 'ink';
import { useCallback, useState } from 'react';
import type { Config } from '../../config/config.js';
import type { MonitorController } from '../../monitor/view.js';
import { useTerminalSize } from '../components/use-terminal-size.js';
import { MonitorScreen } from '../monitor/MonitorScreen.js';
import { defaultTheme, type Theme, ThemeContext, toneProps } from '../theme.js';
import type { WizardComponent, WizardLeftBehind } from './wizard-slot.js';

export type Screen = 'wizard' | 'monitor';

export interface AppProps {
  screen: Screen;
  config?: Config;
  wizardInitial?: Partial<Config>;
  /** Creates and starts the monitor's model for a configuration. */
  openMonitor: (config: Config) => MonitorController;
  /** Stops whatever runs (sync, demo writers); the app exits when it resolves. */
  onQuit: () => Promise<void>;
  /** Leave immediately (second Ctrl+C). */
  onExitNow?: () => void;
  Wizard?: WizardComponent | undefined;
  /** Receives the wizard's setup session (what stays after a cancel). */
  onWizardSession?: ((session: WizardLeftBehind) => void) | undefined;
  theme?: Theme;
  title?: string;
}

export function App(props: AppProps) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const size = useTerminalSize();
  const [screen, setScreen] = useState<Screen>(props.screen === 'monitor' && props.config ? 'monitor' : props.screen);
  const [controller, setController] = useState<MonitorController | undefined>(() =>
    props.screen === 'monitor' && props.config ? props.openMonitor(props.config) : undefined,
  );

  const quit = useCallback(() => {
    props.onQuit().then(
      () => exit(),
      (e: unknown) => exit(e instanceof Error ? e : new Error(String(e))),
    );
  }, [props.onQuit, exit]);

  const onWizardDone = useCallback(
    (config: Config) => {
      setController(props.openMonitor(config));
      setScreen('monitor');
    },
    [props.openMonitor],
  );

  let body: React.ReactNode;
  if (screen === 'monitor' && controller) {
    body = (
      <MonitorScreen
        controller={controller}
        columns={size.columns}
        rows={size.rows}
        {...(props.title ? { title: props.title } : {})}
        onQuit={quit}
        {...(props.onExitNow ? { onExitNow: props.onExitNow } : {})}
        inputActive={isRawModeSupported}
      />
    );
  } else if (props.Wizard) {
    const W = props.Wizard;
    body = (
      <W
        {...(props.wizardInitial ? { initial: props.wizardInitial } : {})}
        {...(props.onWizardSession ? { onSession: props.onWizardSession } : {})}
        onDone={onWizardDone}
        onExit={quit}
      />
    );
  } else {
    body = <NoWizard onExit={quit} inputActive={isRawModeSupported} />;
  }
  return <ThemeContext.Provider value={props.theme ?? defaultTheme}>{body}</ThemeContext.Provider>;
}

/** Shown when this build has no setup wizard: what to do instead. */
function NoWizard({ onExit, inputActive }: { onExit: () => void; inputActive: boolean }) {
  useInput(
    (input, key) => {
      if (input === 'q' || key.escape || (key.ctrl && input === 'c')) onExit();
    },
    { isActive: inputActive },
  );
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>dualdb is not configured here yet.</Text>
      <Text>The setup wizard is not available in this build. Instead:</Text>
      <Text> • run `dualdb setup --plain` for line-by-line setup, or</Text>
      <Text> • copy .env.example to .env, fill in DB_* and SQLITE_DB_PATH, then run `dualdb init`.</Text>
      <Text {...toneProps(defaultTheme, 'muted')}>q quit</Text>
    </Box>
  );
}
