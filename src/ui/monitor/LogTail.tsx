/**
 * The tail of the sync log, coloured by level (the level word is always
 * printed too). A slice of the ring buffer, not <Static>: Static output
 * would be replayed on every full redraw.
 */
import { Box, Text } from 'ink';
import type { LogEntry } from '../../log/sync-log.js';
import { toneProps, useTheme } from '../theme.js';
import { fmtClock } from './format.js';
import { logTone } from './state.js';

export function logLine(e: LogEntry): { time: string; level: string; msg: string } {
  return { time: fmtClock(e.time), level: e.level.toUpperCase().padEnd(5), msg: e.msg.replace(/\s*\n\s*/g, ' ') };
}

/** Entries carry no id: time, level and text, plus a counter for exact repeats, keep keys stable as the tail scrolls. */
function keyed(entries: readonly LogEntry[]): { e: LogEntry; key: string }[] {
  const seen = new Map<string, number>();
  return entries.map((e) => {
    const base = `${e.time}|${e.level}|${e.msg}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { e, key: `${base}|${n}` };
  });
}

export function LogTail({ entries, width, lines }: { entries: readonly LogEntry[]; width: number; lines: number }) {
  const theme = useTheme();
  const shown = lines > 0 ? entries.slice(-lines) : [];
  const rule = Math.max(0, width - 8);
  return (
    <Box flexDirection="column" width={width} height={lines + 1} paddingLeft={1}>
      <Text wrap="truncate-end">
        <Text bold>log </Text>
        <Text {...(theme.borderColor ? { color: theme.borderColor } : {})}>{'─'.repeat(rule)}</Text>
      </Text>
      {shown.length === 0 && lines > 0 ? (
        <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
          (nothing logged yet)
        </Text>
      ) : null}
      {keyed(shown).map(({ e, key }) => {
        const l = logLine(e);
        const tone = logTone(e.level);
        return (
          <Text key={key} wrap="truncate-end">
            <Text {...toneProps(theme, 'muted')}>{l.time} </Text>
            <Text bold={tone === 'error' || tone === 'warn'} {...toneProps(theme, tone)}>
              {l.level}
            </Text>
            <Text {...toneProps(theme, tone === 'muted' ? 'muted' : tone === 'plain' ? 'plain' : tone)}> {l.msg}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
