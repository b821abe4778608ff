/**
 * The help overlay: the keys of the key table, grouped by where they work.
 * Generated, never hand-written; the monitor and the setup wizard each show
 * their own scopes.
 */
import { Box, Text } from 'ink';
import { BINDINGS, type Binding, bindingLabel, SCOPE_TITLES, type Scope } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';
import { Panel } from './Panel.js';

/** The monitor's scopes, in the order its help lists them. */
export const MONITOR_HELP: readonly Scope[] = ['monitor', 'global', 'overlay', 'confirm'];

const ALL_SCOPES = Object.keys(SCOPE_TITLES) as Scope[];

export function helpLines(
  bindings: readonly Binding[] = BINDINGS,
  order: readonly Scope[] = [...MONITOR_HELP, ...ALL_SCOPES.filter((s) => !MONITOR_HELP.includes(s))],
): { scope: Scope; key: string; description: string }[] {
  const out: { scope: Scope; key: string; description: string }[] = [];
  for (const scope of order) {
    for (const b of bindings) if (b.scope === scope) out.push({ scope, key: bindingLabel(b), description: b.description });
  }
  return out;
}

export function HelpOverlay({
  width,
  height,
  scopes = MONITOR_HELP,
  signs = true,
}: {
  width: number;
  height: number;
  /** Which keys to list, in this order (scopes sharing a title share a heading). */
  scopes?: readonly Scope[];
  /** The monitor's legend of signs at the end. */
  signs?: boolean;
}) {
  const theme = useTheme();
  const lines = helpLines(BINDINGS, scopes);
  const keyWidth = Math.max(...lines.map((l) => l.key.length)) + 2;
  let lastTitle: string | undefined;
  return (
    <Panel title="Help — keys" width={width} height={height}>
      {lines.flatMap((l) => {
        const out = [];
        if (SCOPE_TITLES[l.scope] !== lastTitle) {
          lastTitle = SCOPE_TITLES[l.scope];
          out.push(
            <Text key={`h-${l.scope}`} bold wrap="truncate-end">
              {lastTitle}
            </Text>,
          );
        }
        out.push(
          <Box key={`${l.scope}-${l.key}`} height={1}>
            <Text wrap="truncate-end">
              <Text bold {...toneProps(theme, 'accent')}>
                {'  '}
                {l.key.padEnd(keyWidth)}
              </Text>
              <Text>{l.description}</Text>
            </Text>
          </Box>,
        );
        return out;
      })}
      {signs ? (
        <Text wrap="truncate-end" {...toneProps(theme, 'muted')}>
          Signs: {theme.glyph.ok} ok {theme.glyph.warn} warning {theme.glyph.error} error {theme.glyph.info} info{' '}
          {theme.glyph.paused} paused {theme.glyph.diff} counts differ {theme.glyph.push} to hub {theme.glyph.pull} from hub
        </Text>
      ) : null}
    </Panel>
  );
}
