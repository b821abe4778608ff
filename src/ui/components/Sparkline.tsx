/** A sparkline of the last N values: ▁▁▂▅█▃▁ (zero is the baseline ▁, the peak is █). */
import { Text } from 'ink';
import { type Tone, toneProps, useTheme } from '../theme.js';

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The newest `width` values (oldest first) as bars scaled to their maximum. */
export function sparkline(values: readonly number[], width: number): string {
  const w = Math.max(0, Math.floor(width));
  if (w === 0) return '';
  const tail = values.slice(-w).map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const padded = [...new Array<number>(Math.max(0, w - tail.length)).fill(0), ...tail];
  const max = Math.max(0, ...padded);
  return padded
    .map((v) => {
      if (!(v > 0) || max <= 0) return BARS[0];
      // Any activity shows at least one step above the baseline.
      const level = 1 + Math.round((v / max) * (BARS.length - 2));
      return BARS[Math.min(BARS.length - 1, level)];
    })
    .join('');
}

export interface SparklineProps {
  values: readonly number[];
  width: number;
  tone?: Tone;
}

export function Sparkline({ values, width, tone = 'info' }: SparklineProps) {
  const theme = useTheme();
  return <Text {...toneProps(theme, tone)}>{sparkline(values, width)}</Text>;
}
