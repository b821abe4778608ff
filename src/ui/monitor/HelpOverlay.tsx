/** The help overlay: every key of the key table, grouped by where it works. Generated, never hand-written. */
import { Box, Text } from 'ink';
import { Panel } from '../components/Panel.js';
import { BINDINGS, type Binding, bindingLabel, SCOPE_TITLES, type Scope } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';

const ORDER: Scope[] = ['monitor', 'global', 'overlay', 'confirm'];

export function helpLines(bindings: readonly Binding[] = BINDINGS): { scope: Scope; key: string; description: string }[] {
  const out: { scope: Scope; key: string; description: string }[] = [];
  for (const scope of ORDER) {
    for (const b of bindings) if (b.scope === scope) out.push({ scope, key: bindingLabel(b), description: b.description });
  }
  return out;
}

export function HelpOverlay({ width, height }: { width: number; height: number }) {
  const theme = useTheme();
  const lines = helpLines();
  const keyWidth = Math.max(...lines.map((l) => l.key.length)) + 2;
  let lastScope: Scope | undefined;
  return (
    <Panel title="Help — keys" width={width} height={height}>
      {lines.flatMap((l) => {
        const out = [];
        if (l.scope !== lastScope) {
          lastScope = l.scope;
          out.push(
            <Text key={`h-${l.scope}`} bold wrap="truncate-end">
              {SCOPE_TITLES[l.scope]}
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
      <Text wrap="truncate-end" {...toneProps(theme, 'muted')}>
        Signs: {theme.glyph.ok} ok {theme.glyph.warn} warning {theme.glyph.error} error {theme.glyph.info} info{' '}
        {theme.glyph.paused} paused {theme.glyph.diff} counts differ {theme.glyph.push} to hub {theme.glyph.pull} from hub
      </Text>
    </Panel>
  );
}
