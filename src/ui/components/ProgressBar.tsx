/** A one-line progress bar: ██████░░░░  60%  (the percentage keeps it readable without colour). */
import { Text } from 'ink';
import { type Tone, toneProps, useTheme } from '../theme.js';

export function progressBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const w = Math.max(1, width);
  const full = Math.round(f * w);
  return '█'.repeat(full) + '░'.repeat(w - full);
}

export interface ProgressBarProps {
  /** 0..1 */
  value: number;
  width: number;
  tone?: Tone;
}

export function ProgressBar({ value, width, tone = 'info' }: ProgressBarProps) {
  const theme = useTheme();
  const pct = `${Math.round(Math.min(1, Math.max(0, value)) * 100)}%`.padStart(5);
  return (
    <Text wrap="truncate-end">
      <Text {...toneProps(theme, tone)}>{progressBar(value, Math.max(1, width - pct.length - 1))}</Text> {pct}
    </Text>
  );
}
