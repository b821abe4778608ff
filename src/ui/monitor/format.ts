/** Number, size, duration and time formatting for the monitor (pure, locale-independent). */
import { formatBytes, formatCount } from '../../util/format.js';

export const fmtBytes = formatBytes;
export const fmtCount = formatCount;

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return fmtDuration(ms);
}

/** 42s, 3m 05s, 2h 10m, 3d 4h */
export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** HH:MM:SS in local time. */
export function fmtClock(t: number | string | null | undefined): string {
  if (t === null || t === undefined || t === '') return '-';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '-';
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

/** "+3", "-2", "0" */
export function fmtSigned(n: number): string {
  return n > 0 ? `+${fmtCount(n)}` : fmtCount(n);
}

export function clip(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

export function padStart(text: string, width: number): string {
  const t = clip(text, width);
  return ' '.repeat(Math.max(0, width - t.length)) + t;
}

export function padEnd(text: string, width: number): string {
  const t = clip(text, width);
  return t + ' '.repeat(Math.max(0, width - t.length));
}

/**
 * Word-wrapped lines of at most `width` characters (a word longer than that is split): problems
 * and fixes are wrapped, never cut at the window's edge.
 */
export function wrapWords(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    while (rest.length > w) {
      if (cur) {
        lines.push(cur);
        cur = '';
      }
      lines.push(rest.slice(0, w));
      rest = rest.slice(w);
    }
    if (!cur) cur = rest;
    else if (cur.length + 1 + rest.length <= w) cur += ` ${rest}`;
    else {
      lines.push(cur);
      cur = rest;
    }
  }
  if (cur) lines.push(cur);
  return lines;
}
