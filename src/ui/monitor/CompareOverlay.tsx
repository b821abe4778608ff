/** Compare in progress (bar, current table, rows read) and its result per table, down to the first differing key. */
import { Text } from 'ink';
import type { CompareRow, CompareView } from '../../monitor/view.js';
import { Panel } from '../components/Panel.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { type Theme, toneProps, useTheme } from '../theme.js';
import { fmtCount, fmtMs, padEnd, padStart } from './format.js';

/** Every difference of the row is a change still queued for sync: on its way, not damage. */
export const onlySyncing = (r: CompareRow): boolean =>
  r.equal === false && r.differences !== null && (r.syncing ?? 0) >= r.differences;

export function resultText(r: CompareRow, theme: Theme): string {
  if (r.equal === null) return '? not compared';
  if (r.paused) return `${theme.glyph.paused} paused (schema)`;
  if (r.equal) return `${theme.glyph.ok} identical`;
  if (onlySyncing(r)) return `${theme.glyph.pending} ${fmtCount(r.differences ?? 0)} syncing`;
  return r.differences ? `${theme.glyph.diff} ${fmtCount(r.differences)} differ` : `${theme.glyph.diff} differs`;
}

/** Tables the compare could not read row by row because they have no primary key. */
export const noPrimaryKey = (r: CompareRow): boolean => r.equal === null && /no (usable )?primary key/i.test(r.error ?? '');

/** The verdict under the counts: never "every row is the same" while some tables were not compared. */
export function verdictText(rows: CompareRow[]): string {
  const paused = rows.filter((r) => r.paused).length;
  const differ = rows.filter((r) => r.equal === false && !onlySyncing(r)).length - paused;
  const syncing = rows.filter(onlySyncing).length;
  const noKey = rows.filter(noPrimaryKey).length;
  const otherUnknown = rows.filter((r) => r.equal === null).length - noKey;
  const tables = (n: number) => `${n} table${n === 1 ? '' : 's'}`;
  const notCompared = [
    ...(noKey ? [`${tables(noKey)} not compared (no primary key)`] : []),
    ...(otherUnknown ? [`${tables(otherUnknown)} not compared (see below)`] : []),
  ].join(' · ');
  const verdict = differ
    ? 'fix with `dualdb repair --from sqlite|mysql`; details: `dualdb compare`'
    : syncing
      ? 'the other rows that differ are changes still on their way: press c again in a moment'
      : notCompared || paused
        ? 'every row of the compared tables is the same on both sides'
        : 'every row is the same on both sides';
  // A table paused by schema drift differs, but no repair of rows fixes it: its schema does.
  const drift = paused
    ? `${tables(paused)} paused by schema drift: make the schemas match (\`dualdb status\` names the fix); a repair cannot`
    : '';
  return [verdict, drift, notCompared].filter(Boolean).join(' · ');
}

export function CompareOverlay({ view, width, height }: { view: CompareView; width: number; height: number }) {
  const theme = useTheme();
  const inner = width - 4;
  const syncing = view.rows.filter(onlySyncing);
  const differ = view.rows.filter((r) => r.equal === false && !onlySyncing(r));
  const unknown = view.rows.filter((r) => r.equal === null).length;
  const equal = view.rows.length - differ.length - syncing.length - unknown;
  const notes = view.rows.filter((r) => r.detail || r.error);
  // Panel borders, two status lines, the header and the closing hint.
  const room = Math.max(0, height - 2 - 4);
  const tableRows = view.rows.slice(0, Math.max(0, room - Math.min(notes.length, Math.floor(room / 3))));
  const noteRows = notes.slice(0, Math.max(0, room - tableRows.length));
  const nw = Math.max(8, inner - 38);
  return (
    <Panel title={`Compare — ${view.method}`} width={width} height={height}>
      {view.running ? (
        <>
          <ProgressBar value={view.total ? view.done / view.total : 0} width={inner} />
          <Text wrap="truncate-end">
            {view.table ? `comparing ${view.table}` : 'reading both schemas'} ({view.done}/{view.total} tables
            {view.scanned ? `, ${fmtCount(view.scanned)} rows read` : ''})
          </Text>
        </>
      ) : view.error ? (
        <>
          <Text {...toneProps(theme, 'error')} wrap="truncate-end">
            {theme.glyph.error} compare failed: {view.error}
          </Text>
          <Text> </Text>
        </>
      ) : (
        <>
          <Text bold wrap="truncate-end" {...toneProps(theme, differ.length ? 'warn' : 'ok')}>
            {differ.length ? theme.glyph.warn : theme.glyph.ok} {equal} identical · {differ.length} differ
            {syncing.length ? ` · ${syncing.length} syncing` : ''}
            {unknown ? ` · ${unknown} not compared` : ''} · {fmtMs((view.finishedAt ?? view.startedAt) - view.startedAt)}
          </Text>
          <Text {...toneProps(theme, unknown && !differ.length ? 'warn' : 'muted')} wrap="wrap">
            {verdictText(view.rows)}
          </Text>
        </>
      )}
      <Text bold wrap="truncate-end">
        {padEnd('table', nw)}
        {padStart('sqlite', 11)}
        {padStart('mysql', 11)}
        {padStart('rows', 16)}
      </Text>
      {tableRows.map((r) => (
        <Text key={r.table} wrap="truncate-end">
          {padEnd(r.table, nw)}
          {padStart(fmtCount(r.sqliteRows), 11)}
          {padStart(fmtCount(r.mysqlRows), 11)}
          <Text
            bold={r.equal === false && !onlySyncing(r)}
            {...toneProps(theme, r.equal === null || onlySyncing(r) ? 'muted' : r.equal ? 'ok' : 'warn')}
          >
            {padStart(resultText(r, theme), 16)}
          </Text>
        </Text>
      ))}
      {noteRows.map((r) => (
        <Text
          key={`note-${r.table}`}
          wrap="truncate-end"
          {...toneProps(theme, r.equal === false && !onlySyncing(r) ? 'warn' : 'muted')}
        >
          {r.table}: {onlySyncing(r) ? 'changes still queued for sync, not differences' : (r.detail ?? r.error)}
          {r.syncing && !onlySyncing(r) ? ` (${fmtCount(r.syncing)} of them still queued for sync)` : ''}
        </Text>
      ))}
      <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
        {view.running ? 'Esc hides this; the compare goes on' : 'Esc closes'}
      </Text>
    </Panel>
  );
}
