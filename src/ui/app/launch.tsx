/**
 * Starts the full-screen app and is the single place that ends it: enters
 * the alternate screen, renders, and on every way out (q, Ctrl+C, SIGTERM,
 * a crash) stops the work first (the sync finishes its batch, demo writers
 * stop), then leaves the alternate screen, then prints a summary line.
 */
import chalk from 'chalk';
import type { Config } from '../../config/config.js';
import { MonitorModel, type MonitorModelOptions } from '../../monitor/model.js';
import type { MonitorSnapshot } from '../../monitor/view.js';
import { DualdbError } from '../../util/errors.js';
import { EXIT } from '../../util/exit-codes.js';
import { enterFullScreen, isInteractive } from '../terminal.js';
import { themeFromEnv, wantsNoColor } from '../theme.js';
import type { Screen } from './App.js';
import { loadWizard, type WizardLeftBehind } from './wizard-slot.js';

export interface LaunchOptions {
  screen: Screen;
  config?: Config;
  wizardInitial?: Partial<Config>;
  title?: string;
  /** Runs after the monitor's model is closed (the demo stops its writers and server here). */
  onStopped?: () => Promise<void>;
  model?: Omit<MonitorModelOptions, 'config'>;
  /** Receives the wizard's setup session (what stays after a cancel). */
  onWizardSession?: (session: WizardLeftBehind) => void;
}

export interface RenderStats {
  frames: number;
  /** Total time Ink spent producing frames, ms. */
  renderMs: number;
  seconds: number;
}

export interface LaunchResult {
  /** How often the screen was drawn (shown with DUALDB_DEBUG; idle cost is what matters here). */
  render: RenderStats;
  exitCode: number;
  /** What the monitor moved while it ran (null when it never opened). */
  session: MonitorSnapshot['session'] | null;
  /** The signal that ended the app, if one did. */
  signal: NodeJS.Signals | null;
}

export class NoTerminalError extends DualdbError {
  constructor(what: string) {
    super('NO_TERMINAL', `${what} needs a terminal`);
  }
}

/**
 * Ink decides when it is first imported whether it runs "in CI", and then draws
 * nothing until exit. Someone who starts the full-screen app in a terminal wants
 * it drawn, whatever CI says (a CI=true left in a shell profile, a test harness).
 */
function claimTerminal(): void {
  for (const k of ['CI', 'CONTINUOUS_INTEGRATION']) {
    const v = process.env[k];
    if (v !== undefined && v !== '0' && v !== 'false') process.env[k] = 'false';
  }
}

export async function launchApp(options: LaunchOptions): Promise<LaunchResult> {
  if (!isInteractive()) throw new NoTerminalError('the full-screen app');
  claimTerminal();
  // Loaded only now, after claimTerminal (Ink reads CI once, when first imported).
  const [{ render }, { App }] = await Promise.all([import('ink'), import('./App.js')]);
  if (wantsNoColor()) chalk.level = 0;
  const theme = themeFromEnv();
  const Wizard = options.screen === 'wizard' ? await loadWizard() : undefined;

  let model: MonitorModel | undefined;
  const openMonitor = (config: Config) => {
    model = new MonitorModel({ config, ...options.model });
    void model.start();
    return model;
  };
  let stopping: Promise<void> | undefined;
  const stopWork = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await model?.close();
      } finally {
        await options.onStopped?.();
      }
    })();
    return stopping;
  };

  const started = Date.now();
  const render_: RenderStats = { frames: 0, renderMs: 0, seconds: 0 };
  let signal: NodeJS.Signals | null = null;
  let instance: ReturnType<typeof render> | undefined;
  const screen = enterFullScreen(process, {
    onSignal: (sig) => {
      // SIGTERM/SIGINT/SIGHUP: stop cleanly like `q`; a second signal leaves at once (terminal.ts).
      signal = sig;
      void stopWork().finally(() => instance?.unmount());
    },
  });
  const exitNow = () => {
    screen.restore();
    process.exit(EXIT.INTERRUPTED);
  };
  // After an inquirer prompt (dualdb setup --plain hands over to the app) stdin is paused and
  // unref'd, and Ink would get no keys: make sure they flow (FIELD-NOTES, checked in tmux).
  process.stdin.ref();
  process.stdin.resume();
  try {
    instance = render(
      <App
        screen={options.screen}
        {...(options.config ? { config: options.config } : {})}
        {...(options.wizardInitial ? { wizardInitial: options.wizardInitial } : {})}
        openMonitor={openMonitor}
        onQuit={stopWork}
        onExitNow={exitNow}
        Wizard={Wizard}
        onWizardSession={options.onWizardSession}
        theme={theme}
        {...(options.title ? { title: options.title } : {})}
      />,
      {
        exitOnCtrlC: false,
        patchConsole: true,
        // Refresh is event-driven; 15 fps is plenty for a monitor and caps the cost of bursts.
        maxFps: 15,
        // Not incrementalRendering: in Ink 6.8 it redraws one line too low after a frame that ends with a newline.
        incrementalRendering: false,
        onRender: ({ renderTime }) => {
          render_.frames++;
          render_.renderMs += renderTime;
        },
      },
    );
    await instance.waitUntilExit();
  } finally {
    // Whatever happened, the work is stopped before the terminal is handed back.
    await stopWork().catch(() => {});
    instance?.cleanup();
    screen.restore();
  }
  const session = model ? (model as MonitorModel).getSnapshot().session : null;
  render_.seconds = (Date.now() - started) / 1000;
  return { exitCode: signal ? EXIT.INTERRUPTED : EXIT.OK, session, signal, render: render_ };
}
