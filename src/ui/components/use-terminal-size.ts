/**
 * The terminal's size, following resizes. Ink's fake test stdout has no rows:
 * the size then reads as 24 rows (the classic default) unless the stream says otherwise.
 */
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

export interface TerminalSize {
  columns: number;
  rows: number;
}

export const DEFAULT_SIZE: TerminalSize = { columns: 80, rows: 24 };

export function sizeOf(stream: { columns?: number; rows?: number } | undefined): TerminalSize {
  return {
    columns: stream?.columns && stream.columns > 0 ? stream.columns : DEFAULT_SIZE.columns,
    rows: stream?.rows && stream.rows > 0 ? stream.rows : DEFAULT_SIZE.rows,
  };
}

export function useTerminalSize(): TerminalSize {
  const { stdout } = useStdout();
  const [size, setSize] = useState<TerminalSize>(() => sizeOf(stdout));
  useEffect(() => {
    const onResize = () => {
      const next = sizeOf(stdout);
      setSize((prev) => (prev.columns === next.columns && prev.rows === next.rows ? prev : next));
    };
    stdout.on('resize', onResize);
    onResize();
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
