/** Below the minimum size a layout breaks (and Ink would clear the screen every frame): say so instead. */
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { toneProps, useTheme } from '../theme.js';

export const MIN_COLUMNS = 80;
export const MIN_ROWS = 24;

export interface SizeGuardProps {
  columns: number;
  rows: number;
  minColumns?: number;
  minRows?: number;
  children: ReactNode;
}

export function tooSmallMessage(minColumns: number, minRows: number): string {
  return `terminal too small, need ${minColumns}×${minRows}`;
}

export function SizeGuard({ columns, rows, minColumns = MIN_COLUMNS, minRows = MIN_ROWS, children }: SizeGuardProps) {
  const theme = useTheme();
  if (columns >= minColumns && rows >= minRows) return <>{children}</>;
  // Never taller than the window, never wider than a line.
  return (
    <Box flexDirection="column" width={columns} height={Math.max(1, rows - 1)}>
      <Text {...toneProps(theme, 'warn')} wrap="truncate-end">
        {theme.glyph.warn} {tooSmallMessage(minColumns, minRows)}
      </Text>
      {rows > 2 && (
        <Text wrap="truncate-end">
          now {columns}×{rows}; enlarge the window, or press q to quit
        </Text>
      )}
    </Box>
  );
}
