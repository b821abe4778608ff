/** One panel per database: up/down and since when, version, latency, size; SQLite WAL and integrity. */
import { Box, Text } from 'ink';
import type { MysqlView, SideView, SqliteView } from '../../monitor/view.js';
import { Panel } from '../components/Panel.js';
import { type Theme, toneProps, useTheme } from '../theme.js';
import { fmtBytes, fmtClock, fmtMs, wrapWords } from './format.js';

function UpLine({ side, theme, disabled }: { side: SideView; theme: Theme; disabled?: boolean }) {
  if (disabled) {
    return (
      <Text wrap="truncate-end" {...toneProps(theme, 'info')}>
        {theme.glyph.info} disabled (DUAL_DATABASE=false)
      </Text>
    );
  }
  if (side.up === null) {
    return (
      <Text wrap="truncate-end" {...toneProps(theme, 'muted')}>
        {theme.glyph.pending} checking…
      </Text>
    );
  }
  return (
    <Text wrap="truncate-end">
      <Text bold {...toneProps(theme, side.up ? 'ok' : 'error')}>
        {side.up ? `${theme.glyph.ok} up` : `${theme.glyph.error} down`}
      </Text>
      <Text> since {fmtClock(side.since)}</Text>
      {!side.up && side.error ? <Text> · see below</Text> : null}
    </Text>
  );
}

/** "10.11.19-MariaDB-0+deb12u1" → "MariaDB 10.11.19", "8.0.36" → "MySQL 8.0.36": the distribution's suffix does not fit a half-width panel. */
export function shortVersion(v: string | null): string {
  if (!v) return 'version ?';
  const m = /^(\d+(?:\.\d+)*)/.exec(v);
  if (!m) return v;
  return /mariadb/i.test(v) ? `MariaDB ${m[1]}` : `MySQL ${m[1]}`;
}

export function SqlitePanel({ side, width }: { side: SqliteView; width: number }) {
  const theme = useTheme();
  return (
    <Panel title="SQLite (local)" width={width} height={5}>
      <UpLine side={side} theme={theme} />
      <Text wrap="truncate-end">
        {side.version ? `SQLite ${side.version}` : 'SQLite'} · {fmtMs(side.latencyMs)} · {fmtBytes(side.bytes)}
      </Text>
      <Text wrap="truncate-end">
        WAL {fmtBytes(side.walBytes)} · integrity{' '}
        <Text {...toneProps(theme, side.integrity === null ? 'muted' : side.integrity === 'ok' ? 'ok' : 'error')}>
          {side.integrity === null
            ? '?'
            : side.integrity === 'ok'
              ? `${theme.glyph.ok} ok`
              : `${theme.glyph.error} ${side.integrity}`}
        </Text>
      </Text>
    </Panel>
  );
}

export function MysqlPanel({ side, width }: { side: MysqlView; width: number }) {
  const theme = useTheme();
  return (
    <Panel title="MySQL (hub)" width={width} height={5}>
      <UpLine side={side} theme={theme} disabled={!side.enabled} />
      <Text wrap="truncate-end">
        {shortVersion(side.version)} · {fmtMs(side.latencyMs)} · {fmtBytes(side.bytes)}
      </Text>
      <Text wrap="truncate-end" {...toneProps(theme, side.up === false ? 'warn' : 'muted')}>
        {side.endpoint}
      </Text>
    </Panel>
  );
}

export interface AlertLine {
  text: string;
  tone: 'error' | 'warn' | 'plain';
}

/**
 * A side that is down, full width under the panels: its cause and its fix, wrapped over as
 * many lines as they need (a half-width panel cut them at the window's edge). With both sides
 * up, the last sync error (with its time) takes the place.
 */
export function alertLines(
  sides: { name: string; side: SideView }[],
  lastError: string | null,
  width: number,
  glyph: { error: string; warn: string },
): AlertLine[] {
  const out: AlertLine[] = [];
  const add = (first: string, tone: AlertLine['tone'], indent: string) => {
    const [head, ...rest] = wrapWords(first, width - 1);
    if (head) out.push({ text: head, tone });
    for (const l of wrapWords(rest.join(' '), width - 1 - indent.length)) out.push({ text: indent + l, tone });
  };
  for (const { name, side } of sides) {
    if (side.up !== false || !side.error) continue;
    add(`${glyph.error} ${name}: ${side.error.message}`, 'error', '  ');
    if (side.error.hint) add(`  fix: ${side.error.hint}`, 'plain', '       ');
  }
  if (out.length === 0 && lastError) add(`${glyph.warn} last sync error: ${lastError}`, 'warn', '  ');
  return out;
}

export function AlertLines({ lines, width }: { lines: AlertLine[]; width: number }) {
  const theme = useTheme();
  if (lines.length === 0) return null;
  return (
    <Box flexDirection="column" width={width} height={lines.length} paddingLeft={1}>
      {lines.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the lines are positional, rebuilt each frame
        <Text key={i} {...(l.tone === 'plain' ? {} : toneProps(theme, l.tone))}>
          {l.text}
        </Text>
      ))}
    </Box>
  );
}

export function HealthPanels({ sqlite, mysql, widths }: { sqlite: SqliteView; mysql: MysqlView; widths: [number, number] }) {
  return (
    <Box height={5}>
      <SqlitePanel side={sqlite} width={widths[0]} />
      <MysqlPanel side={mysql} width={widths[1]} />
    </Box>
  );
}
