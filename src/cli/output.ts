/**
 * Terminal output helpers shared by commands: colour that honours NO_COLOR,
 * sizes, aligned tables, JSON, and the one-line error printer. Everything
 * printed goes through `redact`.
 */
import { Chalk } from 'chalk';
import { redact } from '../util/redact.js';

export { formatBytes, formatCount } from '../util/format.js';

const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
export const color = new Chalk(noColor ? { level: 0 } : {});

export function out(line = ''): void {
  process.stdout.write(`${redact(line)}\n`);
}

export function err(line: string): void {
  process.stderr.write(`${redact(line)}\n`);
}

export function printJson(value: unknown): void {
  out(
    JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v), 2),
  );
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, '').length;

/** Left-aligned text columns, right-aligned numbers (cells starting with a digit or '-'). */
export function table(rows: string[][], header?: string[]): string[] {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, visible(c));
  }
  const numeric = (c: string) => /^[-+]?[\d,.]+( ?[a-zµ%]+)?$/i.test(c.replace(ANSI, ''));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visible(c));
        return numeric(c) && i > 0 ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  const lines = all.map(fmt);
  if (header) lines.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  return lines;
}

export const glyph = {
  ok: color.green('✔'),
  fail: color.red('✖'),
  warn: color.yellow('▲'),
  info: color.cyan('●'),
};
