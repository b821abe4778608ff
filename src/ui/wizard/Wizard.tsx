/**
 * The setup wizard: one screen per step, Enter next, Esc back, every field
 * validated as it is typed. It renders and sends intents; the work is done by
 * the setup session (src/setup), so the wizard holds no SQL. The app shell
 * renders it and, on `onDone(config)`, opens the monitor.
 */
import { Box, type Key, Text, useInput, useStdin } from 'ink';
import { type ReactNode, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Config } from '../../config/config.js';
import { SetupSession } from '../../setup/session.js';
import { SizeGuard } from '../components/SizeGuard.js';
import { useTerminalSize } from '../components/use-terminal-size.js';
import { isTyping, resolveKey } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';
import {
  type ScreenKeys,
  STEPS,
  type StepKey,
  stepMarks,
  stepNumber,
  useKeyState,
  WizardContext,
  type WizardContextValue,
} from './context.js';
import { splitBurst } from './edit.js';
import { ConnectionScreen, ProvisionScreen } from './screens/Connection.js';
import { SaveScreen, SyncScreen } from './screens/Finish.js';
import { FoundScreen } from './screens/Found.js';
import { MigrateScreen } from './screens/Migrate.js';
import { SchemaScreen } from './screens/Schema.js';
import { TestScreen, WaysOnScreen } from './screens/Test.js';
import { ErrorBlock } from './widgets.js';

export interface WizardProps {
  /** Values to start from (the app shell passes what it found; `envFile` says which .env to write). */
  initial?: Partial<Config>;
  /** Enter on the last step: the configuration just saved (the shell opens the monitor). */
  onDone: (config: Config) => void;
  /** Leaving without finishing (Esc on the first step, Ctrl+C). */
  onExit: () => void;
  /** Called once with the setup session (the caller asks it what stays after a cancel). */
  onSession?: (session: SetupSession) => void;
}

const SCREENS: Record<StepKey, () => ReactNode> = {
  found: () => <FoundScreen />,
  connection: () => <ConnectionScreen />,
  test: () => <TestScreen />,
  waysOn: () => <WaysOnScreen />,
  provision: () => <ProvisionScreen />,
  schema: () => <SchemaScreen />,
  migrate: () => <MigrateScreen />,
  sync: () => <SyncScreen />,
  save: () => <SaveScreen />,
};

const noSubscribe = () => () => undefined;
const noSnapshot = () => undefined;

/** Title, step marker and key bar take this many lines. */
const CHROME_ROWS = 4;

