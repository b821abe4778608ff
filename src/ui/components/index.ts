/** Small shared primitives for the terminal app (the monitor and the setup wizard). */
export { Badge, glyphFor } from './Badge.js';
export { hintText, KeyHints } from './KeyHints.js';
export { Panel } from './Panel.js';
export { ProgressBar, progressBar } from './ProgressBar.js';
export { MIN_COLUMNS, MIN_ROWS, SizeGuard, tooSmallMessage } from './SizeGuard.js';
export { Sparkline, sparkline } from './Sparkline.js';
export { DEFAULT_SIZE, sizeOf, type TerminalSize, useTerminalSize } from './use-terminal-size.js';
