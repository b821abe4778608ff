/** A state shown as glyph + word in a tone: "✔ online", "▲ degraded". Never colour alone. */
import { Text } from 'ink';
import { type Theme, type Tone, toneProps, useTheme } from '../theme.js';

export interface BadgeProps {
  tone: Tone;
  label: string;
  glyph?: string;
}

export function Badge({ tone, label, glyph }: BadgeProps) {
  const theme = useTheme();
  return (
    <Text bold {...toneProps(theme, tone)}>
      {glyph ?? glyphFor(theme, tone)} {label}
    </Text>
  );
}

export function glyphFor(theme: Theme, tone: Tone): string {
  switch (tone) {
    case 'ok':
      return theme.glyph.ok;
    case 'warn':
      return theme.glyph.warn;
    case 'error':
      return theme.glyph.error;
    default:
      return theme.glyph.info;
  }
}
