/** Synced tables: SQLite and MySQL counts side by side, the difference highlighted, pending each way, last sync. */
import { Box, Text } from 'ink';
import type { TableView } from '../../monitor/view.js';
import { type Theme, toneProps, useTheme } from '../theme.js';
import { fmtClock, fmtCount, fmtSigned, padEnd, padStart } from './format.js';

const COLS = { sqlite: 9, mysql: 9, diff: 9, push: 7, pull: 7, last: 9 };
const FIXED = COLS.sqlite + COLS.mysql + COLS.diff + COLS.push + COLS.pull + COLS.last + 6;

export function nameWidth(width: number): number {
  return Math.max(8, width - FIXED - 1);
}

function stateMark(t: TableView, theme: Theme): { mark: string; tone: 'warn' | 'error' | 'muted' | 'plain' } {
  if (t.state === 'paused') return { mark: `${theme.glyph.paused} `, tone: 'warn' };
  if (t.state === 'not-captured') return { mark: `${theme.glyph.warn} `, tone: 'warn' };
  if (t.state === 'skipped') return { mark: '- ', tone: 'muted' };
  if (t.conflictsOpen > 0 || t.parked > 0) return { mark: `${theme.glyph.warn} `, tone: 'warn' };
  return { mark: '', tone: 'plain' };
}

export function diffCell(t: TableView, theme: Theme): { text: string; tone: 'ok' | 'warn' | 'muted' } {
  if (t.diff === null) return { text: '-', tone: 'muted' };
  if (t.diff === 0) return { text: `${theme.glyph.same} 0`, tone: 'ok' };
  return { text: `${theme.glyph.diff} ${fmtSigned(t.diff)}`, tone: 'warn' };
}

export function TablesView({
  tables,
  width,
  lines,
  hidden,
}: {
  tables: TableView[];
  width: number;
  lines: number;
  hidden: number;
}) {
  const theme = useTheme();
  const nw = nameWidth(width);
  const shown = hidden > 0 ? tables.slice(0, Math.max(0, lines - 1)) : tables.slice(0, lines);
  const head =
    padEnd('table', nw) +
    padStart('sqlite', COLS.sqlite + 1) +
    padStart('mysql', COLS.mysql + 1) +
    padStart('diff', COLS.diff + 1) +
    padStart(`${theme.glyph.push}pend`, COLS.push + 1) +
    padStart(`${theme.glyph.pull}pend`, COLS.pull + 1) +
    padStart('last sync', COLS.last + 1);
  return (
    <Box flexDirection="column" width={width} height={lines + 1} paddingLeft={1}>
      <Text bold wrap="truncate-end">
        {head}
      </Text>
      {tables.length === 0 ? (
        <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
          no synced tables yet (run `dualdb init` once the tables exist on both sides)
        </Text>
      ) : null}
      {shown.map((t) => {
        const m = stateMark(t, theme);
        const d = diffCell(t, theme);
        return (
          <Text key={t.table} wrap="truncate-end">
            <Text {...toneProps(theme, m.tone)}>{padEnd(m.mark + t.table, nw)}</Text>
            <Text>{padStart(fmtCount(t.sqliteRows), COLS.sqlite + 1)}</Text>
            <Text>{padStart(fmtCount(t.mysqlRows), COLS.mysql + 1)}</Text>
            <Text bold={d.tone === 'warn'} {...toneProps(theme, d.tone)}>
              {padStart(d.text, COLS.diff + 1)}
            </Text>
            <Text {...toneProps(theme, t.pendingPush ? 'info' : 'plain')}>
              {padStart(t.pendingPush === null ? '?' : fmtCount(t.pendingPush), COLS.push + 1)}
            </Text>
            <Text {...toneProps(theme, t.pendingPull ? 'info' : 'plain')}>
              {padStart(t.pendingPull === null ? '?' : fmtCount(t.pendingPull), COLS.pull + 1)}
            </Text>
            <Text {...toneProps(theme, 'muted')}>{padStart(fmtClock(t.lastSyncAt), COLS.last + 1)}</Text>
          </Text>
        );
      })}
      {hidden > 0 ? (
        <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
          … {hidden} more table{hidden === 1 ? '' : 's'} (enlarge the window to see them)
        </Text>
      ) : null}
    </Box>
  );
}
