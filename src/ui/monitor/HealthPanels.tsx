/** One panel per database: up/down and since when, version, latency, size; SQLite WAL and integrity. */
import { Box, Text } from 'ink';
import type { MysqlView, SideView, SqliteView } from '../../monitor/view.js';
import { Panel } from '../components/Panel.js';
import { type Theme, toneProps, useTheme } from '../theme.js';
import { fmtBytes, fmtClock, fmtMs } from './format.js';

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
      {!side.up && side.error ? <Text> — {side.error.message}</Text> : null}
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
        {side.up === false && side.error?.hint ? side.error.hint : side.endpoint}
      </Text>
    </Panel>
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
