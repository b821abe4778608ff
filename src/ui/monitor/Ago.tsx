/**
 * "updated Ns ago". While the data is fresh it reads "updated just now" and
 * costs nothing (a redraw of the frame is ~10 ms of CPU in Ink); once the last
 * refresh is older than FRESH_FOR_MS it counts the seconds, so stale data is
 * visible at a glance.
 */
import { Text } from 'ink';
import { useEffect, useState } from 'react';
import { toneProps, useTheme } from '../theme.js';
import { fmtDuration } from './format.js';

/** The model confirms fresh data at least every 5 s (plus a 2 s refresh): beyond this it is late. */
export const FRESH_FOR_MS = 8000;
export const STALE_AFTER_MS = 15_000;

export function agoText(at: number | null, now: number): string {
  if (at === null) return 'waiting for the first status';
  const age = Math.max(0, now - at);
  if (age < FRESH_FOR_MS) return 'updated just now';
  return `updated ${fmtDuration(age)} ago`;
}

/** Re-renders only when the text can change: at the end of the fresh period, then every second. */
function useAgeClock(at: number | null): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (at === null) return;
    let timer: NodeJS.Timeout;
    const schedule = () => {
      const age = Date.now() - at;
      const wait = age < FRESH_FOR_MS ? FRESH_FOR_MS - age + 5 : 1000 - ((age - FRESH_FOR_MS) % 1000) + 5;
      timer = setTimeout(() => {
        setTick((n) => n + 1);
        schedule();
      }, wait);
    };
    schedule();
    return () => clearTimeout(timer);
  }, [at]);
}

export function Ago({ at }: { at: number | null }) {
  const theme = useTheme();
  useAgeClock(at);
  const now = Date.now();
  const age = at === null ? 0 : now - at;
  const stale = at === null || age >= STALE_AFTER_MS;
  const late = at !== null && age >= FRESH_FOR_MS;
  return (
    <Text {...toneProps(theme, stale ? 'warn' : 'muted')}>
      {late ? `${stale ? theme.glyph.warn : theme.glyph.pending} ` : ''}
      {agoText(at, now)}
    </Text>
  );
}
