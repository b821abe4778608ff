/**
 * The setup wizard (src/ui/wizard/Wizard.tsx, built beside the monitor) as the
 * app sees it: its props, and a lazy loader so that `dualdb monitor` does not
 * load the setup code it never shows.
 */
import type { ComponentType } from 'react';
import type { Config } from '../../config/config.js';

/** What the wizard's setup changed outside the .env, asked for when the wizard is left without finishing. */
export interface WizardLeftBehind {
  leftBehind(): string[];
}

export interface WizardProps {
  initial?: Partial<Config>;
  onDone: (config: Config) => void;
  onExit: () => void;
  /** Called once with the wizard's setup session, so that the caller can tell what stays after a cancel. */
  onSession?: (session: WizardLeftBehind) => void;
}

export type WizardComponent = ComponentType<WizardProps>;

export async function loadWizard(): Promise<WizardComponent> {
  const { Wizard } = await import('../wizard/Wizard.js');
  return Wizard satisfies WizardComponent;
}
