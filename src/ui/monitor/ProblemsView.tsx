/** Conflicts, key collisions and parked changes: a summary line, then the most recent ones when there is room. */
import { Box, Text } from 'ink';
import type { MonitorSnapshot } from '../../monitor/view.js';
import { toneProps, useTheme } from '../theme.js';
import { fmtClock } from './format.js';

export function problemItems(snap: MonitorSnapshot): { key: string; text: string; tone: 'warn' | 'error' | 'muted' }[] {
  const items: { key: string; text: string; tone: 'warn' | 'error' | 'muted' }[] = [];
  for (const p of snap.parked) {
    items.push({
      key: `p${p.id}`,
      text: `parked ${p.direction} ${p.table} ${p.pk ?? ''} (${p.attempts} tries): ${p.error}`,
      tone: 'error',
    });
  }
  for (const c of snap.conflicts) {
    items.push({
      key: `c${c.id}`,
      text: `conflict ${fmtClock(c.at)} ${c.table} ${c.pk} · ${c.policy} · ${c.status === 'open' ? 'open: decide with `dualdb conflicts`' : `${c.winner ?? '?'} won, loser kept`}`,
      tone: c.status === 'open' ? 'warn' : 'muted',
    });
  }
  for (const r of snap.rekeys) {
    items.push({
      key: `r${r.id}`,
      text:
        r.status === 'done'
          ? `re-key ${fmtClock(r.at)} ${r.table} ${r.oldKey} → ${r.newKey ?? '?'} (the ${r.moved ?? '?'}'s row moved; both kept)`
          : r.status === 'closed'
            ? `key collision ${fmtClock(r.at)} ${r.table} ${r.oldKey}: closed, one of its rows gone (nothing moved)`
            : `key collision ${fmtClock(r.at)} ${r.table} ${r.oldKey}: two rows held apart, decide with \`dualdb rekeys\``,
      tone: r.status === 'done' || r.status === 'closed' ? 'muted' : 'warn',
    });
  }
  return items;
}

export function ProblemsView({ snap, width, lines }: { snap: MonitorSnapshot; width: number; lines: number }) {
  const theme = useTheme();
  const open = snap.conflictCounts.open;
  const parked = snap.parkedCounts.push + snap.parkedCounts.pull;
  const items = problemItems(snap).slice(0, lines);
  return (
    <Box flexDirection="column" width={width} height={1 + lines} paddingLeft={1}>
      <Text wrap="truncate-end">
        <Text bold>conflicts </Text>
        <Text {...toneProps(theme, open ? 'warn' : 'ok')}>
          {open ? `${theme.glyph.warn} ${open} open` : `${theme.glyph.ok} none open`}
        </Text>
        <Text {...toneProps(theme, 'muted')}> ({snap.conflictCounts.total} recorded, losers kept)</Text>
        <Text bold> re-keys </Text>
        <Text {...toneProps(theme, snap.rekeyCounts.open ? 'warn' : 'muted')}>
          {snap.rekeyCounts.open
            ? `${theme.glyph.warn} ${snap.rekeyCounts.open} held, ${snap.rekeyCounts.total} moved`
            : `${snap.rekeyCounts.total}`}
        </Text>
        <Text bold> parked </Text>
        <Text {...toneProps(theme, parked ? 'error' : 'ok')}>
          {parked
            ? `${theme.glyph.error} ${theme.glyph.push}${snap.parkedCounts.push} ${theme.glyph.pull}${snap.parkedCounts.pull}`
            : `${theme.glyph.ok} none`}
        </Text>
      </Text>
      {items.map((it) => (
        <Text key={it.key} wrap="truncate-end" {...toneProps(theme, it.tone)}>
          {'  '}
          {it.text}
        </Text>
      ))}
    </Box>
  );
}
