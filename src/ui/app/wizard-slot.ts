/**
 * The setup wizard (src/ui/wizard/Wizard.tsx, built beside the monitor) as the
 * app sees it: its props, and a lazy loader so that `dualdb monitor` does not
 * load the setup code it never shows.
 */
import type { ComponentType } from 'react';
import type { Config } from '../../config/config.js';

export interface WizardProps {
  initial?: Partial<Config>;
  onDone: (config: Config) => void;
  onExit: () => void;
}

export type WizardComponent = ComponentType<WizardProps>;

export async function loadWizard(): Promise<WizardComponent> {
  const { Wizard } = await import('../wizard/Wizard.js');
  return Wizard satisfies WizardComponent;
}
