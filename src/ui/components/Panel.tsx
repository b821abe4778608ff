/** A bordered box with its title set into the top border: ╭─ SQLite ───╮ */
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { useTheme } from '../theme.js';

export interface PanelProps {
  title: string;
  /** Outer width including the border. */
  width: number;
  /** Outer height including the border (fixed, so the frame never grows). */
  height?: number;
  /** Shown right after the title, e.g. a badge. */
  titleRight?: ReactNode;
  children: ReactNode;
}

export function Panel({ title, width, height, titleRight, children }: PanelProps) {
  const theme = useTheme();
  const border = theme.borderColor ? { color: theme.borderColor } : {};
  const inner = Math.max(0, width - 2);
  const label = ` ${title} `.slice(0, Math.max(0, inner - 1));
  const fill = Math.max(0, inner - 1 - label.length);
  return (
    <Box flexDirection="column" width={width} {...(height ? { height } : {})}>
      <Box width={width} height={1}>
        <Text {...border}>╭─</Text>
        <Text bold>{label}</Text>
        {titleRight}
        <Box flexGrow={1} height={1} overflow="hidden">
          <Text {...border} wrap="truncate-end">
            {'─'.repeat(fill)}
          </Text>
        </Box>
        <Text {...border}>╮</Text>
      </Box>
      <Box
        flexDirection="column"
        borderStyle="round"
        borderTop={false}
        {...(theme.borderColor ? { borderColor: theme.borderColor } : {})}
        width={width}
        flexGrow={1}
        paddingX={1}
        overflow="hidden"
      >
        {children}
      </Box>
    </Box>
  );
}