export function Wizard({ initial, onDone, onExit, onSession }: WizardProps) {
  const theme = useTheme();
  const { isRawModeSupported } = useStdin();
  const size = useTerminalSize();
  const [boot] = useState(() => {
    try {
      return { session: new SetupSession({ initial }) };
    } catch (error) {
      return { error };
    }
  });
  // The session's log is closed however the wizard ends (finished, Esc, Ctrl+C, the shell quitting).
  useEffect(
    () => () => {
      if ('session' in boot) void boot.session?.close();
    },
    [boot],
  );
  const onSessionRef = useRef(onSession);
  useEffect(() => {
    if ('session' in boot && boot.session) onSessionRef.current?.(boot.session);
  }, [boot]);
  const store = 'session' in boot ? boot.session?.store : undefined;
  const setup = useSyncExternalStore(store?.subscribe ?? noSubscribe, store?.getSnapshot ?? noSnapshot);
  const [history, setHistory] = useState<StepKey[]>(['found']);
  const [nav, setNav] = useState(0);
  /**
   * Screen changes React has committed. The new screen installs its keys in its own layout effect,
   * which runs before this one, so once this count reaches navCount its keys are in place.
   */
  const committedNav = useRef(0);
  useLayoutEffect(() => {
    committedNav.current = nav;
  }, [nav]);
  const [helpOpen, setHelpOpen, helpRef] = useKeyState(false);
  const keys = useRef<ScreenKeys | undefined>(undefined);
  /** Screen changes so far (counted at once, before React renders the new screen). */
  const navCount = useRef(0);
  const step = history[history.length - 1] ?? 'found';

  const go = useCallback((next: StepKey) => {
    navCount.current++;
    setHistory((h) => {
      const at = h.indexOf(next);
      return at >= 0 ? h.slice(0, at + 1) : [...h, next];
    });
    setNav((n) => n + 1);
  }, []);
  const historyRef = useRef(history);
  historyRef.current = history;
  const back = useCallback(() => {
    if (historyRef.current.length <= 1) {
      onExit();
      return;
    }
    navCount.current++;
    setHistory((h) => (h.length <= 1 ? h : h.slice(0, -1)));
    setNav((n) => n + 1);
  }, [onExit]);
  const tooSmall = size.columns < 80 || size.rows < 24;

  // The one key router, driven by the key table (src/ui/keys.ts): the help overlay's keys
  // while it is open, then the screen's scopes, then the wizard's own (? help, Ctrl+C quit).
  // A focused text field takes typed characters first. A burst of keys is split back into
  // keys; after a key that changes the screen, the rest waits for the new screen.
  const dispatch = useCallback(
    (events: { input: string; key: Partial<Key> }[]) => {
      for (const [i, { input, key }] of events.entries()) {
        const screen = keys.current;
        // A running copy is cancelled by Ctrl+C whatever is shown (help, a window too small).
        const cancel = screen?.scopes.includes('wizardCancel') ? (['wizardCancel'] as const) : [];
        if (helpRef.current) {
          const command = resolveKey(input, key, ['wizardHelp', ...cancel, 'wizard']);
          if (command === 'quit') return onExit();
          if (command === 'cancel') screen?.onKey(command, input, key);
          if (command === 'back' || command === 'toggleHelp') setHelpOpen(false);
          continue;
        }
        if (tooSmall) {
          // Only leaving (Ctrl+C, and q as the too-small notice says) and cancelling a running copy.
          const command = resolveKey(input, key, [...cancel, 'wizard', 'global']);
          if (command === 'cancel') screen?.onKey(command, input, key);
          else if (command === 'quit' || command === 'forceQuit') return onExit();
          continue;
        }
        const typing = (screen?.typing?.() ?? false) && isTyping(input, key);
        const command = typing ? undefined : resolveKey(input, key, [...(screen?.scopes ?? []), 'wizard']);
        if (command === 'quit') return onExit();
        if (command === 'toggleHelp') {
          setHelpOpen(true);
          continue;
        }
        const before = navCount.current;
        screen?.onKey(command, input, key);
        if (navCount.current !== before && i < events.length - 1) {
          // The rest goes to the new screen once React has committed it (not after a fixed tick:
          // on a busy machine the render can come later, and the keys reached the old screen).
          const rest = events.slice(i + 1);
          const target = navCount.current;
          const giveUpAt = Date.now() + 2_000;
          const resume = () => {
            if (committedNav.current >= target || Date.now() > giveUpAt) dispatch(rest);
            else setTimeout(resume, 5);
          };
          setTimeout(resume, 0);
          return;
        }
      }
    },
    [onExit, tooSmall, helpRef, setHelpOpen],
  );
  useInput((input, key) => dispatch(splitBurst(input, key)), { isActive: isRawModeSupported });

  const ctx = useMemo<WizardContextValue | undefined>(
    () =>
      'session' in boot && boot.session && setup
        ? {
            session: boot.session,
            setup,
            active: isRawModeSupported && !tooSmall,
            columns: size.columns,
            bodyRows: Math.max(4, size.rows - 1 - CHROME_ROWS),
            go,
            back,
            exit: onExit,
            done: onDone,
            helpOpen,
            keys,
          }
        : undefined,
    [boot, setup, isRawModeSupported, tooSmall, size.columns, size.rows, go, back, onExit, onDone, helpOpen],
  );

  const height = Math.max(1, size.rows - 1);
  if (!ctx) {
    return (
      <Box flexDirection="column" height={height} paddingX={1}>
        <Text bold>dualdb setup</Text>
        <ErrorBlock error={'error' in boot ? boot.error : undefined} prefix="cannot start: " />
        <Text>Ctrl+C quits</Text>
      </Box>
    );
  }
  const n = stepNumber(step);
  const title = STEPS[n - 1]?.title ?? '';
  const dots = stepMarks(history);
  return (
    <SizeGuard columns={size.columns} rows={size.rows}>
      <WizardContext.Provider value={ctx}>
        <Box flexDirection="column" height={height} width={size.columns}>
          <Box justifyContent="space-between" width={size.columns}>
            <Text wrap="truncate-end">
              <Text bold {...toneProps(theme, 'accent')}>
                dualdb setup
              </Text>
              <Text>
                {' '}
                · step {n} of {STEPS.length} · <Text bold>{title}</Text>
              </Text>
            </Text>
            <Text {...toneProps(theme, 'muted')}>{dots}</Text>
          </Box>
          <Text {...toneProps(theme, 'muted')}>{'─'.repeat(Math.max(1, size.columns))}</Text>
          <Box key={`${nav}-${step}`} flexDirection="column" flexGrow={1}>
            {SCREENS[step]()}
          </Box>
        </Box>
      </WizardContext.Provider>
    </SizeGuard>
  );
}

export default Wizard;
