/**
 * How many lines each part of the monitor gets for a terminal size. The frame
 * is always exactly `rows - 1` lines: a frame as tall as the window makes Ink
 * clear the whole screen on every update (flicker), and a frame that changes
 * height would move everything around.
 */

export interface MonitorLayout {
  width: number;
  /** Lines of the whole frame. */
  height: number;
  header: number;
  /** Everything between the header and the key bar (overlays use this area). */
  body: number;
  health: number;
  /** Table lines shown (data rows, including a "… N more" line when cut). */
  tableLines: number;
  /** Tables left out for lack of room. */
  tablesHidden: number;
  stats: number;
  /** Lines listing recent conflicts/parked changes, below their summary line. */
  problemLines: number;
  /** Lines of a side's problem and its fix, wrapped under the health panels (never cut). */
  alertLines: number;
  logLines: number;
  keys: number;
  panelWidths: [number, number];
}

const HEADER = 2;
const KEYS = 1;
const HEALTH = 5;
const TABLE_HEAD = 1;
const STATS = 2;
const PROBLEM_SUMMARY = 1;
const LOG_TITLE = 1;
const MIN_LOG = 3;

export function monitorLayout(
  columns: number,
  rows: number,
  content: { tables: number; problems: number; alerts?: number },
): MonitorLayout {
  const height = Math.max(1, rows - 1);
  const body = Math.max(0, height - HEADER - KEYS);
  const fixed = HEALTH + TABLE_HEAD + STATS + PROBLEM_SUMMARY + LOG_TITLE;
  // A problem and its fix come before tables and log lines: they are what to do next.
  const alertLines = Math.min(content.alerts ?? 0, Math.max(0, body - fixed - 1));
  const free = Math.max(0, body - fixed - alertLines);
  const tableRoom = Math.max(1, free - MIN_LOG);
  let tableLines = Math.min(content.tables, tableRoom);
  let tablesHidden = 0;
  if (content.tables > tableRoom) {
    tableLines = tableRoom;
    tablesHidden = content.tables - (tableRoom - 1);
  }
  if (content.tables === 0) tableLines = 1; // "no synced tables yet"
  const problemLines = Math.max(0, Math.min(content.problems, 3, free - tableLines - MIN_LOG));
  const logLines = Math.max(0, free - tableLines - problemLines);
  const left = Math.floor(columns / 2);
  return {
    width: columns,
    height,
    header: HEADER,
    body,
    health: HEALTH,
    tableLines,
    tablesHidden,
    stats: STATS,
    problemLines,
    alertLines,
    logLines,
    keys: KEYS,
    panelWidths: [left, columns - left],
  };
}
