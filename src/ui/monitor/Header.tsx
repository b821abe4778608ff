/** Title line (mode · node · hub · state badge · updated Ns ago) and the source line (in-process or attached). */
import { Box, Text } from 'ink';
import { useState } from 'react';
import type { MonitorSnapshot } from '../../monitor/view.js';
import { Badge } from '../components/Badge.js';
import { toneProps, useTheme } from '../theme.js';
import { Ago } from './Ago.js';
import { fmtClock, fmtDuration } from './format.js';
import { stateBadge } from './state.js';

/** How long the outcome of `s` stays in the header (the snapshot refreshes at least every few seconds). */
const LAST_SYNC_NOW_SHOWN_MS = 15_000;

export function sourceText(s: MonitorSnapshot['source']): string {
  switch (s.kind) {
    case 'connecting':
      return 'connecting to the sync…';
    case 'in-process':
      return `sync runs in this monitor (pid ${s.pid})`;
    case 'attached':
      return `attached to daemon pid ${s.pid}`;
    case 'lost':
      return `daemon pid ${s.pid} went away; taking over…`;
    case 'failed':
      return `sync not running: ${s.error.message}${s.error.hint ? ` — ${s.error.hint}` : ''}`;
  }
}

/**
 * What moved since the monitor opened, and when it opened: the node's own "last push" times are
 * stamped on every cycle (heartbeats too), so they cannot say that rows moved.
 */
export function movedText(
  snap: Pick<MonitorSnapshot, 'session' | 'lastPushAt' | 'lastPullAt'>,
  openedAt: number,
  push: string,
  pull: string,
): string {
  const { pushed, pulled } = snap.session;
  if (pushed + pulled === 0) return `no rows moved since ${fmtClock(openedAt)}`;
  const side = (glyph: string, n: number, at: string | null) =>
    `${glyph} ${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'}${n ? ` (last ${fmtClock(at)})` : ''}`;
  return `since ${fmtClock(openedAt)}: ${side(push, pushed, snap.lastPushAt)} ${side(pull, pulled, snap.lastPullAt)}`;
}

export function Header({ snap, title, width }: { snap: MonitorSnapshot; title: string; width: number }) {
  const theme = useTheme();
  const [openedAt] = useState(() => Date.now());
  const badge = stateBadge(snap.state);
  const activity = snap.activity.syncing
    ? 'syncing…'
    : snap.activity.toggling
      ? snap.state === 'paused'
        ? 'resuming…'
        : 'pausing…'
      : snap.activity.compare?.running
        ? 'comparing…'
        : '';
  const sourceTone = snap.source.kind === 'failed' ? 'error' : snap.source.kind === 'lost' ? 'warn' : 'muted';
  const lastS = snap.activity.lastSyncNow;
  const showLastS = !activity && lastS !== undefined && Date.now() - lastS.at < LAST_SYNC_NOW_SHOWN_MS;
  return (
    <Box flexDirection="column" width={width} height={2}>
      <Box height={1} width={width}>
        <Box flexGrow={1} flexShrink={1} overflow="hidden">
          <Text wrap="truncate-end">
            <Text bold>{title}</Text>
            <Text> · {snap.mode} · node </Text>
            <Text bold>{snap.nodeId ?? '?'}</Text>
            <Text> · hub {snap.hubEndpoint}</Text>
          </Text>
        </Box>
        <Box flexShrink={0} marginLeft={1}>
          <Badge tone={badge.tone} glyph={badge.glyph} label={badge.label} />
          <Text> </Text>
          <Ago at={snap.updatedAt} />
        </Box>
      </Box>
      <Box height={1} width={width}>
        <Box flexGrow={1} flexShrink={1} overflow="hidden">
          <Text wrap="truncate-end" {...toneProps(theme, sourceTone)}>
            {sourceText(snap.source)}
            {snap.source.kind !== 'failed' ? ` · ${movedText(snap, openedAt, theme.glyph.push, theme.glyph.pull)}` : ''}
            {snap.state === 'resync-needed' && snap.resyncNeeded ? ` · ${snap.resyncNeeded}` : ''}
          </Text>
        </Box>
        {activity ? (
          <Box flexShrink={0} marginLeft={1}>
            <Text bold {...toneProps(theme, 'info')}>
              ⟳ {activity}
            </Text>
          </Box>
        ) : showLastS && lastS ? (
          <Box flexShrink={0} marginLeft={1}>
            <Text {...toneProps(theme, lastS.ok ? 'ok' : 'error')}>
              sync now {lastS.ok ? theme.glyph.ok : theme.glyph.error} {lastS.text}
            </Text>
          </Box>
        ) : snap.queue?.oldestPushAgeMs ? (
          <Box flexShrink={0} marginLeft={1}>
            <Text {...toneProps(theme, 'muted')}>oldest queued {fmtDuration(snap.queue.oldestPushAgeMs)}</Text>
          </Box>
        ) : null}
      </Box>
    </Box>
  );
}
