/** Queue depth each way, lag p50/p99 each way, and the throughput sparkline of the last minute. */
import { Box, Text } from 'ink';
import type { MonitorSnapshot } from '../../monitor/view.js';
import { Sparkline } from '../components/Sparkline.js';
import { toneProps, useTheme } from '../theme.js';
import { fmtCount, fmtMs } from './format.js';

export function StatsView({ snap, width }: { snap: MonitorSnapshot; width: number }) {
  const theme = useTheme();
  const q = snap.queue;
  const lag = snap.lag;
  const total = snap.throughput.reduce((a, b) => a + b, 0);
  const last = snap.throughput.at(-1) ?? 0;
  const label = 'throughput ';
  const tail = ` ${fmtCount(last)}/s now · ${fmtCount(total)} rows in the last minute`;
  const sparkWidth = Math.max(10, Math.min(60, width - 2 - label.length - tail.length));
  return (
    <Box flexDirection="column" width={width} height={2} paddingLeft={1}>
      <Text wrap="truncate-end">
        <Text bold>queue </Text>
        <Text {...toneProps(theme, q && q.push > 0 ? 'info' : 'plain')}>
          {theme.glyph.push} {q ? fmtCount(q.push) : '?'}
        </Text>
        <Text>
          {' '}
          {theme.glyph.pull} {q?.pull === null || q?.pull === undefined ? '?' : fmtCount(q.pull)}
        </Text>
        <Text bold> lag </Text>
        <Text>
          {theme.glyph.push} p50 {fmtMs(lag?.push.p50)} p99 {fmtMs(lag?.push.p99)} {theme.glyph.pull} p50 {fmtMs(lag?.pull.p50)}{' '}
          p99 {fmtMs(lag?.pull.p99)}
        </Text>
      </Text>
      <Text wrap="truncate-end">
        <Text bold>{label}</Text>
        <Sparkline values={snap.throughput} width={sparkWidth} />
        <Text {...toneProps(theme, 'muted')}>{tail}</Text>
      </Text>
    </Box>
  );
}
