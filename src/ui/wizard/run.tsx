/**
 * `dualdb setup` in a terminal: the wizard inside the full-screen app (the
 * shell enters and leaves the alternate screen and routes to the monitor when
 * the wizard finishes).
 */
import { launchApp } from '../app/launch.js';
import type { WizardLeftBehind } from '../app/wizard-slot.js';

export interface WizardAppResult {
  /** The wizard reached its end (the .env was written and the monitor opened). */
  finished: boolean;
  exitCode: number;
  signal: NodeJS.Signals | null;
  session: { pushed: number; pulled: number; cycles: number } | null;
  /** What the setup changed outside the .env (the private server, the schema…): "Still there" after a cancel. */
  leftBehind: string[];
}

export async function runWizardApp(options: { envFile: string; sqlitePath?: string }): Promise<WizardAppResult> {
  let setup: WizardLeftBehind | undefined;
  const result = await launchApp({
    screen: 'wizard',
    wizardInitial: { envFile: options.envFile, ...(options.sqlitePath ? { sqlitePath: options.sqlitePath } : {}) },
    onWizardSession: (s) => {
      setup = s;
    },
  });
  // The monitor opens only from the wizard's last step.
  return {
    finished: result.session !== null,
    exitCode: result.exitCode,
    signal: result.signal,
    session: result.session,
    leftBehind: setup?.leftBehind() ?? [],
  };
}
