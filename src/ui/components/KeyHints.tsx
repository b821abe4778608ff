/** The key bar: generated from the key table, never written by hand. */
import { Box, Text } from 'ink';
import { type Binding, bindingLabel } from '../keys.js';
import { toneProps, useTheme } from '../theme.js';

export interface KeyHintsProps {
  bindings: readonly Pick<Binding, 'keys' | 'hint'>[];
  /** Text shown before the hints (a question, a status). */
  prefix?: string;
  width?: number;
}

export function hintText(bindings: readonly Pick<Binding, 'keys' | 'hint'>[]): string {
  return bindings
    .filter((b) => b.hint)
    .map((b) => `${bindingLabel(b as Binding)} ${b.hint}`)
    .join('  ');
}

export function KeyHints({ bindings, prefix, width }: KeyHintsProps) {
  const theme = useTheme();
  const shown = bindings.filter((b) => b.hint);
  return (
    <Box height={1} {...(width ? { width } : {})} overflow="hidden">
      <Text wrap="truncate-end">
        {prefix ? <Text bold>{prefix} </Text> : null}
        {shown.map((b, i) => (
          <Text key={`${bindingLabel(b as Binding)} ${b.hint}`}>
            {i > 0 ? '  ' : ''}
            <Text bold {...toneProps(theme, 'accent')}>
              {bindingLabel(b as Binding)}
            </Text>
            <Text> {b.hint}</Text>
          </Text>
        ))}
      </Text>
    </Box>
  );
}
