/**
 * The frame every wizard screen renders itself into: its body, then the key bar
 * of the scopes it is in now (generated from the key table, src/ui/keys.ts),
 * or the help overlay in place of the body while `?` has it open. The screen's
 * intents handler is installed during the commit (a layout effect), so a key
 * typed right after a screen appears reaches that screen, never the one before
 * it; the bar is rendered with the screen, so its first frame has its own keys.
 */
import { Box, Text } from 'ink';
import { type ReactNode, useLayoutEffect } from 'react';
import { HelpOverlay } from '../components/HelpOverlay.js';
import { KeyHints } from '../components/KeyHints.js';
import { hintsFor, reachableWhileTyping } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';
import { type ScreenKeys, useWizard } from './context.js';

export function Screen({ keys, children }: { keys: ScreenKeys; children?: ReactNode }) {
  const w = useWizard();
  const theme = useTheme();
  const { keys: slot } = w;
  useLayoutEffect(() => {
    slot.current = keys;
    return () => {
      if (slot.current === keys) slot.current = undefined;
    };
  });
  const scopes = [...keys.scopes, 'wizard' as const];
  const typing = keys.typing?.() ?? false;
  const shown = hintsFor(scopes);
  const hints = w.helpOpen
    ? hintsFor(['wizardHelp', ...keys.scopes.filter((x) => x === 'wizardCancel'), 'wizard'])
    : shown
        .filter((b) => (keys.hints ?? keys.scopes).includes(b.scope) || b.scope === 'wizard')
        .filter((b) => !typing || reachableWhileTyping(b));
  return (
    <>
      <Box flexDirection="column" flexGrow={1} height={w.bodyRows} overflow="hidden" paddingX={1}>
        {w.helpOpen ? <HelpOverlay width={w.columns - 2} height={w.bodyRows} scopes={scopes} signs={false} /> : children}
      </Box>
      <Text {...toneProps(theme, 'muted')}>{'─'.repeat(Math.max(1, w.columns))}</Text>
      <KeyHints bindings={hints} width={w.columns} />
    </>
  );
}
